"""How well a similarity ranking of intermediate conditions predicts the gains measured for a target.

Three measures, as Vu et al. (2020, "Exploring and Predicting Transferability across NLP Tasks") and Poth et al.
(2021, "What to Pre-Train on? Efficient Intermediate Task Selection") evaluate task-selection methods:

* Spearman's rank correlation between the similarity scores and the measured gains (scipy.stats.spearmanr; ties get
  average ranks).
* NDCG@k (Jarvelin and Kekalainen 2002): DCG@k = sum over the first k ranked conditions of (2^rel_i - 1) / log2(i + 1),
  divided by the DCG@k of the ideal order. The relevance rel_i is the target score the condition reached, as a
  fraction (a score of 63.8 points is 0.638), so that the exponential gain stays in [0, 1] per item.
* Regret@k = (O - M_k) / O x 100: O is the best target score over all conditions, M_k the best over the k conditions
  ranked first. 0 means the top k contain the best condition; it is a percentage of the best score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import spearmanr


def spearman(predicted: Sequence[float], measured: Sequence[float]) -> float | None:
    """Spearman's rho; None when it is undefined (fewer than two items, or either side constant)."""
    if len(predicted) < 2 or len(set(predicted)) < 2 or len(set(measured)) < 2:
        return None
    return float(spearmanr(predicted, measured).statistic)


def _dcg(relevance: Sequence[float]) -> float:
    return sum((2.0**rel - 1.0) / math.log2(i + 2) for i, rel in enumerate(relevance))


def ndcg_at_k(ranked_relevance: Sequence[float], k: int) -> float | None:
    """NDCG@k of relevances listed in the predicted order (best predicted first); None if every relevance is 0."""
    ideal = _dcg(sorted(ranked_relevance, reverse=True)[:k])
    return _dcg(ranked_relevance[:k]) / ideal if ideal > 0 else None


def regret_at_k(ranked_scores: Sequence[float], k: int) -> float | None:
    """Regret@k in percent of the best score, from scores listed in the predicted order; None if the best is <= 0."""
    best = max(ranked_scores)
    if best <= 0:
        return None
    return (best - max(ranked_scores[:k])) / best * 100.0


def ranked(names: Sequence[str], similarity: Sequence[float]) -> list[str]:
    """Names by similarity, highest first; ties by name, so a ranking never depends on the input order."""
    return [names[i] for i in sorted(range(len(names)), key=lambda i: (-similarity[i], names[i]))]


@dataclass(frozen=True)
class Quality:
    """A ranking's agreement with the measured gains over the `n` conditions that have both."""

    n: int
    k: int
    spearman: float | None
    ndcg: float | None
    regret: float | None  # at k
    regret_1: float | None  # is the condition ranked first the best one? (0 if so)
    top: str  # the condition ranked first
    best: str  # the condition with the largest measured gain


def quality(
    names: Sequence[str], similarity: Sequence[float], gains: Sequence[float], scores: Sequence[float], k: int
) -> Quality:
    """Rank `names` by similarity (highest first, ties by name) and compare with the measured gains; `scores` are
    the target scores the conditions reached (the baseline's score plus the gain), in points."""
    order = ranked(names, similarity)
    ranked_scores = [scores[names.index(name)] for name in order]
    return Quality(
        n=len(names),
        k=k,
        spearman=spearman(similarity, gains),
        ndcg=ndcg_at_k([s / 100.0 for s in ranked_scores], k),
        regret=regret_at_k(ranked_scores, k),
        regret_1=regret_at_k(ranked_scores, 1),
        top=order[0],
        best=names[int(np.argmax(gains))],
    )
