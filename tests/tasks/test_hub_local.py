"""Hub sources loaded through the real `datasets.load_dataset` call of tasks/hub.py, from tiny Parquet repositories
built on disk with the schema of tests/fixtures/hub/ (the cards' features, ClassLabel names included), in the two
layouts the Hub has: a repository whose card names its configurations' files, and the Parquet export
(refs/convert/parquet: C/S/0000.parquet, no card). The real Hub is out of reach here; only the repository id is
replaced by the local folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

datasets = pytest.importorskip("datasets")
pq = pytest.importorskip("pyarrow.parquet")
pa = pytest.importorskip("pyarrow")

from xstilts.tasks import get_task  # noqa: E402
from xstilts.tasks.hub import load_from_hub  # noqa: E402

FIXTURES = Path(__file__).parents[1] / "fixtures" / "hub"


def feature(kind: Any) -> Any:
    """A card's type (fixture notation) as a `datasets` feature."""
    if isinstance(kind, str):
        return datasets.Value(kind)
    if "class_label" in kind:
        return datasets.ClassLabel(names=kind["class_label"])
    if "sequence" in kind:
        inner = kind["sequence"]
        if isinstance(inner, dict) and "struct" in inner:  # a sequence of structs is a struct of lists
            return {name: datasets.Sequence(feature(t)) for name, t in inner["struct"].items()}
        return datasets.Sequence(feature(inner))
    if "struct" in kind:
        return {name: feature(t) for name, t in kind["struct"].items()}
    return datasets.Value(kind["value"])


def value(kind: Any, i: int) -> Any:
    """Row i's value of a column, as the real data writes it (a ClassLabel id, one of a label's values)."""
    if isinstance(kind, str):
        return i if kind.startswith("int") else f"w{i}"
    if "class_label" in kind:
        return i % len(kind["class_label"])
    if "values" in kind:
        return kind["values"][i % len(kind["values"])]
    if "sequence" in kind:
        inner = kind["sequence"]
        if isinstance(inner, dict) and "struct" in inner:
            return {name: [value(t, i), value(t, i + 1)] for name, t in inner["struct"].items()}
        return [value(inner, i), value(inner, i + 1)]
    return {name: value(t, i) for name, t in kind["struct"].items()}


def write_split(path: Path, features: dict[str, Any], rows: int) -> list[dict[str, Any]]:
    hf = datasets.Features({name: feature(kind) for name, kind in features.items()})
    data = [{name: value(kind, i) for name, kind in features.items()} for i in range(rows)]
    path.parent.mkdir(parents=True, exist_ok=True)
    # The schema's metadata carries the features (ClassLabel names), as the Hub's Parquet files do.
    pq.write_table(pa.Table.from_pylist([hf.encode_example(r) for r in data], schema=hf.arrow_schema), path)
    return data


def build_repo(root: Path, dataset: str, configs: dict[str, list[str]], rows: int = 3) -> dict:
    """A local copy of `dataset` holding `configs` (configuration -> splits), in the layout its revision has."""
    card = json.loads((FIXTURES / f"{dataset.replace('/', '__')}.json").read_text())
    export = card["revision"] == "refs/convert/parquet"
    written, yaml = {}, ["---", "configs:"]
    for config, splits in configs.items():
        yaml += [f"- config_name: {config}", "  data_files:"]
        for split in splits:
            name = f"{config}/{split}/0000.parquet" if export else f"{config}/{split}-00000-of-00001.parquet"
            written[(config, split)] = write_split(root / name, card["configs"][config]["features"], rows)
            yaml += [f"  - split: {split}", f"    path: {name}"]
    if not export:  # the export has no card: tasks/hub.py names its files
        (root / "README.md").write_text("\n".join([*yaml, "---", ""]))
    return written


@pytest.fixture
def local_hub(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def serve(task_name: str, configs: dict[str, list[str]]):
        task = get_task(task_name)
        [source] = task.hub
        written = build_repo(tmp_path / "repo", source.dataset, configs)
        local = source.model_copy(update={"dataset": str(tmp_path / "repo")})
        return task.model_copy(update={"hub": (local,)}), written

    return serve


def test_classification_reads_class_label_names_per_language_configuration(local_hub):
    task, written = local_hub("xnli", {"de": ["validation"], "sw": ["validation"]})
    examples = load_from_hub(task, "dev", "sw")
    names = ("entailment", "neutral", "contradiction")
    assert [(e.text_a, e.label) for e in examples] == [
        (r["premise"], names[r["label"]]) for r in written[("sw", "validation")]
    ]


def test_tagging_maps_sequence_class_label_ids_to_tag_names(local_hub):
    task, written = local_hub("panx", {"PAN-X.de": ["validation"]})
    [first, *_] = load_from_hub(task, "dev", "de")
    row = written[("PAN-X.de", "validation")][0]
    assert first.words == tuple(row["tokens"])
    assert first.tags == tuple(task.labels[t] for t in row["ner_tags"])


def test_multiple_choice_from_the_parquet_export_maps_one_based_string_labels(local_hub):
    task, written = local_hub("siqa", {"default": ["train"]})
    examples = load_from_hub(task, "train", "en")
    rows = written[("default", "train")]
    assert [e.label for e in examples] == [int(r["label"]) - 1 for r in rows]
    assert examples[0].choices == (rows[0]["answerA"], rows[0]["answerB"], rows[0]["answerC"])


def test_span_qa_reads_answers_from_the_sequence_of_structs(local_hub):
    task, written = local_hub("squad", {"plain_text": ["validation"]})
    [first, *_] = load_from_hub(task, "dev", "en")
    row = written[("plain_text", "validation")][0]
    assert (first.id, first.answers, first.answer_starts) == (
        row["id"],
        tuple(row["answers"]["text"]),
        tuple(row["answers"]["answer_start"]),
    )


def test_ranking_joins_columns_and_reads_language_split_names(local_hub):
    task, written = local_hub("wpr", {"wpr": ["validation.de"]})
    [first, *_] = load_from_hub(task, "dev", "de")
    row = written[("wpr", "validation.de")][0]
    assert first.text_b == f"{row['web_page_title']} {row['web_page_snippet']}"
    assert first.label == task.labels[row["relavance_label"]]
