"""The first two sections: what the grid holds (and what of it is missing), and the transfer matrix, each
intermediate condition's gain over the baseline on each target, laid out as the X-STILTs paper's Table 1 (rows =
intermediate tasks, columns = targets, then the benchmark score)."""

from __future__ import annotations

from collections.abc import Iterable
from statistics import fmean

import numpy as np

from xstilts.analysis.compare import Comparison, Comparisons, sample_text
from xstilts.analysis.sign_flip import smallest_p_text
from xstilts.experiment.readback import Experiment
from xstilts.report import figures
from xstilts.report.curricula import describe
from xstilts.report.document import Bullets, Figure, Section, Table
from xstilts.report.marks import SIGNIFICANT, average_mark, legend
from xstilts.scores.benchmarks import XTREME, BenchmarkScore, describe_missing, score

FEW_SEEDS = 5  # below this many seeds the report warns that a seed interval rests on few training runs
ONE_SEED = (
    "With one seed, intervals and p-values come from resampling evaluation examples: they measure how much the "
    "score depends on which sentences were evaluated, not how much it varies between training runs, which is "
    "often larger. Add seeds before reading a single-seed difference as an effect."
)


def count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'s' * (n != 1)}"


def coverage_section(exp: Experiment) -> Section:
    base = exp.baseline()
    blocks: list = [
        f"Spec '{exp.spec.name}': {count(len(exp.conditions), 'condition')} x "
        f"{count(len(exp.targets), 'target')} x {count(len(exp.seeds), 'seed')} = {count(len(exp.cells()), 'run')}; "
        f"{len(exp.scores)} with results. Baseline (no intermediate stage): "
        + (f"'{base}'." if base else "none in this grid."),
        Bullets(
            [f"{c}: {describe(stages)} [{exp.model(c)}]" for c, stages in exp.conditions.items()]
            + [f"target {t}: {', '.join(exp.languages(t))} ({exp.metrics.get(t, 'no results')})" for t in exp.targets]
        ),
    ]
    missing = exp.missing()
    if missing:
        blocks += [
            f"Partial grid: {len(missing)} of {len(exp.cells())} runs in the spec have no results, so every table "
            "and figure below covers only the finished runs. Missing:",
            Bullets([f"{c} x {t} x seed {s}: {why}" for (c, t, s), why in missing]),
        ]
    else:
        blocks.append("Complete grid: every run in the spec has results.")
    return Section("Grid and coverage", blocks)


def _benchmark(means: dict[str, dict[str, dict[str, float]]]) -> BenchmarkScore | None:
    """XTREME from one condition's mean over seeds of every language and metric, as `xstilts score` has it."""
    try:
        return score(XTREME, means)
    except ValueError:  # a language lacking one of a task's metrics: no score rather than a wrong one
        return None


def seed_p(c: Comparison) -> str:
    """The sign-flip p over seeds, or "n/a" with one seed."""
    return "n/a" if c.seed_test is None else f"{c.seed_test.p_value:.3g}"


def seed_test_note(comparisons: Iterable[Comparison | None]) -> str:
    """What the seed-level p is, how small it can get with the seeds at hand, and when to read it."""
    seeds = sorted({len(c.seeds) for c in comparisons if c and c.seed_test})
    if not seeds:
        return ""
    floor = "; ".join(smallest_p_text(n) for n in seeds)
    return (
        "seeds p: exact sign-flip test over the per-seed gains (condition minus baseline within a seed, each seed "
        f"one unit), two-sided; {floor}, and below {SIGNIFICANT} it needs at least 6 seeds. The other p pools the "
        "evaluation examples of all seeds: it says whether these trained models differ, not whether another training "
        "run would give the same gain. Where the two disagree, the gain is not shown to survive a new seed."
    )


def few_seeds_note(comparisons: Iterable[Comparison | None]) -> str:
    """The warning for seed intervals over fewer than FEW_SEEDS seeds, or "" when none is."""
    fewest = min((len(c.seeds) for c in comparisons if c and c.method == "seeds"), default=None)
    if fewest is None or fewest >= FEW_SEEDS:
        return ""
    return (
        f"Few seeds (as few as {fewest}): the t interval over seeds holds its 95% only if per-seed gains are roughly "
        "normal, which so few runs cannot check, and it is wide because it has to be; a gain whose interval "
        "excludes 0 here still rests on a handful of training runs."
    )


def _significance(c: Comparison) -> str:
    marked = average_mark(c)
    pooled = "" if c.test is None else f" p={c.test.p_value:.3g}"
    seeds = "" if c.seed_test is None else f" (seeds p={seed_p(c)})"
    return pooled + seeds + marked


