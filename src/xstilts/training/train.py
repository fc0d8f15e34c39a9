"""The training loop: one loop for every task format and stage.

Features, and the TrainConfig options that control them:
- AdamW, no weight decay on biases and LayerNorm weights (learning_rate, weight_decay); on CPU the trained word
  embeddings get a sparse gradient and step lazily, only the rows a batch read (xstilts.training.optimizer)
- linear warm-up, then linear decay to zero (warmup_ratio; epochs, or max_steps when set)
- gradient accumulation: batch_size x grad_accum_steps examples per optimizer step
- dynamic padding and length-grouped batches (less padding, same randomness across batches)
- bf16 autocast where the hardware runs it natively (precision); weights cast once per optimizer step
- gradient clipping (max_grad_norm); a NaN or infinite loss stops the stage (checked on the device, read every
  LOG_EVERY steps: the host never waits for the device within a step)
- on a GPU: static length buckets and the encoder compiled once into CUDA graphs (xstilts.training.buckets,
  xstilts.training.graphs), with gradient buffers the parameters own (zeroed in place, never dropped: what makes
  gradient accumulation correct under graphs), the graphs' skips and re-recordings counted per stage
  (TrainReport.graphs) and warned of, evaluation outside the compiled region, clipping folded into the fused
  optimizer step (xstilts.training.clipping.clip_in_step) and the word embeddings' rows stepped lazily
- LoRA adapters merged into the encoder at the end (adapter; xstilts.training.adapters)
- model selection: the last weights, or the best English dev score checked after each epoch (selection)
- frozen word embeddings (freeze_embeddings)
- on CPU, a batch whose activations would exceed a memory budget recomputes its layers in backward, with the
  same gradients (xstilts.training.recompute)
- several tasks on one shared encoder, each batch drawn from one task by a sampler (xstilts.training.sampling)
- one language per batch when a task trains on several (language_batches: per_language); mixed by default
- data parallel over processes (DDP, FSDP, DeepSpeed) under accelerate: each takes a shard of every batch
  (parallel; xstilts.training.distributed)
"""

from __future__ import annotations

import contextlib
import math
import random
import time
import warnings
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from xstilts.errors import UserError
from xstilts.formats import Feature
from xstilts.spec import TrainConfig
from xstilts.training.adapters import adapted
from xstilts.training.allocator import release_free_memory
from xstilts.training.clipping import clip_in_step
from xstilts.training.device import captures_graphs
from xstilts.training.distributed import OneProcess, Parallel, TaskModels
from xstilts.training.graphs import (
    begin_step,
    compiled,
    counted_since,
    graph_counters,
    silent_fallbacks,
    stable_gradients,
)
from xstilts.training.optimizer import build_optimizer
from xstilts.training.recompute import recomputed
from xstilts.training.task_model import TaskModel

# Batches are sorted by length inside windows of this many batches: long enough to group similar
# lengths, short enough that the order of examples stays random.
LENGTH_WINDOW = 50
LOSS_CURVE_POINTS = 20  # points of a stage's logged loss curve (TrainReport.loss_curve)
LOG_EVERY = 25  # optimizer steps between reads of the loss (and its finiteness) from the device


class TrainingDiverged(UserError):
    """A NaN or infinite loss: usually a learning rate too high for the model or precision."""


