"""The GPU training step as captured CUDA graphs: the encoder compiled once for the stage, replayed per shape.

A step of many small kernels is bound by launching them; torch.compile's "reduce-overhead" mode records each
step as a CUDA graph and replays it in one launch. Two things keep the compiling cheap and the replays many:

- Compile once, not once per shape. With static shapes every batch width (xstilts.training.buckets leaves
  max_length / 32 of them) and the short last batch of an epoch compile the whole encoder again, forward and
  backward: 2 x 16 compiles at max length 512, where dynamo's default limit of 8 then falls back to eager for the
  rest of the stage. The batch and token dimensions are marked dynamic (where the model allows), so one compiled
  program serves every shape and only the graphs, cheap to record, are per shape.
- A recompile limit that a stage's shapes cannot exhaust, in case a model does specialise on a size.

A fall-back to eager is silent in torch: inductor reports a skipped graph only on its `cudagraphs` log channel, and
a function re-recorded more than `cudagraph_unexpected_rerecord_limit` times (128) runs without graphs for good.
`graph_counters` reads those counts, so that each stage records its own (TrainReport.graphs) and warns in one line.

Tested on CPU with the compiler's backend swapped for "aot_eager" (the same tracing, guards and autograd, no
code generation; tests/training/test_buckets_and_lora.py, tests/training/test_graph_path.py), which is how
COMPILE_OPTIONS is meant to be changed."""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import torch
from torch import nn

# torch.compile's options for the encoder on a GPU (tests swap the backend; see the module's docstring).
COMPILE_OPTIONS: dict[str, Any] = {"mode": "reduce-overhead"}
# Recompiles allowed per compiled function: a few for specialised sizes, far above what one stage needs.
RECOMPILE_LIMIT = 64


@contextlib.contextmanager
def compiled(encoder: nn.Module) -> Iterator[Callable[[], contextlib.AbstractContextManager[None]]]:
    """The encoder compiled for the stage (dynamic batch and token dimensions); its plain forward comes back
    after, and the global recompile limit is restored. Yields `outside`: a with-block in which the encoder runs
    its plain forward (evaluation: no second compile for inference, no graphs recorded per evaluation width)."""
    from torch._dynamo import config  # 1 s of imports: only processes that compile pay them

    limit = max(config.recompile_limit, RECOMPILE_LIMIT)
    with config.patch(recompile_limit=limit):
        encoder.compile(dynamic=None, **COMPILE_OPTIONS)
        compiled_call = encoder._compiled_call_impl  # what nn.Module.compile set

        @contextlib.contextmanager
        def outside() -> Iterator[None]:
            encoder._compiled_call_impl = None
            try:
                yield
            finally:
                encoder._compiled_call_impl = compiled_call

        try:
            yield outside
        finally:
            encoder._compiled_call_impl = None  # the module calls its plain forward again


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


def graph_counters(device: torch.device) -> dict[str, int]:
    """What torch counted so far in this process: compiled graphs, graph breaks, cudagraph skips (a graph that runs
    eager instead, for whatever reason inductor gives on its `cudagraphs` log channel), and on a GPU the graphs
    recorded and the unexpected re-recordings (the ones `cudagraph_unexpected_rerecord_limit` counts). A stage
    records the difference between its end and its start."""
    from torch._dynamo.utils import counters

    found = {
        "compiled_graphs": int(counters["stats"]["unique_graphs"]),
        "graph_breaks": int(sum(counters["graph_break"].values())),
        "cudagraph_skips": int(counters["inductor"]["cudagraph_skips"]),
        "cudagraph_recordings": 0,
        "cudagraph_rerecords": 0,
    }
    manager = _cudagraph_tree(device)
    if manager is not None:
        # The tree numbers its graphs from an itertools.count: its repr, count(N), is the next number unconsumed.
        numbered = re.fullmatch(r"count\((\d+)\)", repr(getattr(manager, "graph_counter", "")))
        found["cudagraph_recordings"] = int(numbered.group(1)) if numbered else 0
        found["cudagraph_rerecords"] = sum(sum(per.values()) for per in getattr(manager, "num_rerecord", {}).values())
    return found


def _cudagraph_tree(device: torch.device) -> Any:
    """The device's cudagraph tree manager, when inductor has made one (never on a CPU): torch keeps no public
    counter of recordings, so they are read from it; None where this torch lays it out otherwise."""
    trees = sys.modules.get("torch._inductor.cudagraph_trees")
    if device.type != "cuda" or trees is None:
        return None
    try:
        return trees.get_manager(device.index or 0, create_if_none_exists=False)
    except Exception:  # private API: a torch that moved it costs the two counts, not the stage
        return None


def counted_since(before: Mapping[str, int], device: torch.device) -> dict[str, int]:
    """graph_counters now, less `before`: what one stage added."""
    return {name: value - before.get(name, 0) for name, value in graph_counters(device).items()}


def silent_fallbacks(counts: Mapping[str, int]) -> str | None:
    """The one-line warning for a stage whose graphs fell back to eager or were re-recorded, else None."""
    skips, rerecords = counts.get("cudagraph_skips", 0), counts.get("cudagraph_rerecords", 0)
    if not skips and not rerecords:
        return None
    return (
        f"CUDA graphs: {skips} skipped (run eager) and {rerecords} re-recorded in this stage; after "
        f"cudagraph_unexpected_rerecord_limit re-recordings a function runs eager for good (TORCH_LOGS=cudagraphs "
        f"says why)"
    )


def stable_gradients(model: nn.Module) -> int:
    """A zero .grad for every trainable parameter that has none, for the step to zero in place after
    (zero_grad(set_to_none=False)), never to drop. Under CUDA graphs this is what makes gradient accumulation
    correct: a parameter without .grad adopts the backward's output as its .grad, and that output is memory the
    graph owns; the next step's cudagraph_mark_step_begin hands it to the next replay, which overwrites it (the
    second micro-batch's backward then fails, or on older torch adds into overwritten memory). With a buffer the
    parameter owns, every backward adds into it instead. A .grad left from before is zeroed in place. Returns the
    number allocated."""
    made = 0
    for param in model.parameters():
        if not param.requires_grad:
            continue
        if param.grad is None:
            param.grad = torch.zeros_like(param)
            made += 1
        else:
            param.grad.zero_()
    return made
