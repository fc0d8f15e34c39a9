"""Spec -> plan: a DAG of stages, each keyed by a hash of everything that determines its output.

Identical stages are one node: an intermediate model is trained once per (condition prefix, seed, model)
and serves every target. The key covers the stage's own settings, its parent's key (or the pretrained
model), the task declaration's version and a fingerprint of the data files it reads; the code version is
recorded with results but is not part of the key."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from xstilts.data import fingerprint
from xstilts.errors import SpecError
from xstilts.formats import Format, make_format
from xstilts.spec import ModelSpec, Spec, TrainConfig
from xstilts.tasks import REGISTRY, TaskDef


@dataclass(frozen=True)
class TrainStage:
    task: str  # the task whose training split is read
    split: str
    languages: tuple[str, ...]
    max_train_examples: int | None
    config: TrainConfig
    seed: int
    data_seed: int
    parent: str | None  # key of the stage whose encoder this one starts from; None = pretrained model
    model: ModelSpec
    data: str  # fingerprint of the training (and dev) files
    task_version: int
    format_options: dict[str, Any] = field(default_factory=dict)
    dev_split: str | None = None  # read only when config.selection is best_dev
    kind: Literal["train"] = "train"
    key: str = field(default="", compare=False)

    def reads(self) -> list[tuple[str, str, str]]:
        """(task, split, language) of every example set this stage reads."""
        dev = [(self.task, self.dev_split, "en")] if self.dev_split else []
        return [(self.task, self.split, lang) for lang in self.languages] + dev


@dataclass(frozen=True)
class EvalStage:
    task: str
    split: str
    languages: tuple[str, ...]
    max_eval_examples: int | None
    eval_max_length: int
    eval_batch_size: int
    precision: str
    seed: int
    data_seed: int
    parent: str | None  # the trained target stage; for formats that do not train, the last intermediate stage
    model: ModelSpec
    data: str
    task_version: int
    format_options: dict[str, Any] = field(default_factory=dict)
    kind: Literal["evaluate"] = "evaluate"
    key: str = field(default="", compare=False)

    def reads(self) -> list[tuple[str, str, str]]:
        return [(self.task, self.split, lang) for lang in self.languages]


Stage = TrainStage | EvalStage


@dataclass(frozen=True)
class Run:
    """One cell of the grid: a condition's chain of stages for one target and seed."""

    condition: str
    target: str
    seed: int
    chain: tuple[str, ...]  # train stage keys, intermediate first, then the target's
    eval_key: str


@dataclass
class Plan:
    stages: dict[str, Stage]  # in dependency order: a parent always comes before its children
    runs: list[Run]

    @property
    def naive_stage_count(self) -> int:
        return sum(len(run.chain) + 1 for run in self.runs)


def stage_key(stage: Stage) -> str:
    payload = {k: v for k, v in asdict(stage).items() if k != "key"}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _keyed(stage: Stage) -> Stage:
    # Frozen dataclasses: the key is derived from the other fields once, right after construction.
    object.__setattr__(stage, "key", stage_key(stage))
    return stage


