"""The same tasks from the Hugging Face Hub (`pip install 'xstilts[hub]'`, needs internet). Used only when a
spec asks for it with `data_source: hub`; never offline, never by the tests against the real Hub."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xstilts.errors import DataError
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import ClassificationExample, Example, MultipleChoiceExample, TaggingExample


def load_from_hub(task: TaskDef, split: str, lang: str) -> list[Example]:
    if task.hub is None or split not in task.hub.splits:
        raise DataError(f"hub:{task.name}", f"no Hub source is declared for split '{split}'")
    try:
        import datasets
    except ImportError:
        raise DataError(f"hub:{task.name}", "the 'datasets' package is needed: pip install 'xstilts[hub]'") from None
    config = task.hub.config.format(lang=lang)
    try:
        rows = datasets.load_dataset(task.hub.dataset, config, split=task.hub.splits[split])
    except Exception as err:  # the Hub client raises many unrelated types; all mean "could not load"
        raise DataError(f"hub:{task.hub.dataset}/{config}", f"cannot load: {err}") from None
    convert = _CONVERTERS[task.format]
    return [convert(task.hub.columns, row, rows.features) for row in rows]


def _name(value: Any, feature: Any) -> str:
    """Hub datasets store labels as ClassLabel ids; tasks declare them by name."""
    names = getattr(feature, "names", None)
    return names[value] if names is not None and isinstance(value, int) else str(value)


def _classification(col: dict[str, str], row: dict[str, Any], features: Any) -> Example:
    text_b = row[col["text_b"]] if "text_b" in col else None
    return ClassificationExample(row[col["text_a"]], text_b, _name(row[col["label"]], features[col["label"]]))


def _tagging(col: dict[str, str], row: dict[str, Any], features: Any) -> Example:
    tag_feature = getattr(features[col["tags"]], "feature", None)  # Sequence(ClassLabel)
    return TaggingExample(tuple(row[col["words"]]), tuple(_name(t, tag_feature) for t in row[col["tags"]]))


def _multiple_choice(col: dict[str, str], row: dict[str, Any], features: Any) -> Example:
    context = row[col["context"]] if "context" in col else ""
    return MultipleChoiceExample(context, row[col["question"]], tuple(row[col["choices"]]), int(row[col["label"]]))


_CONVERTERS: dict[str, Callable[[dict[str, str], dict[str, Any], Any], Example]] = {
    "classification": _classification,
    "tagging": _tagging,
    "multiple_choice": _multiple_choice,
}
