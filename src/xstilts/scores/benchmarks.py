"""XTREME, XTREME-R and XGLUE as frozen declarations, and the benchmark score computed from per-language results.

The score does not care how results are stored: `score` takes task -> language -> metric name -> value in percent.
How it is made (google-research/xtreme `evaluate.py`; microsoft/XGLUE `evaluation/xglue_evaluate.py`):

1. per language, the task's metrics are averaged: QA in XTREME and XTREME-R is (exact_match + f1) / 2, every
   other task has one metric. (The official script averages EM and F1 over languages first and then takes their
   mean; with both metrics present for every language that is the same number.)
2. task score = plain mean over the task's official languages, English included where the task has it;
3. category score and overall score = plain mean over task scores (the overall is not a mean of categories), given
   only when every task they need has every official language: the official scripts likewise print a group or the
   total only when all of its tasks are present.

A task with some languages missing is still scored over the languages present, flagged partial and kept out of
(3); `BenchmarkScore.missing` says what is missing. Languages outside the official list are ignored (and listed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import fmean

from rich.table import Table

# Metric names as xstilts' metrics report them, all in percent.
METRIC_NAMES = frozenset({"accuracy", "f1", "exact_match", "map@20", "ndcg"})
QA_METRICS = ("exact_match", "f1")


@dataclass(frozen=True)
class BenchmarkTask:
    """One task as one benchmark scores it. `name` is xstilts' task name, `title` the benchmark's own name for it;
    `metrics` are averaged per language; `languages` is the benchmark's official list."""

    name: str
    title: str
    category: str
    metrics: tuple[str, ...]
    languages: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.languages or len(set(self.languages)) != len(self.languages):
            raise ValueError(f"{self.name}: languages must be a non-empty list without repeats")
        unknown = set(self.metrics) - METRIC_NAMES
        if not self.metrics or unknown:
            raise ValueError(f"{self.name}: metrics must be some of {sorted(METRIC_NAMES)}, got {self.metrics}")


@dataclass(frozen=True)
class Benchmark:
    """A named set of tasks; `categories` gives the display order of the tasks' categories."""

    name: str
    tasks: tuple[BenchmarkTask, ...]
    categories: tuple[str, ...]
    reference: str = ""

    def __post_init__(self) -> None:
        names = [t.name for t in self.tasks]
        if len(set(names)) != len(names):
            raise ValueError(f"{self.name}: a task is declared twice in {names}")
        used = {t.category for t in self.tasks}
        if set(self.categories) != used or len(set(self.categories)) != len(self.categories):
            raise ValueError(f"{self.name}: categories {self.categories} must list each of {sorted(used)} once")

    def task(self, name: str) -> BenchmarkTask:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(f"{self.name} has no task {name!r}; it has {[t.name for t in self.tasks]}")

    def category_tasks(self, category: str) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks if t.category == category)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(sorted({lang for t in self.tasks for lang in t.languages}))


def _task(name: str, title: str, category: str, metrics: str | tuple[str, ...], languages: str) -> BenchmarkTask:
    metrics = (metrics,) if isinstance(metrics, str) else metrics
    return BenchmarkTask(name, title, category, metrics, tuple(languages.split()))


# Language lists are written sorted (XTREME-R: XTREME's list, then the languages it adds); the sets are those
# of the official scripts' TASK2LANGS / task2lg, except LAReQA (see XTREME_R).
_XNLI = "ar bg de el en es fr hi ru sw th tr ur vi zh"
_PANX = (
    "af ar bg bn de el en es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr ms my nl pt ru sw ta te th tl tr "
    "ur vi yo zh"
)
_UDPOS = "af ar bg de el en es et eu fa fi fr he hi hu id it ja kk ko mr nl pt ru ta te th tl tr ur vi yo zh"
# Tatoeba pairs each language with English, so English itself is not in the list.
_TATOEBA = "af ar bg bn de el es et eu fa fi fr he hi hu id it ja jv ka kk ko ml mr nl pt ru sw ta te th tl tr ur vi zh"
_XQUAD = "ar de el en es hi ru th tr vi zh"
_MLQA = "ar de en es hi vi zh"
_TYDIQA = "ar bn en fi id ko ru sw te"

