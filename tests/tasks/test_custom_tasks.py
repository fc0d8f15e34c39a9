"""Bring your own task: declared in the spec, read from documented files, used like a built-in one."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from xstilts.cli import main
from xstilts.tasks import REGISTRY


def write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.fixture
def custom_spec(tmp_path: Path, data: Path, tiny_model_dir: Path) -> dict:
    pairs = write_jsonl(
        tmp_path / "pairs.jsonl",
        [
            {"text_a": f"sentence {i}", "text_b": f"other {i}", "label": "same" if i % 2 else "different"}
            for i in range(24)
        ],
    )
    questions = write_jsonl(
        tmp_path / "mc.jsonl", [{"question": f"q{i}?", "choices": ["a", "b", "c"], "label": i % 3} for i in range(24)]
    )
    return {
        "name": "custom",
        "data_dir": str(data),
        "model": str(tiny_model_dir),
        "train": {"batch_size": 8, "max_length": 32, "precision": "fp32"},
        "tasks": [
            {
                "name": "my_pairs",
                "format": "classification",
                "description": "mine",
                "reader": "classification_jsonl",
                "splits": {"train": {"files": [pairs]}},
                "labels": ["same", "different"],
                "metric": "accuracy",
            },
            {
                "name": "my_mc",
                "format": "multiple_choice",
                "description": "mine too",
                "reader": "multiple_choice_jsonl",
                "splits": {"train": {"files": [questions]}},
                "metric": "accuracy",
            },
        ],
        "intermediate": {"none": [], "mine": [{"tasks": [{"task": "my_pairs"}, {"task": "my_mc"}]}]},
        "targets": [{"task": "panx", "max_train_examples": 16, "eval_languages": ["de"], "max_eval_examples": 8}],
    }


def test_a_spec_declared_task_trains_like_a_built_in_one(custom_spec: dict, tmp_path: Path):
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(custom_spec))
    assert main(["run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "run")]) == 0
    assert "my_pairs" not in REGISTRY  # own tasks live in the plan's table, not the global catalogue
    with sqlite3.connect(tmp_path / "run" / "results.sqlite") as db:
        (log,) = db.execute("SELECT log FROM stages WHERE task = 'my_pairs+my_mc'").fetchone()
    assert json.loads(log)["examples"] == {"my_pairs": 24, "my_mc": 24}


def test_a_bad_label_in_your_own_file_names_file_and_line(custom_spec: dict, tmp_path: Path, capsys):
    pairs = Path(custom_spec["tasks"][0]["splits"]["train"]["files"][0])
    lines = pairs.read_text().splitlines()
    lines[2] = json.dumps({"text_a": "x", "label": "maybe"})
    pairs.write_text("\n".join(lines) + "\n")
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(custom_spec))
    assert main(["run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert f"{pairs}:3" in err and "maybe" in err
    assert not (tmp_path / "run").exists()


def test_a_custom_task_may_not_shadow_a_built_in_one(custom_spec: dict, tmp_path: Path, capsys):
    custom_spec["tasks"][0]["name"] = "xnli"
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(custom_spec))
    assert main(["run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "run")]) == 2
    assert "spec field 'tasks[0].name'" in capsys.readouterr().err
