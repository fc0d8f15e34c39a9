"""Masked-language modelling on raw text, as an auxiliary task beside intermediate training (the paper's
alternative (i)). BERT's recipe: 15% of the non-special tokens are selected; of those 80% become <mask>, 10% a
random token and 10% stay as they are; the loss is cross-entropy on the selected positions only.

The output layer is tied to the encoder's word embeddings, as in the pretrained model, so the head adds only
one small transform and a bias; logits are computed for the selected positions only (the 250k-way softmax
over every position would dominate a CPU step)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from xstilts.formats.base import Feature, FormatBase, encode_hidden, pad_rows
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import TextExample

IGNORE = -100


class MLMOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    probability: float = Field(0.15, gt=0, lt=1)
    seed: int = 0  # masks are drawn from this seed, so a stage is reproducible


class MLMHead(nn.Module):
    def __init__(self, hidden_size: int, vocab_size: int, eps: float):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.norm = nn.LayerNorm(hidden_size, eps=eps)
        self.bias = nn.Parameter(torch.zeros(vocab_size))

    def forward(self, hidden: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        return self.norm(F.gelu(self.dense(hidden))) @ embeddings.T + self.bias


class MaskedLM(FormatBase):
    name = "mlm"
    Options = MLMOptions

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.generator = torch.Generator().manual_seed(self.options.seed)
        self.mask_id: int | None = None
        self.special: torch.Tensor = torch.empty(0, dtype=torch.long)
        self.vocab_size = 0

    def bind(self, tokenizer: Any) -> None:
        if tokenizer.mask_token_id is None:
            raise ValueError("masked-language modelling needs a tokenizer with a mask token")
        self.mask_id, self.vocab_size = tokenizer.mask_token_id, len(tokenizer)
        self.special = torch.tensor(sorted(set(tokenizer.all_special_ids)))

    def encode(self, examples: Sequence[TextExample], tokenizer: Any, task: TaskDef, max_length: int) -> list[Feature]:
        self.bind(tokenizer)
        rows = tokenizer([e.text for e in examples], truncation=True, max_length=max_length)["input_ids"]
        return [Feature(ids, None, len(ids)) for ids in rows]

    def collate(self, features: Sequence[Feature], pad_id: int) -> dict[str, Any]:
        ids, mask = pad_rows([f.input_ids for f in features], pad_id)
        inputs, labels = mask_tokens(
            ids, self.special, self.mask_id, self.vocab_size, self.options.probability, self.generator
        )
        return {"input_ids": inputs, "attention_mask": mask, "labels": labels}

    def make_head(self, encoder_config: Any, task: TaskDef) -> nn.Module:
        return MLMHead(encoder_config.hidden_size, encoder_config.vocab_size, encoder_config.layer_norm_eps)

    def logits(self, encoder: nn.Module, head: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        hidden = encode_hidden(encoder, batch["input_ids"], batch["attention_mask"])
        selected = hidden[batch["labels"] != IGNORE]
        return head(selected, encoder.get_input_embeddings().weight)

    def loss(self, logits: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        targets = batch["labels"][batch["labels"] != IGNORE]
        if targets.numel() == 0:  # a batch of very short texts can draw no position at all
            return logits.sum() * 0.0
        return F.cross_entropy(logits.float(), targets)

    def decode(self, logits: torch.Tensor, batch: dict[str, Any], task: TaskDef) -> list[Any]:
        raise NotImplementedError("masked-language modelling is a training task only")

    def score(self, predictions: Sequence[Any], examples: Sequence[Any], task: TaskDef, lang: str) -> dict:
        raise NotImplementedError("masked-language modelling is a training task only")


def mask_tokens(
    ids: torch.Tensor,
    special: torch.Tensor,
    mask_id: int | None,
    vocab_size: int,
    probability: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, labels): labels hold the original id at selected positions and IGNORE elsewhere."""
    candidates = ~torch.isin(ids, special)
    selected = (torch.rand(ids.shape, generator=generator) < probability) & candidates
    labels = torch.where(selected, ids, torch.full_like(ids, IGNORE))
    roll = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[selected & (roll < 0.8)] = mask_id
    random_positions = selected & (roll >= 0.8) & (roll < 0.9)
    inputs[random_positions] = torch.randint(vocab_size, ids.shape, generator=generator)[random_positions]
    return inputs, labels