@dataclass
class TrainReport:
    steps: int
    examples: int
    tokens: int  # real (non-pad) tokens seen
    seconds: float
    final_loss: float
    dev_scores: list[float] = field(default_factory=list)  # one per epoch, when selection is best_dev
    selected: str = "last"
    probabilities: dict[str, float] = field(default_factory=dict)  # the sampler's, per task
    batches: dict[str, int] = field(default_factory=dict)  # the realised number of batches per task
    attention: str = ""  # the encoder's attention implementation while training
    # The mean loss over each of up to LOSS_CURVE_POINTS equal windows of steps, in order: the stage's learning
    # curve, from which the report's task-complexity section takes its area (report/complexity.py).
    loss_curve: list[float] = field(default_factory=list)
    # On the compiled path: what torch counted during the stage (xstilts.training.graphs.graph_counters): graphs
    # compiled, graph breaks, CUDA graphs skipped, recorded and re-recorded. Empty on the eager path.
    graphs: dict[str, int] = field(default_factory=dict)


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random, groups: Sequence[Hashable] | None = None
) -> list[list[int]]:
    """Shuffled batches of similar lengths. With `groups` (e.g. each feature's language), no batch mixes two
    groups; without, the batches are exactly those of a single group."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * LENGTH_WINDOW
    batches = []
    for members in _by_group(order, groups):
        for start in range(0, len(members), window):
            chunk = sorted(members[start : start + window], key=lambda i: lengths[i])
            batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _by_group(order: list[int], groups: Sequence[Hashable] | None) -> list[list[int]]:
    if groups is None:
        return [order]
    members: dict[Hashable, list[int]] = {}
    for i in order:  # keeps the shuffled order inside each group
        members.setdefault(groups[i], []).append(i)
    return list(members.values())


def steps_per_epoch(sizes: Sequence[int], config: TrainConfig) -> int:
    """Optimizer steps for one pass over every task's training set."""
    return max(1, math.ceil(sum(sizes) / (config.batch_size * config.grad_accum_steps)))


def optimizer_steps(num_examples: int | Sequence[int], config: TrainConfig) -> int:
    if config.max_steps is not None:
        return config.max_steps
    sizes = [num_examples] if isinstance(num_examples, int) else num_examples
    return max(1, math.ceil(steps_per_epoch(sizes, config) * config.epochs))


def _batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random, groups: Sequence[Hashable] | None
) -> Iterator[list[int]]:
    """One task's micro-batches forever, reshuffled every pass."""
    while True:
        yield from length_grouped_batches(lengths, batch_size, rng, groups)


def train(
    models: TaskModel | Mapping[str, TaskModel],
    features: Sequence[Feature] | Mapping[str, Sequence[Feature]],
    config: TrainConfig,
    seed: int,
    pad_id: int,
    bf16: bool,
    dev_score: Callable[[], float] | None = None,
    label: str = "train",
    probabilities: Mapping[str, float] | None = None,
    parallel: Parallel | None = None,
    groups: Mapping[str, Sequence[Hashable]] | None = None,
    log: Callable[[dict[str, float], int], None] | None = None,
) -> TrainReport:
    """Train in place. Several tasks share one encoder: each micro-batch comes from a task drawn with
    `probabilities` (default: proportional to size). With dev_score (higher is better), the weights of the
    best epoch are kept. `parallel` (xstilts.training.distributed) splits every batch over processes.
    `groups` (per task, one value per feature, e.g. its language) keeps each batch inside one group. `log`, when
    given, receives each optimizer step's loss, learning rate and throughput, and each dev score, with the step
    (xstilts.experiment.tracking sends them to TensorBoard or MLflow); the losses arrive every LOG_EVERY steps,
    when they are read from the device. With `config.adapter`, only the adapter and the heads train, and the
    adapter is merged into the encoder."""
    if isinstance(models, TaskModel):  # one task: the same loop with a one-task sampler
        models, features = {"task": models}, {"task": features}
    torch.manual_seed(seed)
    encoder = next(iter(models.values())).encoder
    if config.freeze_embeddings:
        encoder.get_input_embeddings().weight.requires_grad_(False)
    with adapted(encoder, config.adapter):  # seeded: the adapter's initial weights depend on the seed
        return _train(
            models, features, config, seed, pad_id, bf16, dev_score, label, probabilities, parallel, groups, log
        )


