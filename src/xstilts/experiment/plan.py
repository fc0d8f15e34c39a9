"""Spec -> plan: a DAG of stages, each keyed by a hash of everything that determines its output.

Identical stages are one node: an intermediate model is trained once per (condition prefix, seed, model)
and serves every target. The key covers the stage's own settings, its parent's key (or the pretrained
model), the task declaration's version and a fingerprint of the data files it reads; the code version is
recorded with results but is not part of the key."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from xstilts.errors import SpecError, did_you_mean
from xstilts.formats import Format, make_format
from xstilts.spec import KEYED_UNLESS_DEFAULT, Handoff, ModelSpec, SamplerSpec, Spec, TaskEntry, TrainConfig
from xstilts.tasks import TaskDef, task_table
from xstilts.tasks.labels import with_training_labels
from xstilts.tasks.loading import fingerprint, subsample
from xstilts.tasks.sizes import present

ABSENT = "absent"  # the data fingerprint of files a plan could not read (build_plan's allow_absent)


def draw_examples(
    languages: Sequence[str],
    examples: Callable[[str], list[Any]],
    per_language: int | dict[str, int] | None,
    limit: int | None,
    data_seed: int,
) -> list[tuple[str, Any]]:
    """(language, example) of what a stage trains on, given each language's examples: every language's own seeded
    subset (`per_language`: max_examples_per_language, one number or one per language), the languages pooled, then
    one seeded subset of the pool (`limit`: max_train_examples). Stages, the preflight checks, the leakage guard and
    the report's complexity measures all draw through here, so they see the same rows."""
    pooled = [
        (lang, e)
        for lang in languages
        for e in subsample(examples(lang), _cap(per_language, lang), data_seed)  # type: ignore[arg-type]
    ]
    return subsample(pooled, limit, data_seed)  # type: ignore[arg-type]


def _cap(per_language: int | dict[str, int] | None, lang: str) -> int | None:
    return per_language.get(lang) if isinstance(per_language, dict) else per_language


@dataclass(frozen=True)
class TaskPart:
    """One task a training stage reads: its training split in some languages, maybe subsampled."""

    task: str
    split: str
    languages: tuple[str, ...]
    max_train_examples: int | None
    format_options: dict[str, Any]
    task_version: int
    dev_split: str | None = None  # read only when the stage selects by dev score
    max_examples_per_language: int | dict[str, int] | None = None  # spec.TaskEntry's

    def language_cap(self, lang: str) -> int | None:
        """How many examples of `lang` are drawn before the languages are pooled (None: all of them)."""
        return _cap(self.max_examples_per_language, lang)

    def draw(self, examples: Callable[[str], list[Any]], data_seed: int) -> list[tuple[str, Any]]:
        """(language, example) of what the part trains on (draw_examples)."""
        return draw_examples(
            self.languages, examples, self.max_examples_per_language, self.max_train_examples, data_seed
        )


@dataclass(frozen=True)
class TrainStage:
    parts: tuple[TaskPart, ...]  # one task, or several trained together (multi-task)
    config: TrainConfig
    seed: int
    data_seed: int
    parent: str | None  # key of the stage whose weights this one starts from; None = pretrained model
    model: ModelSpec
    data: str  # fingerprint of the training (and dev) files
    sampler: dict[str, Any] = field(default_factory=dict)  # SamplerSpec fields; matters only with several parts
    handoff: str | dict[str, str] = "encoder"
    kind: Literal["train"] = "train"
    key: str = field(default="", compare=False)

    @property
    def task(self) -> str:
        return "+".join(part.task for part in self.parts)

    def reads(self) -> list[tuple[str, str, str]]:
        """(task, split, language) of every example set this stage reads."""
        out = []
        for part in self.parts:
            out += [(part.task, part.split, lang) for lang in part.languages]
            out += [(part.task, part.dev_split, "en")] if part.dev_split else []
        return out


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
    variant: str = ""  # the grid point, e.g. "intermediate_size=500"; empty without a grid


