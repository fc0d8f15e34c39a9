"""xstilts.analysis.stats against scipy.stats as the reference: the percentile bootstrap (over seeds, and over
examples per language with the task metric recomputed) and the paired permutation test, on generated cases; Holm's
correction on hand-computed cases; the pooled-vs-per-language case of docs/report.md; and xstilts.analysis.sign_flip's
sign-flip test over per-seed gains against scipy's exact permutation test.

Tolerances come from the Monte Carlo error of the two estimates being compared (both resample, with different
random streams, so they differ by chance; the tests are seeded, so a pass is reproducible):

- A percentile q of B bootstrap draws has standard error sqrt(q (1 - q) / B) / f(x_q), where f is the density of
  the bootstrap distribution at its q-quantile. For a mean (accuracy, a gain averaged over seeds) that distribution
  is close to normal with the standard error s of the statistic, so f(x_q) = phi(z_q) / s. Two independent
  estimates differ with standard error sqrt(2) times that; the tests allow 4 of those (a chance failure ~6e-5).
- A Monte Carlo p-value from N permutations has standard error sqrt(p (1 - p) / N); against scipy's own Monte
  Carlo estimate the difference has sqrt(2) times that, and against scipy's exact p (all 2^n swaps, small n) it
  has the one. Both sides add 1 to the count of as-extreme permutations (Phipson & Smyth): ours once over the
  two-sided count, scipy once per side before doubling, so up to 2 / (N + 1) more is allowed on top.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats as scipy_stats

from xstilts.analysis.sign_flip import EXACT_UP_TO, sign_flip_test
from xstilts.analysis.stats import ExampleScores, bootstrap_examples, bootstrap_seeds, example_scores, holm
from xstilts.analysis.stats import permutation_test as paired_permutation_test
from xstilts.tasks import REGISTRY
from xstilts.tasks.examples import ClassificationExample, TaggingExample

XNLI, PANX = REGISTRY["xnli"], REGISTRY["panx"]
LEVEL = 0.95


def percentile_tolerance(spread: float, n_boot: int, level: float = LEVEL) -> float:
    """4 standard errors of the difference of two independent q-quantile estimates of a normal bootstrap
    distribution with standard deviation `spread`, q = (1 - level) / 2 (the same for the upper end)."""
    q = (1 - level) / 2
    density = math.exp(-(scipy_stats.norm.ppf(q) ** 2) / 2) / math.sqrt(2 * math.pi) / spread
    return 4 * math.sqrt(2) * math.sqrt(q * (1 - q) / n_boot) / density


def p_tolerance(p: float, n_perm: int, reference_exact: bool = False) -> float:
    se = math.sqrt(max(p * (1 - p), 1 / n_perm) / n_perm) * (1 if reference_exact else math.sqrt(2))
    return 4 * se + 2 / (n_perm + 1)


def accuracy_scores(correct: list[bool]) -> ExampleScores:
    golds = [ClassificationExample("p", "h", "entailment") for _ in correct]
    predictions = ["entailment" if c else "neutral" for c in correct]
    return example_scores(XNLI, predictions, golds, "en", "accuracy")


def tagging_case(rng: random.Random, n: int, quality: float) -> tuple[list, list]:
    labels = PANX.labels
    gold = [[rng.choice(labels) for _ in range(rng.randint(2, 6))] for _ in range(n)]
    predicted = [[t if rng.random() < quality else rng.choice(labels) for t in tags] for tags in gold]
    return predicted, [TaggingExample(tuple(f"w{i}" for i in range(len(t))), tuple(t)) for t in gold]


def chunk_f1(rows: np.ndarray) -> np.ndarray:
    """Micro chunk F1 x100 of summed (correct, predicted, gold) rows, written out here rather than taken from
    stats.py, so that the reference side does not share the code under test."""
    correct, predicted, gold = rows[..., 0], rows[..., 1], rows[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(correct > 0, 200.0 * correct / (predicted + gold), 0.0)


# -- bootstrap ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", range(3))
def test_seed_bootstrap_agrees_with_scipy(case: int) -> None:
    values = np.random.default_rng(case).normal(0.5 * case, 1 + case, size=5 + 3 * case)
    n_boot = 10_000
    ours = bootstrap_seeds(values, n_boot=n_boot, level=LEVEL, seed=case)
    ref = scipy_stats.bootstrap(
        (values,), np.mean, n_resamples=n_boot, confidence_level=LEVEL, method="percentile", rng=100 + case
    ).confidence_interval
    tol = percentile_tolerance(values.std() / math.sqrt(values.size), n_boot)
    assert ours.estimate == pytest.approx(values.mean())
    assert ours.low == pytest.approx(ref.low, abs=tol) and ours.high == pytest.approx(ref.high, abs=tol)


def test_paired_example_bootstrap_of_accuracy_over_languages_agrees_with_scipy() -> None:
    # Two languages (strata) of different sizes, each resampled on its own: scipy resamples several samples
    # independently too. The statistic is the mean over languages of the paired accuracy difference.
    rng = np.random.default_rng(5)
    sizes, chance = (80, 140), ((0.7, 0.6), (0.55, 0.5))
    right = [(rng.random(n) < pa, rng.random(n) < pb) for n, (pa, pb) in zip(sizes, chance, strict=True)]
    a = [accuracy_scores(list(x)) for x, _ in right]
    b = [accuracy_scores(list(y)) for _, y in right]
    n_boot = 4000
    ours = bootstrap_examples(a, b, n_boot=n_boot, level=LEVEL, seed=3)

    diffs = [100.0 * (x.astype(float) - y.astype(float)) for x, y in right]

    def statistic(*index_sets, axis=-1):
        return np.mean([d[np.asarray(i, int)].mean(axis=axis) for d, i in zip(diffs, index_sets, strict=True)], 0)

    indices = tuple(np.arange(n) for n in sizes)
    ref = scipy_stats.bootstrap(
        indices, statistic, n_resamples=n_boot, confidence_level=LEVEL, method="percentile", rng=7
    ).confidence_interval
    # the standard error of the mean over languages of the per-language mean differences
    spread = math.sqrt(sum(d.var() / d.size for d in diffs)) / len(diffs)
    tol = percentile_tolerance(spread, n_boot)
    assert ours.estimate == pytest.approx(np.mean([d.mean() for d in diffs]))
    assert ours.low == pytest.approx(ref.low, abs=tol) and ours.high == pytest.approx(ref.high, abs=tol)


def test_example_bootstrap_of_chunk_f1_agrees_with_scipy() -> None:
    # Chunk F1 is a ratio of sums, not a mean: the reference recomputes it from the resampled sentences' counts.
    rng = random.Random(11)
    predicted, golds = tagging_case(rng, 150, 0.8)
    ours_scores = example_scores(PANX, predicted, golds, "de", "f1")
    rows = ours_scores.stats[0]
    n_boot = 4000
    ours = bootstrap_examples(ours_scores, n_boot=n_boot, level=LEVEL, seed=1)

    def statistic(index, axis=-1):
        return chunk_f1(rows[np.asarray(index, int)].sum(axis=-2))

    result = scipy_stats.bootstrap(
        (np.arange(len(rows)),), statistic, n_resamples=n_boot, confidence_level=LEVEL, method="percentile", rng=2
    )
    # F1 of a resample is close to normal here; its spread is estimated from scipy's own draws
    tol = percentile_tolerance(result.standard_error, n_boot)
    assert ours.low == pytest.approx(result.confidence_interval.low, abs=tol)
    assert ours.high == pytest.approx(result.confidence_interval.high, abs=tol)


# -- paired permutation test --------------------------------------------------------------------------------------


def _swap_reference(a: list[np.ndarray], b: list[np.ndarray], combine, n_resamples: int, seed: int) -> float:
    """scipy's paired ("samples") permutation test on example indices, over languages (strata) of per-example rows:
    row i of `a` and row i of `b` trade places with probability 1/2, each language's metric is recomputed from the
    rows each side holds, and the statistic is the mean over languages of the difference."""
    table = np.concatenate(a + b)
    bounds = np.cumsum([0] + [len(rows) for rows in a])
    total = int(bounds[-1])

    def statistic(x, y, axis=-1):
        x, y = np.asarray(x, int), np.asarray(y, int)
        per_language = [
            combine(table[x[..., lo:hi]].sum(axis=-2)) - combine(table[y[..., lo:hi]].sum(axis=-2))
            for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        return np.mean(per_language, axis=0)

    result = scipy_stats.permutation_test(
        (np.arange(total), np.arange(total) + total),
        statistic,
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_resamples,
        alternative="two-sided",
        rng=seed,
    )
    return float(result.pvalue)


def _mean(rows: np.ndarray) -> np.ndarray:
    return rows[..., 0] / rows[..., 1]


@pytest.mark.parametrize("shift", [0.0, 0.1, 0.25])
def test_permutation_p_of_accuracy_agrees_with_scipy(shift: float) -> None:
    rng = np.random.default_rng(int(shift * 100))
    n, n_perm = 120, 9999
    x, y = rng.random(n) < 0.5 + shift, rng.random(n) < 0.5
    a, b = accuracy_scores(list(x)), accuracy_scores(list(y))
    ours = paired_permutation_test(a, b, n_perm=n_perm, seed=4).p_value
    ref = _swap_reference([a.stats[0]], [b.stats[0]], _mean, n_perm, seed=9)
    assert ours == pytest.approx(ref, abs=p_tolerance(ref, n_perm))


def test_permutation_p_of_chunk_f1_agrees_with_scipy() -> None:
    rng = random.Random(8)
    predicted, golds = tagging_case(rng, 100, 0.75)
    worse = [[t if rng.random() < 0.98 else "O" for t in tags] for tags in predicted]
    a = example_scores(PANX, predicted, golds, "de", "f1")
    b = example_scores(PANX, worse, golds, "de", "f1")
    n_perm = 9999
    ours = paired_permutation_test(a, b, n_perm=n_perm, seed=0).p_value
    ref = _swap_reference([a.stats[0]], [b.stats[0]], chunk_f1, n_perm, seed=1)
    assert 0.0005 < ref < 0.5  # a case in between, where agreement is informative
    assert ours == pytest.approx(ref, abs=p_tolerance(ref, n_perm))


def test_permutation_p_agrees_with_scipys_exact_enumeration() -> None:
    # 12 examples: scipy enumerates all 2^12 swap patterns (n_resamples above that), so its p is exact.
    x = [True, True, False, True, True, False, True, True, True, False, True, True]
    y = [False, True, False, False, True, True, False, True, False, False, False, True]
    a, b = accuracy_scores(x), accuracy_scores(y)
    n_perm = 19_999
    ours = paired_permutation_test(a, b, n_perm=n_perm, seed=6).p_value
    exact = _swap_reference([a.stats[0]], [b.stats[0]], _mean, 10**6, seed=0)
    # 6 discordant pairs, a right in 5: |sum of 6 signs| >= 4 in 2 * (1 + 6) of 64 patterns
    assert exact == pytest.approx(14 / 64)
    assert ours == pytest.approx(exact, abs=p_tolerance(exact, n_perm, reference_exact=True))


# -- sign-flip test over seeds -----------------------------------------------------------------------------------


def _per_seed_rows(scores: np.ndarray) -> np.ndarray:
    """Per-seed scores as (score, 1) rows, so that the reference's mean metric is the mean over seeds: swapping a
    seed's two scores flips the sign of its difference, which is the sign-flip test."""
    return np.column_stack([scores, np.ones_like(scores)])


