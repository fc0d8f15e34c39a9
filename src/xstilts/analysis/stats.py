"""The statistics behind the report: t intervals over seeds, bootstrap intervals over examples, a paired permutation
test, Holm's correction across languages, and a saturating power law for data-size curves. Every function takes a seed,
so a report is reproducible.

Resampling examples means recomputing the task's metric on the resampled set, not averaging per-example scores:
chunk F1 over a resampled corpus is not the mean of per-sentence F1s. Each metric is therefore held as per-example
*sufficient statistics* whose sums determine it (`ExampleScores`): (score, 1) for metrics that are means over
examples (accuracy, SQuAD EM/F1), (correct, predicted, gold chunks) for seqeval's micro chunk F1. Summing the rows
of a resample gives exactly the metric of that resample; `example_scores` checks this on the full set against the
task's own scorer before any statistic is computed.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import t as student_t

from xstilts.formats import make_format
from xstilts.metrics.tagging import _chunks_0_0_12
from xstilts.tasks.definition import TaskDef

_BLOCK = 500  # resamples per matrix product: bounds memory to BLOCK x examples floats


@dataclass(frozen=True)
class Interval:
    """A point estimate with an interval; `n` counts the units (seeds or examples), `kind` says how the interval was
    made: "t" (Student t over seeds) or "percentile" (percentile bootstrap)."""

    estimate: float
    low: float
    high: float
    n: int
    level: float = 0.95
    kind: str = "percentile"

    def __str__(self) -> str:
        return f"{self.estimate:+.1f} [{self.low:+.1f}, {self.high:+.1f}]"


def t_interval_seeds(values: Sequence[float], level: float = 0.95) -> Interval:
    """Student t interval of the mean of per-seed values: mean +- t(n - 1, (1 + level) / 2) s / sqrt(n)
    (scipy.stats.t). It holds its nominal coverage at any n >= 2 when per-seed values are roughly normal; a
    percentile bootstrap of 3 seeds cannot reach beyond their [min, max] and covers the mean about 75% of the time
    (tests/analysis/test_seed_intervals.py). Constant values give a point; one value gives the point with n = 1.

    >>> interval = t_interval_seeds([1.0, 2.0, 3.0])  # 2 +- 4.303 x 1 / sqrt(3)
    >>> round(interval.low, 3), round(interval.high, 3)
    (-0.484, 4.484)
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("t_interval_seeds needs at least one value")
    mean = float(x.mean())
    spread = float(x.std(ddof=1)) if x.size > 1 else 0.0
    if spread == 0.0:
        return Interval(mean, mean, mean, int(x.size), level, "t")
    half = float(student_t.ppf((1 + level) / 2, df=x.size - 1)) * spread / math.sqrt(x.size)
    return Interval(mean, mean - half, mean + half, int(x.size), level, "t")