@dataclass
class Plan:
    stages: dict[str, Stage]  # in dependency order: a parent always comes before its children
    runs: list[Run]
    # Every task the plan can name: the built-ins, the spec's own, and open label sets filled in from the data.
    # Stages, the runner and the scorers look tasks up here, never in the global catalogue.
    tasks: dict[str, TaskDef] = field(default_factory=dict)
    # (task, split, language) of the data a plan built with allow_absent=True could not read: their stages'
    # data fingerprint is ABSENT, and an open label set stays empty. Only `plan` builds such a plan; `run` never.
    absent: set[tuple[str, str, str]] = field(default_factory=set)

    @property
    def naive_stage_count(self) -> int:
        return sum(len(run.chain) + 1 for run in self.runs)


def stage_record(stage: Stage) -> dict[str, Any]:
    """The stage as plain JSON data: what its key hashes and what the store records."""
    record = json.loads(json.dumps(asdict(stage), default=_plain))
    for part in record.get("parts", ()):
        if part.get("max_examples_per_language") is None:  # added later: stages without it keep their keys
            del part["max_examples_per_language"]
    return record


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        record = value.model_dump(mode="json")
        for name, info in type(value).model_fields.items():
            if info.json_schema_extra == KEYED_UNLESS_DEFAULT and getattr(value, name) == info.default:
                del record[name]  # an option added later, at its old behaviour: finished stages keep their keys
        return record
    raise TypeError(f"cannot record {type(value).__name__} in a stage")


def stage_key(stage: Stage) -> str:
    payload = {k: v for k, v in stage_record(stage).items() if k != "key"}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _keyed(stage: Stage) -> Stage:
    # Frozen dataclasses: the key is derived from the other fields once, right after construction.
    object.__setattr__(stage, "key", stage_key(stage))
    return stage


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
            f"task '{task.name}' has no {split} data in {unknown}{did_you_mean(unknown[0], task.languages(split))}; "
            f"available: {', '.join(task.languages(split))}",
        )


