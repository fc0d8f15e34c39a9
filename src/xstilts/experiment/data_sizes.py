"""How many examples a plan's data sets hold and how many tokens each costs: measured from the files where they
are present, else from the published sizes (tasks/sizes.py) and max_length, so that a plan can be priced before
the data is fetched. `notes` says which data sets were not measured, for the plan's output."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from xstilts.formats import make_format
from xstilts.tasks import REGISTRY, TaskDef
from xstilts.tasks.loading import ExampleCache, Source
from xstilts.tasks.sizes import present, published

SAMPLE = 64  # examples featurised per data set to measure their mean length in tokens


class DataSizes:
    """Example counts and mean tokens per example of the data sets a plan reads, each read once."""

    def __init__(self, root: Path, source: Source = "files", tasks: Mapping[str, TaskDef] = REGISTRY):
        self.tasks, self.root, self.source = tasks, root, source  # the plan's table (own tasks included)
        self.examples = ExampleCache(tasks, root, source)  # sizes.examples(task, split, lang), each read once
        self._tokens: dict[tuple, float] = {}
        self._present: dict[tuple[str, str, str], bool] = {}
        # Data sets counted without their files: from a published size, or (none published) as empty.
        self.published: set[tuple[str, str, str]] = set()
        self.bounds: set[tuple[str, str]] = set()  # (task, split) whose published count is an upper bound
        self.unknown: set[tuple[str, str, str]] = set()

    def present(self, task: str, split: str, lang: str) -> bool:
        """Whether the data set can be read here (the Hub is always asked: `plan` on hub data reads it)."""
        key = (task, split, lang)
        if key not in self._present:
            self._present[key] = self.source == "hub" or present(self.tasks[task], split, lang, self.root)
        return self._present[key]

    def count(self, task: str, split: str, lang: str) -> int:
        if self.present(task, split, lang):
            return len(self.examples(task, split, lang))
        size = published(task, split)
        if size is None:
            self.unknown.add((task, split, lang))
            return 0
        self.published.add((task, split, lang))
        if size.at_most and lang not in size.per_language:
            self.bounds.add((task, split))
        return size.of(lang)

    def tokens_per_example(
        self, task: str, split: str, lang: str, options: dict, max_length: int, tokenizer: Any | None
    ) -> float:
        """Mean tokens per example over a sample (every row of multiple-choice and windowed examples); without
        a tokenizer or the data, max_length per row: an upper bound."""
        if not self.present(task, split, lang):
            size = published(task, split)
            return float(max_length * (size.choices if size else 1))
        if tokenizer is None:
            return float(max_length)
        key = (task, split, lang, json.dumps(options, sort_keys=True), max_length)
        if key not in self._tokens:
            sample = self.examples(task, split, lang)[:SAMPLE]
            features = make_format(self.tasks[task].format, options).encode(
                sample, tokenizer, self.tasks[task], max_length
            )
            rows = sum(_rows(f.input_ids) for f in features)
            self._tokens[key] = rows / len(sample) if sample else 0.0
        return self._tokens[key]

    def notes(self) -> list[str]:
        """One line each on what was counted without the data, for the plan's output."""
        lines = []
        if self.published:
            tasks = sorted({task for task, _, _ in self.published})
            bounds = f"; upper bounds for {', '.join(sorted({t for t, _ in self.bounds}))}" if self.bounds else ""
            lines.append(
                f"data: {len(self.published)} data sets ({', '.join(tasks)}) are not under {self.root}: counted "
                f"from their published sizes (xstilts.tasks.sizes){bounds}, at max_length tokens per example"
            )
        if self.unknown:
            names = ", ".join(sorted({f"{t} {s}" for t, s, _ in self.unknown}))
            lines.append(f"data: no files and no published size for {names}: counted as empty")
        return lines


def _rows(input_ids: list) -> int:
    """Tokens of one feature: one row of ids, or one row per choice."""
    return sum(len(row) for row in input_ids) if input_ids and isinstance(input_ids[0], list) else len(input_ids)
