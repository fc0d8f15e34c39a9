"""Plan -> execution: runs each stage that is not done yet, in dependency order, and records it.

Order of work: validate everything (spec, tasks, languages, files, file contents) before the experiment
directory is touched; then run the pending stages; a stage's checkpoint and its store row are written
only when it has finished."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from statistics import mean
from typing import Any

import torch
import yaml
from rich.console import Console

from xstilts import checkpoint
from xstilts.data import Source, load_examples, subsample
from xstilts.evaluate import evaluate
from xstilts.formats import make_format
from xstilts.hardware import device, use_bf16
from xstilts.locks import try_lock
from xstilts.model import TaskModel
from xstilts.models.loading import load_encoder, load_tokenizer
from xstilts.plan import EvalStage, Plan, Stage, TrainStage
from xstilts.spec import ModelSpec, Spec
from xstilts.store import AVERAGE, ResultRow, Store
from xstilts.tasks import REGISTRY
from xstilts.tasks.examples import Example
from xstilts.train import train

POLL_SECONDS = 5.0  # how often a runner looks again when every remaining stage is held by another runner


class Runner:
    def __init__(
        self,
        spec: Spec,
        plan: Plan,
        root: Path,
        experiment_dir: Path,
        console: Console,
        source: Source = "files",
    ):
        self.spec, self.plan, self.root, self.dir = spec, plan, root, experiment_dir
        self.console, self.source = console, source
        self._examples: dict[tuple[str, str, str], list[Example]] = {}
        self._tokenizers: dict[str, Any] = {}

    # -- orchestration ---------------------------------------------------------------------------------
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
        for stage in stages:
            self.tokenizer(stage.model)
            for task, split, lang in stage.reads():
                self.examples(task, split, lang)

    def prepare(self) -> list[Stage]:
        """The stages still to run, with every input they need checked; nothing is written yet."""
        todo = self.pending()
        self.preflight(todo)
        return todo

    def run(self, todo: list[Stage] | None = None) -> None:
        todo = self.prepare() if todo is None else todo
        self.dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(
            self.dir / "spec.resolved.yaml", yaml.safe_dump(json.loads(self.spec.model_dump_json()), sort_keys=False)
        )
        store = Store(self.dir)
        try:
            store.record_runs((r.condition, r.target, r.seed, r.chain, r.eval_key) for r in self.plan.runs)
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
        config = asdict(stage)
        store.mark(stage.key, stage.kind, stage.task, config, "running", {"pid": os.getpid()})
        started = time.perf_counter()
        try:
            log, rows = {"train": self.train_stage, "evaluate": self.eval_stage}[stage.kind](stage)
        except BaseException as err:
            store.mark(stage.key, stage.kind, stage.task, config, "failed", {"error": f"{type(err).__name__}: {err}"})
            raise
        store.finish_stage(stage.key, stage.kind, stage.task, config, time.perf_counter() - started, log, rows)

    # -- data and models -------------------------------------------------------------------------------
    def examples(self, task: str, split: str, lang: str) -> list[Example]:
        key = (task, split, lang)
        if key not in self._examples:
            self._examples[key] = load_examples(REGISTRY[task], split, lang, self.root, self.source)
        return self._examples[key]

    def tokenizer(self, model: ModelSpec) -> Any:
        if model.name not in self._tokenizers:
            self._tokenizers[model.name] = load_tokenizer(model)
        return self._tokenizers[model.name]

    def build_model(
        self, stage: Stage, encoder_from: str | None, head_from: str | None
    ) -> tuple[TaskModel, dict[str, str]]:
        """The encoder, pretrained or carried over from a stage, and the task's head, new or from a stage."""
        task = REGISTRY[stage.task]
        fmt = make_format(task.format, stage.format_options)
        encoder = load_encoder(stage.model)
        torch.manual_seed(stage.seed)  # a new head's initial weights depend on the seed only
        model = TaskModel(encoder, fmt.make_head(encoder.config, task), fmt).to(device())
        init = {"encoder": f"pretrained {stage.model.name}", "head": f"new {task.format} head"}
        if encoder_from is not None:
            n = checkpoint.load_weights(self.dir, encoder_from, checkpoint.ENCODER, model.encoder)
            init["encoder"] = f"{n} encoder tensors from stage {encoder_from} ({self.plan.stages[encoder_from].task})"
        if head_from is not None:
            n = checkpoint.load_weights(self.dir, head_from, checkpoint.HEAD, model.head)
            init["head"] = f"{n} head tensors from stage {head_from}"
        return model, init

    # -- the two stage kinds ---------------------------------------------------------------------------
    def train_stage(self, stage: TrainStage) -> tuple[dict, list[ResultRow]]:
        task, config, tokenizer = REGISTRY[stage.task], stage.config, self.tokenizer(stage.model)
        examples = [e for lang in stage.languages for e in self.examples(task.name, stage.split, lang)]
        examples = subsample(examples, stage.max_train_examples, stage.data_seed)
        model, init = self.build_model(stage, encoder_from=stage.parent, head_from=None)
        features = model.fmt.encode(examples, tokenizer, task, config.max_length)
        self.console.print(
            f"  [cyan]train[/] {task.name} on {len(examples)} examples ({stage.key}): "
            f"encoder = {init['encoder']}; head = {init['head']}"
        )
        bf16 = use_bf16(config.precision, device())
        dev_score = None
        if stage.dev_split is not None:
            dev = subsample(self.examples(task.name, stage.dev_split, "en"), config.max_dev_examples, stage.data_seed)

            def dev_score() -> float:  # the task's first metric on English dev, higher is better
                _, scores = evaluate(
                    model, task, dev, "en", tokenizer, config.eval_max_length, config.eval_batch_size, bf16
                )
                return next(iter(scores.values()))

        report = train(
            model,
            features,
            config,
            stage.seed,
            tokenizer.pad_token_id,
            bf16,
            dev_score,
            label=f"{task.name} [{stage.key[:8]}]",
        )
        log = {
            "init": init,
            "examples": len(examples),
            "features": len(features),
            "bf16": bf16,
            "report": asdict(report),
        }
        checkpoint.save(self.dir, stage.key, model.encoder, model.head, {"stage": asdict(stage), **log})
        self.console.print(
            f"        {report.steps} steps in {report.seconds:.0f}s, final loss "
            f"{report.final_loss:.4f}, selected {report.selected}"
        )
        return log, []

    def eval_stage(self, stage: EvalStage) -> tuple[dict, list[ResultRow]]:
        task, tokenizer = REGISTRY[stage.task], self.tokenizer(stage.model)
        fmt = make_format(task.format, stage.format_options)
        model, init = self.build_model(stage, encoder_from=stage.parent, head_from=stage.parent if fmt.trains else None)
        bf16 = use_bf16(stage.precision, device())
        folder = checkpoint.stage_dir(self.dir, stage.key)
        folder.mkdir(parents=True, exist_ok=True)
        rows, per_language = [], {}
        for lang in stage.languages:
            examples = subsample(self.examples(task.name, stage.split, lang), stage.max_eval_examples, stage.data_seed)
            predictions, scores = evaluate(
                model, task, examples, lang, tokenizer, stage.eval_max_length, stage.eval_batch_size, bf16
            )
            _write_predictions(folder / f"predictions-{lang}.jsonl", model.fmt.export(predictions))
            per_language[lang] = scores
            rows += [self._row(stage, lang, metric, value, len(examples)) for metric, value in scores.items()]
        for metric in next(iter(per_language.values())):
            average = mean(s[metric] for s in per_language.values())
            rows.append(self._row(stage, AVERAGE, metric, average, len(per_language)))
        summary = ", ".join(f"{lang} {next(iter(s.values())):.1f}" for lang, s in per_language.items())
        self.console.print(f"  [green]eval[/]  {task.name} ({stage.key}): {summary}")
        return {"init": init, "bf16": bf16, "scores": per_language}, rows

    @staticmethod
    def _row(stage: EvalStage, lang: str, metric: str, value: float, n: int) -> ResultRow:
        return ResultRow(stage.key, stage.task, stage.task_version, lang, stage.split, metric, value, n, stage.seed)


def _write_predictions(path: Path, predictions: list[Any]) -> None:
    _write_atomic(path, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in predictions))


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