def bootstrap_seeds(values: Sequence[float], n_boot: int = 10_000, level: float = 0.95, seed: int = 0) -> Interval:
    """Percentile bootstrap interval of the mean of per-seed values. Not what the report shows for seeds: with few
    seeds it is too narrow (with 3 it is at most [min, max]); `t_interval_seeds` is. Kept as the reference the
    coverage test compares with.

    With one value there is nothing to resample: the interval is the point itself, and `n` = 1 says why.

    >>> bootstrap_seeds([2.0, 2.0, 2.0])
    Interval(estimate=2.0, low=2.0, high=2.0, n=3, level=0.95, kind='percentile')
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("bootstrap_seeds needs at least one value")
    means = x[np.random.default_rng(seed).integers(0, x.size, (n_boot, x.size))].mean(axis=1)
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(x.mean()), float(low), float(high), int(x.size), level)


# -- per-example sufficient statistics -------------------------------------------------------------------------


def _mean_metric(totals: np.ndarray) -> np.ndarray:
    """(sum of per-example scores, number of examples) -> their mean."""
    return totals[..., 0] / totals[..., 1]


def _chunk_f1(totals: np.ndarray) -> np.ndarray:
    """(correct, predicted, gold chunks) -> micro F1 x100 = 2PR/(P+R) = 2 correct / (predicted + gold); 0 when
    nothing is correct, as seqeval (zero_division) and udpos_f1 give it."""
    correct, predicted, gold = totals[..., 0], totals[..., 1], totals[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(correct > 0, 200.0 * correct / (predicted + gold), 0.0)


@dataclass(frozen=True)
class ExampleScores:
    """One metric on one set of examples as per-example statistics, for r replicates (seeds) that were scored on
    the same examples. `stats` has shape (r, n, k); the metric of any weighting of the examples is `combine` of
    the weighted sums, averaged over replicates."""

    metric: str
    stats: np.ndarray
    combine: Callable[[np.ndarray], np.ndarray]

    @property
    def n(self) -> int:
        return self.stats.shape[1]

    def value(self) -> float:
        return float(self.combine(self.stats.sum(axis=1)).mean())

    def weighted(self, weights: np.ndarray) -> np.ndarray:
        """The metric under each row of `weights` (m, n): how often each example occurs in a resample."""
        return self.combine(np.einsum("mn,rnk->mrk", weights, self.stats)).mean(axis=-1)

    @classmethod
    def stack(cls, replicates: Sequence[ExampleScores]) -> ExampleScores:
        """Seeds scored on the same examples, as one object whose value is their mean."""
        first = replicates[0]
        return cls(first.metric, np.concatenate([r.stats for r in replicates]), first.combine)


def _mean_rows(predictions: Sequence[Any], examples: Sequence[Any], task: TaskDef, lang: str, metric: str) -> list:
    # Accuracy and SQuAD/MLQA EM and F1 are means over examples: each example scored alone is its row.
    fmt = make_format(task.format)
    return [(fmt.score_exported([p], [e], task, lang)[metric], 1.0) for p, e in zip(predictions, examples, strict=True)]


def _retrieval_rows(predictions: Sequence[int], examples: Sequence[Any], task: TaskDef, lang: str, metric: str) -> list:
    # Tatoeba: query i is right when it retrieved line i of the fixed candidate pool (formats/retrieval.py).
    return [(100.0 * (p == i), 1.0) for i, p in enumerate(predictions)]


def _seqeval_chunks(tags: list[str]) -> set:
    from seqeval.metrics.sequence_labeling import get_entities

    return set(get_entities(tags))


# Chunkers of the tagging metrics (xstilts.metrics.tagging). Chunks never cross a sentence boundary in either
# (both put an "O" after each sentence), so per-sentence counts add up to the corpus counts.
_CHUNKERS: dict[str, Callable[[list[str]], set]] = {
    "seqeval_f1": _seqeval_chunks,
    "udpos_f1": lambda tags: _chunks_0_0_12([tags]),
}


def _chunk_rows(predictions: Sequence[list], examples: Sequence[Any], task: TaskDef, lang: str, metric: str) -> list:
    chunks = _CHUNKERS[task.metric]
    fallback = "O" if "O" in task.labels else task.labels[0]  # as Tagging.score pads truncated sentences
    rows = []
    for p, e in zip(predictions, examples, strict=True):
        predicted, gold = chunks(list(p) + [fallback] * (len(e.words) - len(p))), chunks(list(e.tags))
        rows.append((len(predicted & gold), len(predicted), len(gold)))
    return rows


_ROWS_BY_FORMAT = {
    "classification": (_mean_rows, _mean_metric),
    "multiple_choice": (_mean_rows, _mean_metric),
    "span_qa": (_mean_rows, _mean_metric),
    "retrieval": (_retrieval_rows, _mean_metric),
    "tagging": (_chunk_rows, _chunk_f1),
}


def example_scores(
    task: TaskDef, predictions: Sequence[Any], examples: Sequence[Any], lang: str, metric: str
) -> ExampleScores:
    """`metric` of one predictions file as per-example statistics; ValueError if their total does not give the
    value the task's own scorer gives (then a resample would not be scored as the task scores it)."""
    if len(predictions) != len(examples) or not examples:
        raise ValueError(f"{len(predictions)} predictions for {len(examples)} examples of {task.name} {lang}")
    if task.format not in _ROWS_BY_FORMAT:  # BUCC F1, mAP@20, nDCG: a corpus or query is the unit, not an example
        raise ValueError(f"{task.name}: {task.metric} does not split into per-example statistics")
    rows_of, combine = _ROWS_BY_FORMAT[task.format]
    scores = ExampleScores(metric, np.asarray([rows_of(predictions, examples, task, lang, metric)], float), combine)
    official = make_format(task.format).score_exported(predictions, examples, task, lang)[metric]
    if not np.isclose(scores.value(), official, atol=1e-6):
        raise ValueError(f"{task.name} {lang}: per-example statistics give {scores.value()}, the scorer {official}")
    return scores


# -- resampling ------------------------------------------------------------------------------------------------


def _blocks(total: int) -> Iterator[int]:
    for start in range(0, total, _BLOCK):
        yield min(_BLOCK, total - start)


