"""Stage execution: what one training or one evaluation stage does, given the stage and a StageContext.

The runner (orchestration: pending stages, locks, store), the launched worker processes of an `accelerate
launch` (launch/worker.py) and the launcher all execute stages through these functions; what differs between
them is only the context: a worker trains on its shard of each batch (`parallel`) and gathers sharded weights
before process 0 saves them (`save`)."""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import mean
from typing import Any

import torch
from rich.console import Console

from xstilts.encoders.loading import encoder_with_weights, load_encoder, load_tokenizer
from xstilts.errors import ModelError, UserError
from xstilts.experiment import checkpoint
from xstilts.experiment.plan import EvalStage, Plan, Stage, TrainStage, stage_record
from xstilts.experiment.store import AVERAGE, ResultRow
from xstilts.experiment.tracking import Tracking, stage_run
from xstilts.formats import Feature, make_format
from xstilts.spec import ModelSpec
from xstilts.tasks import TaskDef
from xstilts.tasks.examples import Example
from xstilts.tasks.loading import ExampleCache, Source, subsample
from xstilts.training import feature_cache
from xstilts.training.device import captures_graphs, device, use_bf16
from xstilts.training.distributed import Parallel
from xstilts.training.evaluate import evaluate
from xstilts.training.reuse import EncoderSlots
from xstilts.training.sampling import task_probabilities
from xstilts.training.task_model import TaskModel, new_task_models
from xstilts.training.train import train

StageOutput = tuple[dict[str, Any], list[ResultRow]]  # the stage's log, and its result rows (evaluations only)
SaveCheckpoint = Callable[[Path, str, dict[str, TaskModel], dict[str, Any]], None]


def save_checkpoint(experiment_dir: Path, key: str, models: dict[str, TaskModel], info: dict[str, Any]) -> None:
    """The shared encoder and every task's head, as checkpoint.save writes them (atomically)."""
    heads = {name: model.head for name, model in models.items()}
    checkpoint.save(experiment_dir, key, next(iter(models.values())).encoder, heads, info)


@dataclass
class StageContext:
    """What executing a stage needs besides the stage: the plan (its task table and parent stages), where data
    and checkpoints are, and caches of examples and tokenizers shared by the stages of one process."""

    plan: Plan
    root: Path  # the data directory
    dir: Path  # the experiment directory
    console: Console
    source: Source = "files"
    save: SaveCheckpoint = save_checkpoint
    parallel: Parallel | None = None  # set in the processes of an `accelerate launch`
    tracking: Tracking | None = None  # the spec's `track:` trackers; None: nothing is logged
    examples: ExampleCache = field(init=False, repr=False)  # ctx.examples(task, split, lang), each read once
    _tokenizers: dict[str, Any] = field(default_factory=dict, repr=False)
    # The encoder the last training stage of this process left, by its key: its children take it from here
    # instead of reading it back from disk (one encoder at most, to bound memory).
    trained: tuple[str, torch.nn.Module] | None = field(default=None, repr=False)
    # On the compiled GPU path: the one encoder module every training stage of this process trains in (weights
    # copied in), so that its compiled code and CUDA graphs replay instead of recording again; and the last
    # trained weights held apart from it (xstilts.training.reuse).
    slots: EncoderSlots = field(default_factory=EncoderSlots, repr=False)

    def __post_init__(self) -> None:
        self.examples = ExampleCache(self.plan.tasks, self.root, self.source)

    def task(self, name: str) -> TaskDef:
        return self.plan.tasks[name]

    def tokenizer(self, model: ModelSpec) -> Any:
        if model.name not in self._tokenizers:
            self._tokenizers[model.name] = load_tokenizer(model)
        return self._tokenizers[model.name]


def execute(ctx: StageContext, stage: Stage) -> StageOutput:
    return train_stage(ctx, stage) if isinstance(stage, TrainStage) else eval_stage(ctx, stage)