@pytest.mark.parametrize("n", [3, 5, 8, 12])
def test_sign_flip_p_equals_scipys_exact_enumeration(n: int) -> None:
    rng = np.random.default_rng(n)
    for shift in (0.0, 0.5, 1.5):
        baseline = rng.normal(50.0, 5.0, n)  # per-seed baseline scores; the condition's differ by noise + shift
        condition = baseline + rng.normal(shift, 1.0, n)
        ours = sign_flip_test(condition - baseline)
        # n_resamples above 2^n: scipy enumerates every swap pattern, so both sides are exact
        exact = _swap_reference([_per_seed_rows(condition)], [_per_seed_rows(baseline)], _mean, 10**6, seed=0)
        assert ours.exact and ours.difference == pytest.approx(np.mean(condition - baseline))
        assert ours.p_value == pytest.approx(exact, abs=1e-12)


def test_sign_flip_monte_carlo_beyond_the_exact_limit_agrees_with_scipys_exact_p() -> None:
    n, n_flips = EXACT_UP_TO + 2, 9999  # 2^18 patterns: scipy still enumerates them
    rng = np.random.default_rng(7)
    baseline = rng.normal(50.0, 5.0, n)
    condition = baseline + rng.normal(0.4, 1.0, n)
    ours = sign_flip_test(condition - baseline, n_flips=n_flips, seed=3)
    exact = _swap_reference([_per_seed_rows(condition)], [_per_seed_rows(baseline)], _mean, 10**6, seed=0)
    assert not ours.exact and 0.01 < exact < 0.5  # a p where the Monte Carlo error matters
    assert ours.p_value == pytest.approx(exact, abs=p_tolerance(exact, n_flips, reference_exact=True))