def _task(name: str, field_name: str) -> TaskDef:
    if name not in REGISTRY:
        raise SpecError(field_name, f"unknown task '{name}'; known tasks: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def _format(task: TaskDef, options: dict[str, Any], where: str) -> Format:
    try:
        return make_format(task.format, options)
    except ValidationError as err:
        first = err.errors()[0]
        field_name = ".".join(str(p) for p in first["loc"])
        raise SpecError(f"{where}.format_options.{field_name}", first["msg"]) from None


def _check_languages(task: TaskDef, split: str, langs: tuple[str, ...], field_name: str) -> None:
    unknown = [lang for lang in langs if lang not in task.languages(split)]
    if unknown:
        raise SpecError(
            field_name,
            f"task '{task.name}' has no {split} data in {unknown}; available: {', '.join(task.languages(split))}",
        )


class _Planner:
    """Builds the stage table for one spec; `add` is where identical stages become one node."""

    def __init__(self, spec: Spec, root: Path):
        self.spec, self.root = spec, root
        self.stages: dict[str, Stage] = {}

    def add(self, stage: Stage) -> str:
        self.stages.setdefault(stage.key, stage)
        return stage.key

    def train(
        self,
        task: TaskDef,
        langs: tuple[str, ...],
        limit: int | None,
        overrides: dict[str, Any],
        format_options: dict[str, Any],
        seed: int,
        parent: str | None,
        where: str,
    ) -> str:
        if not _format(task, format_options, where).trains or task.train_split is None:
            raise SpecError(f"{where}.task", f"task '{task.name}' has no training split (its format is {task.format})")
        _check_languages(task, task.train_split, langs, f"{where}.languages")
        config = self.spec.train_config(overrides)
        data = fingerprint(task, task.train_split, langs, self.root)
        dev_split = None
        if config.selection == "best_dev":
            if task.dev_split is None:
                raise SpecError(f"{where}.train.selection", f"task '{task.name}' has no dev split for best_dev")
            dev_split = task.dev_split
            data += fingerprint(task, dev_split, ("en",), self.root)
        stage = TrainStage(
            task=task.name,
            split=task.train_split,
            languages=langs,
            max_train_examples=limit,
            config=config,
            seed=seed,
            data_seed=self.spec.data_seed,
            parent=parent,
            model=self.spec.model,
            data=data,
            task_version=task.version,
            format_options=format_options,
            dev_split=dev_split,
        )
        return self.add(_keyed(stage))

    def target(self, condition: str, seed: int, chain: tuple[str, ...], index: int) -> Run:
        target, where = self.spec.targets[index], f"targets[{index}]"
        task = _task(target.task, f"{where}.task")
        train_name = target.train_task or task.train_task
        train_task = _task(train_name, f"{where}.train_task") if train_name else task
        if (train_task.format, train_task.labels) != (task.format, task.labels):
            raise SpecError(f"{where}.train_task", f"'{train_task.name}' and '{task.name}' differ in format or labels")
        if task.eval_split is None:
            raise SpecError(f"{where}.task", f"task '{task.name}' has no evaluation split")
        langs = target.eval_languages or task.eval_languages
        _check_languages(task, task.eval_split, langs, f"{where}.eval_languages")
        # Formats that do not train (retrieval) evaluate the encoder the condition's last stage left.
        parent = chain[-1] if chain else None
        if _format(task, target.format_options, where).trains:
            parent = self.train(
                train_task,
                target.train_languages,
                target.max_train_examples,
                target.train,
                target.format_options,
                seed,
                parent,
                where,
            )
            chain = (*chain, parent)
        config = self.spec.train_config(target.train)
        evaluation = EvalStage(
            task=task.name,
            split=task.eval_split,
            languages=langs,
            max_eval_examples=target.max_eval_examples,
            eval_max_length=config.eval_max_length,
            eval_batch_size=config.eval_batch_size,
            precision=config.precision,
            seed=seed,
            data_seed=self.spec.data_seed,
            parent=parent,
            model=self.spec.model,
            data=fingerprint(task, task.eval_split, langs, self.root),
            task_version=task.version,
            format_options=target.format_options,
        )
        return Run(condition, task.name, seed, chain, self.add(_keyed(evaluation)))


def build_plan(spec: Spec, root: Path) -> Plan:
    """Expand conditions x targets x seeds into stages, sharing every identical one."""
    planner, runs = _Planner(spec, root), []
    for seed in spec.seeds:
        for condition, steps in spec.intermediate.items():
            chain: tuple[str, ...] = ()
            for i, step in enumerate(steps):
                where = f"intermediate.{condition}[{i}]"
                task = _task(step.task, f"{where}.task")
                parent = chain[-1] if chain else None
                chain += (
                    planner.train(
                        task,
                        step.languages,
                        step.max_train_examples,
                        step.train,
                        step.format_options,
                        seed,
                        parent,
                        where,
                    ),
                )
            runs += [planner.target(condition, seed, chain, t) for t in range(len(spec.targets))]
    return Plan(planner.stages, runs)
