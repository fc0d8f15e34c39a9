"""Open label sets. A task declared with `labels_from: train` (CCG supertagging: ~1,300 supertags, no fixed
list) takes as its labels every label of its training split, sorted, so the head's size and the id of each label
follow from the data and are the same in every stage that reads the same files."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from xstilts.tasks.definition import TaskDef
from xstilts.tasks.loading import Source, fingerprint, load_examples

# Which labels an example carries, per format that has a label set.
_LABELS_OF: dict[str, Callable[[Any], Iterable[str]]] = {
    "classification": lambda example: (example.label,),
    "tagging": lambda example: example.tags,
}
_resolved: dict[tuple[str, str], tuple[str, ...]] = {}


def with_training_labels(task: TaskDef, root: Path, source: Source = "files") -> TaskDef:
    """`task` with its label set filled in from its training split (every declared language); tasks with a
    declared label set come back unchanged. Label sets are remembered per training-data fingerprint."""
    if task.labels_from != "train" or task.train_split is None:
        return task
    split = task.train_split
    languages = task.languages(split)
    key = (task.name, fingerprint(task, split, languages, root, source))
    if key not in _resolved:
        labels: set[str] = set()
        for lang in languages:
            for example in load_examples(task, split, lang, root, source):
                labels.update(_LABELS_OF[task.format](example))
        _resolved[key] = tuple(sorted(labels))
    return task.model_copy(update={"labels": _resolved[key]})
