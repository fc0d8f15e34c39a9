"""CCG supertagging from a user-supplied path: an open tag set taken from the training file (labels_from: train),
used by the built-in `ccg` declaration and by a spec's own `tasks:` entry, end to end on a tiny model."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from xstilts.cli import main
from xstilts.errors import SpecError
from xstilts.experiment.plan import build_plan
from xstilts.formats import make_format
from xstilts.metrics import METRICS
from xstilts.spec import parse_spec
from xstilts.tasks import REGISTRY, get_task
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.labels import with_training_labels
from xstilts.tasks.loading import load_examples

# Three sentences in CCGbank's categories, one word<TAB>supertag per line (the `conll` reader's format).
TRAIN = """Pierre\tN/N
Vinken\tN
sleeps\tS[dcl]\\NP
.\t.

Mary\tN
likes\t(S[dcl]\\NP)/NP
dogs\tN
.\t.

Dogs\tN
bark\tS[dcl]\\NP
"""
# Dev holds a supertag training never saw: it is read, scored, and can never be predicted.
DEV = """Cats\tN
chase\t(S[dcl]\\NP)/NP
mice\tN
quickly\t(S\\NP)\\(S\\NP)
"""
TAGS = ("(S[dcl]\\NP)/NP", ".", "N", "N/N", "S[dcl]\\NP")


@pytest.fixture
def ccg_root(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "english" / "ccg"
    folder.mkdir(parents=True)
    (folder / "train.tsv").write_text(TRAIN, encoding="utf-8")
    (folder / "dev.tsv").write_text(DEV, encoding="utf-8")
    return tmp_path / "data"


def test_the_tag_set_is_every_training_tag_sorted(ccg_root: Path):
    task = with_training_labels(get_task("ccg"), ccg_root)
    assert task.labels == tuple(sorted(TAGS))
    assert get_task("ccg").labels == ()  # the declaration itself stays open


def test_dev_tags_outside_the_set_are_read_and_scored_as_misses(ccg_root: Path, tiny_model_dir: Path):
    from xstilts.encoders.loading import load_tokenizer
    from xstilts.spec import ModelSpec

    task = with_training_labels(get_task("ccg"), ccg_root)
    [sentence] = load_examples(task, "dev", "en", ccg_root)
    assert sentence.tags[-1] == "(S\\NP)\\(S\\NP)"
    fmt = make_format("tagging")
    [feature] = fmt.encode([sentence], load_tokenizer(ModelSpec(name=str(tiny_model_dir))), task, 32)
    assert sum(t != -100 for t in feature.target.labels) == 4  # every word keeps its place, the unseen one too
    predicted = ["N", "(S[dcl]\\NP)/NP", "N", "N"]
    assert fmt.score([predicted], [sentence], task, "en") == {"accuracy": 75.0}


def test_token_accuracy_counts_words_not_sentences():
    scores = METRICS["token_accuracy"]([["N", "N"], ["N"]], [["N", "S"], ["N"]], "en")
    assert scores == {"accuracy": pytest.approx(200 / 3)}
    with pytest.raises(ValueError, match="2 predicted tags for 1 words"):
        METRICS["token_accuracy"]([["N", "N"]], [["N"]], "en")


def test_an_open_set_needs_no_labels_and_refuses_some():
    declared = {"name": "x", "format": "tagging", "description": "d", "reader": "conll", "metric": "token_accuracy"}
    splits = {"train": {"files": ["t.tsv"]}}
    with pytest.raises(ValueError, match="needs a label set"):
        TaskDef(**declared, splits=splits)
    TaskDef(**declared, splits=splits, labels_from="train")
    with pytest.raises(ValueError, match="without labels"):
        TaskDef(**declared, splits=splits, labels_from="train", labels=("N",))


def _spec(data: Path, model: Path, tasks: list[dict], task: str) -> dict:
    return {
        "name": "ccg",
        "data_dir": str(data),
        "model": str(model),
        "train": {"batch_size": 4, "max_length": 32, "precision": "fp32", "learning_rate": 3e-3, "epochs": 3},
        "tasks": tasks,
        "intermediate": {"none": []},
        "targets": [{"task": task}],
    }


def test_ccg_from_the_data_dir_trains_and_scores_end_to_end(ccg_root: Path, tiny_model_dir: Path, tmp_path: Path):
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(_spec(ccg_root, tiny_model_dir, [], "ccg")))
    out = tmp_path / "run"
    assert main(["run", str(spec_path), "--out", str(out)]) == 0
    assert build_plan(parse_spec(_spec(ccg_root, tiny_model_dir, [], "ccg")), ccg_root).tasks["ccg"].labels == tuple(
        sorted(TAGS)
    )
    assert REGISTRY["ccg"].labels == ()  # the catalogue keeps the declaration: labels live in each plan's table
    with sqlite3.connect(out / "results.sqlite") as db:
        [(key, value)] = db.execute("SELECT stage_key, value FROM results WHERE language = 'en'")
    lines = (out / "stages" / key / "predictions-en.jsonl").read_text().splitlines()
    [predicted] = [json.loads(line) for line in lines]
    assert len(predicted) == 4 and set(predicted) <= set(TAGS)  # one training tag per dev word
    gold = ["N", "(S[dcl]\\NP)/NP", "N", "(S\\NP)\\(S\\NP)"]
    assert value == 100.0 * sum(p == g for p, g in zip(predicted, gold, strict=True)) / 4


def test_a_spec_task_reads_ccg_files_from_anywhere(ccg_root: Path, tiny_model_dir: Path, tmp_path: Path):
    files = ccg_root / "english" / "ccg"
    mine = {
        "name": "my_ccg",
        "format": "tagging",
        "description": "CCGbank, converted, on my disk",
        "reader": "conll",
        "splits": {"train": {"files": [str(files / "train.tsv")]}, "dev": {"files": [str(files / "dev.tsv")]}},
        "eval_split": "dev",
        "labels_from": "train",
        "metric": "token_accuracy",
    }
    empty = tmp_path / "empty"
    empty.mkdir()
    plan = build_plan(parse_spec(_spec(empty, tiny_model_dir, [mine], "my_ccg")), empty)
    assert [stage.kind for stage in plan.stages.values()] == ["train", "evaluate"]
    assert plan.tasks["my_ccg"].labels == tuple(sorted(TAGS))
    assert "my_ccg" not in REGISTRY  # planning never writes into the global catalogue
    build_plan(parse_spec(_spec(empty, tiny_model_dir, [mine], "my_ccg")), empty)  # planning again is fine
    (files / "train.tsv").unlink()
    with pytest.raises(Exception, match="train.tsv"):
        build_plan(parse_spec(_spec(empty, tiny_model_dir, [mine], "my_ccg")), empty)


def test_a_missing_split_is_named(ccg_root: Path, tiny_model_dir: Path):
    spec = _spec(ccg_root, tiny_model_dir, [], "panx")
    spec["intermediate"] = {"ccg": [{"task": "ccg", "split": "translate_train"}]}
    with pytest.raises(SpecError, match="split"):
        build_plan(parse_spec(spec), ccg_root)
