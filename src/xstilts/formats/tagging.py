"""Token tagging (PAN-X NER, UD-POS). As in XTREME, the first sub-token of each word carries the word's
label; the other sub-tokens are ignored by the loss and by decoding.

Every word gets exactly one prediction, so a prediction can never shift onto the next word: a word the
tokenizer turns into no sub-token at all (a lone control or zero-width character) is encoded as the
tokenizer's unknown token instead, and words cut off by max_length are predicted as "O" (or the first tag)
when predictions are aggregated. Scoring refuses a prediction list whose length differs from its sentence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from xstilts.formats.base import Feature, FormatBase, encode_hidden, pad_rows
from xstilts.formats.scoring import TaggingScoring
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import TaggingExample

IGNORE = -100


@dataclass(frozen=True, slots=True)
class WordLabels:
    """A sentence's per-token label ids (IGNORE except on each kept word's first sub-token) and its number of
    words, so that decoding can give the words cut off by max_length a prediction of their own."""

    labels: tuple[int, ...]
    words: int


class TokenHead(nn.Module):
    def __init__(self, hidden_size: int, num_labels: int, dropout: float = 0.1):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_labels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(hidden))


class Tagging(TaggingScoring, FormatBase):
    def encode(
        self, examples: Sequence[TaggingExample], tokenizer: Any, task: TaskDef, max_length: int
    ) -> list[Feature]:
        tag_ids = {tag: i for i, tag in enumerate(task.labels)}
        sentences = _with_every_word_tokenised([list(e.words) for e in examples], tokenizer)
        encoded = tokenizer(sentences, is_split_into_words=True, truncation=True, max_length=max_length)
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
            features.append(Feature(ids, WordLabels(tuple(targets), len(e.words)), len(ids)))
        return features

    def collate(self, features: Sequence[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        ids, mask = pad_rows([f.input_ids for f in features], pad_id)
        labels = torch.full_like(ids, IGNORE)
        for i, f in enumerate(features):
            labels[i, : len(f.target.labels)] = torch.tensor(f.target.labels)
        words = torch.tensor([f.target.words for f in features])
        return {"input_ids": ids, "attention_mask": mask, "labels": labels, "words": words}

    def make_head(self, encoder_config: Any, task: TaskDef) -> nn.Module:
        return TokenHead(encoder_config.hidden_size, len(task.labels))

    def logits(self, encoder: nn.Module, head: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return head(encode_hidden(encoder, batch["input_ids"], batch["attention_mask"]))

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(logits.float().flatten(0, 1), batch["labels"].flatten(), ignore_index=IGNORE)

    def decode(self, logits: torch.Tensor, batch: dict[str, torch.Tensor], task: TaskDef) -> list[list[str]]:
        """One tag per word: the argmax at each kept word's first sub-token, then, like XTREME, "O" (or the
        first tag) for the words max_length cut off, so truncation costs recall instead of shrinking the gold
        set. Every word has a first sub-token (encode), so the kept words are exactly the first ones."""
        best = logits.argmax(-1)
        first_subtokens = batch["labels"] != IGNORE
        fallback = _fallback(task)
        out = []
        for row, keep, words in zip(best, first_subtokens, batch["words"].tolist(), strict=True):
            tags = [task.labels[j] for j in row[keep].tolist()]
            if len(tags) > words:
                raise ValueError(f"{len(tags)} tagged sub-tokens for a sentence of {words} words")
            out.append(tags + [fallback] * (words - len(tags)))
        return out


def _fallback(task: TaskDef) -> str:
    return "O" if "O" in task.labels else task.labels[0]


def _with_every_word_tokenised(sentences: list[list[str]], tokenizer: Any) -> list[list[str]]:
    """The sentences with each word that the tokenizer turns into no sub-token at all (a lone control or
    zero-width character, which the normaliser removes) replaced by the unknown token, so that it keeps a
    position, and a prediction, of its own."""
    vocabulary = sorted({word for sentence in sentences for word in sentence})
    pieces = tokenizer(vocabulary, add_special_tokens=False)["input_ids"] if vocabulary else []
    empty = {word for word, ids in zip(vocabulary, pieces, strict=True) if not ids}
    if not empty:
        return sentences
    replacement = tokenizer.unk_token or "?"
    return [[replacement if word in empty else word for word in sentence] for sentence in sentences]
