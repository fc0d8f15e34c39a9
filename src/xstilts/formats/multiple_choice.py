"""Multiple choice (COPA/XCOPA, SocialIQA, CosmosQA, CommonsenseQA): each choice is paired with the context
and scored by one shared linear head; a softmax over the choices gives the prediction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from xstilts.formats.base import ClsHead, Feature, FormatBase, encode_hidden, pad_rows
from xstilts.formats.scoring import MultipleChoiceScoring
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import MultipleChoiceExample


class MultipleChoice(MultipleChoiceScoring, FormatBase):
    def encode(
        self, examples: Sequence[MultipleChoiceExample], tokenizer: Any, task: TaskDef, max_length: int
    ) -> list[Feature]:
        firsts = [f"{e.context} {e.question}".strip() for e in examples for _ in e.choices]
        seconds = [choice for e in examples for choice in e.choices]
        # Truncate the context, never the answer: the answer is what is being scored.
        rows = tokenizer(firsts, seconds, truncation="only_first", max_length=max_length)["input_ids"]
        features, start = [], 0
        for e in examples:
            choice_rows = rows[start : start + len(e.choices)]
            start += len(e.choices)
            features.append(Feature(choice_rows, e.label, max(len(r) for r in choice_rows)))
        return features

    def collate(self, features: Sequence[Feature], pad_id: int) -> dict[str, torch.Tensor]:
        num_choices = {len(f.input_ids) for f in features}
        if len(num_choices) != 1:
            raise ValueError(f"a batch mixes questions with {sorted(num_choices)} choices")
        ids, mask = pad_rows([row for f in features for row in f.input_ids], pad_id)
        shape = (len(features), num_choices.pop(), ids.shape[-1])
        return {
            "input_ids": ids.view(shape),
            "attention_mask": mask.view(shape),
            "labels": torch.tensor([f.target for f in features]),
        }

    def make_head(self, encoder_config: Any, task: TaskDef) -> nn.Module:
        return ClsHead(encoder_config.hidden_size, 1)

    def logits(self, encoder: nn.Module, head: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        batch_size, num_choices, width = batch["input_ids"].shape
        hidden = encode_hidden(encoder, batch["input_ids"].view(-1, width), batch["attention_mask"].view(-1, width))
        return head(hidden).view(batch_size, num_choices)

    def loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.cross_entropy(logits.float(), batch["labels"])

    def decode(self, logits: torch.Tensor, batch: dict[str, torch.Tensor], task: TaskDef) -> list[int]:
        return logits.argmax(-1).tolist()
