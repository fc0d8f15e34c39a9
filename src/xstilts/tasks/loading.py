"""Loading a task's examples for one split and language, from the data directory or the Hugging Face Hub."""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Literal

from xstilts.errors import DataError
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import Example
from xstilts.tasks.readers import READERS

Source = Literal["files", "hub"]


def split_files(task: TaskDef, split: str, lang: str, root: Path) -> list[Path]:
    return [root / rel for rel in task.splits[split].paths(lang)]


def load_examples(task: TaskDef, split: str, lang: str, root: Path, source: Source = "files") -> list[Example]:
    if source == "hub":
        from xstilts.tasks.hub import load_from_hub

        return load_from_hub(task, split, lang)
    # An open label set (labels_from: train) comes from the training data, so other splits may hold labels
    # it lacks (a CCG supertag seen only in dev): they are read, and can never be predicted.
    allowed = task.labels if task.labels and task.labels_from == "declaration" else None
    examples: list[Example] = []
    for path in split_files(task, split, lang, root):
        examples.extend(READERS[task.reader](path, split, allowed))
    return examples


class ExampleCache:
    """load_examples over one task table, data root and source, each (task, split, language) read once: a command
    shares one of these among everything that reads examples (the runner's stages and preflight, the cost model,
    the leakage check, the report), so every data file is read once per command. Call it as load_examples is
    called, without the task definition: cache(task name, split, language)."""

    def __init__(self, tasks: Mapping[str, TaskDef], root: Path, source: Source = "files"):
        self.tasks, self.root, self.source = tasks, root, source  # tasks: a plan's table (own tasks included)
        self._read: dict[tuple[str, str, str], list[Example]] = {}

    def __call__(self, task: str, split: str, lang: str) -> list[Example]:
        key = (task, split, lang)
        if key not in self._read:
            self._read[key] = load_examples(self.tasks[task], split, lang, self.root, self.source)
        return self._read[key]


def subsample(examples: list[Example], limit: int | None, seed: int) -> list[Example]:
    """A seeded subset of `limit` examples, kept in file order. Subsets of one seed are nested: the first
    `limit` indices of one fixed permutation, so the 1k subset lies inside the 10k subset."""
    if limit is None or limit >= len(examples):
        return examples
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    return [examples[i] for i in sorted(order[:limit])]


@cache
def file_digest(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fingerprint(task: TaskDef, split: str, langs: tuple[str, ...], root: Path, source: Source = "files") -> str:
    """Content hash of every file a stage reads, so changed data means a new stage key. From the Hub, the
    declared sources (dataset, configuration, splits) stand for the content, which is not downloaded to plan."""
    digest = hashlib.sha256()
    if source == "hub":
        hub = [s.model_dump(mode="json") for s in task.hub if split in s.splits]
        if not hub:
            raise DataError(f"hub:{task.name}", f"no Hub source is declared for split '{split}'")
        digest.update(json.dumps([hub, split, langs], sort_keys=True).encode())
        return "hub:" + digest.hexdigest()[:16]
    for lang in langs:
        for path in split_files(task, split, lang, root):
            if not path.is_file():
                raise DataError(path, f"file not found (task '{task.name}', split '{split}', language '{lang}')")
            stat = path.stat()
            digest.update(f"{lang}:{path.name}:{file_digest(path, stat.st_size, stat.st_mtime_ns)}".encode())
    return digest.hexdigest()[:16]
