"""Span QA and retrieval through the whole chain on the 2-layer me5-small slice, then the XTREME table and
score-predictions on the predictions the run wrote (which must reproduce the stored scores)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from xstilts.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory, data: Path, me5_dir: Path) -> Path:
    spec = {
        "name": "qa-retrieval",
        "data_dir": str(data),
        "model": {"name": "me5-small", "num_layers": 2},
        "train": {"batch_size": 8, "max_length": 128, "freeze_embeddings": True, "learning_rate": 1e-4},
        "intermediate": {"none": [], "sick": [{"task": "sick", "max_train_examples": 32}]},
        "targets": [
            {
                "task": "xquad",
                "train_task": "tydiqa",
                "max_train_examples": 24,
                "eval_languages": ["en", "de"],
                "max_eval_examples": 12,
                "train": {"eval_max_length": 192},
                "format_options": {"doc_stride": 64},
            },
            {"task": "tatoeba", "eval_languages": ["de", "sw"]},
        ],
    }
    tmp = tmp_path_factory.mktemp("qa")
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["run", str(tmp / "spec.yaml"), "--out", str(tmp / "run")]) == 0
    return tmp / "run"


def stored(experiment: Path, task: str, condition: str) -> dict[tuple[str, str], float]:
    with sqlite3.connect(experiment / "results.sqlite") as db:
        rows = db.execute(
            "SELECT s.language, s.metric, s.value FROM runs r JOIN results s ON s.stage_key = r.eval_key "
            "WHERE r.target = ? AND r.condition = ?",
            (task, condition),
        ).fetchall()
    return {(lang, metric): value for lang, metric, value in rows}


def test_qa_reports_exact_match_and_f1_per_language(experiment: Path):
    scores = stored(experiment, "xquad", "sick")
    assert {k for k in scores if k[0] == "de"} == {("de", "exact_match"), ("de", "f1")}
    assert all(0 <= v <= 100 for v in scores.values())


def test_retrieval_uses_the_condition_encoder_without_training(experiment: Path):
    with sqlite3.connect(experiment / "results.sqlite") as db:
        chains = dict(db.execute("SELECT condition, chain FROM runs WHERE target = 'tatoeba'").fetchall())
        logs = [json.loads(log) for (log,) in db.execute("SELECT log FROM stages WHERE task = 'tatoeba'")]
    assert json.loads(chains["none"]) == [] and len(json.loads(chains["sick"])) == 1  # no target training
    encoders = sorted(log["init"]["encoder"] for log in logs)
    assert encoders[0].endswith("(sick)") and encoders[1] == "pretrained me5-small"
    assert all(log["init"]["heads"] == {"tatoeba": "new retrieval head"} for log in logs)
    # a pretrained encoder retrieves German translations far above chance (1/1000) even with 2 layers
    assert stored(experiment, "tatoeba", "none")[("de", "accuracy")] > 20.0


def test_score_predictions_reproduces_the_stored_scores(experiment: Path, data: Path, capsys):
    with sqlite3.connect(experiment / "results.sqlite") as db:
        (eval_key,) = db.execute("SELECT eval_key FROM runs WHERE target='tatoeba' AND condition='sick'").fetchone()
    predictions = experiment / "stages" / eval_key / "predictions-sw.jsonl"
    capsys.readouterr()
    code = main(
        [
            "score-predictions",
            "--task",
            "tatoeba",
            "--lang",
            "sw",
            "--predictions",
            str(predictions),
            "--data",
            str(data),
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 390
    assert result["accuracy"] == pytest.approx(stored(experiment, "tatoeba", "sick")[("sw", "accuracy")])


def test_score_predictions_refuses_a_short_file(tmp_path: Path, data: Path, capsys):
    bad = tmp_path / "p.jsonl"
    bad.write_text("1\n2\n")
    assert (
        main(["score-predictions", "--task", "tatoeba", "--lang", "sw", "--predictions", str(bad), "--data", str(data)])
        == 2
    )
    assert "2 predictions for 390 gold examples" in capsys.readouterr().err


def test_xtreme_table_lists_partial_tasks(experiment: Path, capsys):
    capsys.readouterr()
    assert main(["score", str(experiment)]) == 0
    printed = capsys.readouterr().out
    assert "condition 'none'" in printed and "condition 'sick'" in printed
    assert "tatoeba" in printed and "xquad" in printed and "n/a" in printed