# -- models ------------------------------------------------------------------------------------------------
def build_models(
    ctx: StageContext, stage: Stage, tasks: list[tuple[TaskDef, dict]], head_map: dict[str, str], strict: bool
) -> tuple[dict[str, TaskModel], dict[str, Any]]:
    """One TaskModel per task, all sharing one encoder: pretrained, or carried over from the parent stage.
    Heads start new unless `head_map` ({parent's task: this stage's task}) names a parent head to take;
    with `strict`, a named head that is missing or does not fit is an error, else it is skipped."""
    encoder, init = _encoder(ctx, stage)
    parent_heads = checkpoint.heads_of(checkpoint.read(ctx.dir, stage.parent, checkpoint.HEADS)) if head_map else {}
    models = new_task_models(encoder, tasks, stage.seed, device())
    for task, _ in tasks:
        head = models[task.name].head
        init["heads"][task.name] = f"new {task.format} head"
        source = next((src for src, dst in head_map.items() if dst == task.name), None)
        if source is not None and _fits(head, parent_heads.get(source)):
            n = checkpoint.load_into(head, parent_heads[source], f"stage {stage.parent} head '{source}'")
            init["heads"][task.name] = f"{n} tensors of the '{source}' head from stage {stage.parent}"
        elif source is not None and strict:
            raise ModelError(f"stage {stage.parent} has no '{source}' head that fits {task.name}'s {task.format} head")
    return models, init


def _encoder(ctx: StageContext, stage: Stage) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The stage's starting encoder; a training stage's on the compiled GPU path is the process's one working
    encoder with these weights copied in (xstilts.training.reuse)."""
    encoder, init = _starting_encoder(ctx, stage)
    if isinstance(stage, TrainStage) and _reuses_encoder(ctx):
        encoder = ctx.slots.start(encoder)
    return encoder, init


def _reuses_encoder(ctx: StageContext) -> bool:
    return captures_graphs(device()) and ctx.parallel is None


def _starting_encoder(ctx: StageContext, stage: Stage) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The stage's starting weights: pretrained; its parent's from memory when this process just trained it;
    else its parent's checkpoint, built from the config: of the pretrained weights, only the tensors the
    checkpoint points at (frozen ones) are read. A training stage takes the encoder in memory itself, not a
    copy, and the process forgets it (it would hold the stage's own encoder after the stage anyway): one encoder
    in memory while a stage trains, not two; a later reader of that parent reads its checkpoint. (On the
    compiled path the weights are copied into the working encoder: xstilts.training.reuse.)"""
    held = ctx.trained
    if isinstance(stage, TrainStage):
        ctx.trained = None
    if stage.parent is None:
        return load_encoder(stage.model), {"encoder": f"pretrained {stage.model.name}", "heads": {}}
    parent = f"stage {stage.parent} ({ctx.plan.stages[stage.parent].task})"
    if held is not None and held[0] == stage.parent and ctx.parallel is None:
        encoder = held[1]
        if isinstance(stage, TrainStage):
            for param in encoder.parameters():
                param.requires_grad_(True)  # as a loaded encoder comes; the parent may have frozen some
        n = len(encoder.state_dict())
        return encoder, {"encoder": f"{n} encoder tensors from {parent}, in memory", "heads": {}}
    state, pretrained = checkpoint.encoder_state(ctx.dir, stage.parent)
    encoder = encoder_with_weights(stage.model, state, pretrained, f"stage {stage.parent}")
    n = len(state) + len(pretrained)
    return encoder, {"encoder": f"{n} encoder tensors from {parent}", "heads": {}}


def _head_map(ctx: StageContext, stage: TrainStage) -> dict[str, str]:
    if stage.parent is None or stage.handoff == "encoder":
        return {}
    if isinstance(stage.handoff, dict):
        return dict(stage.handoff)
    return {p.task: p.task for p in ctx.plan.stages[stage.parent].parts}  # type: ignore[union-attr]


def _fits(module: torch.nn.Module, state: dict[str, torch.Tensor] | None) -> bool:
    """Whether `state` has exactly `module`'s tensors with the same shapes (heads of equal task and size)."""
    own = module.state_dict()
    return state is not None and own.keys() == state.keys() and all(own[k].shape == state[k].shape for k in own)


