"""How well a similarity ranking of intermediate conditions predicts the gains measured for a target.

Three measures, as Vu et al. (2020, "Exploring and Predicting Transferability across NLP Tasks") and Poth et al.
(2021, "What to Pre-Train on? Efficient Intermediate Task Selection") evaluate task-selection methods:

* Spearman's rank correlation between the similarity scores and the measured gains (scipy.stats.spearmanr; ties get
  average ranks).
* NDCG@k (Jarvelin and Kekalainen 2002): DCG@k = sum over the first k ranked conditions of rel_i / log2(i + 1),
  divided by the DCG@k of the ideal order. The relevance rel_i is the rank of the condition's measured gain among the
  candidates, from 0 (the smallest gain) to n - 1 (the largest; ties share their mean rank). Relevance as the target
  score itself (63.8 points as 0.638, as this module had it) made every order look good: with 6 candidates and k = 3
  a random order scored 0.975 and the worst 0.951, because the scores of competing conditions differ by a few points
  out of 100. Rank relevance spreads the same orders from 0 (worst) to 1 (ideal).
* Regret@k = (O - M_k) / O x 100: O is the best target score over all conditions, M_k the best over the k conditions
  ranked first. 0 means the top k contain the best condition; it is a percentage of the best score.

Each measure comes with its expectation under a uniformly random ranking, computed exactly: 0 for Spearman; for
NDCG@k, E[DCG@k] = mean(rel) x sum over i <= k of 1 / log2(i + 1), as every position holds each candidate with
probability 1/n; for regret@k, the best of k random candidates is the j-th best of n with probability
C(n - j, k - 1) / C(n, k). A ranking is informative where it beats that expectation, not where it is near 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import comb
from scipy.stats import rankdata, spearmanr


def spearman(predicted: Sequence[float], measured: Sequence[float]) -> float | None:
    """Spearman's rho; None when it is undefined (fewer than two items, or either side constant)."""
    if len(predicted) < 2 or len(set(predicted)) < 2 or len(set(measured)) < 2:
        return None
    return float(spearmanr(predicted, measured).statistic)


def relevance(gains: Sequence[float]) -> list[float]:
    """Each condition's relevance for NDCG: the rank of its gain, 0 for the smallest to n - 1 for the largest (ties
    share their mean rank, as scipy.stats.rankdata gives it).

    >>> relevance([0.5, -1.0, 2.0, 0.5])
    [1.5, 0.0, 3.0, 1.5]
    """
    return [float(r) - 1.0 for r in rankdata(gains)]


def _discounts(k: int, n: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(min(k, n)) + 2.0)


def _dcg(relevance: Sequence[float], k: int) -> float:
    return float(np.dot(np.asarray(relevance[:k], float), _discounts(k, len(relevance))))


def ndcg_at_k(ranked_relevance: Sequence[float], k: int) -> float | None:
    """NDCG@k (linear gain) of relevances listed in the predicted order (best predicted first); None if every
    relevance is 0."""
    ideal = _dcg(sorted(ranked_relevance, reverse=True), k)
    return _dcg(ranked_relevance, k) / ideal if ideal > 0 else None


def random_ndcg_at_k(relevances: Sequence[float], k: int) -> float | None:
    """The exact expectation of NDCG@k over uniformly random orders of `relevances`; None if every one is 0.

    >>> round(random_ndcg_at_k([0, 1, 2, 3, 4, 5], 3), 3)  # 6 candidates, k = 3
    0.59
    """
    ideal = _dcg(sorted(relevances, reverse=True), k)
    if ideal <= 0:
        return None
    return float(np.mean(relevances) * _discounts(k, len(relevances)).sum() / ideal)


def regret_at_k(ranked_scores: Sequence[float], k: int) -> float | None:
    """Regret@k in percent of the best score, from scores listed in the predicted order; None if the best is <= 0."""
    best = max(ranked_scores)
    if best <= 0:
        return None
    return (best - max(ranked_scores[:k])) / best * 100.0


def random_regret_at_k(scores: Sequence[float], k: int) -> float | None:
    """The exact expectation of regret@k (percent of the best score) over uniformly random orders of `scores`:
    the best of k random candidates is the j-th best (j from 1) with probability C(n - j, k - 1) / C(n, k)."""
    best, n = max(scores), len(scores)
    if best <= 0:
        return None
    k = min(k, n)
    descending = sorted(scores, reverse=True)
    chance = [comb(n - j, k - 1, exact=True) / comb(n, k, exact=True) for j in range(1, n + 1)]
    return float(sum(p * (best - s) / best * 100.0 for p, s in zip(chance, descending, strict=True)))


def ranked(names: Sequence[str], similarity: Sequence[float]) -> list[str]:
    """Names by similarity, highest first; ties by name, so a ranking never depends on the input order."""
    return [names[i] for i in sorted(range(len(names)), key=lambda i: (-similarity[i], names[i]))]


@dataclass(frozen=True)
class Quality:
    """A ranking's agreement with the measured gains over the `n` conditions that have both, and each measure's
    expectation under a uniformly random ranking (`*_random`)."""

    n: int
    k: int
    spearman: float | None
    ndcg: float | None
    regret: float | None  # at k
    regret_1: float | None  # is the condition ranked first the best one? (0 if so)
    top: str  # the condition ranked first
    best: str  # the condition with the largest measured gain
    spearman_random: float | None = None
    ndcg_random: float | None = None
    regret_random: float | None = None
    regret_1_random: float | None = None


def quality(
    names: Sequence[str], similarity: Sequence[float], gains: Sequence[float], scores: Sequence[float], k: int
) -> Quality:
    """Rank `names` by similarity (highest first, ties by name) and compare with the measured gains; `scores` are
    the target scores the conditions reached (the baseline's score plus the gain), in points."""
    order = ranked(names, similarity)
    ranked_scores = [scores[names.index(name)] for name in order]
    rel = relevance(gains)
    rho = spearman(similarity, gains)
    return Quality(
        n=len(names),
        k=k,
        spearman=rho,
        ndcg=ndcg_at_k([rel[names.index(name)] for name in order], k),
        regret=regret_at_k(ranked_scores, k),
        regret_1=regret_at_k(ranked_scores, 1),
        top=order[0],
        best=names[int(np.argmax(gains))],
        spearman_random=None if rho is None else 0.0,
        ndcg_random=random_ndcg_at_k(rel, k),
        regret_random=random_regret_at_k(scores, k),
        regret_1_random=random_regret_at_k(scores, 1),
    )