# XTREME (Hu et al., ICML 2020): nine tasks, 40 languages. evaluate.py names the categories classification,
# tagging, qa and retrieval; the paper's names are used here.
XTREME = Benchmark(
    name="xtreme",
    tasks=(
        _task("xnli", "XNLI", "classification", "accuracy", _XNLI),
        _task("pawsx", "PAWS-X", "classification", "accuracy", "de en es fr ja ko zh"),
        _task("udpos", "UD-POS", "structured prediction", "f1", _UDPOS),
        _task("panx", "PAN-X (WikiANN)", "structured prediction", "f1", _PANX),
        _task("xquad", "XQuAD", "QA", QA_METRICS, _XQUAD),
        _task("mlqa", "MLQA", "QA", QA_METRICS, _MLQA),
        _task("tydiqa", "TyDiQA-GoldP", "QA", QA_METRICS, _TYDIQA),
        _task("bucc2018", "BUCC 2018", "retrieval", "f1", "de fr ru zh"),
        _task("tatoeba", "Tatoeba", "retrieval", "accuracy", _TATOEBA),
    ),
    categories=("classification", "structured prediction", "QA", "retrieval"),
    reference="Hu et al. 2020, arXiv:2003.11080; google-research/xtreme evaluate.py (GROUP2TASK, TASK2LANGS)",
)

# XTREME-R (Ruder et al., EMNLP 2021): ten tasks, 50 languages. Drops PAWS-X and BUCC; adds XCOPA, Mewsli-X and
# LAReQA; adds languages to UD-POS (UD v2.7: lt pl ro uk wo), WikiANN, Tatoeba and XQuAD (ro). XTREME-R calls PAN-X
# "WikiANN-NER": the same data, declared as task `wikiann` (catalog/xtreme_r.py) so that XTREME-R specs use its name.
#
# This is the paper's definition. The official evaluate.py (--xtreme_version xtreme-r) differs:
# - its groups put XCOPA in both `classification` and `multi_choice`, and its `retrieval` group is Tatoeba and
#   Mewsli-X without LAReQA;
# - LAReQA's language list is empty, so the overall score can never be produced: without LAReQA predictions not
#   every task is present, and with them LAReQA has no average, so the final sum fails (a TypeError in the version
#   read: the per-task scores are a defaultdict, so the absent average reads as an empty dict);
# - Mewsli-X reports `map@20`, which its choice of a task's main metric (QA: (EM+F1)/2, else f1, else accuracy)
#   does not cover, so the retrieval group fails the same way.
# Here LAReQA is scored over the 11 XQuAD-R languages (Roy et al. 2020, the LAReQA paper) with mAP@20, and every task
# sits in exactly one category.
XTREME_R = Benchmark(
    name="xtreme-r",
    tasks=(
        _task("xnli", "XNLI", "classification", "accuracy", _XNLI),
        _task("xcopa", "XCOPA", "classification", "accuracy", "et ht id it qu sw ta th tr vi zh"),
        _task("udpos", "UD-POS", "structured prediction", "f1", _UDPOS + " lt pl ro uk wo"),
        _task("wikiann", "WikiANN-NER (PAN-X)", "structured prediction", "f1", _PANX + " az gu lt pa pl qu ro uk"),
        _task("xquad", "XQuAD", "QA", QA_METRICS, _XQUAD + " ro"),
        _task("mlqa", "MLQA", "QA", QA_METRICS, _MLQA),
        _task("tydiqa", "TyDiQA-GoldP", "QA", QA_METRICS, _TYDIQA),
        _task("tatoeba", "Tatoeba", "retrieval", "accuracy", _TATOEBA + " az lt pl ro uk"),
        _task("mewslix", "Mewsli-X", "retrieval", "map@20", "ar de en es fa ja pl ro ta tr uk"),
        _task("lareqa", "LAReQA (XQuAD-R)", "retrieval", "map@20", _XQUAD),
    ),
    categories=("classification", "structured prediction", "QA", "retrieval"),
    reference="Ruder et al. 2021, arXiv:2104.07412; google-research/xtreme evaluate.py (XTREME_R_TASK2LANGS)",
)

