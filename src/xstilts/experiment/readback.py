"""An experiment directory as the report reads it: the resolved spec, the planned runs and their scores, and, on
demand, per-example statistics recomputed from the predictions files and the gold data.

The spec is read as plain YAML rather than through `xstilts.spec`: the resolved spec was validated when it was
written, and a report must still open an experiment written by an older or newer version of the spec model.
The store is opened read-only, so reporting never changes an experiment (store.Store creates tables)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from xstilts.errors import UserError
from xstilts.experiment.grid import grid_points
from xstilts.experiment.store import AVERAGE, Store
from xstilts.report.stats import ExampleScores, example_scores
from xstilts.scores.predictions import read_predictions
from xstilts.scores.tables import label
from xstilts.spec import DATA_ENV
from xstilts.tasks import REGISTRY
from xstilts.tasks.loading import load_examples, subsample

# The headline metric when a task reports several: QA reports exact_match and f1, and the X-STILTs paper's tables
# lead with F1.
_METRIC_PREFERENCE = ("f1", "accuracy", "map@20", "ndcg", "exact_match")

Cell = tuple[str, str, int]  # condition, target, seed


class Unavailable(Exception):
    """Per-example statistics cannot be computed for a cell; the message says why, for the report."""


@dataclass(frozen=True)
class Run:
    condition: str
    target: str
    seed: int
    chain: tuple[str, ...]  # training stage keys, intermediate stages first
    eval_key: str


@dataclass(frozen=True)
class Stage:
    kind: str
    task: str
    config: dict[str, Any]
    status: str
    log: dict[str, Any]


class Experiment:
    def __init__(self, directory: Path):
        self.dir = Path(directory)
        spec_file, store_file = self.dir / "spec.resolved.yaml", self.dir / Store.FILE
        for needed in (spec_file, store_file):
            if not needed.is_file():
                raise UserError(f"{self.dir}: not an experiment directory (no {needed.name})")
        self.spec: dict[str, Any] = yaml.safe_load(spec_file.read_text(encoding="utf-8")) or {}
        # Conditions at every grid point, labelled as the store labels their runs ("sick [intermediate_size=500]"):
        # the grid's size, model and training options are written into each stage's settings, so the size and scale
        # sections find their axes in the stage lists as they do for conditions written out by hand.
        points = grid_points(self.spec)
        self.conditions: dict[str, list[dict]] = {p.condition: p.stages for p in points}
        self.variant_of: dict[str, str] = {p.condition: p.variant for p in points}
        self._spec_models: dict[str, dict[str, Any]] = {p.condition: p.model for p in points}
        self.targets: tuple[str, ...] = tuple(t["task"] for t in self.spec["targets"])
        self.seeds: tuple[int, ...] = tuple(self.spec["seeds"])
        # A read-only connection to a WAL database creates -wal/-shm files it cannot remove again. With no -wal file
        # no writer has the store open, so it cannot change while we read it: `immutable` then creates nothing.
        immutable = "" if Path(f"{store_file}-wal").exists() else "&immutable=1"
        db = sqlite3.connect(f"file:{store_file}?mode=ro{immutable}", uri=True)
        try:
            self._read_store(db)
        finally:
            db.close()
        self._examples: dict[tuple, list] = {}
        self._per_example: dict[tuple, ExampleScores] = {}

    def _read_store(self, db: sqlite3.Connection) -> None:
        self.runs: dict[Cell, Run] = {}
        # A grid point's runs are their own conditions ("sick [intermediate_size=500]"), never merged.
        has_variant = "variant" in [row[1] for row in db.execute("PRAGMA table_info(runs)")]  # older stores lack it
        variant_column = "variant" if has_variant else "''"
        for condition, target, seed, chain, eval_key, variant in db.execute(
            f"SELECT condition, target, seed, chain, eval_key, {variant_column} FROM runs"
        ):
            condition = label(condition, variant)
            self.runs[(condition, target, seed)] = Run(condition, target, seed, tuple(json.loads(chain)), eval_key)
        self.stages: dict[str, Stage] = {
            key: Stage(kind, task, json.loads(config), status, json.loads(log) if log else {})
            for key, kind, task, config, status, log in db.execute(
                "SELECT key, kind, task, config, status, log FROM stages"
            )
        }
        by_key: dict[str, dict[str, dict[str, tuple[float, int]]]] = defaultdict(lambda: defaultdict(dict))
        for key, lang, metric, value, n in db.execute("SELECT stage_key, language, metric, value, n FROM results"):
            by_key[key][lang][metric] = (value, n)
        # Only runs whose evaluation finished have scores; the others are what `missing` lists.
        self.scores: dict[Cell, dict[str, dict[str, tuple[float, int]]]] = {
            cell: by_key[run.eval_key] for cell, run in self.runs.items() if self._done(run.eval_key)
        }

    def _done(self, key: str) -> bool:
        return key in self.stages and self.stages[key].status == "done"

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

    def _stage_task(self, key: str, run: Run) -> str:
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
        spec = next(t for t in self.spec["targets"] if t["task"] == target)
        if spec.get("eval_languages"):
            return tuple(spec["eval_languages"])
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
        return model_label(self._spec_models.get(condition) or self.spec.get("model") or {})

    def baseline(self, condition: str | None = None) -> str | None:
        """The condition without intermediate stages at the same grid point as `condition` (so with the same model
        and training options), else with the same model, else the first."""
        empty = [c for c, stages in self.conditions.items() if not stages]
        if condition is not None:
            empty = [c for c in empty if self.variant_of.get(c) == self.variant_of.get(condition)] or empty
            empty = [c for c in empty if self.model(c) == self.model(condition)] or empty
        return empty[0] if empty else None

    # -- per-example statistics --------------------------------------------------------------------------------
    def example_scores(self, condition: str, target: str, seeds: tuple[int, ...], lang: str) -> ExampleScores:
        """The metric on `lang` for the given seeds (stacked), from the predictions files; Unavailable says why not."""
        metric = self.metrics[target]
        return ExampleScores.stack([self._seed_scores(condition, target, s, lang, metric) for s in seeds])

    def _seed_scores(self, condition: str, target: str, seed: int, lang: str, metric: str) -> ExampleScores:
        key = (condition, target, seed, lang, metric)
        if key not in self._per_example:  # the baseline takes part in every comparison: read it once
            self._per_example[key] = self._read_seed_scores(condition, target, seed, lang, metric)
        return self._per_example[key]

    def _read_seed_scores(self, condition: str, target: str, seed: int, lang: str, metric: str) -> ExampleScores:
        run = self.runs[(condition, target, seed)]
        config = self.stages[run.eval_key].config
        task = REGISTRY.get(config.get("task", target))
        if task is None:
            raise Unavailable(f"task '{target}' is not declared in this version of xstilts")
        path = self.dir / "stages" / run.eval_key / f"predictions-{lang}.jsonl"
        if not path.is_file():
            raise Unavailable(f"no predictions file {path.relative_to(self.dir)}")
        examples = self._gold(task.name, config.get("split") or task.eval_split, lang, config)
        try:
            return example_scores(task, read_predictions(path), examples, lang, metric)
        except (ValueError, UserError) as err:  # a malformed file, or predictions that do not fit the gold
            raise Unavailable(str(err)) from None

    def _gold(self, task: str, split: str, lang: str, config: dict[str, Any]) -> list:
        limit, data_seed = config.get("max_eval_examples"), config.get("data_seed", 0)
        key = (task, split, lang, limit, data_seed)
        if key not in self._examples:
            try:
                gold = load_examples(REGISTRY[task], split, lang, self.data_root())
            except UserError as err:
                raise Unavailable(str(err)) from None
            # The same subset the evaluation scored (runner.eval_stage), so predictions line up with golds.
            self._examples[key] = subsample(gold, limit, data_seed)
        return self._examples[key]

    def data_root(self) -> Path:
        if self.spec.get("data_source", "files") != "files":
            raise Unavailable("the gold data came from the Hugging Face Hub; per-example statistics read files")
        root = self.spec.get("data_dir") or os.environ.get(DATA_ENV)
        if not root or not Path(root).is_dir():
            raise Unavailable(f"gold data not found (data_dir {root!r}; set ${DATA_ENV})")
        return Path(root)


def model_label(model: dict[str, Any] | str) -> str:
    """ "me5-small" or "me5-small (2 layers)", from a spec's model mapping or the repr a stage row stores it as."""
    if isinstance(model, str):  # Store.finish_stage writes pydantic models as "name='me5-small' num_layers=2 ..."
        model = {k: v.strip("'") for k, v in re.findall(r"(\w+)=('[^']*'|\S+)", model)}
        model["num_layers"] = None if model.get("num_layers") in (None, "None") else model["num_layers"]
    name = model.get("name", "?")
    return f"{name} ({model['num_layers']} layers)" if model.get("num_layers") else name
