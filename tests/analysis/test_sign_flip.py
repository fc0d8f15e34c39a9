"""xstilts.analysis.sign_flip: the exact sign-flip test over per-seed gains on hand-enumerated cases and its edge cases
(tests/analysis/test_stats_reference.py checks it against scipy's exact permutation test)."""

from __future__ import annotations

import pytest

from xstilts.analysis.sign_flip import sign_flip_test, smallest_p_text


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