def _resample_counts(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    """m bootstrap resamples of n example indices, as (m, n) counts of each index."""
    indices = rng.integers(0, n, (m, n))
    counts = np.zeros((m, n))
    np.add.at(counts, (np.arange(m)[:, None], indices), 1.0)
    return counts


def _strata(scores: ExampleScores | Sequence[ExampleScores]) -> list[ExampleScores]:
    return [scores] if isinstance(scores, ExampleScores) else list(scores)


def bootstrap_examples(
    scores: ExampleScores | Sequence[ExampleScores],
    baseline: ExampleScores | Sequence[ExampleScores] | None = None,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of the metric (mean over strata, e.g. languages), or of its difference from
    `baseline` when given: both are scored on the same resampled indices (a paired bootstrap). Each stratum is
    resampled on its own, so every language keeps its number of examples."""
    a, b = _strata(scores), _strata(baseline) if baseline is not None else None
    rng = np.random.default_rng(seed)
    values = np.zeros(n_boot)
    for i, stratum in enumerate(a):
        done = 0
        for m in _blocks(n_boot):
            weights = _resample_counts(rng, m, stratum.n)
            values[done : done + m] += stratum.weighted(weights) - (b[i].weighted(weights) if b else 0.0)
            done += m
    values /= len(a)
    estimate = np.mean([s.value() - (b[i].value() if b else 0.0) for i, s in enumerate(a)])
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(estimate), float(low), float(high), sum(s.n for s in a), level)


@dataclass(frozen=True)
class PermutationTest:
    difference: float  # observed metric of a minus metric of b (mean over strata)
    p_value: float  # two-sided, (1 + #{|permuted| >= |observed|}) / (n_perm + 1)
    n_perm: int


def permutation_test(
    a: ExampleScores | Sequence[ExampleScores],
    b: ExampleScores | Sequence[ExampleScores],
    n_perm: int = 9999,
    seed: int = 0,
) -> PermutationTest:
    """Paired permutation test of "a and b score the same": under that hypothesis each example's two predictions
    are exchangeable, so each permutation swaps them with probability 1/2 (all replicates of an example together)
    and recomputes both metrics. The +1 counts the observed assignment (Phipson & Smyth 2010), so p > 0."""
    a, b = _strata(a), _strata(b)
    rng = np.random.default_rng(seed)
    observed = float(np.mean([x.value() - y.value() for x, y in zip(a, b, strict=True)]))
    permuted = np.zeros(n_perm)
    for x, y in zip(a, b, strict=True):
        if x.stats.shape != y.stats.shape:
            raise ValueError(f"paired scores differ in shape: {x.stats.shape} vs {y.stats.shape}")
        delta, done = y.stats - x.stats, 0
        for m in _blocks(n_perm):
            swap = (rng.random((m, x.n)) < 0.5).astype(float)
            moved = np.einsum("mn,rnk->mrk", swap, delta)
            totals_x, totals_y = x.stats.sum(axis=1) + moved, y.stats.sum(axis=1) - moved
            permuted[done : done + m] += (x.combine(totals_x) - y.combine(totals_y)).mean(axis=-1)
            done += m
    permuted /= len(a)
    # A tolerance, so that permutations equal to the observed value up to rounding count as "as extreme".
    extreme = np.abs(permuted) >= abs(observed) - 1e-9
    return PermutationTest(observed, float((1 + extreme.sum()) / (n_perm + 1)), n_perm)


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values (Holm 1979), controlling the family-wise error rate over the tests given
    (here: the languages of one condition and target). Sorted ascending, the i-th smallest (from 0) becomes
    max over j <= i of min(1, (m - j) p_(j)): never below the raw p, and monotone in it.

    >>> holm({"de": 0.01, "fr": 0.04, "sw": 0.03})
    {'de': 0.03, 'fr': 0.06, 'sw': 0.06}
    """
    order = sorted(p_values, key=lambda k: (p_values[k], k))
    m, running, adjusted = len(order), 0.0, {}
    for i, key in enumerate(order):
        running = max(running, min(1.0, (m - i) * p_values[key]))
        adjusted[key] = running
    return {key: round(adjusted[key], 12) for key in p_values}


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 1 along the last axis, ties sharing their mean rank (as scipy.stats.rankdata's default)."""
    order = np.argsort(x, axis=-1, kind="stable")
    ranks = np.empty_like(x, dtype=float)
    np.put_along_axis(ranks, order, np.arange(1, x.shape[-1] + 1, dtype=float) * np.ones_like(x), axis=-1)
    out = np.empty_like(ranks)
    for index in np.ndindex(x.shape[:-1]):  # ties: few rows (one per resample), each short (one per task)
        row, r = x[index], ranks[index]
        for value in np.unique(row):
            same = row == value
            r[same] = r[same].mean()
        out[index] = r
    return out


def spearman(x: Sequence[float], y: np.ndarray) -> np.ndarray | float:
    """Spearman's rank correlation of x with y (or with each row of a 2-D y): Pearson's r of average ranks; NaN
    when either side is constant."""
    rx, ry = _average_ranks(np.asarray(x, float)), _average_ranks(np.asarray(y, float))
    rx, ry = rx - rx.mean(), ry - ry.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (ry @ rx) / np.sqrt((rx**2).sum() * (ry**2).sum(axis=-1))
    return float(r) if np.ndim(r) == 0 else r


def bootstrap_spearman(
    x: Sequence[float], gains: np.ndarray, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> Interval:
    """Spearman's rho between a per-task measure `x` and the tasks' mean gain over languages, with a percentile
    bootstrap interval that resamples the languages (the columns of `gains`, tasks x languages; NaN where a task
    has no result in a language): how much the correlation depends on which languages were evaluated. `n` counts
    the languages. Draws where every task's gain ties give no correlation and are left out."""
    gains = np.asarray(gains, float)
    estimate = spearman(x, np.nanmean(gains, axis=1))
    columns = np.random.default_rng(seed).integers(0, gains.shape[1], (n_boot, gains.shape[1]))
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a draw of only languages a task lacks: NaN, left out
        means = np.nanmean(gains[:, columns], axis=2).T  # (n_boot, tasks)
    draws = spearman(x, means) if len(means) else np.array([])
    draws = draws[np.isfinite(draws)]
    if not np.isfinite(estimate) or draws.size == 0:
        return Interval(float(estimate), math.nan, math.nan, gains.shape[1], level)
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(estimate), float(low), float(high), gains.shape[1], level)


# -- data-size curves ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerLaw:
    """gain(n) = a - b * n^(-c): saturates at a as n grows (for b, c > 0)."""

    a: float
    b: float
    c: float

    def __call__(self, n: np.ndarray | float) -> np.ndarray:
        return self.a - self.b * np.power(np.asarray(n, dtype=float), -self.c)


EXPONENT_RANGE = (0.01, 3.0)  # the c searched: beyond 3 the curve is a step at the sizes of a grid
_EXPONENTS = np.geomspace(*EXPONENT_RANGE, 300)


def _fit_rows(n: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least squares for each row of ys (m, len(n)): for a fixed exponent c the model is a straight line in
    x = -(n / max n)^-c, so a and b are an ordinary regression; the c with the smallest squared error wins."""
    scale = n.max()  # n / max(n) keeps x near 1 whatever the sizes
    x = -np.power(n[None, :] / scale, -_EXPONENTS[:, None])  # (C, N)
    xc = x - x.mean(axis=1, keepdims=True)
    yc = ys - ys.mean(axis=1, keepdims=True)  # (M, N)
    slope = (yc @ xc.T) / np.sum(xc**2, axis=1)  # (M, C)
    intercept = ys.mean(axis=1, keepdims=True) - slope * x.mean(axis=1)
    residual = ys[:, None, :] - intercept[:, :, None] - slope[:, :, None] * x[None, :, :]
    best = np.argmin(np.sum(residual**2, axis=2), axis=1)
    rows, c = np.arange(len(ys)), _EXPONENTS[best]
    return intercept[rows, best], slope[rows, best] * scale**c, c


def fit_power_law(n: Sequence[float], y: Sequence[float]) -> PowerLaw:
    """Least-squares fit of gain(n) = a - b n^-c (a grid over c, a and b exact for each c). Needs at least
    three distinct sizes, one per parameter."""
    n = np.asarray(n, dtype=float)
    if len(np.unique(n)) < 3:
        raise ValueError("a power law a - b n^-c needs at least three distinct sizes")
    a, b, c = _fit_rows(n, np.asarray(y, dtype=float)[None, :])
    return PowerLaw(float(a[0]), float(b[0]), float(c[0]))


def power_law_band(
    points: Sequence[tuple[float, Sequence[float]]],
    grid: np.ndarray,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise percentile band of the fitted curve on `grid`: each bootstrap draw resamples the seeds at every
    size (points = (size, per-seed gains)) and refits. With one seed per size the band is the curve itself."""
    rng = np.random.default_rng(seed)
    n = np.asarray([size for size, _ in points], dtype=float)
    ys = np.column_stack(
        [np.asarray(v, float)[rng.integers(0, len(v), (n_boot, len(v)))].mean(axis=1) for _, v in points]
    )
    a, b, c = _fit_rows(n, ys)
    curves = a[:, None] - b[:, None] * np.power(np.asarray(grid, float)[None, :], -c[:, None])
    low, high = np.quantile(curves, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return low, high
