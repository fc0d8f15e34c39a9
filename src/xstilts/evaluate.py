"""The evaluation loop, one for every task format: batches sorted by length, no gradients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from xstilts.formats import Feature
from xstilts.model import TaskModel
from xstilts.tasks.definition import TaskDef


@torch.no_grad()
def predict(
    model: TaskModel, task: TaskDef, features: Sequence[Feature], batch_size: int, pad_id: int, bf16: bool
) -> list[Any]:
    """Predictions in the order of `features`. Sorting by length first keeps padding (wasted compute) small."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(features)), key=lambda i: features[i].length)
    predictions: list[Any] = [None] * len(features)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = {k: v.to(device) for k, v in model.fmt.collate([features[i] for i in chunk], pad_id).items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(batch)
        for i, prediction in zip(chunk, model.fmt.decode(logits.float(), batch, task), strict=True):
            predictions[i] = prediction
    model.train(was_training)
    return predictions