def _train(
    models: Mapping[str, TaskModel],
    features: Mapping[str, Sequence[Feature]],
    config: TrainConfig,
    seed: int,
    pad_id: int,
    bf16: bool,
    dev_score: Callable[[], float] | None,
    label: str,
    probabilities: Mapping[str, float] | None,
    parallel: Parallel | None,
    groups: Mapping[str, Sequence[Hashable]] | None,
    log: Callable[[dict[str, float], int], None] | None,
) -> TrainReport:
    from transformers import get_linear_schedule_with_warmup  # 0.5 s of imports that a finished experiment skips

    rng = random.Random(seed)
    names = list(models)
    sizes = {name: len(features[name]) for name in names}
    probabilities = dict(probabilities or {n: sizes[n] / sum(sizes.values()) for n in names})
    parallel = parallel or OneProcess()
    container = TaskModels(models)  # shared encoder parameters are counted once
    encoder = models[names[0]].encoder
    device = next(encoder.parameters()).device
    total = optimizer_steps(list(sizes.values()), config)
    per_epoch = steps_per_epoch(list(sizes.values()), config)
    one_process = isinstance(parallel, OneProcess)
    embeddings = encoder.get_input_embeddings()
    # Several GPU processes all-reduce or shard the dense matrix: no lazy rows there (a CPU's DDP keeps them).
    lazy_embeddings = embeddings if one_process or device.type == "cpu" else None
    optimizer, lazy = build_optimizer(container, config.weight_decay, config.learning_rate, device, lazy_embeddings)
    schedule = get_linear_schedule_with_warmup(optimizer, round(config.warmup_ratio * total), total)
    graphs = captures_graphs(device) and one_process
    fold_clip = device.type == "cuda" and one_process  # the fused step scales the gradients (clip_in_step)
    forward, optimizer = parallel.prepare(container, optimizer)  # the schedule keeps the inner optimizer
    bucket_limit = config.max_length if graphs else None
    groups = groups or {}
    streams = {n: _batches([f.length for f in features[n]], config.batch_size, rng, groups.get(n)) for n in names}
    best: tuple[float, dict] | None = None
    report = TrainReport(0, 0, 0, 0.0, float("nan"), probabilities=probabilities, batches=dict.fromkeys(names, 0))
    health = _Health(device, math.ceil(total / LOSS_CURVE_POINTS), per_step=log is not None)
    to_log: list[tuple[int, float, float]] = []  # (step, learning rate, examples/s) whose loss is not read yet
    started = time.perf_counter()
    container.train()
    outside: Callable[[], contextlib.AbstractContextManager[None]] = contextlib.nullcontext
    counts_before = graph_counters(device) if graphs else {}

    with contextlib.ExitStack() as stack:
        progress = stack.enter_context(_progress())
        report.attention = stack.enter_context(_training_attention(encoder, device))
        if lazy is not None and not graphs:
            # One process: the embeddings' gradient is sparse, the rows the batch read (DDP would need sparse
            # all-reduces, so processes under accelerate keep the dense one).
            stack.callback(lazy.watch(embeddings, sparse=one_process).remove)
        if graphs:
            # Compiled, the lookup's hook cannot run: the loop tells the lazy rows what each batch reads (below),
            # and the gradient stays dense, in a buffer the parameter owns.
            outside = stack.enter_context(compiled(encoder))
            stable_gradients(container)
            stack.callback(optimizer.zero_grad, set_to_none=True)  # the buffers' memory back after the stage
        bar = progress.add_task(label, total=total, loss=float("nan"))
        while report.steps < total:
            step_loss = torch.zeros((), device=device)
            # One autocast region for all micro-batches of an optimizer step: autocast keeps the bf16 copies of
            # the weights it casts until the outermost region ends, so with gradient accumulation they are cast
            # once per step, not once per micro-batch (the weights only change at optimizer.step()). Backward
            # runs with autocast off, as torch advises; the nested region does not end the outer one's cache.
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                for _ in range(config.grad_accum_steps):
                    name = (
                        rng.choices(names, weights=[probabilities[n] for n in names])[0] if len(names) > 1 else names[0]
                    )
                    model, batch_indices = models[name], next(streams[name])
                    indices, weight = parallel.shard(batch_indices)
                    host = model.collate([features[name][i] for i in indices], pad_id, bucket_limit)
                    report.tokens += int(host["attention_mask"].sum())  # counted on the host: no device wait
                    batch = model.to_device(host)
                    if graphs and lazy is not None:  # the rows this batch's lookup reads, up to date before it
                        rows = host["input_ids"].reshape(-1).unique()  # on the host: no wait for the device
                        lazy.before_read(embeddings.weight, rows.to(device, non_blocking=True))
                    if graphs:
                        begin_step(batch)
                    with contextlib.nullcontext() if graphs else recomputed(encoder, batch.get("input_ids")):
                        loss = model.fmt.loss(forward(name, batch), batch) * weight / config.grad_accum_steps
                    with torch.autocast(device.type, enabled=False):
                        parallel.backward(loss)
                    step_loss += loss.detach().float()
                    report.batches[name] += 1
                    report.examples += len(batch_indices)
            if fold_clip:
                clip_in_step(optimizer, container.parameters(), config.max_grad_norm)
            else:
                parallel.clip(forward, config.max_grad_norm)
            learning_rate = schedule.get_last_lr()[0]  # the rate this step uses; schedule.step() moves it on
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=not graphs)  # under graphs the buffers stay (stable_gradients)
            report.steps += 1
            health.add(step_loss, report.steps, last=report.steps == total)
            if log is not None:  # sent with the loss once it is read
                rate = report.examples / max(time.perf_counter() - started, 1e-9)
                to_log.append((report.steps, learning_rate, rate))
            selecting = dev_score is not None and (report.steps % per_epoch == 0 or report.steps == total)
            if report.steps % LOG_EVERY == 0 or report.steps == total or selecting:
                report.final_loss = health.read(parallel, label)  # the one wait for the device
                release_free_memory()  # long batches' freed activations: not resident until the next long one
                _send(log, to_log, health.step_losses)
            progress.update(bar, advance=1, loss=report.final_loss)
            if selecting:
                if lazy is not None:
                    lazy.flush()
                with outside():  # evaluation runs the plain forward: no compile or graphs for inference
                    score = dev_score()
                best = _keep_best(best, score, container, report)
                if log is not None:
                    log({"dev/score": report.dev_scores[-1]}, report.steps)
        if lazy is not None:
            lazy.flush()
        if graphs:
            report.graphs = counted_since(counts_before, device)
            if warning := silent_fallbacks(report.graphs):
                warnings.warn(f"{label}: {warning}", RuntimeWarning, stacklevel=2)

    if best is not None:
        _restore(container, best[1])
        epoch = report.dev_scores.index(best[0]) + 1
        report.selected = f"best_dev (epoch {epoch} of {len(report.dev_scores)})"
    report.loss_curve = health.curve
    report.tokens = parallel.total(report.tokens)
    report.seconds = time.perf_counter() - started
    return report


