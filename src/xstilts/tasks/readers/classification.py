"""Readers for sentence-pair and single-text classification files (XNLI/PAWS-X TSV, XGLUE TSV, SICK, SNLI,
own JSONL)."""

from __future__ import annotations

import csv
from pathlib import Path

from xstilts.errors import DataError
from xstilts.tasks.examples import (
    ClassificationExample,
    Example,
)
from xstilts.tasks.readers.files import (
    check_columns,
    check_label,
    csv_rows,
    header_rows,
    jsonl_rows,
    lines,
    nonempty,
)

# XNLI-MT's files (XTREME's xnli/train-en.tsv and its translate-train files) spell one label "contradictory";
# XTREME's processors/xnli.py reads it as "contradiction", the spelling of every XNLI dev and test file.
_LABEL_SPELLINGS = {"contradictory": "contradiction"}


def read_pair_tsv(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """XNLI / PAWS-X: `sentence1<TAB>sentence2<TAB>label`, no header. The translate-train files of XTREME's
    translations bucket have five columns, `en1<TAB>en2<TAB>translated1<TAB>translated2<TAB>label`: the
    translated pair is read."""
    examples: list[Example] = []
    for line, fields in csv_rows(path, "\t"):
        if len(fields) != 5:
            check_columns(path, line, fields, 3)
        label = _LABEL_SPELLINGS.get(fields[-1], fields[-1])
        check_label(path, line, label, labels)
        examples.append(ClassificationExample(fields[-3], fields[-2], label))
    return nonempty(path, examples)


_SICK_SETS = {"train": "TRAIN", "dev": "TRIAL", "test": "TEST"}


def read_xglue_tsv(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """XGLUE's NC, QADSM, WPR and QAM files (xglue_full_dataset/{TASK}/xglue.{task}.{lang}.{split}; Data_Format.txt):
    tab-separated, no header, the first field is text_a (news title, query, question), the last the label, and the
    fields between are joined by a space into text_b (news body; ad title and description; page title and snippet;
    passage). A label written as a 0-based index of the label set is read as that label: WPR's 0..4 grades and
    QAM's 0/1 (the order of the Hub's ClassLabel names). XGLUE's test files have no label column and are refused."""
    examples: list[Example] = []
    width = None
    for line, text in lines(path):
        if not text.strip():
            continue
        fields = text.split("\t")
        width = width or len(fields)
        if width < 3:
            raise DataError(path, f"expected text, text and label columns, got {width} column(s)", line=line)
        check_columns(path, line, fields, width)
        label = fields[-1].strip()
        if labels is not None and label not in labels and label.isdigit() and int(label) < len(labels):
            label = labels[int(label)]
        check_label(path, line, label, labels)
        examples.append(ClassificationExample(fields[0], " ".join(fields[1:-1]), label))
    return nonempty(path, examples)


def read_sick(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """SICK.txt: one file for all splits, selected by the SemEval_set column."""
    if split not in _SICK_SETS:
        raise DataError(path, f"unknown split {split!r} for SICK, expected one of {', '.join(_SICK_SETS)}")
    columns = ("sentence_A", "sentence_B", "entailment_label", "SemEval_set")
    examples: list[Example] = []
    # QUOTE_NONE: SICK is plain tab-separated; its 126 literal '"' are text, not quoting (README).
    for row in header_rows(path, "\t", columns, quoting=csv.QUOTE_NONE):
        if row.text("SemEval_set") != _SICK_SETS[split]:
            continue
        label = row.text("entailment_label").lower()  # SICK writes ENTAILMENT/NEUTRAL/CONTRADICTION
        check_label(path, row.line, label, labels)
        examples.append(ClassificationExample(row.text("sentence_A"), row.text("sentence_B"), label))
    return nonempty(path, examples)


def read_snli_jsonl(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    examples: list[Example] = []
    for row in jsonl_rows(path):
        label = row.text("gold_label")
        if label == "-":  # no annotator consensus; SNLI's own convention is to drop these
            continue
        check_label(path, row.line, label, labels)
        examples.append(ClassificationExample(row.text("sentence1"), row.text("sentence2"), label))
    return nonempty(path, examples)


def read_classification_jsonl(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """Your own classification data: one object per line, {"text_a": ..., "text_b": ... (optional), "label": ...}."""
    examples: list[Example] = []
    for row in jsonl_rows(path):
        label = str(row.get("label"))
        check_label(path, row.line, label, labels)
        text_b = row.text("text_b") if "text_b" in row.data else None
        examples.append(ClassificationExample(row.text("text_a"), text_b, label))
    return nonempty(path, examples)
