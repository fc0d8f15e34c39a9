"""A task model: a shared pretrained encoder plus the head of one task's format."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from xstilts.formats import Feature, Format, make_format
from xstilts.tasks.definition import TaskDef
from xstilts.training.buckets import pad_to_bucket


class TaskModel(nn.Module):
    def __init__(self, encoder: nn.Module, head: nn.Module, fmt: Format):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.fmt = fmt

    def forward(self, batch: dict[str, Any]) -> torch.Tensor:
        return self.fmt.logits(self.encoder, self.head, batch)

    def collate(self, features: Sequence[Feature], pad_id: int, bucket_limit: int | None = None) -> dict[str, Any]:
        """The batch on the host; with `bucket_limit`, padded to a static length bucket (xstilts.training.buckets)."""
        batch = self.fmt.collate(features, pad_id)
        return batch if bucket_limit is None else pad_to_bucket(batch, pad_id, bucket_limit)

    def to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Move the tensors to the model's device (other entries, such as QA windows, stay on the host). To a GPU
        through pinned memory without waiting: the host goes on preparing the next batch while it copies."""
        device = next(self.parameters(), torch.empty(0)).device
        if device.type != "cuda":
            return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        return {
            k: v.pin_memory().to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()
        }

    def batch(self, features: Sequence[Feature], pad_id: int, bucket_limit: int | None = None) -> dict[str, Any]:
        """Collate features and move the tensors to the model's device."""
        return self.to_device(self.collate(features, pad_id, bucket_limit))


def new_task_models(
    encoder: nn.Module, tasks: Sequence[tuple[TaskDef, dict[str, Any]]], seed: int, device: torch.device
) -> dict[str, TaskModel]:
    """One TaskModel per (task, format options), all sharing `encoder`, each with a new head of its format.
    The heads' initial weights depend on `seed` only (drawn in the order of `tasks`). Stages build their
    models through this, and so do the benchmarks, so both start from the same weights."""
    torch.manual_seed(seed)
    models = {}
    for task, options in tasks:
        fmt = make_format(task.format, options)
        models[task.name] = TaskModel(encoder, fmt.make_head(encoder.config, task), fmt).to(device)
    return models