# -- Holm --------------------------------------------------------------------------------------------------------


def test_holm_by_hand() -> None:
    # sorted 0.01, 0.02, 0.03, 0.5 -> 4 * 0.01, 3 * 0.02, max(0.06, 2 * 0.03), max(0.06, 1 * 0.5)
    adjusted = holm({"de": 0.02, "en": 0.01, "sw": 0.5, "zh": 0.03})
    assert adjusted == {"de": 0.06, "en": 0.04, "sw": 0.5, "zh": 0.06}
    assert holm({"de": 0.4, "fr": 0.9}) == {"de": 0.8, "fr": 0.9}  # capped at 1 only when it would exceed it
    assert holm({"de": 0.7, "fr": 0.9}) == {"de": 1.0, "fr": 1.0}
    assert holm({}) == {} and holm({"en": 0.03}) == {"en": 0.03}


def test_holm_is_never_below_the_raw_p_and_keeps_the_order() -> None:
    rng = np.random.default_rng(0)
    raw = {f"l{i}": float(p) for i, p in enumerate(rng.random(12) ** 3)}
    adjusted = holm(raw)
    assert all(adjusted[k] >= raw[k] for k in raw)
    by_raw = sorted(raw, key=raw.get)
    assert [adjusted[k] for k in by_raw] == sorted(adjusted[k] for k in by_raw)


