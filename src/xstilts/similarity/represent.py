"""What the similarity methods compute from a model and a sample of a task: mean-pooled representations (TextEmb,
SEmb, CKA), the diagonal empirical Fisher information of the task loss (TaskEmb), and the model's loss and metric on
the sample (a task descriptor). Every format is handled the same way, through its own featurisation, collation and
loss, so a new format needs nothing here."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from xstilts.errors import UserError
from xstilts.formats import Feature
from xstilts.formats.base import pad_rows
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import Example
from xstilts.training.evaluate import evaluate
from xstilts.training.task_model import TaskModel


def token_rows(features: Sequence[Feature]) -> list[list[int]]:
    """Every encoder input of the features: one row per example, or one per choice for multiple choice."""
    rows: list[list[int]] = []
    for feature in features:
        ids = feature.input_ids
        # Multiple choice holds one row per choice; every other format one row (a flat list of ids).
        rows += ids if ids and isinstance(ids[0], list) else [ids]  # type: ignore[list-item]
    return rows


def with_prefix(rows: Sequence[list[int]], prefix: Sequence[int], max_length: int) -> list[list[int]]:
    """Insert `prefix` token ids after each row's first (special) token: the instruction prefix that e5-style
    sentence encoders expect ("query: "), added to already tokenised input. Rows are cut back to `max_length`,
    keeping their last (special) token."""
    out = []
    for row in rows:
        new = [row[0], *prefix, *row[1:]]
        out.append(new if len(new) <= max_length else [*new[: max_length - 1], new[-1]])
    return out


@torch.no_grad()
def mean_pooled(
    encoder: nn.Module, rows: Sequence[list[int]], pad_id: int, batch_size: int, normalise: bool = False
) -> np.ndarray:
    """(rows x hidden) last-layer representations averaged over each row's real tokens; L2-normalised per row when
    `normalise` (a sentence encoder's embedding)."""
    encoder.eval()
    out = []
    for start in range(0, len(rows), batch_size):
        ids, mask = pad_rows(rows[start : start + batch_size], pad_id)
        hidden = encoder(input_ids=ids, attention_mask=mask).last_hidden_state.float()
        weights = mask.unsqueeze(-1).float()
        pooled = (hidden * weights).sum(1) / weights.sum(1)
        out.append(torch.nn.functional.normalize(pooled, dim=-1) if normalise else pooled)
    return torch.cat(out).numpy().astype(np.float64)


def layer_prefixes(encoder: nn.Module, layers: Sequence[int] | None) -> tuple[str, ...]:
    """Parameter-name prefixes of the chosen transformer layers (negative indices count from the top; None is the
    last layer). Hugging Face BERT and XLM-R name them "encoder.layer.<i>."."""
    count = encoder.config.num_hidden_layers
    chosen = [count - 1] if layers is None else [i + count if i < 0 else i for i in layers]
    bad = [i for i in chosen if not 0 <= i < count]
    if bad:
        raise UserError(f"--fisher-layers: the model has layers 0..{count - 1} (or -{count}..-1), not {bad}")
    return tuple(f"encoder.layer.{i}." for i in chosen)


def diagonal_fisher(
    model: TaskModel, features: Sequence[Feature], pad_id: int, prefixes: tuple[str, ...]
) -> np.ndarray:
    """The diagonal of the empirical Fisher information, E_x[(d log p(y|x) / d theta)^2] with y the gold label, over
    the encoder parameters whose names start with one of `prefixes`: one backward pass per example (the square of a
    batch's mean gradient is not the mean of the per-example squares). Dropout is off, so it is deterministic.
    Parameters only: Vu et al. (2020)'s TaskEmb also takes the Fisher w.r.t. layer outputs and the CLS output."""
    named = [(n, p) for n, p in model.encoder.named_parameters() if n.startswith(prefixes)]
    if not named:
        raise UserError(f"--fisher-layers: no encoder parameters are named {', '.join(prefixes)}*")
    params = [p for _, p in named]
    trainable = {p: p.requires_grad for p in model.parameters()}
    for p in model.parameters():
        p.requires_grad_(False)  # gradients only for the chosen layers: the backward pass stops below them
    for p in params:
        p.requires_grad_(True)
    model.eval()
    total = [torch.zeros_like(p, dtype=torch.float64) for p in params]
    used = 0
    try:
        for feature in features:
            batch = model.batch([feature], pad_id)
            loss = model.fmt.loss(model(batch), batch)
            if not torch.isfinite(loss):  # e.g. a tagged sentence whose every label was cut off: no gold to score
                continue
            grads = torch.autograd.grad(loss, params, allow_unused=True)
            for acc, grad in zip(total, grads, strict=True):
                if grad is not None:
                    acc += grad.double() ** 2
            used += 1
    finally:
        for p, flag in trainable.items():
            p.requires_grad_(flag)
    if used == 0:
        raise ValueError("no example of the sample has a finite loss")
    return (torch.cat([t.flatten() for t in total]) / used).numpy()


@torch.no_grad()
def loss_and_metric(
    model: TaskModel,
    task: TaskDef,
    examples: Sequence[Example],
    features: Sequence[Feature],
    tokenizer: Any,
    lang: str,
    max_length: int,
    batch_size: int,
) -> tuple[float, dict[str, float]]:
    """The model's loss on the sample (the format's loss per batch, averaged over batches weighted by their size) and
    the task's metrics on it: how well the model fits its own training data."""
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(features), batch_size):
        chunk = features[start : start + batch_size]
        batch = model.batch(chunk, tokenizer.pad_token_id)
        loss = float(model.fmt.loss(model(batch), batch))
        if math.isfinite(loss):
            total, count = total + loss * len(chunk), count + len(chunk)
    _, metrics = evaluate(model, task, examples, lang, tokenizer, max_length, batch_size, False)
    return (total / count if count else math.nan), metrics


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / norms) if norms > 0 else 0.0
