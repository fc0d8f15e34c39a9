"""Token tagging (PAN-X NER, UD-POS). As in XTREME, the first sub-token of each word carries the word's
label; the other sub-tokens are ignored by the loss and by decoding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from xstilts.formats.base import Feature, FormatBase, encode_hidden, pad_rows
from xstilts.metrics import METRICS
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import TaggingExample

IGNORE = -100


class TokenHead(nn.Module):
    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(hidden))


class Tagging(FormatBase):
    name = "tagging"

    def encode(
        self, examples: Sequence[TaggingExample], tokenizer: Any, task: TaskDef, max_length: int
    ) -> list[Feature]:
        tag_ids = {tag: i for i, tag in enumerate(task.labels)}
        encoded = tokenizer(
            [list(e.words) for e in examples],
            is_split_into_words=True,
            truncation=True,
            max_length=max_length,
        )
        features = []
        for i, e in enumerate(examples):
            targets, previous = [], None
            for word in encoded.word_ids(i):
                first = word is not None and word != previous
                # A tag outside the label set (one an open set never saw in training) keeps the word's place
                # with id 0: decoding needs only the position, and scoring compares the gold tag itself.
                targets.append(tag_ids.get(e.tags[word], 0) if first else IGNORE)
                previous = word
            ids = encoded["input_ids"][i]
            features.append(Feature(ids, targets, len(ids)))
        return features

    def collate(self, features: Sequence[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        ids, mask = pad_rows([f.input_ids for f in features], pad_id)
        labels = torch.full_like(ids, IGNORE)
        for i, f in enumerate(features):
            labels[i, : len(f.target)] = torch.tensor(f.target)
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    def make_head(self, encoder_config: Any, task: TaskDef) -> nn.Module:
        return TokenHead(encoder_config.hidden_size, len(task.labels))

    def logits(self, encoder: nn.Module, head: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return head(encode_hidden(encoder, batch["input_ids"], batch["attention_mask"]))

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(logits.float().flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE)

    def decode(self, logits: torch.Tensor, batch: dict[str, torch.Tensor], task: TaskDef) -> list[list[str]]:
        best = logits.argmax(-1)
        first_subtokens = batch["labels"] != IGNORE
        return [[task.labels[j] for j in row[keep].tolist()] for row, keep in zip(best, first_subtokens, strict=True)]

    def score(
        self, predictions: Sequence[list[str]], examples: Sequence[TaggingExample], task: TaskDef, lang: str
    ) -> dict[str, float]:
        # Words cut off by max_length get no prediction; like XTREME, they count as "O" (or the first tag),
        # so truncation costs recall instead of silently shrinking the gold set.
        fallback = "O" if "O" in task.labels else task.labels[0]
        padded = [p + [fallback] * (len(e.words) - len(p)) for p, e in zip(predictions, examples, strict=True)]
        return METRICS[task.metric](padded, [list(e.tags) for e in examples], lang)
