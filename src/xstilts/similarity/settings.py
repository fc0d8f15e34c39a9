"""The options of `xstilts similarity`, with their defaults in one place (the command line reads them from here).
Kept free of torch so that the CLI can import it at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

METHODS = ("textemb", "taskemb", "semb", "cka")


@dataclass(frozen=True)
class Settings:
    methods: tuple[str, ...] = METHODS
    examples: int = 64  # examples drawn from each task's training data (the Fisher takes one backward pass each)
    k: int = 3  # for NDCG@k and regret@k
    seed: int = 0  # which examples are drawn
    fisher_layers: tuple[int, ...] | None = None  # transformer layers whose parameters TaskEmb uses; None = the last
    cka_reference: Literal["target", "pretrained"] = "target"
    semb_prefix: str = "query: "
    max_length: int = 128  # tokens per input for the model passes
    batch_size: int = 16
