"""Activation recomputation for the batches whose saved activations would not fit a memory budget, on CPU.

A training step keeps every layer's activations for the backward pass: for me5-small under bf16 autocast about
45 kB per token and layer at 128 tokens, so PAN-X's longest batch (32 x 128 tokens) held 1.9 GB, more than the
model, its optimizer and the tokenizer together (`python bench/memory.py`, PERFORMANCE.md, "CPU memory"). Such a
batch runs its encoder layers under torch.utils.checkpoint instead: each layer keeps only its input and runs
again during backward. The random state of the first run (dropout) is restored for the second and the ops are
the same, so gradients, and the trained weights, are bit-identical to a step without it (tests/training/test_memory.py);
only the time of the recomputed forward is added, for the batches that exceed the budget (at 256 MB on
me5-small: PAN-X batches of 32 sentences padded to more than about 28 tokens, most SICK and SocialIQA batches)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

ACTIVATION_BUDGET = 256 * 2**20  # bytes of saved activations above which a CPU batch recomputes its layers


def activation_bytes(config: Any, sequences: int, length: int) -> int:
    """About what one training forward saves for backward, in bytes: per token and layer ~50 bytes per hidden
    unit (Linear inputs and outputs, LayerNorm, GELU, dropout masks) and ~17 bytes per head and key of the
    attention matrices (scores, mask, softmax, dropout), counted from the tensors a BERT-style layer saves."""
    hidden, heads = config.hidden_size, config.num_attention_heads
    per_token = 50 * hidden + 17 * heads * length
    return config.num_hidden_layers * sequences * length * per_token


def encoder_layers(encoder: nn.Module) -> nn.ModuleList | None:
    """The encoder's stack of transformer layers: its longest ModuleList (BERT-style models: encoder.layer)."""
    lists = [m for m in encoder.modules() if isinstance(m, nn.ModuleList)]
    return max(lists, key=len, default=None)


@contextlib.contextmanager
def recomputed(encoder: nn.Module, input_ids: torch.Tensor | None, budget: int = ACTIVATION_BUDGET) -> Iterator[bool]:
    """Within the block, the forward passes of `encoder` recompute each layer in backward when a batch of
    `input_ids` (sequences x length; choices of a question are sequences) would save more than `budget` bytes of
    activations (CPU only: a GPU's compiled step keeps its own memory plan). Yields whether it does."""
    layers = encoder_layers(encoder)
    config = getattr(encoder, "config", None)
    big = (
        input_ids is not None
        and input_ids.ndim >= 2
        and layers is not None
        and all(hasattr(config, k) for k in ("hidden_size", "num_attention_heads", "num_hidden_layers"))
        and input_ids.device.type == "cpu"
        and torch.is_grad_enabled()
        and activation_bytes(config, input_ids[..., 0].numel(), input_ids.shape[-1]) > budget
    )
    if not big:
        yield False
        return
    own = [layer.__dict__.get("forward") for layer in layers]  # a forward set on the instance (a hook's), or None
    for layer in layers:
        layer.forward = _checkpointed(layer.forward)
    try:
        yield True
    finally:
        for layer, before in zip(layers, own, strict=True):
            if before is None:
                del layer.forward  # the class's forward again
            else:
                layer.forward = before


def _checkpointed(forward: Any) -> Any:
    def run(*args: Any, **kwargs: Any) -> Any:
        return checkpoint(forward, *args, use_reentrant=False, **kwargs)

    return run
