"""xstilts.report.seed_test: the exact sign-flip test over per-seed gains, against hand-enumerated cases and
scipy.stats.permutation_test (permutation_type="samples" swaps each pair, which flips the sign of its difference;
with n_resamples >= 2^n it enumerates every swap, so its p is exact and must equal ours to rounding)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from xstilts.report.seed_test import EXACT_UP_TO, sign_flip_test, smallest_p_text


def scipy_p(a: np.ndarray, b: np.ndarray, n_resamples: float = np.inf, rng: int = 0) -> float:
    """Two-sided p of the mean paired difference a - b, by swapping a_i and b_i."""
    result = scipy_stats.permutation_test(
        (a, b),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        vectorized=True,
        n_resamples=n_resamples,
        alternative="two-sided",
        rng=rng,
    )
    return float(result.pvalue)


def test_three_seeds_of_one_sign_give_the_smallest_p_a_quarter() -> None:
    # 8 sign assignments; only +++ and --- reach |mean| = 2, so p = 2/8, whatever the size of the gains.
    for gains in ([1.0, 2.0, 3.0], [0.1, 0.2, 30.0], [-5.7, -5.1, -6.5]):
        test = sign_flip_test(gains)
        assert test.p_value == 0.25 == test.smallest_p and test.n == 3 and test.exact
    assert smallest_p_text(3) == "with 3 seeds the smallest possible p is 0.25"


def test_hand_enumerated_cases() -> None:
    # [1, -1, 3]: sums +3 -3 +5 -1 +1 -5 +3 -3 over the 8 assignments; |sum| >= 3 in 6 of them.
    assert sign_flip_test([1.0, -1.0, 3.0]).p_value == 0.75
    # [2, 1, 1, 1]: observed sum 5; only ++++ (5) and ---- (-5) reach it: 2/16.
    assert sign_flip_test([2.0, 1.0, 1.0, 1.0]).p_value == 0.125
    # [3, 1, 1, -1]: sum 4 = 3 + (1 + 1 - 1). With the 3 kept, the other three terms add up to +3 (1 assignment,
    # sum 6), +1 (3 assignments, sum 4), -1 (3, sum 2) or -3 (1, sum 0): 4 reach |sum| >= 4; the mirror images
    # with the 3 flipped 4 more: 8/16.
    assert sign_flip_test([3.0, 1.0, 1.0, -1.0]).p_value == 0.5


def test_no_difference_or_one_seed_gives_p_one() -> None:
    assert sign_flip_test([0.0, 0.0, 0.0]).p_value == 1.0
    assert sign_flip_test([4.2]).p_value == 1.0 == sign_flip_test([4.2]).smallest_p
    with pytest.raises(ValueError, match="at least one"):
        sign_flip_test([])


@pytest.mark.parametrize("n", [3, 5, 8, 12])
def test_exact_p_equals_scipys_exact_enumeration(n: int) -> None:
    rng = np.random.default_rng(n)
    for shift in (0.0, 0.5, 1.5):
        baseline = rng.normal(50.0, 5.0, n)  # per-seed baseline scores; the condition's differ by noise + shift
        condition = baseline + rng.normal(shift, 1.0, n)
        ours = sign_flip_test(condition - baseline)
        assert ours.exact and ours.difference == pytest.approx(np.mean(condition - baseline))
        assert ours.p_value == pytest.approx(scipy_p(condition, baseline), abs=1e-12)


def test_beyond_the_exact_limit_a_monte_carlo_p_agrees_with_scipys_exact() -> None:
    n = EXACT_UP_TO + 2  # 2^18 assignments: scipy still enumerates them
    rng = np.random.default_rng(7)
    baseline = rng.normal(50.0, 5.0, n)
    condition = baseline + rng.normal(0.4, 1.0, n)
    ours = sign_flip_test(condition - baseline, n_flips=9999, seed=3)
    exact = scipy_p(condition, baseline)
    assert not ours.exact and 0.01 < exact < 0.5  # a p where the Monte Carlo error matters
    # 4 standard errors of a Monte Carlo p from 9,999 draws, plus the +1 (Phipson & Smyth) added to ours.
    assert abs(ours.p_value - exact) <= 4 * math.sqrt(exact * (1 - exact) / 9999) + 1 / 10_000
