"""Readers for token-tagging files: XTREME's CoNLL-style word<TAB>tag layout, and XGLUE's CoNLL files (NER from
CoNLL-2002/2003, POS from UD v2.5) whose columns are separated by spaces."""

from __future__ import annotations

from pathlib import Path

from xstilts.errors import DataError
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


def read_xglue_conll(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """XGLUE NER / POS (xglue_full_dataset/{NER,POS}/{lang}.{split}): whitespace-separated columns, the word
    first and the tag last, a blank line between sentences. A `-DOCSTART-` line (CoNLL's document marker) ends a
    sentence and is no word, as XGLUE's xglue_evaluate.py reads its ground truth."""
    examples: list[Example] = []
    words: list[str] = []
    tags: list[str] = []
    for line, text in lines(path):
        if not text.strip() or text.startswith("-DOCSTART-"):
            if words:
                examples.append(TaggingExample(tuple(words), tuple(tags)))
                words, tags = [], []
            continue
        fields = text.split()
        if len(fields) < 2:
            raise DataError(path, "expected a word and a tag separated by spaces, got one column", line=line)
        check_label(path, line, fields[-1], labels)
        words.append(fields[0])
        tags.append(fields[-1])
    if words:
        examples.append(TaggingExample(tuple(words), tuple(tags)))
    return nonempty(path, examples)