# XGLUE (Liang et al. 2020) understanding tasks; the generation tasks QG and NTG (BLEU-4) are not included.
# The official xglue_evaluate.py averages each task over its languages (English included) and prints the plain mean
# over the tasks it was given (its later version divides MLQA F1 and BLEU by 100 so that all are fractions; here
# everything stays in percent). It reports no category means; the categories are the XGLUE README's two groups.
# - XGLUE's NER is CoNLL-2002/2003 (de en es nl) and its POS is UD v2.5 in 18 languages: not XTREME's PAN-X/UD-POS,
#   hence the names `xglue_ner` and `xglue_pos`.
# - MLQA is scored by F1 alone, not (EM+F1)/2; PAWS-X has 4 languages, not XTREME's 7.
# - POS: the README says accuracy of the POS tags, which is used here; the script computes seqeval's chunk precision.
# - WPR: nDCG over each query's full candidate list (sklearn ndcg_score, no cutoff), averaged over queries. The
#   README says 6 languages (no es); the script's 7 are used.
XGLUE = Benchmark(
    name="xglue",
    tasks=(
        _task("xglue_ner", "NER (CoNLL)", "single-input understanding", "f1", "de en es nl"),
        _task(
            "xglue_pos",
            "POS (UD v2.5)",
            "single-input understanding",
            "accuracy",
            "ar bg de el en es fr hi it nl pl pt ru th tr ur vi zh",
        ),
        _task("nc", "News Classification", "single-input understanding", "accuracy", "de en es fr ru"),
        _task("mlqa", "MLQA", "pair-input understanding", "f1", _MLQA),
        _task("xnli", "XNLI", "pair-input understanding", "accuracy", _XNLI),
        _task("pawsx", "PAWS-X", "pair-input understanding", "accuracy", "de en es fr"),
        _task("qadsm", "Query-Ad Matching", "pair-input understanding", "accuracy", "de en fr"),
        _task("wpr", "Web Page Ranking", "pair-input understanding", "ndcg", "de en es fr it pt zh"),
        _task("qam", "QA Matching", "pair-input understanding", "accuracy", "de en fr"),
    ),
    categories=("single-input understanding", "pair-input understanding"),
    reference="Liang et al. 2020, arXiv:2004.01401; microsoft/XGLUE evaluation/xglue_evaluate.py (task2lg)",
)

BENCHMARKS: dict[str, Benchmark] = {"xtreme": XTREME, "xtreme-r": XTREME_R, "xglue": XGLUE}


@dataclass(frozen=True)
class TaskScore:
    """One task's score. `per_language` holds the combined metric of each official language that has results."""

    task: str
    category: str
    score: float | None  # mean of per_language; None when no official language has results
    per_language: dict[str, float]
    official: tuple[str, ...]
    missing_languages: tuple[str, ...]
    ignored_languages: tuple[str, ...]  # results in languages outside the official list

    @property
    def complete(self) -> bool:
        return not self.missing_languages

    @property
    def partial(self) -> bool:
        return bool(self.per_language) and not self.complete

    @property
    def coverage(self) -> str:
        return f"{len(self.per_language)}/{len(self.official)}"


@dataclass(frozen=True)
class CategoryScore:
    name: str
    tasks: tuple[str, ...]
    score: float | None  # None unless every task in it is complete
    incomplete: tuple[str, ...]  # its tasks that are missing or partial


@dataclass(frozen=True)
class BenchmarkScore:
    benchmark: str
    tasks: dict[str, TaskScore]
    categories: dict[str, CategoryScore]
    overall: float | None  # None unless every task is complete
    missing: dict[str, tuple[str, ...]]  # task -> official languages without results (all of them if task absent)


