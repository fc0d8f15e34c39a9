"""The like-with-like bench's report (bench/fair.py): the same-quality verdict and the sections a run writes."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _load(name: str) -> object:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench_modules():
    sys.path.insert(0, str(BENCH))  # the bench scripts import their siblings (common.py, fair.py)
    try:
        yield _load("fair"), _load("run")
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def fair(bench_modules):
    return bench_modules[0]


def _dev(xstilts: list[float], tuned: list[float]) -> dict:
    scores = {"xstilts": xstilts, "Trainer default": [80.0, 81.0, 82.0], "Trainer tuned": tuned}
    return {"steps": 139, "metric": "accuracy", "start": "pretrained", "seeds": [1, 2, 3], "examples": 495,
            "scores": scores}  # fmt: skip


def test_same_quality_means_xstilts_mean_within_trainer_tuned_seeds(fair) -> None:
    assert fair.dev_verdict(_dev([80.0, 82.0, 84.0], [81.0, 83.5, 82.0])) == (82.0, 81.0, 83.5, True)
    mean, low, high, within = fair.dev_verdict(_dev([78.0, 79.0, 80.0], [81.0, 83.5, 82.0]))
    assert (mean, within) == (79.0, False)
    # A result written before seeds (one score per loop), or a run with one seed: no spread to be within.
    old = {"steps": 139, "metric": "f1", "scores": {"xstilts": 70.0, "Trainer default": 69.0, "Trainer tuned": 70.0}}
    assert fair.dev_verdict(old) == (70.0, 70.0, 70.0, None)
    result = {"device": "GPU", "peak": {"fp32": 1.0, "bf16": 2.0}, "runs": [{"shape": "s", "task": "t", "embeddings":
              "trained", "dev": old}]}  # fmt: skip
    assert "| not decided: one seed has no spread |" in fair.render(result, "c")


def test_a_dev_only_run_renders_its_table_and_goes_to_its_own_section(bench_modules) -> None:
    fair, bench_run = bench_modules

    run = {"shape": "me5-small", "task": "sick", "embeddings": "trained", "dev": _dev([78.0, 79.0, 80.0], [81, 82, 83])}
    result = {"device": "x86_64", "peak": {"fp32": 0.2, "bf16": 0.9}, "runs": [run]}
    text = fair.render(result, "python bench/run.py --device cpu --reps 0")
    assert "train s (median" not in text  # nothing was timed
    assert "| me5-small | sick | trained | pretrained | 139 | accuracy | 495 | 3 | 79.0 (78.0-80.0) |" in text
    assert "missed: 79.0 outside 81.0-83.0 |" in text
    assert bench_run.fair_section(result, "cpu") == "fair-cpu-quality"
    timed = {**run, "train": {"xstilts": {}}}
    assert bench_run.fair_section({**result, "runs": [timed]}, "cpu") == "fair-cpu"
