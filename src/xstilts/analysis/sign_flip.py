"""A test of a gain at the level of training runs: the exact sign-flip (randomisation) test over per-seed paired
differences (condition minus baseline, same seed), beside the permutation test over evaluation examples in
`stats.py`.

The two tests ask different questions. The example-level test pools every seed's predictions and asks whether the
evaluation examples could have come out as they did if the two conditions were the same *trained models*; it does
not see that another training run (another seed) would give other models. The sign-flip test takes each seed's
difference as one unit: under "the condition changes nothing", each seed's difference is as likely to be d as -d
(the pairing within a seed shares data order and initialisation), so all 2^n assignments of signs are equally
likely, and p is the share of them whose mean is at least as far from zero as the observed mean (Fisher 1935,
the randomisation test for paired differences). With n seeds the smallest two-sided p is 2 / 2^n: 0.25 with 3
seeds, 0.0625 with 5, below 0.05 only from 6 seeds on.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

EXACT_UP_TO = 16  # seeds: 2^16 sign vectors are enumerated; beyond, a Monte Carlo sample of them


@dataclass(frozen=True)
class SignFlipTest:
    difference: float  # mean of the per-seed differences
    p_value: float  # two-sided: share of sign assignments with |mean| >= |observed mean|
    n: int  # seeds
    exact: bool  # every sign assignment enumerated (else `n_flips` random ones, Phipson & Smyth's +1)

    @property
    def smallest_p(self) -> float:
        """The smallest p this many seeds can give: both all-positive and all-negative signs are as extreme."""
        return min(1.0, 2.0 / 2**self.n)


def smallest_p_text(n: int) -> str:
    """ "with 3 seeds the smallest possible p is 0.25", for the report's notes."""
    return f"with {n} seed{'s' * (n != 1)} the smallest possible p is {min(1.0, 2.0 / 2**n):.3g}"


def sign_flip_test(differences: Sequence[float], n_flips: int = 9999, seed: int = 0) -> SignFlipTest:
    """Exact two-sided sign-flip test of "the mean paired difference is zero" over per-seed differences (Monte Carlo
    with `n_flips` draws beyond EXACT_UP_TO seeds). One seed gives p = 1: there is nothing to compare it with.

    >>> sign_flip_test([1.0, 2.0, 3.0]).p_value  # only all + and all - reach |mean| = 2
    0.25
    >>> sign_flip_test([1.0, -1.0, 3.0]).p_value  # |mean| >= 1 in 6 of the 8 assignments
    0.75
    """
    d = np.asarray(differences, dtype=float)
    if d.size == 0:
        raise ValueError("sign_flip_test needs at least one per-seed difference")
    observed = float(d.mean())
    exact = d.size <= EXACT_UP_TO
    if exact:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=d.size)))
    else:
        signs = np.where(np.random.default_rng(seed).random((n_flips, d.size)) < 0.5, -1.0, 1.0)
    flipped = np.abs(signs @ d) / d.size
    # A tolerance, so that assignments equal to the observed mean up to rounding count as "as extreme".
    extreme = int(np.sum(flipped >= abs(observed) - 1e-9))
    p = extreme / len(signs) if exact else (1 + extreme) / (n_flips + 1)
    return SignFlipTest(observed, float(p), int(d.size), exact)
