"""`track: [tensorboard, mlflow]` logs every stage as a run, read back here with the trackers' own readers: a local
TensorBoard event folder (EventAccumulator) and a local MLflow file store (mlflow.search_runs)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import yaml

from xstilts.cli import main
from xstilts.errors import SpecError
from xstilts.experiment import tracking

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")


@pytest.fixture(scope="module")
def tracked(tmp_path_factory: pytest.TempPathFactory, data: Path, tiny_model_dir: Path) -> Path:
    tmp = tmp_path_factory.mktemp("tracked")
    spec = {
        "name": "tracked",
        "data_dir": str(data),
        "model": str(tiny_model_dir),
        "seeds": [1],
        "track": ["tensorboard", "mlflow"],
        "train": {"batch_size": 8, "max_length": 32, "eval_max_length": 32, "max_dev_examples": 8},
        "targets": [
            {
                "task": "xnli",
                "train_task": "sick",
                "max_train_examples": 24,
                "max_eval_examples": 8,
                "eval_languages": ["en", "de"],
                "train": {"epochs": 2, "selection": "best_dev"},
            }
        ],
    }
    path = tmp / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp / "out"
    assert main(["run", str(path), "--out", str(out)]) == 0
    return out


def _stages(out: Path) -> dict[str, str]:
    """key -> kind of every stage the store holds."""
    db = sqlite3.connect(out / "results.sqlite")
    try:
        return dict(db.execute("SELECT key, kind FROM stages WHERE status = 'done'").fetchall())
    finally:
        db.close()


def test_tensorboard_has_each_stage_with_loss_learning_rate_throughput_and_dev_scores(tracked: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folders = sorted(p.name for p in (tracked / "tensorboard").iterdir())
    assert folders == sorted(_stages(tracked)) and len(folders) == 2  # one training and one evaluation stage
    by_kind: dict[str, EventAccumulator] = {}
    for folder in folders:
        events = EventAccumulator(str(tracked / "tensorboard" / folder))
        events.Reload()
        by_kind["train" if "train/loss" in events.Tags()["scalars"] else "eval"] = events
    train = by_kind["train"]
    steps = [e.step for e in train.Scalars("train/loss")]
    assert steps == list(range(1, len(steps) + 1)) and len(steps) == 6  # 24 examples / 8 per batch x 2 epochs
    rates = [e.value for e in train.Scalars("train/learning_rate")]
    assert rates[0] < max(rates) and rates[-1] < max(rates)  # linear warm-up, then decay: the schedule itself
    assert all(e.value > 0 for e in train.Scalars("train/examples_per_second"))
    assert [e.step for e in train.Scalars("dev/score")] == [3, 6]  # one per epoch
    assert train.Scalars("final/steps")[0].value == 6
    assert {"stage/text_summary", "config/text_summary"} <= set(train.Tags()["tensors"])  # key and config
    evaluation = by_kind["eval"]
    assert {"en/accuracy", "de/accuracy", "avg/accuracy"} <= set(evaluation.Tags()["scalars"])


def test_mlflow_has_each_stage_as_a_run_with_key_config_curves_and_final_metrics(tracked: Path, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    mlflow.set_tracking_uri((tracked / "mlruns").resolve().as_uri())
    runs = mlflow.search_runs(experiment_names=["tracked"], output_format="list")
    assert len(runs) == 2 and {r.info.status for r in runs} == {"FINISHED"}
    keys = {r.data.tags["xstilts.key"] for r in runs}
    assert keys == set(_stages(tracked))
    train = next(r for r in runs if "final/loss" in r.data.metrics)
    evaluation = next(r for r in runs if r is not train)
    assert train.data.params["task"] == "sick" and float(train.data.params["config.learning_rate"]) == 2e-5
    history = mlflow.MlflowClient().get_metric_history(train.info.run_id, "train/loss")
    assert [m.step for m in history] == list(range(1, 7))
    assert train.data.metrics["final/loss"] == pytest.approx(history[-1].value)
    assert len(mlflow.MlflowClient().get_metric_history(train.info.run_id, "dev/score")) == 2
    assert evaluation.data.metrics["avg/accuracy"] == pytest.approx(
        (evaluation.data.metrics["en/accuracy"] + evaluation.data.metrics["de/accuracy"]) / 2
    )


def test_a_tracker_that_is_not_installed_is_refused_naming_its_extra(monkeypatch):
    monkeypatch.setattr(tracking.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SpecError, match=r"spec field 'track': mlflow is not installed: pip install -e '\.\[mlflow\]'"):
        tracking.require(["mlflow"])