# -- the pooled-vs-per-language case of docs/report.md ------------------------------------------------------------


def test_pooled_test_has_power_that_no_single_language_has() -> None:
    """Ten languages of 1,000 examples; the two conditions disagree on 18 examples in all, 14 of them in the
    baseline's favour: two languages with one such example, four with one each way, four with two against.
    Mean gain -0.1; every per-language p is 0.5 or 1 (no pattern of one or two swaps is rarer than that), but
    the pooled test sees 14 of 18 signs agree: exact two-sided p = 2 (1 + 18 + 153 + 816 + 3060) / 2^18 = 0.0309."""
    disagreements = [["-"]] * 2 + [["-", "+"]] * 4 + [["-", "-"]] * 4
    a, b = [], []
    for signs in disagreements:
        x, y = [True] * 1000, [True] * 1000
        for i, sign in enumerate(signs):
            (x if sign == "-" else y)[i] = False  # "-": the condition is wrong where the baseline is right
        a.append(accuracy_scores(x))
        b.append(accuracy_scores(y))
    n_perm = 9999
    pooled = paired_permutation_test(a, b, n_perm=n_perm, seed=0)
    exact = 2 * (1 + 18 + 153 + 816 + 3060) / 2**18
    assert pooled.difference == pytest.approx(-0.1)
    assert pooled.p_value == pytest.approx(exact, abs=p_tolerance(exact, n_perm, reference_exact=True))
    per_language = {
        f"l{i}": paired_permutation_test(x, y, n_perm=n_perm, seed=i + 1).p_value
        for i, (x, y) in enumerate(zip(a, b, strict=True))
    }
    assert min(per_language.values()) >= 0.45
    assert min(holm(per_language).values()) >= 0.45


def test_pooled_permutation_p_over_languages_of_chunk_f1_agrees_with_scipy() -> None:
    # The pooled test: the mean over languages (of different sizes) of the F1 difference; each example's pair is
    # swapped on its own, in every language at once. scipy gets all languages' indices as one paired sample.
    rng = random.Random(21)
    strata = []
    for n, noise in ((40, 0.96), (70, 0.99), (55, 0.97)):
        predicted, golds = tagging_case(rng, n, 0.8)
        worse = [[t if rng.random() < noise else "O" for t in tags] for tags in predicted]
        strata.append(
            (example_scores(PANX, predicted, golds, "de", "f1"), example_scores(PANX, worse, golds, "de", "f1"))
        )
    n_perm = 9999
    ours = paired_permutation_test([a for a, _ in strata], [b for _, b in strata], n_perm=n_perm, seed=3).p_value
    ref = _swap_reference([a.stats[0] for a, _ in strata], [b.stats[0] for _, b in strata], chunk_f1, n_perm, 5)
    assert 0.0005 < ref < 0.5
    assert ours == pytest.approx(ref, abs=p_tolerance(ref, n_perm))
