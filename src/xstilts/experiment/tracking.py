"""Experiment tracking through the trackers researchers already use: a spec's `track: [tensorboard, mlflow]`
logs every stage as one run, named by its task and key, with its settings, and while it trains the loss, the
learning rate and the throughput per optimizer step and the dev score per epoch; at its end its final numbers
(a training stage's steps, seconds and final loss; an evaluation's metric per language and their average).

TensorBoard: one event folder per stage under DIR/tensorboard/<key>/ (`tensorboard --logdir DIR/tensorboard`).
MLflow: one run per stage in the MLflow experiment named after the spec, at $MLFLOW_TRACKING_URI, else in a local
file store beside the results, DIR/mlruns (`mlflow ui --backend-store-uri DIR/mlruns`).

Both are optional extras (`pip install -e '.[tensorboard]'` / `'.[mlflow]'`), imported only when a spec asks for
them; `require` refuses a spec that names one that is not installed, before anything runs. The training loop
only sees `StageRun.log`, a callable (xstilts.training.train's `log` sink)."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from xstilts.errors import SpecError

# tracker name -> (module that must be importable, the extra that installs it)
TRACKERS = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow")}
MLFLOW_PARAM_LIMIT = 6000  # characters of one MLflow parameter value


def require(names: Sequence[str]) -> None:
    """Refuse a tracker whose library is not installed (spec field 'track'), naming the extra that installs it."""
    for name in names:
        module, extra = TRACKERS[name]
        if importlib.util.find_spec(module) is None:
            raise SpecError("track", f"{name} is not installed: pip install -e '.[{extra}]'")


class _Sink(Protocol):
    def log(self, metrics: dict[str, float], step: int) -> None: ...

    def finish(self, metrics: dict[str, float], failed: bool = False) -> None: ...


class _TensorBoard:
    def __init__(self, experiment_dir: Path, key: str, name: str, config: dict[str, Any]):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(experiment_dir / "tensorboard" / key))
        self.writer.add_text("stage", f"{name} ({key})")
        self.writer.add_text("config", "```\n" + json.dumps(config, indent=2, sort_keys=True) + "\n```")
        self.last_step = 0

    def log(self, metrics: dict[str, float], step: int) -> None:
        for tag, value in metrics.items():
            self.writer.add_scalar(tag, value, step)
        self.last_step = step

    def finish(self, metrics: dict[str, float], failed: bool = False) -> None:
        self.log(metrics, self.last_step)
        self.writer.close()


class _MLflow:
    def __init__(self, experiment_dir: Path, experiment: str, key: str, name: str, config: dict[str, Any]):
        import mlflow

        self.mlflow = mlflow
        uri = os.environ.get("MLFLOW_TRACKING_URI") or (experiment_dir / "mlruns").resolve().as_uri()
        if uri.startswith("file:"):
            # MLflow keeps its file store for local use but asks for this opt-in; a local folder beside the
            # results is what a spec without a tracking server means.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(experiment)
        self.run = mlflow.start_run(run_name=name, tags={"xstilts.key": key})
        mlflow.log_params({k: str(v)[:MLFLOW_PARAM_LIMIT] for k, v in _flat(config).items()})

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.mlflow.log_metrics(_mlflow_names(metrics), step=step)

    def finish(self, metrics: dict[str, float], failed: bool = False) -> None:
        if metrics:
            self.mlflow.log_metrics(_mlflow_names(metrics))
        self.mlflow.end_run(status="FAILED" if failed else "FINISHED")


def _mlflow_names(metrics: dict[str, float]) -> dict[str, float]:
    return {name.replace("@", "_at_"): value for name, value in metrics.items()}  # map@20: "@" is not allowed


def _flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@dataclass
class StageRun:
    """One stage's run in every tracker the spec names. `log` is the sink the training loop calls."""

    sinks: list[_Sink]

    def log(self, metrics: dict[str, float], step: int) -> None:
        for sink in self.sinks:
            sink.log(metrics, step)

    def finish(self, metrics: dict[str, float], failed: bool = False) -> None:
        for sink in self.sinks:
            sink.finish(metrics, failed)


@dataclass(frozen=True)
class Tracking:
    """What a spec's `track:` asks for, where the experiment is, and its name (the MLflow experiment)."""

    trackers: tuple[str, ...]
    experiment_dir: Path
    experiment: str

    @contextmanager
    def stage(self, key: str, name: str, config: dict[str, Any]) -> Iterator[StageRun]:
        sinks: list[_Sink] = []
        for tracker in self.trackers:
            if tracker == "tensorboard":
                sinks.append(_TensorBoard(self.experiment_dir, key, name, config))
            elif tracker == "mlflow":
                sinks.append(_MLflow(self.experiment_dir, self.experiment, key, name, config))
        run = StageRun(sinks)
        try:
            yield run
        except BaseException:
            run.finish({}, failed=True)  # close what was opened; the failure itself is the runner's to report
            raise


@contextmanager
def stage_run(tracking: Tracking | None, key: str, name: str, config: dict[str, Any]) -> Iterator[StageRun | None]:
    """The stage's run, or None when the spec tracks nothing (the loop then gets no sink)."""
    if tracking is None or not tracking.trackers:
        yield None
        return
    with tracking.stage(key, name, config) as run:
        yield run
