"""Section "Task complexity and low-resource gains": is a more complex intermediate task more (or less) useful for
low-resource languages? The measured complexity of every one-task intermediate stage (report/complexity.py), then,
per target, each one-stage condition's gain per language resource class (Joshi et al. 2020, 0-5) beside its task's
measures, Spearman's rho of each measure with the gain in each class (bootstrap interval over the class's languages),
and a scatter of code length against the low-resource gain."""

from __future__ import annotations

import math
from statistics import fmean

import numpy as np

from xstilts.analysis.compare import Comparisons
from xstilts.analysis.stats import Interval, bootstrap_spearman
from xstilts.experiment.readback import Experiment
from xstilts.report import figures
from xstilts.report.complexity import MIN_FIRST_BLOCK, ONLINE_BLOCKS, PROBE_L2
from xstilts.report.complexity_measure import SAMPLE, Measurer, TaskComplexity, one_task_stages
from xstilts.report.document import Figure, Section, Table
from xstilts.tasks.languages import language

LOW_RESOURCE = (0, 1, 2, 3)  # Joshi classes below the "underdogs" (4) and "winners" (5)
LOW = "low (0-3)"
MEASURES = {  # label -> the measure of a task; lower code length and area = easier
    "code bits/unit": lambda t: t.code.bits_per_unit if t.code else None,
    # what the representations add over the label frequencies: below 0 the probe beats the base rate
    "code - base rate": lambda t: t.code.bits_per_unit - t.code.base_rate_per_unit if t.code else None,
    "label entropy": lambda t: t.entropy,
    "labels/choices": lambda t: t.outputs,
    "mean input words": lambda t: t.mean_words,
    "curve area": lambda t: t.area,
}


def _class_of(code: str) -> int | None:
    try:
        return language(code).resource_class
    except KeyError:
        return None


def _f(value: float | None, fmt: str = ".2f") -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, fmt)


def complexity_section(exp: Experiment, comparisons: Comparisons, sample: int = SAMPLE) -> Section:
    stages = one_task_stages(exp)
    blocks: list = [
        "How complex is each intermediate task, measured rather than guessed, and does that predict its gain in "
        "low-resource languages? Measures from the data each stage trained on and its own training log (no "
        f"`xstilts similarity` needed). Code length: Voita & Titov (2020)'s online code of the labels of a fixed "
        f"sample of {sample} examples given the pretrained encoder's mean-pooled states (tagging: each word's first "
        f"sub-token; multiple choice: each question over its K choices, one weight vector scoring every choice's "
        f"state plus a bias per position, softmax over the K), blocks ending at "
        f"{', '.join(f'{f:g}' for f in ONLINE_BLOCKS)} of the sample (first block at least {MIN_FIRST_BLOCK} units, "
        f"sent with the uniform code log2 K bits per unit), each later block coded by a logistic-regression probe "
        f"trained on all units before it (L2 weight from {', '.join(f'{w:g}' for w in PROBE_L2)}: the one that "
        "coded the previous block best). Beside each code length: its base rate, the empirical entropy of the "
        "coded units' labels (multiple choice: of the gold positions), what knowing only the label frequencies "
        "costs per unit; a code above it learned less from the representations than the frequencies give, and "
        "compression (uniform / online code) is only read against it. Curve area: the mean of the stage's logged "
        "training-loss curve over its first point (1 = the loss never fell)."
    ]
    if not stages:
        return Section("Task complexity", [*blocks, "No one-task intermediate stage in this grid."])
    measurer = Measurer(exp, sample)
    measured = {name: measurer.measure(stage, positions) for name, (stage, positions) in stages.items()}
    blocks.append(_measures_table(measured))
    for target in exp.targets:
        blocks += _target_blocks(exp, comparisons, target, stages, measured)
    return Section("Task complexity", blocks)


def _measures_table(measured: dict[str, TaskComplexity]) -> Table:
    header = ["task (languages, size)", "structure", "labels/choices", "label entropy (bits)", "mean input words"]
    header += ["trained on", "code bits/unit", "base rate bits/unit", "compression", "curve area"]
    rows = [
        [
            t.name,
            t.structure,
            _f(t.outputs, "d"),
            _f(t.entropy),
            _f(t.mean_words, ".1f"),
            f"{t.train_examples:,}",
            _f(t.code.bits_per_unit if t.code else None, ".3f"),
            _f(t.code.base_rate_per_unit if t.code else None, ".3f"),
            _f(t.code.compression if t.code else None),
            _f(t.area, ".3f"),
        ]
        for t in measured.values()
    ]
    notes = [f"{t.name}: {t.note}" for t in measured.values() if t.note]
    return Table("task_complexity", "Measured complexity of each intermediate task", header, rows, notes)


