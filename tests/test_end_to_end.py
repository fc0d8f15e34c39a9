"""The whole chain on a real, sliced encoder (the first 2 layers of me5-small) and real data subsets:
spec -> plan -> intermediate training -> target training -> zero-shot evaluation -> store -> results."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from xstilts.cli import main

pytestmark = pytest.mark.integration


def write_spec(tmp_path: Path, data: Path) -> Path:
    spec = {
        "name": "e2e",
        "data_dir": str(data),
        "model": {"name": "me5-small", "num_layers": 2},
        "seeds": [3],
        "train": {"batch_size": 16, "max_length": 64, "learning_rate": 5e-5, "freeze_embeddings": True},
        "intermediate": {
            "none": [],
            "sick": [{"task": "sick", "max_train_examples": 48}],
            "siqa": [{"task": "siqa", "max_train_examples": 32}],
        },
        "targets": [
            {
                "task": "panx",
                "max_train_examples": 64,
                "eval_languages": ["en", "de", "zh"],
                "max_eval_examples": 40,
                "train": {"selection": "best_dev", "max_dev_examples": 20},
            }
        ],
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory, data: Path, me5_dir: Path) -> Path:
    tmp = tmp_path_factory.mktemp("e2e")
    out = tmp / "run"
    assert main(["run", str(write_spec(tmp, data)), "--out", str(out)]) == 0
    return out


def rows(experiment: Path, query: str) -> list[tuple]:
    with sqlite3.connect(experiment / "results.sqlite") as db:
        return db.execute(query).fetchall()


def test_every_condition_is_evaluated_in_every_language(experiment: Path):
    found = rows(
        experiment,
        "SELECT r.condition, s.language, s.n FROM runs r JOIN results s ON s.stage_key = r.eval_key",
    )
    assert {(c, lang) for c, lang, _ in found} == {
        (c, lang) for c in ("none", "sick", "siqa") for lang in ("en", "de", "zh", "avg")
    }
    assert {n for _, lang, n in found if lang != "avg"} == {40}
    values = [v for (v,) in rows(experiment, "SELECT value FROM results")]
    assert all(0.0 <= v <= 100.0 for v in values)


def test_stages_are_shared_and_the_log_says_what_was_carried_over(experiment: Path):
    stages = rows(experiment, "SELECT key, kind, task, log FROM stages")
    assert sorted(kind for _, kind, _, _ in stages) == ["evaluate"] * 3 + ["train"] * 5
    sick_key = next(k for k, kind, task, _ in stages if task == "sick")
    panx_logs = [json.loads(log) for _, kind, task, log in stages if kind == "train" and task == "panx"]
    encoders = [log["init"]["encoder"] for log in panx_logs]
    assert sum(e.startswith("pretrained me5-small") for e in encoders) == 1  # the baseline
    assert any(f"from stage {sick_key} (sick)" in e for e in encoders)
    assert all(log["init"]["heads"] == {"panx": "new tagging head"} for log in panx_logs)
    assert all(log["report"]["selected"].startswith("best_dev") for log in panx_logs)
    assert (experiment / "spec.resolved.yaml").is_file()
    assert (experiment / "stages" / sick_key / "encoder.safetensors").is_file()


def test_rerun_does_nothing_and_results_print_deltas(experiment: Path, data: Path, capsys):
    before = rows(experiment, "SELECT key, finished_at FROM stages")
    capsys.readouterr()
    assert main(["run", str(experiment.parent / "spec.yaml"), "--out", str(experiment)]) == 0
    assert "0 to run" in capsys.readouterr().out
    assert rows(experiment, "SELECT key, finished_at FROM stages") == before
    assert main(["results", str(experiment)]) == 0
    printed = capsys.readouterr().out
    assert "panx: f1, delta vs 'none'" in printed
    assert "sick" in printed and "siqa" in printed
    assert "(+" in printed or "(-" in printed