# -- training ------------------------------------------------------------------------------------------------
def train_stage(ctx: StageContext, stage: TrainStage) -> StageOutput:
    config, tokenizer = stage.config, ctx.tokenizer(stage.model)
    tasks = [(ctx.task(p.task), p.format_options) for p in stage.parts]
    models, init = build_models(ctx, stage, tasks, _head_map(ctx, stage), strict=isinstance(stage.handoff, dict))
    features, examples, groups = {}, {}, {}
    for part in stage.parts:
        chosen = part.draw(lambda lang, p=part: ctx.examples(p.task, p.split, lang), stage.data_seed)
        examples[part.task] = [e for _, e in chosen]
        by_language = config.language_batches == "per_language" and len(part.languages) > 1
        features[part.task], groups[part.task] = _features(
            ctx,
            models[part.task],
            part.task,
            chosen if by_language else [("", e) for _, e in chosen],  # one group: batches mix languages
            tokenizer,
            config.max_length,
        )
    sizes = {name: len(f) for name, f in features.items()}
    probabilities = task_probabilities(sizes, stage.sampler) if len(sizes) > 1 else None
    ctx.console.print(
        f"  [cyan]train[/] {stage.task} on {', '.join(f'{n} {t}' for t, n in sizes.items())} ({stage.key}): "
        f"encoder = {init['encoder']}; heads = {init['heads']}",
        highlight=False,
    )
    bf16 = use_bf16(config.precision, device())
    record = {"task": stage.task, **stage_record(stage)}  # a multi-task stage's name ("a+b") beside its parts
    with stage_run(ctx.tracking, stage.key, f"{stage.task} {stage.key[:8]}", record) as run:
        report = train(
            models,
            features,
            config,
            stage.seed,
            tokenizer.pad_token_id,
            bf16,
            _dev_score(ctx, stage, models, tokenizer, bf16),
            label=f"{stage.task} [{stage.key[:8]}]",
            probabilities=probabilities,
            parallel=ctx.parallel,
            groups=groups,
            log=run.log if run else None,
        )
        if run:
            rate = report.examples / max(report.seconds, 1e-9)
            final = {"final/loss": report.final_loss, "final/steps": report.steps, "final/seconds": report.seconds}
            run.finish({**final, "final/examples_per_second": rate})
    log = {
        "init": init,
        "examples": {t: len(e) for t, e in examples.items()},
        "features": sizes,
        "bf16": bf16,
        "report": asdict(report),
    }
    encoder = next(iter(models.values())).encoder
    untrained = [name for name, param in encoder.named_parameters() if not param.requires_grad]
    frozen = checkpoint.frozen_sources(ctx.dir, stage.parent, untrained)  # saved by where they live, not again
    ctx.save(ctx.dir, stage.key, models, {"stage": stage_record(stage), **log, checkpoint.FROZEN: frozen})
    # Reused (the compiled path), the working encoder trains again in the next stage: its weights are held apart.
    ctx.trained = (stage.key, ctx.slots.hold(encoder) if _reuses_encoder(ctx) else encoder)
    mix = f", batches per task {report.batches}" if len(sizes) > 1 else ""
    ctx.console.print(
        f"        {report.steps} steps in {report.seconds:.0f}s, final loss "
        f"{report.final_loss:.4f}, selected {report.selected}{mix}",
        highlight=False,
    )
    return log, []


def _features(
    ctx: StageContext, model: TaskModel, task: str, chosen: list[tuple[str, Example]], tokenizer: Any, max_length: int
) -> tuple[list[Feature], list[str]]:
    """Features of (group, example) pairs in order, and each feature's group. Examples are featurised one
    group at a time, because one example may give several features (QA windows)."""
    features: list[Feature] = []
    groups: list[str] = []
    for group, members in itertools.groupby(chosen, key=lambda pair: pair[0]):
        encoded = feature_cache.encode(model.fmt, [e for _, e in members], tokenizer, ctx.task(task), max_length)
        features += encoded
        groups += [group] * len(encoded)
    return features, groups


