"""Sentence retrieval without training (Tatoeba; BUCC with its data): sentences are embedded by pooling one
hidden layer of the encoder, and each English sentence retrieves its nearest non-English sentence by cosine.

Defaults follow the XTREME reference: mean pooling over non-pad tokens of the middle layer, layer 14 of 24
for XLM-R Large, scaled to other depths (round(14/24 * num_layers): layer 7 of me5-small's 12). Layer and
pooling are options of the format, so they are part of the stage key and recorded with every result."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from xstilts.formats.base import Feature, FormatBase, pad_rows
from xstilts.formats.scoring import RetrievalScoring
from xstilts.metrics.retrieval import nearest_neighbours, tatoeba_accuracy
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import TranslationPair

# XTREME's retrieval layer for XLM-R Large (24 layers).
REFERENCE_LAYER, REFERENCE_DEPTH = 14, 24


class RetrievalOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    layer: int | None = Field(None, ge=0)  # hidden_states index: 0 = embeddings; None = scaled XTREME layer
    pooling: Literal["mean", "cls"] = "mean"


class Pooler(nn.Module):
    """No parameters: picks one layer and pools it."""

    def __init__(self, layer: int, pooling: str):
        super().__init__()
        self.layer, self.pooling = layer, pooling

    def forward(self, hidden_states: Sequence[torch.Tensor], mask: torch.Tensor) -> torch.Tensor:
        hidden = hidden_states[self.layer].float()
        if self.pooling == "cls":
            return hidden[:, 0]
        weights = mask.unsqueeze(-1).float()
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)


class Retrieval(RetrievalScoring, FormatBase):
    trains = False  # evaluated straight from the encoder the previous stage (or pretraining) left
    Options = RetrievalOptions

    def layer(self, num_layers: int) -> int:
        if self.options.layer is not None:
            if self.options.layer > num_layers:
                raise ValueError(f"retrieval layer {self.options.layer} exceeds the encoder's {num_layers} layers")
            return self.options.layer
        return round(REFERENCE_LAYER / REFERENCE_DEPTH * num_layers)

    def encode(
        self, examples: Sequence[TranslationPair], tokenizer: Any, task: TaskDef, max_length: int
    ) -> list[Feature]:
        texts = [text for e in examples for text in (e.source, e.target)]
        rows = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
        return [Feature(ids, (i // 2, i % 2), len(ids)) for i, ids in enumerate(rows)]

    def collate(self, features: Sequence[Feature], pad_id: int) -> dict[str, Any]:
        ids, mask = pad_rows([f.input_ids for f in features], pad_id)
        return {"input_ids": ids, "attention_mask": mask}

    def make_head(self, encoder_config: Any, task: TaskDef) -> nn.Module:
        return Pooler(self.layer(encoder_config.num_hidden_layers), self.options.pooling)

    def logits(self, encoder: nn.Module, head: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        out = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)
        return head(out.hidden_states, batch["attention_mask"])

    def loss(self, logits: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        raise NotImplementedError("retrieval tasks are evaluated without training")

    def decode(self, logits: torch.Tensor, batch: dict[str, Any], task: TaskDef) -> list[np.ndarray]:
        return list(logits.float().cpu().numpy())

    def aggregate(
        self, predictions: Sequence[np.ndarray], features: Sequence[Feature], examples: Sequence[TranslationPair]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """(source embedding, target embedding) per pair."""
        return [(predictions[2 * i], predictions[2 * i + 1]) for i in range(len(examples))]

    def score(
        self,
        predictions: Sequence[tuple[np.ndarray, np.ndarray]],
        examples: Sequence[TranslationPair],
        task: TaskDef,
        lang: str,
    ) -> dict[str, float]:
        sources, targets = (np.stack(side) for side in zip(*predictions, strict=True))
        return tatoeba_accuracy(sources, targets)

    def export(self, predictions: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[Any]:
        """Per English query, the line index of the non-English sentence it retrieved."""
        sources, targets = (np.stack(side) for side in zip(*predictions, strict=True))
        _, ids = nearest_neighbours(targets, sources, k=1)
        return [int(row[0]) for row in ids]
