"""Every Hub source against the schema its dataset card gives at the pinned revision (tests/fixtures/hub/, one file
per dataset: configurations -> splits -> features, ClassLabel names in the card's order). A declaration that names a
configuration, split or column the card lacks, maps labels the card does not have, or drifts from its pinned
revision fails here, without the Hub."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xstilts.tasks.catalog import TASKS
from xstilts.tasks.definition import HubSource, TaskDef

FIXTURES = Path(__file__).parents[1] / "fixtures" / "hub"
SOURCES = [(task, source) for task in TASKS for source in task.hub]
IDS = [f"{task.name}:{source.dataset}" for task, source in SOURCES]


def fixture(dataset: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{dataset.replace('/', '__')}.json").read_text())


def expanded(task: TaskDef, source: HubSource) -> list[tuple[str, str, str]]:
    """(language, configuration, hub split) for every language of every declared split of `source`."""
    out = []
    for split, hub_splits in source.splits.items():
        for lang in task.languages(split):
            if source.languages and lang not in source.languages:
                continue
            config = source.config.format(lang=lang) if source.config else "default"
            out += [(lang, config, hub.format(lang=lang)) for hub in hub_splits]
    return out


def column_type(features: dict[str, Any], path: str) -> Any:
    """The card's type of "a" or "a.b" (field b of a struct, or of a sequence of structs: a list of b's)."""
    head, _, rest = path.partition(".")
    assert head in features, f"no column '{head}' (columns: {sorted(features)})"
    kind = features[head]
    if not rest:
        return kind
    if "sequence" in kind:
        return {"sequence": column_type(kind["sequence"]["struct"], rest)}
    return column_type(kind["struct"], rest)


def label_set(kind: Any) -> list:
    assert isinstance(kind, dict) and ("class_label" in kind or "values" in kind), f"not a label column: {kind}"
    return kind.get("class_label") or kind["values"]


def is_text(kind: Any) -> bool:
    return kind == "string"


def is_list_of(kind: Any, test) -> bool:
    return isinstance(kind, dict) and "sequence" in kind and test(kind["sequence"])


# What each example field needs of its column (tasks/hub.py reads them so).
EXPECTED = {
    "text_a": is_text,
    "text_b": is_text,
    "context": is_text,
    "question": is_text,
    "id": is_text,
    "words": lambda k: is_list_of(k, is_text),
    "choices": lambda k: is_list_of(k, is_text),
    "answers": lambda k: is_list_of(k, is_text),
    "answer_starts": lambda k: is_list_of(k, lambda v: v in ("int32", "int64")),
    "tags": lambda k: is_list_of(k, lambda v: isinstance(v, dict) and "class_label" in v),
    "label": lambda k: isinstance(k, dict) and ("class_label" in k or "values" in k),
}


def test_every_declared_dataset_has_a_fixture_at_the_pinned_revision():
    for task, source in SOURCES:
        path = FIXTURES / f"{source.dataset.replace('/', '__')}.json"
        assert path.is_file(), f"{task.name}: no schema fixture {path.name} for {source.dataset}"
        assert fixture(source.dataset)["revision"] == source.revision, f"{task.name}: {source.dataset} revision drifted"
    declared = {source.dataset.replace("/", "__") for _, source in SOURCES}
    assert {p.stem for p in FIXTURES.glob("*.json")} == declared, "a fixture for a dataset no task declares"


@pytest.mark.parametrize(("task", "source"), SOURCES, ids=IDS)
def test_configurations_splits_and_columns_exist_with_compatible_types(task: TaskDef, source: HubSource):
    configs = fixture(source.dataset)["configs"]
    assert expanded(task, source), f"{task.name}: no language of the declared splits is on the Hub copy"
    for lang, config, hub_split in expanded(task, source):
        assert config in configs, f"{task.name} [{lang}]: no configuration '{config}' in {source.dataset}"
        card = configs[config]
        assert hub_split in card["splits"], f"{task.name}: no split '{hub_split}' in {source.dataset}/{config}"
        for field, column in source.columns.items():
            for part in column.split("+"):
                kind = column_type(card["features"], part)
                assert EXPECTED[field](kind), f"{task.name}: {field} <- {part} is {kind}"
        for column in source.choice_columns:
            assert is_text(card["features"].get(column)), f"{task.name}: choice column {column}"


@pytest.mark.parametrize(("task", "source"), SOURCES, ids=IDS)
def test_label_encodings_match_the_card(task: TaskDef, source: HubSource):
    configs = fixture(source.dataset)["configs"]
    for _, config, _ in expanded(task, source):
        features = configs[config]["features"]
        if "tags" in source.columns:
            names = column_type(features, source.columns["tags"])["sequence"]["class_label"]
            assert tuple(names) == tuple(task.labels), f"{task.name}: tags are {names}, the task's {task.labels}"
        if "label" not in source.columns:
            continue
        hub_labels = [str(v) for v in label_set(column_type(features, source.columns["label"]))]
        if source.label_map:
            assert set(source.label_map) == set(hub_labels), f"{task.name}: label_map keys vs the card's {hub_labels}"
            ours = {str(v) for v in source.label_map.values()}
        else:
            ours = set(hub_labels)
        if task.format == "multiple_choice":
            width = len(source.choice_columns) or None
            assert ours <= {str(i) for i in range(width or 5)}, f"{task.name}: answers {sorted(ours)}"
        else:
            assert ours == set(task.labels), f"{task.name}: the Hub's labels {sorted(ours)}, the task's {task.labels}"


def test_a_drifted_declaration_is_caught():
    """The checks above on a declaration that names a column, split and label the card lacks."""
    task = next(t for t in TASKS if t.name == "qqp")
    [source] = task.hub
    configs = fixture(source.dataset)["configs"]
    with pytest.raises(AssertionError, match="no column 'sentence1'"):
        column_type(configs["qqp"]["features"], "sentence1")
    assert "validation_matched" not in configs["qqp"]["splits"]
    names = label_set(column_type(configs["qqp"]["features"], "label"))
    assert set(names) != {"0", "1"}  # the task's labels are names, not the ids
