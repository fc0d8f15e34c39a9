"""Plan -> execution: runs each stage that is not done yet, in dependency order, and records it.

Order of work: validate everything (spec, tasks, languages, files, file contents) before the experiment
directory is touched; then run the pending stages; a stage's checkpoint and its store row are written
only when it has finished. What a stage does is execute.py's; this module decides which stages run, holds
their locks and records them."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Protocol

import yaml
from rich.console import Console

from xstilts.encoders.loading import encoder_config
from xstilts.experiment import checkpoint
from xstilts.experiment.execute import StageContext, StageOutput, execute, write_atomic
from xstilts.experiment.locks import try_lock
from xstilts.experiment.plan import Plan, Stage, TrainStage, stage_record
from xstilts.experiment.preflight import check_lengths
from xstilts.experiment.store import Store
from xstilts.experiment.tracking import Tracking
from xstilts.spec import ModelSpec, Spec
from xstilts.tasks.loading import Source

POLL_SECONDS = 5.0  # how often a runner looks again when every remaining stage is held by another runner


class StageLauncher(Protocol):
    """Trains a stage in other processes (scale/launcher.py: `accelerate launch`), which write its checkpoint;
    the runner records the stage once the launch has succeeded."""

    def check(self) -> None: ...

    def train(self, ctx: StageContext, stage: TrainStage) -> StageOutput: ...


class Runner:
    def __init__(
        self,
        spec: Spec,
        plan: Plan,
        root: Path,
        experiment_dir: Path,
        console: Console,
        source: Source = "files",
        launcher: StageLauncher | None = None,
    ):
        if spec.launcher is not None and launcher is None:
            raise ValueError("a spec with a launcher needs a StageLauncher (xstilts.scale.launcher.stage_launcher)")
        self.spec, self.plan, self.dir, self.console = spec, plan, experiment_dir, console
        self.launcher = launcher
        tracking = Tracking(spec.track, experiment_dir, spec.name) if spec.track else None
        self.context = StageContext(plan, root, experiment_dir, console, source, tracking=tracking)

    def pending(self) -> list[Stage]:
        store_file = self.dir / Store.FILE
        if not store_file.exists():
            return list(self.plan.stages.values())
        store = Store(self.dir)
        try:
            return [s for s in self.plan.stages.values() if not self._finished(store, s)]
        finally:
            store.close()

    def _finished(self, store: Store, stage: Stage) -> bool:
        has_files = stage.kind != "train" or checkpoint.has_checkpoint(self.dir, stage.key)
        return store.is_done(stage.key) and has_files

    def preflight(self, stages: list[Stage]) -> None:
        """Read every data file and model the pending stages need, so bad input fails before anything is
        written."""
        if self.launcher is not None and any(stage.kind == "train" for stage in stages):
            self.launcher.check()
        configs: dict[ModelSpec, Any] = {}
        for stage in stages:
            self.context.tokenizer(stage.model)
            if stage.model not in configs:
                configs[stage.model] = encoder_config(stage.model)
            for task, split, lang in stage.reads():
                self.context.examples(task, split, lang)
        for stage in stages:  # once every file has been read: a data error is reported before a length
            ctx = self.context
            check_lengths(stage, ctx.tokenizer(stage.model), configs[stage.model], ctx.examples, ctx.task)

    def prepare(self) -> list[Stage]:
        """The stages still to run, with every input they need checked; nothing is written yet."""
        todo = self.pending()
        self.preflight(todo)
        return todo

    def run(self, todo: list[Stage] | None = None) -> None:
        todo = self.prepare() if todo is None else todo
        self.dir.mkdir(parents=True, exist_ok=True)
        write_atomic(
            self.dir / "spec.resolved.yaml", yaml.safe_dump(json.loads(self.spec.model_dump_json()), sort_keys=False)
        )
        store = Store(self.dir)
        try:
            store.record_runs((r.condition, r.target, r.seed, r.chain, r.eval_key, r.variant) for r in self.plan.runs)
            for stage in todo:
                # Recorded as done but its checkpoint was deleted: run it again. (A stage another runner
                # finished meanwhile has its checkpoint: it was written before the store row.)
                if store.is_done(stage.key) and not self._finished(store, stage):
                    store.forget(stage.key)
            self.console.print(
                f"[bold]{self.spec.name}[/]: {len(self.plan.stages)} unique stages "
                f"({self.plan.naive_stage_count} without sharing), {len(todo)} to run"
            )
            self._run_pending(store, todo)
        finally:
            store.close()

    def _run_pending(self, store: Store, todo: list[Stage]) -> None:
        """Run every pending stage whose parent is done, skipping stages another runner holds; when only held
        stages remain, wait for them. Several runners can share one experiment directory this way."""
        remaining = list(todo)  # dependency order
        while remaining:
            progressed = False
            for stage in list(remaining):
                if stage.parent is not None and not store.is_done(stage.parent):
                    continue  # its parent is still pending here or running elsewhere
                with try_lock(checkpoint.lock_path(self.dir, stage.key)) as mine:
                    if not mine:
                        continue
                    if not store.is_done(stage.key):
                        self._run_one(store, stage)
                    remaining.remove(stage)
                    progressed = True
            if remaining and not progressed:
                time.sleep(POLL_SECONDS)

    def _run_one(self, store: Store, stage: Stage) -> None:
        config = stage_record(stage)
        store.mark(stage.key, stage.kind, stage.task, config, "running", {"pid": os.getpid()})
        started = time.perf_counter()
        try:
            if self.launcher is not None and isinstance(stage, TrainStage):
                log, rows = self.launcher.train(self.context, stage)
            else:
                log, rows = execute(self.context, stage)
        except BaseException as err:
            store.mark(stage.key, stage.kind, stage.task, config, "failed", {"error": f"{type(err).__name__}: {err}"})
            err.add_note(f"stage {stage.key} ({stage.task}) is marked failed; finished stages are kept")
            raise
        store.finish_stage(stage.key, stage.kind, stage.task, config, time.perf_counter() - started, log, rows)
