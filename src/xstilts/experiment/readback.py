"""A finished or partial experiment read back: its resolved spec as the typed `Spec`, the grid points the spec
expands to, and the store's stages, runs and results as typed records. `open_experiment(DIR)` is the one way in;
`results`, `score`, `report` and `similarity` all read through it, and nothing here ever writes.

Conditions are keyed as the store labels their runs: a grid point's runs are their own conditions
("sick [intermediate_size=500]"), never merged."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from statistics import mean
from typing import TYPE_CHECKING, Any

import yaml

from xstilts.errors import SpecError, UserError
from xstilts.experiment.store import (
    AVERAGE,
    ConditionRun,
    ResultRecord,
    StageRecord,
    condition_label,
    read_store,
)
from xstilts.spec import DATA_ENV, Spec, find_data_root, parse_spec
from xstilts.tasks import REGISTRY, TaskDef, task_table
from xstilts.tasks.loading import ExampleCache, subsample

if TYPE_CHECKING:
    from xstilts.experiment.plan import Plan

__all__ = [
    "AVERAGE",
    "Cell",
    "ConditionRun",
    "Experiment",
    "GridPoint",
    "ResultRecord",
    "StageRecord",
    "Unavailable",
    "condition_label",
    "model_label",
    "open_experiment",
]

SPEC_FILE = "spec.resolved.yaml"

# The headline metric when a task reports several: QA reports exact_match and f1, and the X-STILTs paper's tables
# lead with F1.
_METRIC_PREFERENCE = ("f1", "accuracy", "map@20", "ndcg", "exact_match")

Cell = tuple[str, str, int]  # condition (at its grid point), target, seed
Scores = dict[str, dict[str, tuple[float, int]]]  # language -> metric -> (value, examples)


class Unavailable(Exception):
    """Something cannot be read back for a cell (gold data, a predictions file); the message says why."""


@dataclass(frozen=True)
class GridPoint:
    """One condition at one point of the spec's grid. Its stages are written out with the grid's settings in them
    (the size in max_train_examples, the model in a "model" key, grid training options merged into each stage's
    "train"), so that the report's size and scale sections, which compare stage lists, find a grid axis exactly as
    they find conditions that a spec writes out by hand."""

    condition: str  # as the store labels its runs, e.g. "sick [intermediate_size=500]"; the plain name without a grid
    variant: str  # e.g. "intermediate_size=500"; empty without a grid
    stages: tuple[dict[str, Any], ...]  # each stage's JSON form (StageSpec.model_dump)
    model: dict[str, Any]


def grid_points(spec: Spec) -> tuple[GridPoint, ...]:
    """One entry per (grid point, condition), in the planner's order; the grid itself is Spec.variants'."""
    base_train = spec.train.model_dump(mode="json")
    points = []
    for variant, point in spec.variants():
        model = point.model.model_dump(mode="json")
        train = {k: v for k, v in point.train.model_dump(mode="json").items() if v != base_train[k]}
        for name, stages in point.intermediate.items():
            dumped = [stage.model_dump(mode="json") for stage in stages]
            for stage in dumped:
                stage["train"] = {**train, **stage["train"]}  # a stage's own overrides win, as in Spec.train_config
                if spec.grid.model:
                    stage["model"] = model
            points.append(GridPoint(condition_label(name, variant), variant, tuple(dumped), model))
    return tuple(points)


def read_spec(path: Path) -> Spec:
    """The resolved spec a run wrote, typed; one line naming the file when this version cannot read it."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        raise UserError(f"{path}: cannot read the resolved spec ({type(err).__name__})") from None
    try:
        return parse_spec(raw, str(path))  # a spec that is not a mapping: the message names the file already
    except SpecError as err:
        raise UserError(f"{path}: not a spec this version of xstilts reads: {err}") from None


def open_experiment(directory: Path, need_spec: bool = True, data: Path | None = None) -> Experiment:
    """Read an experiment directory. Without `need_spec`, a store alone will do (the `results` and `score`
    tables need no spec); the spec is still read, and must be valid, when it is there. `data` (--data) says
    where the gold data is, before $XSTILTS_DATA and the spec's data_dir (spec.find_data_root)."""
    directory = Path(directory)
    spec_file = directory / SPEC_FILE
    if need_spec and not spec_file.is_file():
        raise UserError(f"{directory}: not an experiment directory (no {SPEC_FILE})")
    contents = read_store(directory)
    spec = read_spec(spec_file) if spec_file.is_file() else None
    try:
        experiment = Experiment(directory, spec, contents.stages, contents.runs, contents.results)
    except SpecError as err:  # its own tasks clash with this version's built-in ones
        raise UserError(f"{spec_file}: not a spec this version of xstilts reads: {err}") from None
    experiment.data = data
    return experiment


