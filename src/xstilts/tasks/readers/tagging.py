"""Readers for token-tagging files (XTREME's CoNLL-style word<TAB>tag layout)."""

from __future__ import annotations

from pathlib import Path

from xstilts.tasks.examples import (
    Example,
    TaggingExample,
)
from xstilts.tasks.readers.files import (
    check_columns,
    check_label,
    lines,
    nonempty,
)


def read_conll(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """UD-POS / PAN-X: `token<TAB>tag` per line, a blank line between sentences."""
    examples: list[Example] = []
    words: list[str] = []
    tags: list[str] = []
    for line, text in lines(path):
        if not text.strip():
            if words:
                examples.append(TaggingExample(tuple(words), tuple(tags)))
                words, tags = [], []
            continue
        fields = text.split("\t")
        check_columns(path, line, fields, 2)
        check_label(path, line, fields[1], labels)
        words.append(fields[0])
        tags.append(fields[1])
    if words:  # README: no blank line after the last sentence
        examples.append(TaggingExample(tuple(words), tuple(tags)))
    return nonempty(path, examples)
