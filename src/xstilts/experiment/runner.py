"""Plan -> execution: runs each stage that is not done yet, in dependency order, and records it.

Order of work: validate everything (spec, tasks, languages, files, file contents) before the experiment
directory is touched; then run the pending stages; a stage's checkpoint and its store row are written
only when it has finished. What a stage does is execute.py's; this module decides which stages run, holds
their locks and records them."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import yaml
from rich.console import Console

from xstilts.encoders.loading import encoder_config
from xstilts.errors import Terminated, one_line
from xstilts.experiment import checkpoint
from xstilts.experiment.execute import StageContext, StageOutput, execute, write_atomic
from xstilts.experiment.locks import runner_lease, try_lock
from xstilts.experiment.plan import Plan, Stage, TrainStage, stage_record
from xstilts.experiment.preflight import check_lengths, check_unchanged, data_files
from xstilts.experiment.store import Store
from xstilts.experiment.tracking import Tracking
from xstilts.spec import ModelSpec, Spec
from xstilts.tasks.loading import Source
from xstilts.training.allocator import release_free_memory

POLL_SECONDS = 5.0  # how often a runner looks again when every remaining stage is held by another runner


class StageLauncher(Protocol):
    """Trains a stage in other processes (launch/launcher.py: `accelerate launch`), which write its checkpoint;
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
            raise ValueError("a spec with a launcher needs a StageLauncher (xstilts.launch.launcher.stage_launcher)")
        self.spec, self.plan, self.dir, self.console = spec, plan, experiment_dir, console
        self.launcher = launcher
        tracking = Tracking(spec.track, experiment_dir, spec.name) if spec.track else None
        self.context = StageContext(plan, root, experiment_dir, console, source, tracking=tracking)
        self.damaged: dict[str, str] = {}  # training stages recorded done whose checkpoint cannot be reused
        self.data_files: dict[str, dict[str, str]] = {}  # per stage key: {data file: SHA-256} as preflight read it

    def pending(self) -> list[Stage]:
        """The stages not finished: never run, not done, or a training stage whose checkpoint is missing or
        damaged (self.damaged says why; run() trains those again)."""
        store_file = self.dir / Store.FILE
        if not store_file.exists():
            return list(self.plan.stages.values())
        store = Store(self.dir)
        try:
            done = {key for key in self.plan.stages if store.is_done(key)}
        finally:
            store.close()
        self.damaged = self._damaged(done)
        return [s for s in self.plan.stages.values() if s.key not in done]

    def _damaged(self, done: set[str]) -> dict[str, str]:
        """Removes from `done` the training stages whose checkpoint cannot be reused, and says why for each.
        The checkpoints a pending stage will read are checked in full (sizes and SHA-256, about 1 s per 0.5 GB);
        the others, which nothing reads in this run, by their sizes. A stage found damaged becomes pending, so
        its own parent is then read and checked in full too."""
        damaged: dict[str, str] = {}
        while True:
            readers = {s.parent for s in self.plan.stages.values() if s.key not in done and s.parent is not None}
            found = {}
            for key in sorted(done):
                if self.plan.stages[key].kind == "train":
                    problem = checkpoint.problem(self.dir, key, hashes=key in readers)
                    if problem is not None:
                        found[key] = problem
            if not found:
                return damaged
            damaged.update(found)
            done -= set(found)

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
            check_unchanged(stage, self.plan.tasks, self.context.root, self.context.source)
            if self.context.source == "files":  # what the stage reads, file by file (its key hashes them all)
                self.data_files[stage.key] = data_files(stage, self.plan.tasks, self.context.root)

    def prepare(self) -> list[Stage]:
        """The stages still to run, with every input they need checked; nothing is written yet."""
        todo = self.pending()
        self.preflight(todo)
        return todo

    def run(self, todo: list[Stage] | None = None) -> None:
        todo = self.prepare() if todo is None else todo
        self.dir.mkdir(parents=True, exist_ok=True)
        spec_file = self.dir / "spec.resolved.yaml"
        spec_text = yaml.safe_dump(json.loads(self.spec.model_dump_json()), sort_keys=False)
        with runner_lease(self.dir, spec_file, spec_text, lambda: write_atomic(spec_file, spec_text)):
            self._run_stages(todo)

    def _run_stages(self, todo: list[Stage]) -> None:
        store = Store(self.dir)
        try:
            store.record_runs((r.condition, r.target, r.seed, r.chain, r.eval_key, r.variant) for r in self.plan.runs)
            for stage in todo:
                # Recorded as done but its checkpoint was deleted or damaged: run it again. (A stage another
                # runner finished meanwhile has its checkpoint: it was written before the store row.)
                if stage.key in self.damaged and store.is_done(stage.key):
                    self.console.print(
                        f"  [yellow]note[/] stage {stage.key} ({stage.task}) is trained again: "
                        f"{self.damaged[stage.key]}",
                        highlight=False,
                        soft_wrap=True,  # one line, however long the path
                    )
                    store.forget(stage.key)
            self.console.print(
                f"[bold]{self.spec.name}[/]: {len(self.plan.stages)} unique stages "
                f"({self.plan.naive_stage_count} without sharing), {len(todo)} to run"
            )
            with _sigterm_as_interrupt():
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
            # Ctrl-C and SIGTERM leave the stage "interrupted", anything else "failed" with the line the user
            # sees as its reason. On a full disk the mark itself may fail: the error that stopped the stage is
            # what the user must see, so that failure is only a note.
            status = "interrupted" if isinstance(err, KeyboardInterrupt) else "failed"
            try:
                store.mark(stage.key, stage.kind, stage.task, config, status, {"error": one_line(err, self.dir)})
            except (OSError, sqlite3.Error) as mark_error:
                err.add_note(f"stage {stage.key} could not be marked {status} ({one_line(mark_error, self.dir)})")
            else:
                err.add_note(f"stage {stage.key} ({stage.task}) is marked {status}; finished stages are kept")
            raise
        finally:
            release_free_memory()  # what the stage freed goes back to the system before the next one starts
        if stage.key in self.data_files:
            log = {**log, "data_files": self.data_files[stage.key]}
        store.finish_stage(stage.key, stage.kind, stage.task, config, time.perf_counter() - started, log, rows)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (a cluster scheduler's pre-emption, `kill PID`) raises Terminated, a KeyboardInterrupt, in the
    main thread, so the running stage is marked interrupted and the locks and store are closed as for Ctrl-C;
    the CLI then exits with 143. Python's default would end the process at once, leaving the stage "running"."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def terminate(signum: int, frame: object) -> None:
        raise Terminated(f"terminated by signal {signum} (SIGTERM)")

    before = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)