class _Health:
    """The last step's loss, the first step whose loss was not finite and the loss curve's windows, kept on the
    device, so that a step never waits for the device; `read` fetches them at once and stops the stage on a NaN
    or infinite loss."""

    def __init__(self, device: torch.device, window: int, per_step: bool = False):
        self.per_step = per_step  # keep every step's loss (for a tracker), not only the last
        self.step_losses: list[float] = []  # read, not yet sent
        self._step_pending: list[torch.Tensor] = []
        self.last = torch.zeros((), device=device)
        self.first_bad = torch.zeros((), dtype=torch.long, device=device)  # 0: none yet
        self.bad_loss = torch.zeros((), device=device)
        self.window, self.window_sum, self.window_steps = window, torch.zeros((), device=device), 0
        self.pending: list[torch.Tensor] = []  # mean losses of closed windows, not read yet
        self.curve: list[float] = []  # TrainReport.loss_curve

    def add(self, loss: torch.Tensor, step: int, last: bool) -> None:
        new = ~torch.isfinite(loss) & (self.first_bad == 0)
        self.first_bad = torch.where(new, step, self.first_bad)
        self.bad_loss = torch.where(new, loss, self.bad_loss)
        self.last = loss
        if self.per_step:
            self._step_pending.append(loss)
        self.window_sum, self.window_steps = self.window_sum + loss, self.window_steps + 1
        if self.window_steps == self.window or last:
            self.pending.append(self.window_sum / self.window_steps)
            self.window_sum, self.window_steps = torch.zeros_like(self.window_sum), 0

    def read(self, parallel: Parallel, label: str) -> float:
        # Reduced over processes (the mean of a NaN is NaN), so that every process stops at the same step.
        bad = parallel.mean((self.first_bad > 0).float())
        reduced = [parallel.mean(self.last), bad, self.first_bad.float(), self.bad_loss]
        windows = [parallel.mean(p) for p in self.pending]
        steps = [parallel.mean(p) for p in self._step_pending]
        values = torch.stack(reduced + windows + steps).tolist()
        last, bad_flag, first_bad, bad_loss = values[:4]
        self.curve += values[4 : 4 + len(windows)]
        self.step_losses += values[4 + len(windows) :]
        self.pending, self._step_pending = [], []
        if bad_flag > 0:
            step = int(first_bad) or "?"  # another process's loss: this one's step is unknown
            raise TrainingDiverged(f"{label}: the loss became {bad_loss if first_bad else float('nan')} at step {step}")
        return last


