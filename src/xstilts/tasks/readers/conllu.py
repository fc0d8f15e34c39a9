"""Universal Dependencies' CoNLL-U files (https://universaldependencies.org/format.html), read as tagging data:
each sentence's words (FORM) with one tag column, UPOS by default, XPOS or FEATS on request (one reader name per
column: `conllu`, `conllu_xpos`, `conllu_feats`). Comment lines (`# text = ...`) are skipped, and so are the two
kinds of line that are not words of the sentence: multiword-token ranges (ID `1-2`, e.g. Spanish "del" before its
words "de" "el") and empty nodes (ID `8.1`) of enhanced dependencies. UD treebanks drop in as they are downloaded."""

from __future__ import annotations

from pathlib import Path

from xstilts.errors import DataError
from xstilts.tasks.examples import Example, TaggingExample
from xstilts.tasks.readers.files import check_columns, check_label, lines, nonempty

COLUMNS = {"upos": 3, "xpos": 4, "feats": 5}  # 0-based; ID=0, FORM=1, LEMMA=2


def read_conllu(path: Path, split: str, labels: tuple[str, ...] | None = None, column: str = "upos") -> list[Example]:
    tag_at = COLUMNS[column]
    examples: list[Example] = []
    words: list[str] = []
    tags: list[str] = []
    for line, text in [*lines(path), (0, "")]:  # a final blank line ends the last sentence
        if not text.strip():
            if words:
                examples.append(TaggingExample(tuple(words), tuple(tags)))
                words, tags = [], []
            continue
        if text.startswith("#"):
            continue
        fields = text.split("\t")
        check_columns(path, line, fields, 10)
        word_id = fields[0]
        if "-" in word_id or "." in word_id:
            continue  # a multiword token's range, or an empty node: not one of the sentence's words
        if not word_id.isdigit():
            raise DataError(path, f"ID '{word_id}' is not a word index, a range (1-2) or an empty node (1.1)", line)
        tag = fields[tag_at]
        if tag == "_" and column != "feats":  # FEATS "_" means "no features", a tag like any other
            raise DataError(path, f"no {column.upper()} (column {tag_at + 1} is '_')", line)
        check_label(path, line, tag, labels)
        words.append(fields[1])
        tags.append(tag)
    return nonempty(path, examples)


def read_conllu_xpos(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """FORM with the language-specific XPOS tag."""
    return read_conllu(path, split, labels, column="xpos")


def read_conllu_feats(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """FORM with its FEATS string (e.g. `Case=Nom|Number=Sing`; `_` for none) as the tag."""
    return read_conllu(path, split, labels, column="feats")
