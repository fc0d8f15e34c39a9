"""The training loop: one loop for every task format and stage.

Features, and the TrainConfig options that control them:
- AdamW, no weight decay on biases and LayerNorm weights (learning_rate, weight_decay)
- linear warm-up, then linear decay to zero (warmup_ratio; epochs, or max_steps when set)
- gradient accumulation: batch_size x grad_accum_steps examples per optimizer step
- dynamic padding and length-grouped batches (less padding, same randomness across batches)
- bf16 autocast where the hardware runs it natively (precision)
- gradient clipping (max_grad_norm); a NaN or infinite loss stops the stage
- model selection: the last weights, or the best English dev score checked after each epoch (selection)
- frozen word embeddings (freeze_embeddings)
- several tasks on one shared encoder, each batch drawn from one task by a sampler (xstilts.training.sampling)
- one language per batch when a task trains on several (language_batches: per_language); mixed by default
- data parallel over processes (DDP, FSDP, DeepSpeed) under accelerate: each takes a shard of every batch
  (parallel; xstilts.training.distributed)
"""

from __future__ import annotations

import contextlib
import copy
import math
import random
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn

from xstilts.errors import UserError
from xstilts.formats import Feature
from xstilts.spec import TrainConfig
from xstilts.training.distributed import OneProcess, Parallel, TaskModels
from xstilts.training.task_model import TaskModel

# Batches are sorted by length inside windows of this many batches: long enough to group similar
# lengths, short enough that the order of examples stays random.
LENGTH_WINDOW = 50
LOSS_CURVE_POINTS = 20  # points of a stage's logged loss curve (TrainReport.loss_curve)


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


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)  # biases and LayerNorm weights are 1-d
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


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
    (xstilts.experiment.tracking sends them to TensorBoard or MLflow)."""
    from transformers import get_linear_schedule_with_warmup  # 0.5 s of imports that a finished experiment skips

    if isinstance(models, TaskModel):  # one task: the same loop with a one-task sampler
        models, features = {"task": models}, {"task": features}
    torch.manual_seed(seed)
    rng = random.Random(seed)
    names = list(models)
    sizes = {name: len(features[name]) for name in names}
    probabilities = dict(probabilities or {n: sizes[n] / sum(sizes.values()) for n in names})
    parallel = parallel or OneProcess()
    container = TaskModels(models)  # shared encoder parameters are counted once
    encoder = models[names[0]].encoder
    device = next(encoder.parameters()).device
    if config.freeze_embeddings:
        encoder.get_input_embeddings().weight.requires_grad_(False)
    total = optimizer_steps(list(sizes.values()), config)
    per_epoch = steps_per_epoch(list(sizes.values()), config)
    # The fused kernel updates every tensor in one pass; on CPU it made a step with the 96M-row embeddings
    # trained 6x faster than the default per-tensor loop (BENCHMARKS.md, "One optimizer step").
    optimizer = torch.optim.AdamW(
        _param_groups(container, config.weight_decay), lr=config.learning_rate, fused=_fused_ok(device)
    )
    schedule = get_linear_schedule_with_warmup(optimizer, round(config.warmup_ratio * total), total)
    forward, optimizer = parallel.prepare(container, optimizer)  # the schedule keeps the inner optimizer
    groups = groups or {}
    streams = {n: _batches([f.length for f in features[n]], config.batch_size, rng, groups.get(n)) for n in names}
    best: tuple[float, dict] | None = None
    report = TrainReport(0, 0, 0, 0.0, float("nan"), probabilities=probabilities, batches=dict.fromkeys(names, 0))
    window, window_losses = math.ceil(total / LOSS_CURVE_POINTS), []
    started = time.perf_counter()
    container.train()

    with _progress() as progress, _training_attention(encoder, device) as attention:
        report.attention = attention
        bar = progress.add_task(label, total=total, loss=float("nan"))
        while report.steps < total:
            loss_sum = 0.0
            for _ in range(config.grad_accum_steps):
                name = rng.choices(names, weights=[probabilities[n] for n in names])[0] if len(names) > 1 else names[0]
                model, batch_indices = models[name], next(streams[name])
                indices, weight = parallel.shard(batch_indices)
                batch = model.batch([features[name][i] for i in indices], pad_id)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    loss = model.fmt.loss(forward(name, batch), batch) * weight / config.grad_accum_steps
                batch_loss = parallel.mean(loss.detach())  # the same on every process, so all stop together
                if not torch.isfinite(batch_loss):
                    raise TrainingDiverged(f"{label}: the loss became {batch_loss.item()} at step {report.steps + 1}")
                parallel.backward(loss)
                loss_sum += batch_loss.item()
                report.batches[name] += 1
                report.examples += len(batch_indices)
                report.tokens += int(batch["attention_mask"].sum())
            parallel.clip(forward, config.max_grad_norm)
            learning_rate = schedule.get_last_lr()[0]  # the rate this step uses; schedule.step() moves it on
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            report.steps += 1
            report.final_loss = loss_sum
            window_losses.append(loss_sum)
            if len(window_losses) == window or report.steps == total:
                report.loss_curve.append(sum(window_losses) / len(window_losses))
                window_losses = []
            progress.update(bar, advance=1, loss=loss_sum)
            if log is not None:
                rate = report.examples / max(time.perf_counter() - started, 1e-9)
                metrics = {"train/loss": loss_sum, "train/learning_rate": learning_rate}
                log({**metrics, "train/examples_per_second": rate}, report.steps)
            if dev_score is not None and (report.steps % per_epoch == 0 or report.steps == total):
                best = _keep_best(best, dev_score(), container, report)
                if log is not None:
                    log({"dev/score": report.dev_scores[-1]}, report.steps)

    if best is not None:
        container.load_state_dict(best[1])
        epoch = report.dev_scores.index(best[0]) + 1
        report.selected = f"best_dev (epoch {epoch} of {len(report.dev_scores)})"
    report.tokens = parallel.total(report.tokens)
    report.seconds = time.perf_counter() - started
    return report


@contextlib.contextmanager
def _training_attention(encoder: nn.Module, device: torch.device) -> Iterator[str]:
    """On CPU, train with the plain matmul-softmax attention: with PyTorch's fused CPU kernel (and its dropout)
    whole training steps of me5-small on real batches were 1.05x (SICK), 1.06x (PAN-X) and 1.17x (SocialIQA)
    slower (`python bench/attention.py`, BENCHMARKS.md). Evaluation (no dropout) keeps the fused kernel, where
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


def _fused_ok(device: torch.device) -> bool:
    return device.type in ("cpu", "cuda")


def _keep_best(best: tuple[float, dict] | None, score: float, model: nn.Module, report: TrainReport):  # noqa: ANN202
    report.dev_scores.append(score)
    if best is None or score > best[0]:
        return score, copy.deepcopy(model.state_dict())
    return best


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"),
        TimeRemainingColumn(),
        transient=True,
    )
