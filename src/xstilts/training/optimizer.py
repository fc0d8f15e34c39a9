"""The training loop's optimizer: AdamW, no weight decay on biases and LayerNorm weights, chosen per device.

- CPU with the word embeddings trained: the embedding matrix steps lazily (xstilts.training.lazy_adamw; the same
  weights as dense AdamW, without reading 96M weights and their moments every step); the rest fused.
- CUDA in one process with the word embeddings trained: the same lazy rows (XLM-R Large: 256M of its 560M weights
  are embedding rows, and their dense AdamW step alone reads and writes ~7 GB a step), the rest fused. The training
  loop tells it the rows each batch reads (the lookup runs inside the compiled encoder, where a hook cannot).
  XSTILTS_LAZY_ROWS=0 steps them densely, to measure one against the other.
- CUDA otherwise: fused and capturable (its step counters stay on the device: no host sync, and it can be
  graph-captured); several processes (DDP, FSDP) shard or all-reduce the dense matrix, which lazy rows cannot.
- Otherwise: fused where the device has the kernel (on CPU it made a step with the 96M-row embeddings trained 6x
  faster than the default per-tensor loop; PERFORMANCE.md, "One optimizer step")."""

from __future__ import annotations

import os

import torch
from torch import nn

from xstilts.training.lazy_adamw import LazyAdamW


def param_groups(model: nn.Module, weight_decay: float, lazy: nn.Parameter | None = None) -> list[dict]:
    """Decayed matrices, undecayed vectors (biases and LayerNorm weights are 1-d) and, apart, the `lazy` matrix."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad and param is not lazy:
            (no_decay if param.ndim < 2 else decay).append(param)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if lazy is not None:
        groups.append({"params": [lazy], "weight_decay": weight_decay, "lazy": True})
    return groups


def lazy_rows(device: torch.device) -> bool:
    """Whether trained word embeddings step lazily on `device` (see the module's docstring); the loop passes no
    embedding to step lazily where several GPU processes share the matrix."""
    if device.type == "cpu":
        return True
    return device.type == "cuda" and os.environ.get("XSTILTS_LAZY_ROWS", "1") != "0"


def build_optimizer(
    model: nn.Module, weight_decay: float, lr: float, device: torch.device, embedding: nn.Module | None
) -> tuple[torch.optim.Optimizer, LazyAdamW | None]:
    """The optimizer, and the lazy one when it is used (it must be flushed before the weights are read)."""
    weight = getattr(embedding, "weight", None)
    trained = isinstance(embedding, nn.Embedding) and weight is not None and weight.requires_grad
    if trained and lazy_rows(device):
        lazy = LazyAdamW(param_groups(model, weight_decay, weight), lr=lr, fused=True)
        return lazy, lazy
    fused = device.type in ("cpu", "cuda")
    capturable = {"capturable": True} if device.type == "cuda" else {}
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, fused=fused, **capturable), None
