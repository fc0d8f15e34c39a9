"""What a task format owns: featurisation, the head on top of the encoder, the loss, decoding and the metric.

The trainer and evaluator only ever call these methods, so a new format never touches them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from pydantic import BaseModel, ConfigDict
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
    trains: bool  # False: evaluated straight from an encoder, with no target-task training (retrieval)

    def encode(self, examples: Sequence[Example], tokenizer: Any, task: TaskDef, max_length: int) -> list[Feature]:
        """Tokenise examples into features (one example may become several, e.g. QA windows)."""

    def bind(self, tokenizer: Any) -> None:
        """Take what collating needs from the tokenizer (MLM: mask id, special ids). encode calls it; so does the
        feature cache when it returns cached features without encoding."""

    def collate(self, features: Sequence[Feature], pad_id: int) -> dict[str, Any]: ...

    def make_head(self, encoder_config: Any, task: TaskDef) -> nn.Module: ...

    def logits(self, encoder: nn.Module, head: nn.Module, batch: dict[str, Any]) -> torch.Tensor: ...

    def loss(self, logits: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor: ...

    def decode(self, logits: torch.Tensor, batch: dict[str, Any], task: TaskDef) -> list[Any]:
        """One prediction per feature of the batch."""

    def aggregate(self, predictions: Sequence[Any], features: Sequence[Feature], examples: Sequence[Example]) -> list:
        """Per-feature predictions -> one prediction per example."""

    def score(self, predictions: Sequence[Any], examples: Sequence[Example], task: TaskDef, lang: str) -> dict:
        """{metric: value in percent} for one language."""

    def export(self, predictions: Sequence[Any]) -> list[Any]:
        """Per-example predictions as JSON values, for the predictions file beside the results."""

    def length_problem(self, examples: Sequence[Example], tokenizer: Any, max_length: int) -> str | None:
        """Why max_length is too short for these examples (e.g. no room for a QA question), or None."""

    def score_exported(self, exported: Sequence[Any], examples: Sequence[Example], task: TaskDef, lang: str) -> dict:
        """Score predictions in the exported (JSON) form, e.g. made by another system."""


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FormatBase:
    """Defaults shared by the formats: options validated by the format's own Options model, one feature per
    example, predictions exported as they are."""

    trains = True
    Options: type[BaseModel] = NoOptions

    def __init__(self, **options: Any):
        self.options = self.Options(**options)

    def bind(self, tokenizer: Any) -> None:
        return None

    def aggregate(self, predictions: Sequence[Any], features: Sequence[Feature], examples: Sequence[Example]) -> list:
        return list(predictions)

    def export(self, predictions: Sequence[Any]) -> list[Any]:
        return list(predictions)

    def length_problem(self, examples: Sequence[Example], tokenizer: Any, max_length: int) -> str | None:
        """Why `max_length` is too short for these examples, or None. Checked before a run writes anything;
        formats that truncate freely need no minimum."""
        return None


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
