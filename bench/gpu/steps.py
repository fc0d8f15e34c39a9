"""What a GPU benchmark of xstilts' training loop reports, and how it is timed: steady-state seconds per step from
the step timestamps after a warm-up, apart from the compile time and the first step (bench/gpu/parts.py,
bench/gpu/lora_xxl.py).

A run's first steps hold torch.compile's work (tracing, code generation) and the recording of a CUDA graph for
every new batch shape; a figure over the whole run measures them, not the step. So the loop's loss is read every
step during the warm-up (xstilts.training.train.LOG_EVERY = 1: a read is the device's end of that step), then
every `read_every` steps (fewer waits for the device, so the host can queue ahead as in a real stage), and
  steady s/step = (time of the last read - time of the first read after warm-up) / the steps between them.
The compile time is what dynamo's own timers counted during the run (torch._dynamo.utils.compilation_time_metrics);
the first step's time is from the run's start to its first read (model already on the device). Every result holds
the stage's inductor counters (xstilts.training.train.TrainReport.graphs: graphs compiled, graph breaks, CUDA
graphs skipped, recorded and re-recorded)."""

from __future__ import annotations

import time
from typing import Any

DYNAMO_TOTAL = "_compile.compile_inner"  # dynamo's outermost timer of one frame's compile (forward + backward)


def compile_seconds() -> dict[str, float]:
    """Dynamo's timers so far in this process, summed per timer (seconds)."""
    from torch._dynamo.utils import compilation_time_metrics

    return {name: float(sum(values)) for name, values in compilation_time_metrics.items()}


class StepClock:
    """The loop's `log` callback that timestamps every read of the loss (reads every step during the warm-up,
    then every `read_every` steps), and the summary of those timestamps."""

    def __init__(self, warmup: int, read_every: int):
        self.warmup, self.read_every = warmup, read_every
        self.reads: list[tuple[int, float]] = []  # (the last step read, when)
        self.losses: list[float] = []
        self.started = time.perf_counter()

    def start(self) -> None:
        import xstilts.training.train as loop

        loop.LOG_EVERY = 1
        self.started = time.perf_counter()

    def log(self, metrics: dict[str, float], step: int) -> None:
        if "train/loss" not in metrics:
            return
        import xstilts.training.train as loop

        now = time.perf_counter()
        self.losses.append(metrics["train/loss"])
        # A read delivers every step since the previous one at once; the step the loop read at is a multiple of
        # the LOG_EVERY in force (the run's last step is a read too, left out here).
        if step % loop.LOG_EVERY == 0:
            self.reads.append((step, now))
        if step >= self.warmup:
            loop.LOG_EVERY = self.read_every  # the warm-up is over: read less often

    def summary(self) -> dict[str, Any]:
        reads = sorted(self.reads)
        first = reads[0][1] - self.started if reads and reads[0][0] == 1 else None
        after = [(step, t) for step, t in reads if step >= self.warmup]
        steady = None
        if len(after) >= 2 and after[-1][0] > after[0][0]:
            steady = (after[-1][1] - after[0][1]) / (after[-1][0] - after[0][0])
        return {
            "first_step_s": first,
            "warmup_steps": self.warmup,
            "read_every": self.read_every,
            "steady_steps": after[-1][0] - after[0][0] if len(after) >= 2 else 0,
            "steady_s_per_step": steady,
            "reads": reads and [(step, round(t - self.started, 6)) for step, t in reads],
        }


def timed_train(model: Any, features: list, config: Any, pad_id: int, bf16: bool, warmup: int, read_every: int) -> dict:
    """One xstilts stage (xstilts.training.train.train), timed as the module's docstring says; with the compile
    time, the inductor counters, the real tokens per step and, on a GPU, the peak memory."""
    import math

    import torch

    import xstilts.training.train as loop

    device = next(model.parameters()).device
    clock = StepClock(warmup, read_every)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        torch.cuda.synchronize(device)
    compiled_before = compile_seconds()
    clock.start()
    try:
        report = loop.train(model, features, config, 1, pad_id, bf16, log=clock.log)
    finally:
        loop.LOG_EVERY = 25
    total = time.perf_counter() - clock.started
    compiled = {k: v - compiled_before.get(k, 0.0) for k, v in compile_seconds().items()}
    result = clock.summary()
    result.update(
        steps=report.steps,
        examples=report.examples,
        real_tokens=report.tokens,
        real_tokens_per_step=report.tokens / max(report.steps, 1),
        seconds=total,
        compile_s=compiled.get(DYNAMO_TOTAL, 0.0),
        compile_timers_s={k: round(v, 3) for k, v in compiled.items() if v > 0},
        graphs=report.graphs,
        attention=report.attention,
        finite_loss=bool(clock.losses) and all(math.isfinite(x) for x in clock.losses),
        final_loss=report.final_loss,
        peak_memory_gib=torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
    )
    steady = result["steady_s_per_step"]
    result["real_tokens_per_s"] = result["real_tokens_per_step"] / steady if steady else None
    return result
