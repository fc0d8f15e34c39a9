"""Plan -> execution: runs each stage that is not done yet, in dependency order, and records it.

Order of work: validate everything (spec, tasks, languages, files, file contents) before the experiment
directory is touched; then run the pending stages; a stage's checkpoint and its store row are written
only when it has finished."""

from __future__ import annotations

import json
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
from xstilts.evaluate import predict
from xstilts.formats import FORMATS
from xstilts.hardware import device, use_bf16
from xstilts.model import TaskModel
from xstilts.models.loading import load_encoder, load_tokenizer
from xstilts.plan import EvalStage, Plan, Stage, TrainStage
from xstilts.spec import ModelSpec, Spec
from xstilts.store import AVERAGE, ResultRow, Store
from xstilts.tasks import REGISTRY
from xstilts.tasks.examples import Example
from xstilts.train import train


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
            self.tokenizer(self.model_spec(stage))
            for task, split, lang in stage.reads():
                self.examples(task, split, lang)

    def run(self) -> None:
        todo = self.pending()
        self.preflight(todo)
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "spec.resolved.yaml").write_text(
            yaml.safe_dump(json.loads(self.spec.model_dump_json()), sort_keys=False)
        )
        store = Store(self.dir)
        try:
            store.record_runs((r.condition, r.target, r.seed, r.chain, r.eval_key) for r in self.plan.runs)
            todo_keys = {s.key for s in todo}
            self.console.print(
                f"[bold]{self.spec.name}[/]: {len(self.plan.stages)} unique stages "
                f"({self.plan.naive_stage_count} without sharing), {len(todo_keys)} to run"
            )
            for stage in self.plan.stages.values():
                if stage.key not in todo_keys:
                    self.console.print(f"  [dim]done[/]  {stage.kind} {stage.task} ({stage.key})")
                    continue
                started = time.perf_counter()
                log, rows = {"train": self.train_stage, "evaluate": self.eval_stage}[stage.kind](stage)
                store.finish_stage(
                    stage.key, stage.kind, stage.task, asdict(stage), time.perf_counter() - started, log, rows
                )
        finally:
            store.close()

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

    def model_spec(self, stage: Stage) -> ModelSpec:
        """Evaluation stages use the model of the training stage they evaluate."""
        return stage.model if isinstance(stage, TrainStage) else self.plan.stages[stage.parent].model  # type: ignore[union-attr]

    def build_model(
        self, model_spec: ModelSpec, task_name: str, seed: int, encoder_from: str | None, head_from: str | None
    ) -> tuple[TaskModel, dict[str, str]]:
        """The encoder, pretrained or carried over from a stage, and the task's head, new or from a stage."""
        task = REGISTRY[task_name]
        fmt = FORMATS[task.format]
        encoder = load_encoder(model_spec)
        torch.manual_seed(seed)  # a new head's initial weights depend on the seed only
        model = TaskModel(encoder, fmt.make_head(encoder.config.hidden_size, task), fmt).to(device())
        init = {"encoder": f"pretrained {model_spec.name}", "head": f"new {task.format} head"}
        if encoder_from is not None:
            n = checkpoint.load_weights(self.dir, encoder_from, checkpoint.ENCODER, model.encoder)
            init["encoder"] = f"{n} encoder tensors from stage {encoder_from} ({self.plan.stages[encoder_from].task})"
        if head_from is not None:
            n = checkpoint.load_weights(self.dir, head_from, checkpoint.HEAD, model.head)
            init["head"] = f"{n} head tensors from stage {head_from}"
        return model, init

    # -- the two stage kinds ---------------------------------------------------------------------------
    def train_stage(self, stage: TrainStage) -> tuple[dict, list[ResultRow]]:
        task, config = REGISTRY[stage.task], stage.config
        fmt, tokenizer = FORMATS[task.format], self.tokenizer(stage.model)
        examples = [e for lang in stage.languages for e in self.examples(task.name, stage.split, lang)]
        examples = subsample(examples, stage.max_train_examples, stage.data_seed)
        features = fmt.encode(examples, tokenizer, task, config.max_length)
        model, init = self.build_model(stage.model, task.name, stage.seed, stage.parent, None)
        self.console.print(
            f"  [cyan]train[/] {task.name} on {len(examples)} examples ({stage.key}): "
            f"encoder = {init['encoder']}; head = {init['head']}"
        )
        bf16 = use_bf16(config.precision, device())
        dev_score = None
        if stage.dev_split is not None:
            dev = subsample(self.examples(task.name, stage.dev_split, "en"), config.max_dev_examples, stage.data_seed)
            dev_features = fmt.encode(dev, tokenizer, task, config.eval_max_length)

            def dev_score() -> float:
                preds = predict(model, task, dev_features, config.eval_batch_size, tokenizer.pad_token_id, bf16)
                return next(iter(fmt.score(preds, dev, task).values()))

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
        log = {"init": init, "examples": len(examples), "bf16": bf16, "report": asdict(report)}
        checkpoint.save(self.dir, stage.key, model.encoder, model.head, {"stage": asdict(stage), **log})
        self.console.print(
            f"        {report.steps} steps in {report.seconds:.0f}s, final loss "
            f"{report.final_loss:.4f}, selected {report.selected}"
        )
        return log, []

    def eval_stage(self, stage: EvalStage) -> tuple[dict, list[ResultRow]]:
        task = REGISTRY[stage.task]
        fmt = FORMATS[task.format]
        model_spec = self.model_spec(stage)
        tokenizer = self.tokenizer(model_spec)
        model, init = self.build_model(model_spec, task.name, stage.seed, stage.parent, stage.parent)
        bf16 = use_bf16(stage.precision, device())
        rows, per_language = [], {}
        folder = checkpoint.stage_dir(self.dir, stage.key)
        folder.mkdir(parents=True, exist_ok=True)
        for lang in stage.languages:
            examples = subsample(self.examples(task.name, stage.split, lang), stage.max_eval_examples, stage.data_seed)
            features = fmt.encode(examples, tokenizer, task, stage.eval_max_length)
            preds = predict(model, task, features, stage.eval_batch_size, tokenizer.pad_token_id, bf16)
            _write_predictions(folder / f"predictions-{lang}.jsonl", preds)
            scores = fmt.score(preds, examples, task)
            per_language[lang] = scores
            rows += [
                ResultRow(
                    stage.key,
                    task.name,
                    task.version,
                    lang,
                    stage.split,
                    metric,
                    value,
                    len(examples),
                    stage.seed,
                )
                for metric, value in scores.items()
            ]
        for metric in next(iter(per_language.values())):
            avg = mean(s[metric] for s in per_language.values())
            rows.append(
                ResultRow(
                    stage.key,
                    task.name,
                    task.version,
                    AVERAGE,
                    stage.split,
                    metric,
                    avg,
                    len(per_language),
                    stage.seed,
                )
            )
        summary = ", ".join(f"{lang} {next(iter(s.values())):.1f}" for lang, s in per_language.items())
        self.console.print(f"  [green]eval[/]  {task.name} ({stage.key}): {summary}")
        return {"init": init, "bf16": bf16, "scores": per_language}, rows


def _write_predictions(path: Path, predictions: list[Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in predictions), encoding="utf-8")
    tmp.replace(path)
