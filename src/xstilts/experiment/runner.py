"""Plan -> execution: runs each stage that is not done yet, in dependency order, and records it.

Order of work: validate everything (spec, tasks, languages, files, file contents) before the experiment
directory is touched; then run the pending stages; a stage's checkpoint and its store row are written
only when it has finished."""

from __future__ import annotations

import itertools
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

from xstilts.encoders.loading import encoder_config, load_encoder, load_tokenizer
from xstilts.errors import ModelError
from xstilts.experiment import checkpoint
from xstilts.experiment.locks import try_lock
from xstilts.experiment.plan import EvalStage, Plan, Stage, TrainStage, stage_record
from xstilts.experiment.store import AVERAGE, ResultRow, Store
from xstilts.formats import Feature, make_format
from xstilts.scale.launcher import check_launchable, launch_stage
from xstilts.spec import ModelSpec, Spec
from xstilts.tasks import REGISTRY, TaskDef
from xstilts.tasks.examples import Example
from xstilts.tasks.loading import Source, load_examples, subsample
from xstilts.training import feature_cache
from xstilts.training.device import device, use_bf16
from xstilts.training.distributed import Parallel
from xstilts.training.evaluate import evaluate
from xstilts.training.sampling import task_probabilities
from xstilts.training.task_model import TaskModel
from xstilts.training.train import train

POLL_SECONDS = 5.0  # how often a runner looks again when every remaining stage is held by another runner


