"""Sections (c)-(e), each present only when the grid has the axis it needs, and otherwise saying so: order
effects between curricula with the same training in another order, intermediate data-size curves, and model-scale
curves."""

from __future__ import annotations

import json
import math
from statistics import fmean

import numpy as np

from xstilts.analysis.compare import Comparison, Comparisons, sample_text
from xstilts.analysis.stats import EXPONENT_RANGE, fit_power_law, power_law_band
from xstilts.experiment.readback import Experiment
from xstilts.report import figures
from xstilts.report.curricula import canonical, describe, order_pairs, size_axes
from xstilts.report.document import Bullets, Figure, Section, Table
from xstilts.report.leakage_note import material_lines
from xstilts.report.marks import average_mark, legend
from xstilts.report.transfer import few_seeds_note, seed_p, seed_test_note


def _p(comp: Comparison) -> str:
    """The example-level p, then the gain's mark (report/marks.py), which needs the seed test too."""
    return ("n/a" if comp.test is None else f"{comp.test.p_value:.3g}") + average_mark(comp)


def _interval_notes(comps: list[Comparison], tests: bool = True) -> list[str]:
    """What the intervals are, the marks' rule and the seed test's floor (with `tests`: the table shows them), and
    the few-seeds warning, as table notes."""
    kinds = "; ".join(sorted({c.interval_label for c in comps if c.interval}))
    notes = [f"Intervals: {kinds}." if kinds else ""]
    notes += [legend(comps), seed_test_note(comps)] if tests else []
    return [note for note in [*notes, few_seeds_note(comps)] if note]


def _score(exp: Experiment, condition: str, comp: Comparison) -> str:
    values = [exp.value(condition, comp.target, s, lang) for s in comp.seeds for lang in comp.languages]
    return f"{fmean(values):.1f}"


# -- (c) order -----------------------------------------------------------------------------------------------


def order_section(exp: Experiment, comparisons: Comparisons) -> Section:
    title = "Order effects"
    pairs = order_pairs(exp.conditions)
    if not pairs:
        return Section(
            title,
            [
                "No curricula differing only in order in this grid. A pair needs two conditions with the same stages "
                "in another order (A then B vs B then A), or the same tasks and languages split differently into "
                "stages (English first, then other languages, vs mixed in one stage)."
            ],
        )
    blocks: list = [
        "Does the order of the intermediate stages matter? The difference is A minus B on the target's average "
        "over languages, paired by seed and by example. Whether a pair holds the same training material is "
        "computed from the examples each stage draws (below), not assumed from the stage lists.",
        Bullets([f"{p.a}: {describe(exp.conditions[p.a])}; {p.b}: {describe(exp.conditions[p.b])}" for p in pairs]),
        Bullets(material_lines(exp, pairs)),
    ]
    header = ["A vs B", "kind", "target", "A", "B", "A - B [95% interval]", "p", "seeds p", "languages A > B"]
    rows, samples, comps = [], set(), []
    for pair in pairs:
        for target in exp.targets:
            comp = comparisons.get(pair.a, pair.b, target)
            if comp is None:
                rows.append([f"{pair.a} vs {pair.b}", pair.kind, target, "missing", "missing", "-", "-", "-", "-"])
                continue
            comps.append(comp)
            samples.add(f"{target}: {sample_text([comp])}")
            up = sum(d > 0 for d in comp.per_language.values())
            row = [f"{pair.a} vs {pair.b}", pair.kind, target, _score(exp, pair.a, comp), _score(exp, pair.b, comp)]
            rows.append([*row, comp.cell(), _p(comp), seed_p(comp), f"{up}/{len(comp.per_language)}"])
    notes = [
        "A - B: mean over shared seeds; 95% t interval over seeds when a pair shares two or more, else a "
        "percentile bootstrap over examples; p: paired permutation test over examples, pooled across seeds. "
        f"{'; '.join(sorted(samples))}.",
        *_interval_notes(comps),
    ]
    caption = "Order effects: curricula with the same training in another order"
    blocks.append(Table("order_effects", caption, header, rows, notes))
    return Section(title, blocks)


# -- (d) data size -------------------------------------------------------------------------------------------


def size_section(exp: Experiment, comparisons: Comparisons) -> Section:
    title = "Intermediate data size"
    axes = size_axes(exp.conditions)
    if not axes:
        return Section(
            title,
            [
                "The grid has no size axis: no conditions differ only in max_train_examples of one stage, so there is "
                "no data-size curve. Add conditions with the same stages and several sizes to draw one."
            ],
        )
    blocks: list = [
        "How does the gain grow with the number of intermediate training examples? Where a series has at least "
        "three sizes, a saturating power law gain(n) = a - b n^(-c) is fitted by least squares to the mean gain "
        "per size (a is the gain it levels off at), with a 95% pointwise band from refitting on seeds resampled "
        "at every size."
    ]
    for axis in axes:
        for target in exp.targets:
            blocks += _size_curve(exp, comparisons, axis.conditions, axis.position, axis.task, target)
    return Section(title, blocks)