def transfer_section(exp: Experiment, comparisons: Comparisons) -> Section:
    base = exp.baseline()
    if base is None:
        return Section("Transfer matrix", ["No condition without intermediate stages: gains need a baseline."])
    others = [c for c in exp.conditions if exp.baseline(c) != c]
    matrix = {(c, t): comparisons.get(c, exp.baseline(c), t) for c in others for t in exp.targets}
    means = exp.condition_means()
    xtreme = {c: _benchmark(means.get(c, {})) for c in exp.conditions}
    blocks: list = [
        "How much does each intermediate curriculum change each target task, on average over its evaluation "
        f"languages? Cells are gains in points of the target's metric over the baseline '{base}' (the same model's "
        "baseline when the grid has several models), with a 95% interval (a t interval over seeds when there are at "
        "least two, else a percentile bootstrap over evaluation examples), the p-value of a paired permutation test "
        "over evaluation examples pooled across seeds and, with two or more seeds, the p-value of an exact sign-flip "
        "test over the per-seed gains (seeds p), which also counts training noise. A gain is marked only when both "
        f"tests give p < {SIGNIFICANT} (with one seed: the example-level test alone, marked differently)."
    ]
    if others:
        blocks.append(_heatmap(exp, others, matrix))
    blocks.append(_table(exp, base, others, matrix, xtreme))
    return Section("Transfer matrix", blocks)


def _samples(exp: Experiment, matrix: dict[tuple[str, str], Comparison | None]) -> str:
    per_target = {t: [c for (_, target), c in matrix.items() if c and target == t] for t in exp.targets}
    return "; ".join(f"{t}: {sample_text(comps)}" for t, comps in per_target.items() if comps)


def _heatmap(exp: Experiment, others: list[str], matrix: dict[tuple[str, str], Comparison | None]) -> Figure:
    values = np.full((len(others), len(exp.targets)), np.nan)
    labels = [["missing"] * len(exp.targets) for _ in others]
    for i, c in enumerate(others):
        for j, t in enumerate(exp.targets):
            comp = matrix[(c, t)]
            if comp is not None:
                values[i, j] = comp.average
                star = average_mark(comp)
                ci = f"\n[{comp.interval.low:+.1f}, {comp.interval.high:+.1f}]" if comp.interval else ""
                labels[i][j] = f"{comp.average:+.1f}{star}{ci}"
    columns = [f"{t} ({exp.metrics.get(t, '?')})" for t in exp.targets]
    samples = _samples(exp, matrix)
    title = "Gain over the baseline, mean over languages"
    caption = (
        f"Transfer matrix: gain over the baseline with 95% interval ({_interval_kinds(matrix.values())}). "
        f"{legend(matrix.values())} {samples}."
    )
    return Figure("transfer_matrix", caption, figures.heatmap(others, columns, values, labels, title))


def _table(
    exp: Experiment,
    base: str,
    others: list[str],
    matrix: dict[tuple[str, str], Comparison | None],
    xtreme: dict[str, BenchmarkScore | None],
) -> Table:
    header = ["condition", *(f"{t} ({exp.metrics.get(t, '?')})" for t in exp.targets), "XTREME"]
    base_row = [f"{base} (baseline)"]
    for t in exp.targets:
        seeds = exp.seeds_of(base, t)
        base_row.append(f"{fmean(exp.value(base, t, s, 'avg') for s in seeds):.1f}" if seeds else "missing")
    base_score = xtreme[base].overall if xtreme[base] else None
    base_row.append(f"{base_score:.1f}" if base_score is not None else "n/a")
    rows = [base_row]
    for c in others:
        row = [c]
        for t in exp.targets:
            comp = matrix[(c, t)]
            row.append(comp.cell() + _significance(comp) if comp else "missing")
        own = xtreme[c].overall if xtreme[c] else None
        row.append(f"{own - base_score:+.1f}" if own is not None and base_score is not None else "n/a")
        rows.append(row)
    methods = sorted({f"{c.method}" for c in matrix.values() if c and c.method})
    notes = [
        f"Baseline row: absolute score (mean over seeds); other rows: gain [{_interval_kinds(matrix.values())}]"
        f" p (examples) (seeds p) mark. {_samples(exp, matrix)}."
    ]
    if "examples" in methods:
        notes.append(ONE_SEED)
    notes += [note for note in (legend(matrix.values()), seed_test_note(matrix.values())) if note]
    if note := few_seeds_note(matrix.values()):
        notes.append(note)
    notes += _xtreme_notes(xtreme)
    notes += sorted(
        {f"No example-level statistics for {c.a} on {c.target}: {c.note}" for c in matrix.values() if c and c.note}
    )
    caption = f"Transfer matrix: gain over the baseline per target ({_samples(exp, matrix)})"
    return Table("transfer_matrix", caption, header, rows, notes)


def _interval_kinds(comparisons: Iterable[Comparison | None]) -> str:
    """The intervals a table shows, e.g. "95% t interval, 3 seeds" (each kind once)."""
    return "; ".join(sorted({c.interval_label for c in comparisons if c and c.interval})) or "no interval"


def _xtreme_notes(xtreme: dict[str, BenchmarkScore | None]) -> list[str]:
    missing = {describe_missing(s) for s in xtreme.values() if s is not None and s.overall is None}
    if any(s is None for s in xtreme.values()):
        missing.add("a language lacks one of its task's metrics")
    if not missing:
        return ["XTREME: Hu et al. 2020, the mean over its nine tasks of each task's mean over its languages."]
    return [
        f"XTREME n/a: it needs all nine tasks in all their official languages; missing: {m}." for m in sorted(missing)
    ]