class Runner:
    parallel: Parallel | None = None  # set by xstilts.scale.worker, in a process of an `accelerate launch`

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
        if self.spec.launcher is not None and any(stage.kind == "train" for stage in stages):
            check_launchable()
        for stage in stages:
            self.tokenizer(stage.model)
            encoder_config(stage.model)
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
            log, rows = {"train": self._train_here_or_launched, "evaluate": self.eval_stage}[stage.kind](stage)
        except BaseException as err:
            store.mark(stage.key, stage.kind, stage.task, config, "failed", {"error": f"{type(err).__name__}: {err}"})
            raise
        store.finish_stage(stage.key, stage.kind, stage.task, config, time.perf_counter() - started, log, rows)

    def _train_here_or_launched(self, stage: TrainStage) -> tuple[dict, list[ResultRow]]:
        # With a `launcher:`, the stage trains in the processes of an `accelerate launch` (launcher.py), which
        # write the same checkpoint; this process records the stage only once the launch has succeeded.
        if self.spec.launcher is None:
            return self.train_stage(stage)
        return launch_stage(self, stage)

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

    def build_models(
        self, stage: Stage, tasks: list[tuple[TaskDef, dict]], head_map: dict[str, str], strict: bool
    ) -> tuple[dict[str, TaskModel], dict[str, Any]]:
        """One TaskModel per task, all sharing one encoder: pretrained, or carried over from the parent stage.
        Heads start new unless `head_map` ({parent's task: this stage's task}) names a parent head to take;
        with `strict`, a named head that is missing or does not fit is an error, else it is skipped."""
        encoder = load_encoder(stage.model)
        init: dict[str, Any] = {"encoder": f"pretrained {stage.model.name}", "heads": {}}
        if stage.parent is not None:
            state = checkpoint.read(self.dir, stage.parent, checkpoint.ENCODER)
            n = checkpoint.load_into(encoder, state, f"stage {stage.parent}")
            init["encoder"] = f"{n} encoder tensors from stage {stage.parent} ({self.plan.stages[stage.parent].task})"
        parent_heads = (
            checkpoint.heads_of(checkpoint.read(self.dir, stage.parent, checkpoint.HEADS)) if head_map else {}
        )
        torch.manual_seed(stage.seed)  # new heads' initial weights depend on the seed only
        models = {}
        for task, options in tasks:
            fmt = make_format(task.format, options)
            head = fmt.make_head(encoder.config, task)
            init["heads"][task.name] = f"new {task.format} head"
            source = next((src for src, dst in head_map.items() if dst == task.name), None)
            if source is not None and _fits(head, parent_heads.get(source)):
                n = checkpoint.load_into(head, parent_heads[source], f"stage {stage.parent} head '{source}'")
                init["heads"][task.name] = f"{n} tensors of the '{source}' head from stage {stage.parent}"
            elif source is not None and strict:
                raise ModelError(
                    f"stage {stage.parent} has no '{source}' head that fits {task.name}'s {task.format} head"
                )
            models[task.name] = TaskModel(encoder, head, fmt).to(device())
        return models, init

    def _head_map(self, stage: TrainStage) -> dict[str, str]:
        if stage.parent is None or stage.handoff == "encoder":
            return {}
        if isinstance(stage.handoff, dict):
            return dict(stage.handoff)
        return {p.task: p.task for p in self.plan.stages[stage.parent].parts}  # type: ignore[union-attr]

    # -- the two stage kinds ---------------------------------------------------------------------------
    def train_stage(self, stage: TrainStage) -> tuple[dict, list[ResultRow]]:
        config, tokenizer = stage.config, self.tokenizer(stage.model)
        tasks = [(REGISTRY[p.task], p.format_options) for p in stage.parts]
        models, init = self.build_models(stage, tasks, self._head_map(stage), strict=isinstance(stage.handoff, dict))
        features, examples, groups = {}, {}, {}
        for part in stage.parts:
            pooled = [(lang, e) for lang in part.languages for e in self.examples(part.task, part.split, lang)]
            chosen = subsample(pooled, part.max_train_examples, stage.data_seed)  # type: ignore[arg-type]
            examples[part.task] = [e for _, e in chosen]
            by_language = config.language_batches == "per_language" and len(part.languages) > 1
            features[part.task], groups[part.task] = self._features(
                models[part.task],
                part.task,
                chosen if by_language else [("", e) for _, e in chosen],  # one group: batches mix languages
                tokenizer,
                config.max_length,
            )
        sizes = {name: len(f) for name, f in features.items()}
        probabilities = task_probabilities(sizes, stage.sampler) if len(sizes) > 1 else None
        self.console.print(
            f"  [cyan]train[/] {stage.task} on {', '.join(f'{n} {t}' for t, n in sizes.items())} ({stage.key}): "
            f"encoder = {init['encoder']}; heads = {init['heads']}",
            highlight=False,
        )
        bf16 = use_bf16(config.precision, device())
        report = train(
            models,
            features,
            config,
            stage.seed,
            tokenizer.pad_token_id,
            bf16,
            self._dev_score(stage, models, tokenizer, bf16),
            label=f"{stage.task} [{stage.key[:8]}]",
            probabilities=probabilities,
            parallel=self.parallel,
            groups=groups,
        )
        log = {
            "init": init,
            "examples": {t: len(e) for t, e in examples.items()},
            "features": sizes,
            "bf16": bf16,
            "report": asdict(report),
        }
        self.save_checkpoint(stage.key, models, {"stage": stage_record(stage), **log})
        mix = f", batches per task {report.batches}" if len(sizes) > 1 else ""
        self.console.print(
            f"        {report.steps} steps in {report.seconds:.0f}s, final loss "
            f"{report.final_loss:.4f}, selected {report.selected}{mix}",
            highlight=False,
        )
        return log, []

    def _features(
        self, model: TaskModel, task: str, chosen: list[tuple[str, Example]], tokenizer: Any, max_length: int
    ) -> tuple[list[Feature], list[str]]:
        """Features of (group, example) pairs in order, and each feature's group. Examples are featurised one
        group at a time, because one example may give several features (QA windows)."""
        features: list[Feature] = []
        groups: list[str] = []
        for group, members in itertools.groupby(chosen, key=lambda pair: pair[0]):
            encoded = feature_cache.encode(model.fmt, [e for _, e in members], tokenizer, REGISTRY[task], max_length)
            features += encoded
            groups += [group] * len(encoded)
        return features, groups

    def save_checkpoint(self, key: str, models: dict[str, TaskModel], info: dict) -> None:
        heads = {name: model.head for name, model in models.items()}
        checkpoint.save(self.dir, key, next(iter(models.values())).encoder, heads, info)

    def _dev_score(self, stage: TrainStage, models: dict[str, TaskModel], tokenizer: Any, bf16: bool):  # noqa: ANN202
        """The mean over tasks of each task's first metric on English dev (higher is better), or None."""
        parts = [p for p in stage.parts if p.dev_split is not None]
        if not parts:
            return None
        config = stage.config
        dev = {
            p.task: subsample(self.examples(p.task, p.dev_split, "en"), config.max_dev_examples, stage.data_seed)
            for p in parts
        }  # type: ignore[arg-type]

        def score() -> float:
            values = []
            for task, examples in dev.items():
                _, scores = evaluate(
                    models[task],
                    REGISTRY[task],
                    examples,
                    "en",
                    tokenizer,
                    config.eval_max_length,
                    config.eval_batch_size,
                    bf16,
                )
                values.append(next(iter(scores.values())))
            return mean(values)

        return score

    def eval_stage(self, stage: EvalStage) -> tuple[dict, list[ResultRow]]:
        task, tokenizer = REGISTRY[stage.task], self.tokenizer(stage.model)
        # The head comes from the target's training stage (trained on task or its train_task); formats that do
        # not train (retrieval) use the encoder alone.
        head_map = {}
        if make_format(task.format, stage.format_options).trains:
            head_map = {self.plan.stages[stage.parent].parts[0].task: task.name}  # type: ignore[union-attr]
        models, init = self.build_models(stage, [(task, stage.format_options)], head_map, strict=True)
        model = models[task.name]
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


def _fits(module: torch.nn.Module, state: dict[str, torch.Tensor] | None) -> bool:
    """Whether `state` has exactly `module`'s tensors with the same shapes (heads of equal task and size)."""
    own = module.state_dict()
    return state is not None and own.keys() == state.keys() and all(own[k].shape == state[k].shape for k in own)
