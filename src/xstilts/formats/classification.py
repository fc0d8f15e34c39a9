"""Sentence and sentence-pair classification (XNLI, PAWS-X, SICK, SNLI)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from xstilts.formats.base import ClsHead, Feature, FormatBase, encode_hidden, pad_rows
from xstilts.formats.scoring import ClassificationScoring
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import ClassificationExample


class Classification(ClassificationScoring, FormatBase):
    def encode(
        self, examples: Sequence[ClassificationExample], tokenizer: Any, task: TaskDef, max_length: int
    ) -> list[Feature]:
        label_ids = {label: i for i, label in enumerate(task.labels)}
        pairs = examples[0].text_b is not None if examples else False
        encoded = tokenizer(
            [e.text_a for e in examples],
            [e.text_b or "" for e in examples] if pairs else None,
            truncation=True,
            max_length=max_length,
        )["input_ids"]
        return [Feature(ids, label_ids[e.label], len(ids)) for ids, e in zip(encoded, examples, strict=True)]

    def collate(self, features: Sequence[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        ids, mask = pad_rows([f.input_ids for f in features], pad_id)
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": torch.tensor([f.target for f in features]),
        }

    def make_head(self, encoder_config: Any, task: TaskDef) -> nn.Module:
        return ClsHead(encoder_config.hidden_size, len(task.labels))

    def logits(self, encoder: nn.Module, head: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return head(encode_hidden(encoder, batch["input_ids"], batch["attention_mask"]))

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(logits.float(), batch["labels"])

    def decode(self, logits: torch.Tensor, batch: dict[str, torch.Tensor], task: TaskDef) -> list[str]:
        return [task.labels[i] for i in logits.argmax(-1).tolist()]
