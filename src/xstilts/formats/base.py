"""What a task format owns: featurisation, the head on top of the encoder, the loss, decoding and the metric.

The trainer and evaluator only ever call these methods, so a new format never touches them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import Example


@dataclass(slots=True)
class Feature:
    """One tokenised example. `length` (its longest row) drives length grouping and padding."""

    input_ids: list[int] | list[list[int]]
    target: Any  # label id, choice index, or per-token label ids
    length: int


class Format(Protocol):
    name: str

    def encode(self, examples: Sequence[Example], tokenizer: Any, task: TaskDef, max_length: int) -> list[Feature]: ...

    def collate(self, features: Sequence[Feature], pad_id: int) -> dict[str, torch.Tensor]: ...

    def make_head(self, hidden_size: int, task: TaskDef) -> nn.Module: ...

    def logits(self, encoder: nn.Module, head: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor: ...

    def decode(self, logits: torch.Tensor, batch: dict[str, torch.Tensor], task: TaskDef) -> list[Any]: ...

    def score(self, predictions: Sequence[Any], examples: Sequence[Example], task: TaskDef) -> dict[str, float]: ...


def pad_rows(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad to the longest row in the batch (dynamic padding); returns ids and attention mask."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def encode_hidden(encoder: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    return encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class ClsHead(nn.Module):
    """Classifier over the first (<s>/[CLS]) token, shaped like XLM-R's sequence-classification head."""

    def __init__(self, hidden_size: int, num_outputs: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.out_proj = nn.Linear(hidden_size, num_outputs)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        x = self.dropout(hidden[:, 0])
        x = torch.tanh(self.dense(x))
        return self.out_proj(self.dropout(x))
