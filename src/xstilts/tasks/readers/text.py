"""Readers for raw text (the masked-language-modelling auxiliary task)."""

from __future__ import annotations

from pathlib import Path

from xstilts.tasks.examples import (
    Example,
    TextExample,
)
from xstilts.tasks.readers.tagging import read_conll


def read_conll_text(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """Raw sentences from a token-tag file (tags ignored), for masked-language modelling. Words are joined by
    spaces, except sentences split into single characters with some non-ASCII among them (the character-split
    Chinese and Japanese of PAN-X), which are joined without, as the text was written."""
    return [TextExample(_detokenise(e.words)) for e in read_conll(path, split, None)]  # type: ignore[union-attr]


def _detokenise(words: tuple[str, ...]) -> str:
    if len(words) >= 3 and all(len(w) == 1 for w in words) and not all(w.isascii() for w in words):
        return "".join(words)
    return " ".join(words)
