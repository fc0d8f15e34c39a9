"""Tokenised features, cached on disk by content.

The same evaluation sets are featurised by every condition of a grid (each language, each intermediate task,
each seed), and a new experiment often reads the data an earlier one read. Features are therefore stored once
per (examples, format and its options, task declaration, tokenizer, max length), in an Arrow IPC file under
``<cache>/features/`` that is memory-mapped when read back. The key hashes the examples themselves, not file
names, so a subset, a changed file or another tokenizer is a different entry, never a stale one.

Token ids are Arrow list columns; the format-specific target (a label id, per-token labels, a QA window, ...)
is stored as JSON in which tuples and the formats' own dataclasses are tagged, so that a new format needs no
code here and nothing is ever unpickled (docs/reliability.md, item 9). Beside each file, ``<key>.sha256`` holds
its size and SHA-256 as written: a file truncated or replaced since is encoded again (with a note), never read.
Delete the folder at any time; ``XSTILTS_FEATURE_CACHE=0`` turns the cache off.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import json
import os
import sys
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from xstilts.encoders.loading import cache_dir
from xstilts.errors import one_line, os_error_in
from xstilts.formats import Feature, Format
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import Example
from xstilts.tasks.loading import file_digest

# Bump when the stored layout or the meaning of a feature changes, so older entries are never read.
LAYOUT_VERSION = 3
DISABLE_ENV = "XSTILTS_FEATURE_CACHE"

_tokenizer_digests: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def encode(fmt: Format, examples: Sequence[Example], tokenizer: Any, task: TaskDef, max_length: int) -> list[Feature]:
    """`fmt.encode(...)`, read from the cache when these exact inputs were featurised before."""
    token_digest = tokenizer_digest(tokenizer)
    if os.environ.get(DISABLE_ENV) == "0" or token_digest is None:
        return fmt.encode(examples, tokenizer, task, max_length)
    path = cache_dir() / "features" / f"{feature_key(fmt, examples, token_digest, task, max_length)}.arrow"
    cached = _read(path)
    if cached is not None:
        fmt.bind(tokenizer)  # what encode would have taken from the tokenizer (MLM's mask id)
        return cached
    features = fmt.encode(examples, tokenizer, task, max_length)
    _write(path, features)
    return features


def feature_key(fmt: Format, examples: Sequence[Example], token_digest: str, task: TaskDef, max_length: int) -> str:
    recipe = {
        "layout": LAYOUT_VERSION,
        "format": fmt.name,
        "options": fmt.options.model_dump(mode="json"),  # type: ignore[attr-defined]
        "task": task.model_dump(mode="json"),
        "tokenizer": token_digest,
        "max_length": max_length,
    }
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode())
    # Examples are frozen dataclasses of strings and numbers: their repr is their content.
    for example in examples:
        digest.update(repr(example).encode())
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def tokenizer_digest(tokenizer: Any) -> str | None:
    """Hash of the tokenizer's full definition (vocabulary, normaliser, special tokens); None for tokenizers
    without a serialisable backend, which are then never cached."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return None
    try:
        return _tokenizer_digests[tokenizer]
    except (KeyError, TypeError):
        pass
    digest = hashlib.sha256(backend.to_str().encode()).hexdigest()
    try:
        _tokenizer_digests[tokenizer] = digest
    except TypeError:  # not weak-referenceable: hash again next time (40 ms for a 250k vocabulary)
        pass
    return digest


def _write(path: Path, features: Sequence[Feature]) -> None:
    try:
        targets = [json.dumps(_tagged(f.target)) for f in features]
    except TypeError:  # a target this codec does not know: featurise every time rather than store it wrongly
        return
    table = pa.table(
        {
            "input_ids": pa.array([f.input_ids for f in features]),
            "target": pa.array(targets, pa.string()),
            "length": pa.array([f.length for f in features], pa.int32()),
        }
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp_sum = _sum_file(tmp)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        tmp_sum.write_text(json.dumps(_measure(tmp)))
        tmp.replace(path)  # readers see the whole file or none; without its sum beside it, none
        tmp_sum.replace(_sum_file(path))
    except OSError as err:  # a read-only or full cache only costs speed
        tmp.unlink(missing_ok=True)
        tmp_sum.unlink(missing_ok=True)
        reason = one_line(os_error_in(err, path.parent) or err)  # the folder: one note, whichever file
        _note_once(f"features not cached: {reason}; they are encoded each time")


_noted: set[str] = set()


def _note_once(message: str) -> None:
    """One line on stderr, once per process: a cache problem costs time, never a result, so it never stops."""
    if message not in _noted:
        _noted.add(message)
        print(f"note: {message}", file=sys.stderr)


def _sum_file(path: Path) -> Path:
    return path.with_name(f"{path.stem}.sha256")


def _measure(path: Path) -> dict[str, int | str]:
    stat = path.stat()
    return {"size": stat.st_size, "sha256": file_digest(path, stat.st_size, stat.st_mtime_ns)}


def _intact(path: Path) -> bool | None:
    """Whether `path` is as it was written: its size and SHA-256 those recorded beside it; None without a record
    (written by an older version, or copied in), which is not trusted either."""
    try:
        recorded = json.loads(_sum_file(path).read_text())
    except (OSError, ValueError):
        return None
    try:
        return path.stat().st_size == recorded.get("size") and _measure(path) == recorded
    except OSError:
        return False


def _read(path: Path) -> list[Feature] | None:
    intact = _intact(path) if path.exists() else None
    if not intact:
        if intact is False:
            _note_once(f"{path}: cached features changed since they were written; encoding them again")
        return None
    try:
        with pa.memory_map(str(path)) as source:
            table = pa.ipc.open_file(source).read_all()
            ids = table.column("input_ids").to_pylist()
            targets = [_untagged(json.loads(t)) for t in table.column("target").to_pylist()]
            lengths = table.column("length").to_pylist()
    except FileNotFoundError:
        return None
    except (OSError, pa.ArrowException, ValueError, KeyError, TypeError):
        return None  # damaged or from another layout: featurise again and overwrite
    return [Feature(i, t, n) for i, t, n in zip(ids, targets, lengths, strict=True)]


# --- targets as JSON: plain values as they are; tuples and the formats' dataclasses tagged ---------------------

_FORMATS_PACKAGE = "xstilts.formats."


def _tagged(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_tagged(v) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [_tagged(v) for v in value]}
    if dataclasses.is_dataclass(value) and type(value).__module__.startswith(_FORMATS_PACKAGE):
        fields = {f.name: _tagged(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"dataclass": f"{type(value).__module__}:{type(value).__qualname__}", "fields": fields}
    raise TypeError(f"cannot cache a feature target of type {type(value).__name__}")


def _untagged(value: Any) -> Any:
    if isinstance(value, list):
        return [_untagged(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "tuple" in value:
        return tuple(_untagged(v) for v in value["tuple"])
    module, name = value["dataclass"].split(":")
    if not module.startswith(_FORMATS_PACKAGE):  # only the formats' own target types are ever built
        raise ValueError(f"unexpected target type {value['dataclass']}")
    cls = getattr(importlib.import_module(module), name)
    if not dataclasses.is_dataclass(cls):
        raise ValueError(f"{value['dataclass']} is not a dataclass")
    return cls(**{k: _untagged(v) for k, v in value["fields"].items()})
