"""The Ray executor on a local Ray instance: two runners as Ray tasks finish a small grid, each stage once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from xstilts.cli import main

pytest.importorskip("ray")
pytestmark = pytest.mark.integration


def test_ray_runners_finish_a_small_grid(tmp_path: Path, data: Path, tiny_model_dir: Path):
    spec = {
        "name": "ray",
        "data_dir": str(data),
        "model": str(tiny_model_dir),
        "seeds": [1, 2],
        "train": {"batch_size": 8, "max_length": 32, "precision": "fp32"},
        "intermediate": {"none": [], "sick": [{"task": "sick", "max_train_examples": 16}]},
        "targets": [{"task": "panx", "max_train_examples": 16, "eval_languages": ["de"], "max_eval_examples": 8}],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    out = tmp_path / "run"
    assert main(["run", str(tmp_path / "spec.yaml"), "--out", str(out), "--executor", "ray", "--jobs", "2"]) == 0
    with sqlite3.connect(out / "results.sqlite") as db:
        statuses = db.execute("SELECT status, COUNT(*) FROM stages GROUP BY status").fetchall()
        results = db.execute("SELECT COUNT(*) FROM runs JOIN results ON stage_key = eval_key").fetchone()[0]
    assert statuses == [("done", 2 * (1 + 2 + 2))]  # per seed: sick, 2 target trainings, 2 evaluations
    assert results == 2 * 2 * 2  # 2 seeds x 2 conditions x (de, avg)
    logs = [p.read_text() for p in (out / "logs").glob("ray-runner-*.log")]
    trained = [line for log in logs for line in log.splitlines() if line.strip().startswith(("train ", "eval "))]
    assert len(trained) == 10  # every stage ran exactly once across the two Ray runners