class Experiment:
    """Build with open_experiment. `spec` is None only for a store opened without its spec."""

    def __init__(
        self,
        directory: Path,
        spec: Spec | None,
        stages: dict[str, StageRecord],
        runs: tuple[ConditionRun, ...],
        results: tuple[ResultRecord, ...],
    ):
        self.dir, self.spec, self.stages = directory, spec, stages
        self.data: Path | None = None  # --data, when the command was given one
        self.points: tuple[GridPoint, ...] = grid_points(spec) if spec else ()
        self.conditions: dict[str, list[dict[str, Any]]] = {p.condition: list(p.stages) for p in self.points}
        self.variant_of: dict[str, str] = {p.condition: p.variant for p in self.points}
        self.targets: tuple[str, ...] = tuple(t.task for t in spec.targets) if spec else ()
        self.seeds: tuple[int, ...] = spec.seeds if spec else ()
        # The built-in tasks and the spec's own declarations (open label sets as declared, not filled from data).
        self.tasks: dict[str, TaskDef] = task_table(spec.tasks) if spec else dict(REGISTRY)
        self.runs: dict[Cell, ConditionRun] = {(r.condition, r.target, r.seed): r for r in runs}
        by_key: dict[str, Scores] = defaultdict(lambda: defaultdict(dict))
        for r in results:
            by_key[r.stage_key][r.language][r.metric] = (r.value, r.n)
        # Only runs whose evaluation finished have scores; the others are what `missing` lists.
        self.scores: dict[Cell, Scores] = {
            cell: by_key[run.eval_key] for cell, run in self.runs.items() if self._done(run.eval_key)
        }
        self._gold: dict[tuple, list] = {}
        self._examples: ExampleCache | None = None

    def _done(self, key: str) -> bool:
        return key in self.stages and self.stages[key].done

    # -- the tables of `results` and `score` -------------------------------------------------------------------
    def seed_values(self) -> dict[tuple[str, str, str, str], list[float]]:
        """(target, metric, condition, language) -> one value per finished seed, every language and the average."""
        values: dict[tuple[str, str, str, str], list[float]] = defaultdict(list)
        for (condition, target, _), by_lang in self.scores.items():
            for lang, metrics in by_lang.items():
                for metric, (value, _) in metrics.items():
                    values[(target, metric, condition, lang)].append(value)
        return values

    def condition_means(self) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
        """condition -> target -> language -> metric -> mean over finished seeds (the average row left out)."""
        nested: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
        for (target, metric, condition, lang), values in self.seed_values().items():
            if lang != AVERAGE:
                nested.setdefault(condition, {}).setdefault(target, {}).setdefault(lang, {})[metric] = mean(values)
        return nested

    # -- the grid ----------------------------------------------------------------------------------------------
    def cells(self) -> list[Cell]:
        return [(c, t, s) for c in self.conditions for t in self.targets for s in self.seeds]

    def missing(self) -> list[tuple[Cell, str]]:
        """Every run of the spec without results, with the first stage of its chain that has not finished."""
        out = []
        for cell in self.cells():
            if cell in self.scores:
                continue
            run = self.runs.get(cell)
            if run is None:
                out.append((cell, "not in the stored plan (run `xstilts run` with this spec)"))
                continue
            pending = next(k for k in (*run.chain, run.eval_key) if not self._done(k))
            kind = "evaluation" if pending == run.eval_key else f"training on {self._stage_task(pending, run)}"
            out.append((cell, f"{kind} not finished (stage {pending})"))
        return out

    def _stage_task(self, key: str, run: ConditionRun) -> str:
        if key in self.stages:
            return self.stages[key].task
        position = run.chain.index(key)
        stages = self.conditions.get(run.condition, [])
        return stages[position]["task"] if position < len(stages) else run.target

    def seeds_of(self, condition: str, target: str) -> tuple[int, ...]:
        return tuple(s for s in self.seeds if (condition, target, s) in self.scores)

    @cached_property
    def metrics(self) -> dict[str, str]:
        """target -> the metric the report shows for it."""
        found: dict[str, set[str]] = defaultdict(set)
        for (_, target, _), by_lang in self.scores.items():
            found[target].update(m for metrics in by_lang.values() for m in metrics)
        return {t: next((m for m in _METRIC_PREFERENCE if m in ms), min(ms)) for t, ms in found.items() if ms}

    def languages(self, target: str) -> tuple[str, ...]:
        """Evaluation languages in the spec's order, or as the results have them when the spec gives none."""
        spec = next(t for t in self.spec.targets if t.task == target)
        if spec.eval_languages:
            return tuple(spec.eval_languages)
        found = {lang for (_, t, _), by_lang in self.scores.items() if t == target for lang in by_lang}
        return tuple(sorted(found - {AVERAGE}, key=lambda lang: (lang != "en", lang)))

    def value(self, condition: str, target: str, seed: int, lang: str) -> float | None:
        entry = self.scores.get((condition, target, seed), {}).get(lang, {}).get(self.metrics.get(target, ""))
        return entry[0] if entry else None

    def examples_count(self, condition: str, target: str, seed: int, lang: str) -> int | None:
        entry = self.scores.get((condition, target, seed), {}).get(lang, {}).get(self.metrics.get(target, ""))
        return entry[1] if entry else None

    def train_examples(self, condition: str, position: int) -> int | None:
        """How many examples intermediate stage `position` of a condition trained on: the stage's log has the count
        after subsampling; the spec's max_train_examples is only an upper bound (None = all)."""
        for (c, _, _), run in self.runs.items():
            stage = self.stages.get(run.chain[position]) if c == condition and position < len(run.chain) else None
            counts = stage.log.get("examples") if stage is not None else None
            if counts:  # the runner logs {task: examples}; a multi-task stage counts every task's examples
                return int(sum(counts.values())) if isinstance(counts, dict) else int(counts)
        return self.conditions[condition][position].get("max_train_examples")

    # -- models and baselines ----------------------------------------------------------------------------------
    def model(self, condition: str) -> str:
        """The encoder a condition's runs used, from their stages (what ran), else from the spec."""
        for (c, _, _), run in self.runs.items():
            stage = self.stages.get(run.eval_key)
            if c == condition and stage and stage.config.get("model"):
                return model_label(stage.config["model"])
        point = next((p for p in self.points if p.condition == condition), None)
        return model_label(point.model if point else self.spec.model.model_dump(mode="json"))

    def baseline(self, condition: str | None = None) -> str | None:
        """The condition without intermediate stages at the same grid point as `condition` (so with the same model
        and training options), else with the same model, else the first."""
        empty = [c for c, stages in self.conditions.items() if not stages]
        if condition is not None:
            empty = [c for c in empty if self.variant_of.get(c) == self.variant_of.get(condition)] or empty
            empty = [c for c in empty if self.model(c) == self.model(condition)] or empty
        return empty[0] if empty else None

    # -- predictions and the gold data they answer -------------------------------------------------------------
    def evaluated_task(self, cell: Cell) -> TaskDef:
        """The task a finished run was evaluated on; Unavailable when this version of xstilts does not declare it."""
        task = self.tasks.get(self.stages[self.runs[cell].eval_key].config.get("task", cell[1]))
        if task is None:
            raise Unavailable(f"task '{cell[1]}' is not declared in this version of xstilts")
        return task

    def predictions_file(self, cell: Cell, lang: str) -> Path:
        path = self.dir / "stages" / self.runs[cell].eval_key / f"predictions-{lang}.jsonl"
        if not path.is_file():
            raise Unavailable(f"no predictions file {path.relative_to(self.dir)}")
        return path

    def gold(self, cell: Cell, lang: str) -> list:
        """The gold examples a run's evaluation scored in `lang`: the same subset (runner's evaluation stage), so
        the predictions file lines up with them. Read once per subset (the baseline takes part in every comparison)."""
        config = self.stages[self.runs[cell].eval_key].config
        task = self.evaluated_task(cell)
        split, limit = config.get("split") or task.eval_split, config.get("max_eval_examples")
        key = (task.name, split, lang, limit, data_seed := config.get("data_seed", 0))
        if key not in self._gold:
            self._gold[key] = subsample(self.examples(task.name, split, lang), limit, data_seed)
        return self._gold[key]

    def examples(self, task: str, split: str, lang: str) -> list:
        """Every example of a task's split in one language, read once for all the report's sections."""
        if self._examples is None:
            self._examples = ExampleCache(self.tasks, self.data_root())  # after --data is known; files only
        try:
            return self._examples(task, split, lang)
        except UserError as err:
            raise Unavailable(str(err)) from None

    @cached_property
    def plan(self) -> Plan:
        """The experiment's plan, rebuilt from its spec over its data (what the report's data checks draw from)."""
        from xstilts.experiment.plan import build_plan  # not at the top: `score` reads results without torch

        try:
            return build_plan(self.spec, self.data_root())
        except UserError as err:
            raise Unavailable(str(err)) from None

    def data_root(self) -> Path:
        if self.spec.data_source != "files":
            raise Unavailable("the gold data came from the Hugging Face Hub; per-example statistics read files")
        try:
            return find_data_root(self.data, self.spec.data_dir)
        except UserError as err:
            raise Unavailable(f"gold data not found ({err}; give --data DIR or set ${DATA_ENV})") from None


def model_label(model: dict[str, Any] | str) -> str:
    """ "me5-small" or "me5-small (2 layers)", from a spec's model mapping or the repr a stage row stores it as."""
    if isinstance(model, str):  # Store.finish_stage writes pydantic models as "name='me5-small' num_layers=2 ..."
        model = {k: v.strip("'") for k, v in re.findall(r"(\w+)=('[^']*'|\S+)", model)}
        model["num_layers"] = None if model.get("num_layers") in (None, "None") else model["num_layers"]
    name = model.get("name", "?")
    return f"{name} ({model['num_layers']} layers)" if model.get("num_layers") else name