Results = Mapping[str, Mapping[str, Mapping[str, float]]]


def score(benchmark: Benchmark, results: Results) -> BenchmarkScore:
    """Score `results` (task -> language -> metric -> percent) as `benchmark` defines it; tasks the benchmark does
    not have are ignored. Raises ValueError for a language entry that lacks one of its task's metrics or holds a
    value that is not a percentage."""
    tasks = {t.name: _score_task(t, results.get(t.name, {})) for t in benchmark.tasks}
    categories = {}
    for category in benchmark.categories:
        names = benchmark.category_tasks(category)
        incomplete = tuple(n for n in names if not tasks[n].complete)
        mean = None if incomplete else fmean(tasks[n].score for n in names)
        categories[category] = CategoryScore(category, names, mean, incomplete)
    missing = {name: ts.missing_languages for name, ts in tasks.items() if not ts.complete}
    overall = None if missing else fmean(ts.score for ts in tasks.values())
    return BenchmarkScore(benchmark.name, tasks, categories, overall, missing)


def _score_task(task: BenchmarkTask, by_language: Mapping[str, Mapping[str, float]]) -> TaskScore:
    per_language = {}
    for lang in task.languages:
        if lang not in by_language:
            continue
        values = by_language[lang]
        absent = [m for m in task.metrics if m not in values]
        if absent:
            raise ValueError(f"{task.name}/{lang}: no {', '.join(absent)} in {sorted(values)}; needs {task.metrics}")
        per_language[lang] = fmean(_percent(values[m], f"{task.name}/{lang}/{m}") for m in task.metrics)
    return TaskScore(
        task=task.name,
        category=task.category,
        score=fmean(per_language.values()) if per_language else None,
        per_language=per_language,
        official=task.languages,
        missing_languages=tuple(lang for lang in task.languages if lang not in per_language),
        ignored_languages=tuple(sorted(set(by_language) - set(task.languages))),
    )


def _percent(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where}: {value!r} is not a finite number")
    if not 0.0 <= value <= 100.0:
        raise ValueError(f"{where}: {value} is outside 0..100 (results are in percent)")
    return float(value)


def describe_missing(result: BenchmarkScore, tasks: tuple[str, ...] | None = None) -> str:
    """What keeps a score from being given, e.g. "tydiqa; xnli (sw, ur)"."""
    parts = []
    for name in tasks if tasks is not None else tuple(result.missing):
        ts = result.tasks[name]
        if not ts.per_language:
            parts.append(name)
        elif ts.missing_languages:
            parts.append(f"{name} ({_codes(ts.missing_languages)})")
    return "; ".join(parts)


def _codes(languages: tuple[str, ...]) -> str:
    if len(languages) <= 6:
        return ", ".join(languages)
    return f"{', '.join(languages[:5])} and {len(languages) - 5} more"


def render(result: BenchmarkScore) -> Table:
    """One row per task (score, languages scored / official, status), then the categories and the overall score."""
    table = Table(title=f"{result.benchmark} score")
    for column, justify in (("task", "left"), ("category", "left"), ("score", "right"), ("languages", "right")):
        table.add_column(column, justify=justify)
    table.add_column("status")
    for ts in result.tasks.values():
        if ts.complete:
            status = ""
        elif ts.partial:
            status = f"partial: missing {_codes(ts.missing_languages)}"
        else:
            status = "missing"
        if ts.ignored_languages:
            status = "; ".join(s for s in (status, f"ignored {', '.join(ts.ignored_languages)}") if s)
        table.add_row(ts.task, ts.category, _number(ts.score), ts.coverage, status)
    table.add_section()
    for cs in result.categories.values():
        status = f"n/a: missing {describe_missing(result, cs.incomplete)}" if cs.score is None else ""
        table.add_row(cs.name, "category", _number(cs.score), "", status)
    table.add_section()
    overall_status = f"n/a: missing {describe_missing(result)}" if result.overall is None else ""
    table.add_row("overall", f"{len(result.tasks)} tasks", _number(result.overall), "", overall_status)
    return table


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"
