"""Parameter-efficient stages: LoRA updates of some encoder projections, through peft.

While the stage trains, each target linear layer W computes W x + (alpha / r) B A x with A (r x in) and B (out x r)
the only encoder weights that train (B starts at zero, so training starts from the encoder as it was); the heads
train as usual. When the stage ends the update is merged, W <- W + (alpha / r) B A, and the peft layers are
removed: the encoder the stage saves, and the one the next stage and the evaluation read, is a plain encoder of
the same shape. That is the hand-off of an adapter stage: merged, never kept beside the encoder."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from xstilts.errors import ModelError, UserError
from xstilts.spec import AdapterSpec


@contextlib.contextmanager
def adapted(encoder: nn.Module, adapter: AdapterSpec | None) -> Iterator[nn.Module]:
    """Inject the adapter into `encoder` in place for the body of the with-block, then merge it and give back
    the encoder with every parameter's requires_grad as it was."""
    if adapter is None:
        yield encoder
        return
    try:
        from peft import LoraConfig
        from peft.tuners.lora import LoraModel
    except ImportError:
        raise UserError("an `adapter:` stage needs peft: pip install 'xstilts[lora]'") from None
    trainable = {name: p.requires_grad for name, p in encoder.named_parameters()}
    config = LoraConfig(
        r=adapter.r, lora_alpha=adapter.alpha, target_modules=list(adapter.target), lora_dropout=adapter.dropout
    )
    try:
        lora = LoraModel(encoder, config, "default")  # replaces the target layers of `encoder` itself
    except ValueError as err:
        raise ModelError(f"adapter.target {list(adapter.target)}: {str(err).splitlines()[0]}") from None
    for name, param in encoder.named_parameters():
        if "lora_" in name and param.dtype in (torch.bfloat16, torch.float16):
            # peft gives the adapters its base layer's dtype: over bf16 frozen weights (a 10.7B encoder held in
            # bf16) they would train in bf16; they train in fp32, and autocast computes in bf16 as elsewhere.
            param.data = param.data.float()
    try:
        yield encoder
    finally:
        lora.merge_and_unload()  # puts the plain layers back, with the merged weights, into `encoder`
        for name, param in encoder.named_parameters():
            param.requires_grad_(trainable[name])
