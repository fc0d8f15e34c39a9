"""The typed read-back of an experiment directory (xstilts.experiment.readback): a finished experiment, a partial
one (a stage still running, another failed), a grid, and what it refuses. The directories are written by the
report tests' helpers, as `xstilts run` leaves them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from statistics import mean

import pytest

from tests.report.test_report import GRID, build_experiment, build_grid_experiment, write_gold
from xstilts.errors import UserError
from xstilts.experiment.readback import ConditionRun, StageRecord, open_experiment
from xstilts.spec import Spec

TWO = {c: GRID[c] for c in ("none", "sick")}


@pytest.fixture(scope="module")
def gold(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gold")
    write_gold(root)
    return root


def _stored_averages(experiment: Path) -> dict[tuple[str, str, int], float]:
    with sqlite3.connect(experiment / "results.sqlite") as db:
        rows = db.execute(
            "SELECT condition, target, runs.seed, value FROM runs JOIN results ON stage_key = eval_key "
            "WHERE language = 'avg' AND metric IN ('f1', 'accuracy')"
        ).fetchall()
    return {(c, t, s): v for c, t, s, v in rows}


def test_a_finished_experiment_reads_back_as_typed_records(tmp_path: Path, gold: Path) -> None:
    directory = build_experiment(tmp_path / "exp", gold, TWO, seeds=(1, 2))
    before = sorted(p.name for p in directory.iterdir())
    exp = open_experiment(directory)
    assert sorted(p.name for p in directory.iterdir()) == before  # read-only: no -wal/-shm files either

    assert isinstance(exp.spec, Spec) and exp.spec.name == "synthetic" and exp.spec.baseline == "none"
    assert list(exp.conditions) == ["none", "sick"] and exp.targets == ("panx", "xnli") and exp.seeds == (1, 2)
    assert [(p.condition, p.variant, len(p.stages)) for p in exp.points] == [("none", "", 0), ("sick", "", 1)]
    assert exp.points[1].stages[0]["task"] == "sick" and exp.points[1].stages[0]["max_train_examples"] == 1000

    run = exp.runs[("sick", "xnli", 2)]
    assert isinstance(run, ConditionRun) and (run.name, run.variant, run.condition) == ("sick", "", "sick")
    assert len(run.chain) == 2  # the sick stage, then xnli's own training
    evaluation = exp.stages[run.eval_key]
    assert isinstance(evaluation, StageRecord) and evaluation.done and evaluation.kind == "evaluate"
    assert evaluation.config["split"] == "dev" and exp.stages[run.chain[0]].log == {"examples": 1000}

    stored = _stored_averages(directory)
    assert len(stored) == 2 * 2 * 2 and set(exp.scores) == set(stored)
    for (condition, target, seed), value in stored.items():
        assert exp.value(condition, target, seed, "avg") == pytest.approx(value)
    assert exp.metrics == {"panx": "f1", "xnli": "accuracy"} and exp.missing() == []

    values = exp.seed_values()  # what `xstilts results` tabulates
    assert values[("xnli", "accuracy", "sick", "avg")] == pytest.approx([stored[("sick", "xnli", s)] for s in (1, 2)])
    means = exp.condition_means()  # what `xstilts score` scores
    assert "avg" not in means["sick"]["xnli"]
    de = [exp.scores[("sick", "xnli", s)]["de"]["accuracy"][0] for s in (1, 2)]
    assert means["sick"]["xnli"]["de"]["accuracy"] == pytest.approx(mean(de))

    path = exp.predictions_file(("sick", "xnli", 1), "de")
    assert len(path.read_text().splitlines()) == len(exp.gold(("sick", "xnli", 1), "de")) == 60


def test_a_partial_experiment_names_what_is_running_and_what_failed(tmp_path: Path, gold: Path) -> None:
    unfinished = (("sick", "xnli", 2), ("sick", "panx", 2))
    directory = build_experiment(tmp_path / "exp", gold, TWO, seeds=(1, 2), unfinished=unfinished)
    runs = open_experiment(directory).runs
    running, failed = runs[unfinished[0]].eval_key, runs[unfinished[1]].chain[-1]
    with sqlite3.connect(directory / "results.sqlite") as db:  # as a runner leaves them
        db.execute(
            "INSERT INTO stages VALUES (?, 'evaluate', 'xnli', '{}', 'running', NULL, 0, ?)",
            (running, json.dumps({"pid": 4242})),
        )
        db.execute(
            "UPDATE stages SET status = 'failed', log = ? WHERE key = ?",
            (json.dumps({"error": "RuntimeError: out of memory"}), failed),
        )

    exp = open_experiment(directory)
    assert exp.stages[running].status == "running" and not exp.stages[running].done
    assert exp.stages[running].log == {"pid": 4242}
    assert exp.stages[failed].status == "failed" and exp.stages[failed].log["error"].startswith("RuntimeError")
    assert set(unfinished).isdisjoint(exp.scores) and len(exp.scores) == 2 * 2 * 2 - 2
    assert exp.seeds_of("sick", "xnli") == (1,) and exp.seeds_of("none", "xnli") == (1, 2)
    assert dict(exp.missing()) == {
        ("sick", "panx", 2): f"training on panx not finished (stage {failed})",
        ("sick", "xnli", 2): f"evaluation not finished (stage {running})",
    }
    assert len(exp.seed_values()[("xnli", "accuracy", "sick", "avg")]) == 1  # only the finished seed


def test_grid_points_come_from_the_spec_and_label_their_runs(tmp_path: Path, gold: Path) -> None:
    axes = {"intermediate_size": [100, 1000]}
    exp = open_experiment(build_grid_experiment(tmp_path / "exp", gold, axes, seeds=(1,)))
    labels = [p.condition for p in exp.points]
    assert labels == [f"{c} [intermediate_size={n}]" for n in (100, 1000) for c in ("none", "sick")]
    sick = next(p for p in exp.points if p.condition == "sick [intermediate_size=100]")
    assert sick.variant == "intermediate_size=100" and sick.stages[0]["max_train_examples"] == 100
    run = exp.runs[("sick [intermediate_size=100]", "xnli", 1)]
    assert (run.name, run.variant) == ("sick", "intermediate_size=100")
    assert exp.baseline("sick [intermediate_size=1000]") == "none [intermediate_size=1000]"
    assert set(exp.scores) == {(c, "xnli", 1) for c in labels}


def test_a_store_without_its_spec_and_a_spec_this_version_cannot_read(tmp_path: Path, gold: Path) -> None:
    directory = build_experiment(tmp_path / "exp", gold, TWO, seeds=(1,))
    spec_file = directory / "spec.resolved.yaml"
    spec_text = spec_file.read_text()
    spec_file.unlink()
    with pytest.raises(UserError, match=r"not an experiment directory \(no spec.resolved.yaml\)"):
        open_experiment(directory)
    bare = open_experiment(directory, need_spec=False)  # enough for the `results` and `score` tables
    assert bare.spec is None and len(bare.scores) == 4 and "sick" in bare.condition_means()

    spec_file.write_text(spec_text.replace("seeds:", "seed_list:"))
    with pytest.raises(UserError) as err:
        open_experiment(directory, need_spec=False)
    message = str(err.value)
    assert message.startswith(f"{spec_file}: not a spec this version of xstilts reads") and "\n" not in message
    assert "seed_list" in message

    (directory / "results.sqlite").write_text("not a database\n")
    with pytest.raises(UserError, match="not a readable xstilts results store"):
        open_experiment(directory, need_spec=False)