def _dev_score(
    ctx: StageContext, stage: TrainStage, models: dict[str, TaskModel], tokenizer: Any, bf16: bool
) -> Callable[[], float] | None:
    """The mean over tasks of each task's first metric on English dev (higher is better), or None."""
    parts = [p for p in stage.parts if p.dev_split is not None]
    if not parts:
        return None
    config = stage.config
    dev = {
        p.task: subsample(ctx.examples(p.task, p.dev_split, "en"), config.max_dev_examples, stage.data_seed)  # type: ignore[arg-type]
        for p in parts
    }

    def score() -> float:
        values = []
        for task, examples in dev.items():
            _, scores = evaluate(
                models[task],
                ctx.task(task),
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


# -- evaluation ----------------------------------------------------------------------------------------------
def eval_stage(ctx: StageContext, stage: EvalStage) -> StageOutput:
    task, tokenizer = ctx.task(stage.task), ctx.tokenizer(stage.model)
    # The head comes from the target's training stage (trained on task or its train_task); formats that do
    # not train (retrieval) use the encoder alone.
    head_map = {}
    if make_format(task.format, stage.format_options).trains:
        head_map = {ctx.plan.stages[stage.parent].parts[0].task: task.name}  # type: ignore[union-attr]
    models, init = build_models(ctx, stage, [(task, stage.format_options)], head_map, strict=True)
    model = models[task.name]
    bf16 = use_bf16(stage.precision, device())
    folder = checkpoint.stage_dir(ctx.dir, stage.key)
    folder.mkdir(parents=True, exist_ok=True)
    rows, per_language = [], {}
    for lang in stage.languages:
        examples = subsample(ctx.examples(task.name, stage.split, lang), stage.max_eval_examples, stage.data_seed)
        predictions, scores = evaluate(
            model, task, examples, lang, tokenizer, stage.eval_max_length, stage.eval_batch_size, bf16
        )
        _refuse_non_finite(stage, lang, scores)
        _write_predictions(folder / f"predictions-{lang}.jsonl", model.fmt.export(predictions))
        per_language[lang] = scores
        rows += [_row(stage, lang, metric, value, len(examples)) for metric, value in scores.items()]
    for metric in next(iter(per_language.values())):
        average = mean(s[metric] for s in per_language.values())
        rows.append(_row(stage, AVERAGE, metric, average, len(per_language)))
    with stage_run(ctx.tracking, stage.key, f"{stage.task} eval {stage.key[:8]}", stage_record(stage)) as run:
        if run:
            run.finish({f"{row.language}/{row.metric}": row.value for row in rows})
    summary = ", ".join(f"{lang} {next(iter(s.values())):.1f}" for lang, s in per_language.items())
    ctx.console.print(f"  [green]eval[/]  {task.name} ({stage.key}): {summary}")
    return {"init": init, "bf16": bf16, "scores": per_language}, rows


class NonFiniteMetric(UserError):
    """A metric that came out NaN or infinite: stored, it would be averaged into every table as NaN."""


def _refuse_non_finite(stage: EvalStage, lang: str, scores: dict[str, float]) -> None:
    for metric, value in scores.items():
        if not math.isfinite(value):
            raise NonFiniteMetric(
                f"{stage.task} ({stage.key}) in {lang}: {metric} is {value} (constant predictions give a NaN "
                f"correlation; a diverged model gives NaN outputs); no result of the stage is stored"
            )


def _row(stage: EvalStage, lang: str, metric: str, value: float, n: int) -> ResultRow:
    return ResultRow(stage.key, stage.task, stage.task_version, lang, stage.split, metric, value, n, stage.seed)


def _write_predictions(path: Path, predictions: list[Any]) -> None:
    write_atomic(path, "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in predictions))


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except BaseException:  # a full disk or a kill leaves no half-written temporary file behind
        tmp.unlink(missing_ok=True)
        raise
