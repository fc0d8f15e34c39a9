"""The same tasks from the Hugging Face Hub (`pip install xstilts[hub]`, needs internet). Never used offline:
the spec must ask for it with `data_source: hub`."""

from __future__ import annotations

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
    except Exception as err:  # the hub raises many unrelated types; all mean "could not load"
        raise DataError(f"hub:{task.hub.dataset}/{config}", f"cannot load: {err}") from None
    return [_to_example(task, row, rows.features) for row in rows]


def _label_name(value: Any, feature: Any) -> str:
    names = getattr(feature, "names", None)
    return names[value] if names is not None and isinstance(value, int) else str(value)


def _to_example(task: TaskDef, row: dict[str, Any], features: Any) -> Example:
    col = task.hub.columns  # type: ignore[union-attr]
    if task.format == "classification":
        label = _label_name(row[col["label"]], features[col["label"]])
        return ClassificationExample(row[col["text_a"]], row.get(col.get("text_b", "")), label)
    if task.format == "tagging":
        tag_feature = getattr(features[col["tags"]], "feature", None)
        tags = tuple(_label_name(t, tag_feature) for t in row[col["tags"]])
        return TaggingExample(tuple(row[col["words"]]), tags)
    choices = tuple(row[c] for c in col["choices"].split(","))
    return MultipleChoiceExample(
        row.get(col.get("context", ""), ""), row[col["question"]], choices, int(row[col["label"]])
    )