def _send(
    log: Callable[[dict[str, float], int], None] | None, steps: list[tuple[int, float, float]], losses: list[float]
) -> None:
    """Each step's loss, learning rate and throughput to the tracker, once the losses have been read."""
    if log is not None:
        for (step, learning_rate, rate), loss in zip(steps, losses, strict=True):
            metrics = {"train/loss": loss, "train/learning_rate": learning_rate}
            log({**metrics, "train/examples_per_second": rate}, step)
    steps.clear()
    losses.clear()


@contextlib.contextmanager
def _training_attention(encoder: nn.Module, device: torch.device) -> Iterator[str]:
    """On CPU, train with the plain matmul-softmax attention: with PyTorch's fused CPU kernel (and its dropout)
    whole training steps of me5-small on real batches were 1.05x (SICK), 1.06x (PAN-X) and 1.17x (SocialIQA)
    slower (`python bench/attention.py`, PERFORMANCE.md). Evaluation (no dropout) keeps the fused kernel, where
    the two were level; GPUs keep their fused kernels throughout."""
    before = getattr(getattr(encoder, "config", None), "_attn_implementation", None)
    if device.type != "cpu" or before is None or not hasattr(encoder, "set_attn_implementation"):
        yield before or "default"
        return
    encoder.set_attn_implementation("eager")
    try:
        yield "eager"
    finally:
        encoder.set_attn_implementation(before)


def _keep_best(best: tuple[float, dict] | None, score: float, model: nn.Module, report: TrainReport):  # noqa: ANN202
    report.dev_scores.append(score)
    if math.isfinite(score) and (best is None or score > best[0]):  # a NaN score is never the best
        return score, trained_tensors(model)
    return best


def trained_tensors(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy, in host memory, of what training changes: the parameters that train (with LoRA the adapters and
    the heads, not the frozen encoder) and the floating-point buffers (running statistics). Nothing else can
    differ between epochs, so the best epoch's weights need no copy of the whole model on the device (a 10.7B
    encoder's state is 43 GB)."""
    kept = {name: p for name, p in model.named_parameters() if p.requires_grad}
    kept.update({name: b for name, b in model.named_buffers() if b.is_floating_point()})
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in kept.items()}


@torch.no_grad()
def _restore(model: nn.Module, kept: Mapping[str, torch.Tensor]) -> None:
    """Copy `kept` (trained_tensors) back into the model's own tensors, in place."""
    own = dict(model.named_parameters()) | dict(model.named_buffers())
    for name, tensor in kept.items():
        own[name].copy_(tensor)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeRemainingColumn(),
        transient=True,
    )