class _Planner:
    """Builds the stage table for one spec; `add` is where identical stages become one node."""

    def __init__(
        self,
        spec: Spec,
        root: Path,
        stages: dict[str, Stage],
        tasks: dict[str, TaskDef],
        absent: set[tuple[str, str, str]] | None = None,
    ):
        self.spec, self.root = spec, root
        self.stages, self.tasks = stages, tasks  # shared by every grid point: identical stages are one node
        self.absent = absent  # None: missing data is an error (DataError), as `run` needs

    def data(self, task: TaskDef, split: str, langs: tuple[str, ...]) -> str:
        """The fingerprint of the files a stage reads, or ABSENT (recorded) when planning without them."""
        if self.absent is not None and self.spec.data_source == "files":
            missing = {(task.name, split, lang) for lang in langs if not present(task, split, lang, self.root)}
            if missing:
                self.absent |= missing
                return ABSENT
        return fingerprint(task, split, langs, self.root, self.spec.data_source)

    def add(self, stage: Stage) -> str:
        self.stages.setdefault(stage.key, stage)
        return stage.key

    def task(self, name: str, field_name: str) -> TaskDef:
        if name not in self.tasks:
            raise SpecError(
                field_name,
                f"unknown task '{name}'{did_you_mean(name, self.tasks)}; known tasks: {', '.join(sorted(self.tasks))}",
            )
        task, split = self.tasks[name], self.tasks[name].train_split
        if task.labels_from == "train" and split and self.data(task, split, task.languages(split)) == ABSENT:
            return task  # planning without the training data: the label set is unknown, and a plan needs none
        task = with_training_labels(task, self.root, self.spec.data_source)
        self.tasks[name] = task  # an open label set, filled in from the data, for the runner and the scorers
        return task

    def training_stage(
        self,
        entries: tuple[TaskEntry, ...],
        overrides: dict[str, Any],
        sampler: SamplerSpec,
        handoff: Handoff,
        seed: int,
        parent: str | None,
        where: str,
    ) -> str:
        config = self.spec.train_config(overrides)
        parts, data = [], ""
        for i, entry in enumerate(entries):
            at = f"{where}.tasks[{i}]" if len(entries) > 1 else where
            task = self.task(entry.task, f"{at}.task")
            split = entry.split or task.train_split
            if not _format(task, entry.format_options, at).trains or split is None:
                raise SpecError(f"{at}.task", f"task '{task.name}' has no training split (its format is {task.format})")
            if split not in task.splits:
                raise SpecError(f"{at}.split", f"task '{task.name}' has no split '{split}'; it has {list(task.splits)}")
            languages_field = f"{at}.train_languages" if at.startswith("targets") else f"{at}.languages"
            _check_languages(task, split, entry.languages, languages_field)
            data += self.data(task, split, entry.languages)
            dev_split = None
            if config.selection == "best_dev":
                if task.dev_split is None:
                    raise SpecError(f"{where}.train.selection", f"task '{task.name}' has no dev split for best_dev")
                dev_split = task.dev_split
                data += self.data(task, dev_split, ("en",))
            parts.append(
                TaskPart(
                    task.name,
                    split,
                    entry.languages,
                    entry.max_train_examples,
                    entry.format_options,
                    task.version,
                    dev_split,
                    entry.max_examples_per_language,
                )
            )
        if len({p.task for p in parts}) != len(parts):
            raise SpecError(f"{where}.tasks", "a task appears twice in one stage")
        if isinstance(handoff, dict) and parent is None:
            raise SpecError(f"{where}.handoff", "a head mapping needs a previous stage to take heads from")
        stage = TrainStage(
            parts=tuple(parts),
            config=config,
            seed=seed,
            data_seed=self.spec.data_seed,
            parent=parent,
            model=self.spec.model,
            data=data,
            sampler=sampler.model_dump() if len(parts) > 1 else {},
            handoff=handoff,
        )
        return self.add(_keyed(stage))

    def target_run(self, condition: str, seed: int, chain: tuple[str, ...], index: int) -> Run:
        target, where = self.spec.targets[index], f"targets[{index}]"
        task = self.task(target.task, f"{where}.task")
        train_name = target.train_task or task.train_task
        train_task = self.task(train_name, f"{where}.train_task") if train_name else task
        if (train_task.format, train_task.labels) != (task.format, task.labels):
            raise SpecError(f"{where}.train_task", f"'{train_task.name}' and '{task.name}' differ in format or labels")
        if task.eval_split is None:
            raise SpecError(f"{where}.task", f"task '{task.name}' has no evaluation split")
        langs = target.eval_languages or task.eval_languages
        _check_languages(task, task.eval_split, langs, f"{where}.eval_languages")
        # Formats that do not train (retrieval) evaluate the encoder the condition's last stage left.
        parent = chain[-1] if chain else None
        if _format(task, target.format_options, where).trains:
            entry = TaskEntry(
                task=train_task.name,
                split=target.train_split,
                languages=target.train_languages,
                max_train_examples=target.max_train_examples,
                format_options=target.format_options,
            )
            parent = self.training_stage((entry,), target.train, SamplerSpec(), target.handoff, seed, parent, where)
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
            data=self.data(task, task.eval_split, langs),
            task_version=task.version,
            format_options=target.format_options,
        )
        return Run(condition, task.name, seed, chain, self.add(_keyed(evaluation)))


def build_plan(spec: Spec, root: Path, allow_absent: bool = False) -> Plan:
    """Expand grid points x conditions x targets x seeds into stages, sharing every identical one. With
    allow_absent (`xstilts plan` before the data is fetched), data files that are not there are recorded in
    Plan.absent instead of refused."""
    stages: dict[str, Stage] = {}
    runs: list[Run] = []
    tasks = task_table(spec.tasks)
    absent: set[tuple[str, str, str]] | None = set() if allow_absent else None
    for variant, point in spec.variants():
        planner = _Planner(point, root, stages, tasks, absent)
        for seed in point.seeds:
            for condition, steps in point.intermediate.items():
                chain: tuple[str, ...] = ()
                for i, step in enumerate(steps):
                    where, parent = f"intermediate.{condition}[{i}]", chain[-1] if chain else None
                    chain += (
                        planner.training_stage(
                            step.entries(), step.train, step.sampler, step.handoff, seed, parent, where
                        ),
                    )
                for t in range(len(point.targets)):
                    run = planner.target_run(condition, seed, chain, t)
                    runs.append(Run(run.condition, run.target, run.seed, run.chain, run.eval_key, variant))
    return Plan(stages, runs, tasks, absent or set())
