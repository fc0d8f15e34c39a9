"""Shared pieces of every reader: decoding, line and CSV iteration, JSON records that know their file and line,
label checks. Every problem raises DataError naming the file and, where there is one, the 1-based line."""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path

from xstilts.errors import DataError
from xstilts.tasks.examples import (
    Example,
)

MAX_LABELS_SHOWN = 10


# --- shared helpers ---------------------------------------------------------------------------------------


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as e:
        raise DataError(path, f"cannot read file: {e.strerror}") from None
    # Same as decoding with "utf-8-sig", but error offsets then stay relative to what we count lines in.
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(path, f"invalid UTF-8 (byte 0x{data[e.start]:02x})", line=line) from None


def lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its line end); CRLF and LF both accepted."""
    # Split on "\n" only: str.splitlines() would also break at U+001C, U+0085, U+2028 etc., and such control
    # characters do occur inside text in this data (README "Validation and anomalies": U+001C, C1 controls).
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        yield number, line.removesuffix("\r")


def csv_rows(path: Path, delimiter: str, quoting: int = csv.QUOTE_MINIMAL) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, fields) for each non-blank record."""
    # newline="" so the csv module sees CRLF itself and quoted fields come back as the original text (README:
    # XNLI/PAWS-X were written by csv.writer, so CRLF and "" quoting; CosmosQA valid.csv is quoted CSV, CRLF).
    reader = csv.reader(io.StringIO(read_text(path), newline=""), delimiter=delimiter, quoting=quoting)
    start = 1
    try:
        for fields in reader:
            if fields:
                yield start, fields
            start = reader.line_num + 1
    except csv.Error as e:
        raise DataError(path, f"malformed CSV: {e}", line=start) from None


def check_columns(path: Path, line: int, fields: list[str], expected: int) -> None:
    if len(fields) != expected:
        raise DataError(path, f"expected {expected} columns, got {len(fields)}", line=line)


class Row:
    """One record (JSON object or CSV row with a header) that knows where it came from, for error messages."""

    def __init__(self, path: Path, line: int, data: Mapping[str, object]):
        self.path, self.line, self.data = path, line, data

    def error(self, message: str) -> DataError:
        return DataError(self.path, message, line=self.line)

    def get(self, key: str) -> object:
        if key not in self.data:
            raise self.error(f"missing key '{key}'")
        return self.data[key]

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise self.error(f"key '{key}' must be a string, got {type(value).__name__}")
        return value

    def integer(self, key: str) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"key '{key}' must be an integer, got {value!r}")
        return value

    def mapping(self, key: str) -> Mapping[str, object]:
        value = self.get(key)
        if not isinstance(value, dict):
            raise self.error(f"key '{key}' must be a JSON object, got {type(value).__name__}")
        return value

    def index(self, key: str, options: Mapping[str, int]) -> int:
        """The index of the value of `key` among `options` (e.g. answer letters)."""
        value = self.get(key)
        if value not in options:
            raise self.error(f"key '{key}' is {value!r}, expected one of {', '.join(options)}")
        return options[value]


def jsonl_rows(path: Path) -> Iterator[Row]:
    for number, line in lines(path):
        if not line.strip():
            continue
        yield Row(path, number, json_object(path, number, line))


def json_object(path: Path, number: int, line: str) -> dict:
    """One JSONL line, which must hold a JSON object; DataError names the file and line otherwise."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(path, f"invalid JSON: {e.msg} (column {e.colno})", line=number) from None
    if not isinstance(obj, dict):
        raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", line=number)
    return obj


def header_rows(
    path: Path, delimiter: str, required: tuple[str, ...], quoting: int = csv.QUOTE_MINIMAL
) -> Iterator[Row]:
    rows = csv_rows(path, delimiter, quoting)
    first = next(rows, None)
    if first is None:
        raise DataError(path, "no examples")
    line, header = first
    missing = [name for name in required if name not in header]
    if missing:
        raise DataError(path, f"missing column(s) {', '.join(map(repr, missing))}", line=line)
    for line, fields in rows:
        check_columns(path, line, fields, len(header))
        yield Row(path, line, dict(zip(header, fields, strict=True)))


def check_label(path: Path, line: int, label: str, labels: tuple[str, ...] | None) -> None:
    if labels is not None and label not in labels:
        shown = ", ".join(labels[:MAX_LABELS_SHOWN]) + (", ..." if len(labels) > MAX_LABELS_SHOWN else "")
        raise DataError(path, f"label {label!r} is not one of the allowed labels ({shown})", line=line)


def nonempty(path: Path, examples: list[Example]) -> list[Example]:
    if not examples:
        raise DataError(path, "no examples")
    return examples


def str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
