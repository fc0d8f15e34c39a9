"""The GPU training step as captured CUDA graphs: the encoder compiled once for the stage, replayed per shape.

A step of many small kernels is bound by launching them; torch.compile's "reduce-overhead" mode records each
step as a CUDA graph and replays it in one launch. Two things keep the compiling cheap and the replays many:

- Compile once, not once per shape. With static shapes every batch width (xstilts.training.buckets leaves
  max_length / 32 of them) and the short last batch of an epoch compile the whole encoder again, forward and
  backward: 2 x 16 compiles at max length 512, where dynamo's default limit of 8 then falls back to eager for the
  rest of the stage. The batch and token dimensions are marked dynamic (where the model allows), so one compiled
  program serves every shape and only the graphs, cheap to record, are per shape.
- A recompile limit that a stage's shapes cannot exhaust, in case a model does specialise on a size.

Tested on CPU with the compiler's backend swapped for "aot_eager" (the same tracing, guards and autograd, no
code generation; tests/test_buckets_and_lora.py), which is how COMPILE_OPTIONS is meant to be changed."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

# torch.compile's options for the encoder on a GPU (tests swap the backend; see the module's docstring).
COMPILE_OPTIONS: dict[str, Any] = {"mode": "reduce-overhead"}
# Recompiles allowed per compiled function: a few for specialised sizes, far above what one stage needs.
RECOMPILE_LIMIT = 64


@contextlib.contextmanager
def compiled(encoder: nn.Module) -> Iterator[None]:
    """The encoder compiled for the stage (dynamic batch and token dimensions); its plain forward comes back
    after, and the global recompile limit is restored."""
    from torch._dynamo import config  # 1 s of imports: only processes that compile pay them

    limit = max(config.recompile_limit, RECOMPILE_LIMIT)
    with config.patch(recompile_limit=limit):
        encoder.compile(dynamic=None, **COMPILE_OPTIONS)
        try:
            yield
        finally:
            encoder._compiled_call_impl = None  # what nn.Module.compile set: the module calls its plain forward again


def begin_step(batch: Mapping[str, Any]) -> None:
    """Before a compiled micro-batch: the batch dimension (the first) and the token dimension (the last, e.g. of
    multiple choice's examples x choices x tokens) of its tensors marked dynamic, so that a new shape records a
    graph rather than compiling again; and a new CUDA-graph step begun (the graphs' previous outputs are no
    longer read)."""
    from torch._dynamo import maybe_mark_dynamic

    for value in batch.values():
        if isinstance(value, torch.Tensor) and value.dim() >= 1:
            maybe_mark_dynamic(value, 0)
            if value.dim() >= 2:
                maybe_mark_dynamic(value, value.dim() - 1)
    torch.compiler.cudagraph_mark_step_begin()
