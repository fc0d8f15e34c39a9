"""Crash safety and concurrency on a tiny random encoder: runners killed with SIGKILL at random moments
resume to exactly the results of an uninterrupted run, and two runners on one experiment directory never
run the same stage."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory: pytest.TempPathFactory, data: Path, tiny_model_dir: Path) -> Path:
    spec = {
        "name": "crash",
        "data_dir": str(data),
        "model": str(tiny_model_dir),
        "seeds": [1, 2],
        "train": {"batch_size": 8, "max_length": 48, "learning_rate": 1e-3, "precision": "fp32"},
        "intermediate": {
            "none": [],
            "sick": [{"task": "sick", "max_train_examples": 32}],
            "siqa": [{"task": "siqa", "max_train_examples": 16}],
        },
        "targets": [
            {"task": "panx", "max_train_examples": 32, "eval_languages": ["en", "de"], "max_eval_examples": 16}
        ],
    }
    path = tmp_path_factory.mktemp("spec") / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def start(spec: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "XSTILTS_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "xstilts.cli", "run", str(spec), "--out", str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finished(out: Path) -> dict[tuple, float]:
    with sqlite3.connect(out / "results.sqlite") as db:
        rows = db.execute(
            "SELECT r.condition, r.seed, s.language, s.metric, s.value FROM runs r "
            "JOIN results s ON s.stage_key = r.eval_key"
        ).fetchall()
        statuses = {status for (status,) in db.execute("SELECT status FROM stages")}
    assert statuses == {"done"}
    return {row[:4]: row[4] for row in rows}


@pytest.fixture(scope="module")
def reference(spec_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple, float]:
    out = tmp_path_factory.mktemp("reference") / "run"
    process = start(spec_path, out)
    assert process.wait(timeout=600) == 0, process.stdout.read()
    results = finished(out)
    assert len(results) == 3 * 2 * 3  # conditions x seeds x (en, de, avg)
    return results


def test_sigkill_at_random_moments_then_resume_gives_the_same_results(spec_path, reference, tmp_path: Path):
    out = tmp_path / "run"
    rng = random.Random(7)
    for _ in range(10):
        process = start(spec_path, out)
        time.sleep(rng.uniform(1.5, 8.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        leftovers = (
            [p.name for p in (out / "stages").glob(".*") if not p.name.endswith(".lock")]
            if (out / "stages").exists()
            else []
        )
        # a killed stage leaves at most its own temporary folder, which the next run replaces
        assert len(leftovers) <= 1
    process = start(spec_path, out)
    assert process.wait(timeout=600) == 0, process.stdout.read()
    assert finished(out) == reference


def test_two_runners_never_run_the_same_stage(spec_path, reference, tmp_path: Path):
    out = tmp_path / "run"
    first, second = start(spec_path, out), start(spec_path, out)
    logs = []
    for process in (first, second):
        assert process.wait(timeout=600) == 0
        logs.append(process.stdout.read())
    ran = [
        line.split("(")[-1].split(")")[0]
        for log in logs
        for line in log.splitlines()
        if line.strip().startswith(("train ", "eval "))
    ]
    assert len(ran) == len(set(ran)) == 2 * (2 + 3 + 3)  # every unique stage exactly once, per seed:
    # two intermediate stages, three target trainings, three evaluations
    assert all(log.count("train ") > 0 for log in logs)  # both runners did work
    assert finished(out) == reference
