"""A task model: a shared pretrained encoder plus the head of one task's format."""

from __future__ import annotations

import torch
from torch import nn

from xstilts.formats import Format


class TaskModel(nn.Module):
    def __init__(self, encoder: nn.Module, head: nn.Module, fmt: Format):
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.fmt = fmt

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.fmt.logits(self.encoder, self.head, batch)
