"""Benchmark scores of a finished (or partial) experiment, and scoring predictions made by any system.

Predictions files (for `xstilts score-predictions`) are JSON Lines, one JSON value per gold example, in the
order of the gold file (the same format xstilts writes to stages/<key>/predictions-<lang>.jsonl). Each format's
shape, with an example line, is in formats/scoring.py (`xstilts score-predictions --help` prints them). Every
value is checked against its gold example before anything is scored; the first that does not fit is refused
with its file and line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xstilts.errors import DataError, UserError
from xstilts.experiment.readback import open_experiment
from xstilts.formats.scoring import SCORING
from xstilts.scores.benchmarks import Benchmark, BenchmarkScore, score
from xstilts.tasks import REGISTRY
from xstilts.tasks.loading import load_examples


def benchmark_scores(experiment_dir: Path, benchmark: Benchmark) -> dict[str, BenchmarkScore]:
    """One benchmark score per intermediate condition, from its mean over seeds (a store without its spec will
    do); tasks outside the benchmark are left out."""
    names = {t.name for t in benchmark.tasks}
    means = open_experiment(experiment_dir, need_spec=False).condition_means()
    return {
        condition: score(benchmark, {t: by_lang for t, by_lang in tasks.items() if t in names})
        for condition, tasks in sorted(means.items())
    }


def read_predictions(path: Path) -> list[Any]:
    """The JSON values of a JSON Lines file (blank lines are skipped)."""
    return numbered_predictions(path)[0]


def numbered_predictions(path: Path) -> tuple[list[Any], list[int]]:
    """The JSON values of a JSON Lines file and the line number of each (blank lines are skipped)."""
    try:
        lines = path.read_text(encoding="utf-8-sig").split("\n")
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except UnicodeDecodeError as err:
        raise DataError(path, f"invalid UTF-8: {err.reason}") from None
    values, numbers = [], []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                values.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise DataError(path, f"invalid JSON: {err.msg}", line=number) from None
            numbers.append(number)
    return values, numbers


def score_predictions(task_name: str, lang: str, path: Path, root: Path, split: str | None = None) -> dict[str, Any]:
    """Score a predictions file against the gold data with the task's official metric."""
    if task_name not in REGISTRY:
        raise UserError(f"--task: unknown task '{task_name}'; known tasks: {', '.join(sorted(REGISTRY))}")
    task = REGISTRY[task_name]
    if task.format not in SCORING:
        raise UserError(f"--task: {task.name} is a {task.format} task, which has no predictions to score")
    split = split or task.eval_split
    if split is None or split not in task.splits:
        raise UserError(f"--split: task '{task.name}' has splits {', '.join(task.splits)}")
    if lang not in task.languages(split):
        raise UserError(f"--lang: task '{task.name}' has no {split} data in '{lang}'")
    golds = load_examples(task, split, lang, root)
    predictions, numbers = numbered_predictions(path)
    if len(predictions) != len(golds):
        raise DataError(path, f"{len(predictions)} predictions for {len(golds)} gold examples of {task.name} {lang}")
    scoring = SCORING[task.format]()
    bad = scoring.first_problem(predictions, golds, task)
    if bad is not None:
        index, problem = bad
        raise DataError(path, f"does not fit the {task.format} format: {problem}", line=numbers[index])
    scores = scoring.score_exported(predictions, golds, task, lang)
    return {"task": task.name, "split": split, "language": lang, "n": len(golds), "metric": task.metric, **scores}