def _target_blocks(exp, comparisons, target, stages, measured) -> list:
    # one-stage conditions only: a curriculum of several tasks has no single complexity
    gains: dict[str, dict[str, float]] = {}
    for name, (_, positions) in stages.items():
        for condition, _ in positions:
            if len(exp.conditions[condition]) != 1 or exp.baseline(condition) in (None, condition):
                continue
            comp = comparisons.difference(condition, exp.baseline(condition), target)
            if comp is not None:
                gains.setdefault(name, {}).update(comp.per_language)  # one grid point per task, the first found
    if not gains:
        return [f"{target}: no one-stage condition has results to compare with its baseline."]
    names = list(gains)
    langs = sorted({lang for g in gains.values() for lang in g})
    classes = {lang: _class_of(lang) for lang in langs}
    present = sorted({c for c in classes.values() if c is not None}, reverse=True)
    groups = {str(c): [lang for lang in langs if classes[lang] == c] for c in present}
    groups[LOW] = [lang for lang in langs if classes[lang] in LOW_RESOURCE]
    matrix = {g: np.array([[gains[n].get(lang, np.nan) for lang in ls] for n in names]) for g, ls in groups.items()}
    blocks: list = [
        _join_table(target, names, measured, matrix, groups),
        _spearman_table(target, names, measured, matrix),
    ]
    figure = _scatter(target, names, measured, matrix[LOW], groups[LOW]) if groups[LOW] else None
    return blocks + ([figure] if figure else [])


def _mean_gain(row: np.ndarray) -> float:
    finite = row[np.isfinite(row)]
    return fmean(finite) if finite.size else math.nan


def _join_table(target, names, measured, matrix, groups) -> Table:
    header = [
        "task",
        "code bits/unit",
        "base rate bits/unit",
        "label entropy",
        *(f"gain class {g}" if g != LOW else f"gain {g}" for g in groups),
    ]
    rows = []
    for i, name in enumerate(names):
        t = measured[name]
        code = (t.code.bits_per_unit, t.code.base_rate_per_unit) if t.code else (None, None)
        row = [name, *(_f(v, ".3f") for v in code), _f(t.entropy)]
        rows.append(row + [_f(_mean_gain(matrix[g][i]), "+.2f") if groups[g] else "-" for g in groups])
    notes = [f"{'class ' * (g != LOW)}{g}: {' '.join(ls) or 'no languages'}" for g, ls in groups.items()]
    caption = f"{target}: gain over the baseline per resource class (mean over the class's languages and the seeds)"
    return Table(f"complexity_gains_{target}", caption, header, rows, notes)


def _spearman_table(target, names, measured, matrix) -> Table:
    header = ["measure", *(f"class {g}" if g != LOW else g for g in matrix)]
    rows = []
    for label, measure in MEASURES.items():
        values = [measure(measured[n]) for n in names]
        keep = [i for i, v in enumerate(values) if v is not None]
        row = [label]
        for m in matrix.values():
            if len(keep) < 3 or m.shape[1] == 0:
                row.append("n/a")
                continue
            row.append(_rho(bootstrap_spearman([values[i] for i in keep], m[keep])))
        rows.append(row)
    notes = [
        "Spearman's rho of each measure with the gain over the tasks (one-stage conditions), [95% bootstrap "
        "interval resampling the class's languages]; n/a with fewer than three measured tasks. With few tasks "
        "rho takes few values: read it as a direction, not an effect size."
    ]
    return Table(f"complexity_spearman_{target}", f"{target}: does complexity predict the gain?", header, rows, notes)


def _rho(interval: Interval) -> str:
    if math.isnan(interval.estimate):
        return "n/a (ties)"
    return f"{interval.estimate:+.2f} [{_f(interval.low, '+.2f')}, {_f(interval.high, '+.2f')}]"


def _scatter(target, names, measured, low, langs) -> Figure | None:
    panels = {}
    for label in ("code bits/unit", "label entropy", "curve area"):
        points = [(n, MEASURES[label](measured[n]), _mean_gain(low[i])) for i, n in enumerate(names)]
        points = [(n, x, y) for n, x, y in points if x is not None and not math.isnan(y)]
        if points:
            panels[label] = points
    if not panels:
        return None
    title = f"{target}: task complexity vs gain in resource classes 0-3 ({' '.join(langs)})"
    caption = (
        f"{target}: each one-task intermediate stage's measured complexity against its mean gain over the baseline "
        f"in {', '.join(langs)} (Joshi classes 0-3)."
    )
    return Figure(f"complexity_{target}", caption, figures.similarity_panels(panels, title, "{}", f"gain in {LOW}"))
