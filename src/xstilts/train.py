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
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from transformers import get_linear_schedule_with_warmup

from xstilts.errors import UserError
from xstilts.formats import Feature
from xstilts.model import TaskModel
from xstilts.spec import TrainConfig

# Batches are sorted by length inside windows of this many batches: long enough to group similar
# lengths, short enough that the order of examples stays random.
LENGTH_WINDOW = 50


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


def length_grouped_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * LENGTH_WINDOW
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: lengths[i])
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def _param_groups(model: TaskModel, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)  # biases and LayerNorm weights are 1-d
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def optimizer_steps(num_examples: int, config: TrainConfig) -> int:
    if config.max_steps is not None:
        return config.max_steps
    per_epoch = math.ceil(num_examples / (config.batch_size * config.grad_accum_steps))
    return max(1, math.ceil(per_epoch * config.epochs))


def _epochs(lengths: Sequence[int], config: TrainConfig, rng: random.Random) -> Iterator[tuple[int, list[int]]]:
    """Micro-batches forever, tagged with their epoch number."""
    epoch = 0
    while True:
        for batch in length_grouped_batches(lengths, config.batch_size, rng):
            yield epoch, batch
        epoch += 1


def train(
    model: TaskModel,
    features: Sequence[Feature],
    config: TrainConfig,
    seed: int,
    pad_id: int,
    bf16: bool,
    dev_score: Callable[[], float] | None = None,
    label: str = "train",
) -> TrainReport:
    """Train `model` in place. With dev_score (higher is better), keep the best epoch's weights."""
    torch.manual_seed(seed)
    rng = random.Random(seed)
    device = next(model.parameters()).device
    if config.freeze_embeddings:
        model.encoder.get_input_embeddings().weight.requires_grad_(False)
    total = optimizer_steps(len(features), config)
    optimizer = torch.optim.AdamW(_param_groups(model, config.weight_decay), lr=config.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, round(config.warmup_ratio * total), total)
    best: tuple[float, dict] | None = None
    report = TrainReport(steps=0, examples=0, tokens=0, seconds=0.0, final_loss=float("nan"))
    batches = _epochs([f.length for f in features], config, rng)
    epoch, started = 0, time.perf_counter()
    model.train()

    with _progress() as progress:
        bar = progress.add_task(label, total=total, loss=float("nan"))
        while report.steps < total:
            loss_sum = 0.0
            for _ in range(config.grad_accum_steps):
                batch_epoch, indices = next(batches)
                if batch_epoch != epoch and dev_score is not None:
                    best = _keep_best(best, dev_score(), model, report)
                epoch = batch_epoch
                batch = model.batch([features[i] for i in indices], pad_id)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                    loss = model.fmt.loss(model(batch), batch) / config.grad_accum_steps
                if not torch.isfinite(loss):
                    raise TrainingDiverged(f"{label}: the loss became {loss.item()} at step {report.steps + 1}")
                loss.backward()
                loss_sum += loss.item()
                report.examples += len(indices)
                report.tokens += int(batch["attention_mask"].sum())
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad(set_to_none=True)
            report.steps += 1
            report.final_loss = loss_sum
            progress.update(bar, advance=1, loss=loss_sum)

    if dev_score is not None:
        best = _keep_best(best, dev_score(), model, report)
        model.load_state_dict(best[1])  # type: ignore[index]
        report.selected = f"best_dev (epoch {report.dev_scores.index(best[0]) + 1} of {len(report.dev_scores)})"  # type: ignore[index]
    report.seconds = time.perf_counter() - started
    return report


def _keep_best(best: tuple[float, dict] | None, score: float, model: TaskModel, report: TrainReport):  # noqa: ANN202
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