def _size_curve(exp: Experiment, comparisons: Comparisons, conditions, position: int | None, task: str, target: str):
    points: list[tuple[int, Comparison]] = []
    positions = range(len(exp.conditions[conditions[0]])) if position is None else [position]
    for c in conditions:
        comp = comparisons.get(c, exp.baseline(c), target) if exp.baseline(c) else None
        counts = [exp.train_examples(c, i) for i in positions]
        n = sum(counts) if all(counts) else None  # every stage cut: the examples of the whole curriculum
        if comp is not None and n:
            points.append((n, comp))
    where = "every stage" if position is None else f"stage {position + 1}"
    name = f"{task} ({where}) -> {target}"
    if len(points) < 2:
        return [f"{name}: fewer than two sizes have results; no curve."]
    seeds = min(len(c.seeds) for _, c in points)
    sample = sample_text(c for _, c in points)
    data = [(float(n), list(c.per_seed)) for n, c in points]
    fit, text = None, "Fewer than three sizes: no power law fitted (it has three parameters)."
    if len({n for n, _ in points}) >= 3:
        law = fit_power_law([n for n, _ in data], [fmean(v) for _, v in data])
        grid = np.geomspace(min(n for n, _ in data), max(n for n, _ in data), 100)
        low, high = power_law_band(data, grid, comparisons.settings.n_boot_examples, seed=comparisons.settings.seed)
        fit = (grid, law(grid), low, high)
        text = f"Fit: a = {law.a:+.2f}, b = {law.b:.3g}, c = {law.c:.3g}." + _fit_caveats(law.c, len(data), seeds)
    png = figures.size_curve(data, fit, f"{name}: gain vs intermediate examples")
    rows = [[c.a, f"{n:,}", c.cell(), _p(c), seed_p(c)] for n, c in points]
    stem = f"size_{task.replace('+', '_')}_{'all' if position is None else position + 1}_{target}"
    header = ["condition", "examples", "gain [95% interval]", "p", "seeds p"]
    notes = [text, "p: paired permutation test over examples, pooled across seeds."]
    notes += _interval_notes([c for _, c in points])
    return [
        Figure(stem, f"{name}: gain vs intermediate training examples. {sample}.", png),
        Table(stem, f"{name}: gain by intermediate data size, {sample}", header, rows, notes),
    ]


def _fit_caveats(c: float, sizes: int, seeds: int) -> str:
    caveats = []
    if sizes == 3:
        caveats.append(
            "With three sizes the curve has as many parameters as points: it describes them, it does not test the form."
        )
    low, high = EXPONENT_RANGE
    if c <= low * 1.001 or c >= high * 0.999:  # the grid's end points: the search found no interior optimum
        caveats.append(
            f"c is at the edge of the searched range {EXPONENT_RANGE}: the means do not follow a saturating curve."
        )
    if seeds == 1:
        caveats.append("With one seed per size the band has no width.")
    elif seeds < 5:
        caveats.append(
            f"The band is a percentile bootstrap over as few as {seeds} seeds per size: it cannot reach beyond the "
            "per-seed values and is narrower than a 95% band should be."
        )
    return "".join(f" {text}" for text in caveats)


# -- (e) model scale -----------------------------------------------------------------------------------------


def scale_section(exp: Experiment, comparisons: Comparisons) -> Section:
    title = "Model scale"
    models = list(dict.fromkeys(exp.model(c) for c in exp.conditions))
    if len(models) < 2:
        return Section(
            title,
            [
                f"One model in this grid ({models[0] if models else '?'}): no model-scale curve. A curve needs "
                "the same curricula run with several models, each with its own baseline."
            ],
        )
    curricula: dict[str, list[str]] = {}
    for c, stages in exp.conditions.items():
        key = json.dumps([canonical(s, ("model",)) for s in stages])
        curricula.setdefault(key, []).append(c)
    blocks: list = [
        "Does the gain change with the encoder? Each line is one curriculum, its gain measured against the "
        "baseline run with the same model."
    ]
    for target in exp.targets:
        blocks += _scale_target(exp, comparisons, models, curricula, target)
    return Section(title, blocks)


def _scale_target(exp: Experiment, comparisons: Comparisons, models, curricula, target: str) -> list:
    series: dict[str, list[float]] = {}
    rows, samples, comps = [], set(), []
    for conditions in curricula.values():
        if not exp.conditions[conditions[0]]:
            continue  # the baselines themselves
        label = describe(exp.conditions[conditions[0]])
        cells, values = [], []
        for model in models:
            c = next((c for c in conditions if exp.model(c) == model), None)
            base = exp.baseline(c) if c else None
            comp = comparisons.get(c, base, target) if c and base and exp.model(base) == model else None
            values.append(comp.average if comp else math.nan)
            cells.append(comp.cell() if comp else "missing")
            if comp:
                samples.add(f"{model}: {sample_text([comp])}")
                comps.append(comp)
        series[label] = values
        rows.append([label, *cells])
    sample = "; ".join(sorted(samples)) or "no results"
    notes = _interval_notes(comps, tests=False)
    png = figures.model_lines(models, series, "gain over the same model's baseline", f"{target}: gain by model")
    return [
        Figure(f"scale_{target}", f"{target}: gain over each model's own baseline, by model. {sample}.", png),
        Table(f"scale_{target}", f"{target}: gain by model ({sample})", ["curriculum", *models], rows, notes),
    ]
