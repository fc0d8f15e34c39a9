"""Ranking metrics: mAP@k as XTREME-R scores LAReQA, nDCG as XGLUE scores Web Page Ranking (WPR)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def map_at_k(
    ranked_relevance: Sequence[Sequence[bool | int]], k: int = 20, num_relevant: Sequence[int] | None = None
) -> dict[str, float]:
    """Mean average precision at k x100, XTREME-R's LAReQA metric (k = 20).

    Definition: google-research/xtreme third_party/utils_lareqa.py, `average_precision_at_k` and
    `mean_avg_prec_at_k(..., k=20)` as run_retrieval.py calls them. For one query, walk its ranking down to rank k;
    at each relevant item add the precision so far (relevant items seen / rank); divide the sum by
    min(number of relevant items, k), so a query with more than k answers can still reach 1. Mean over queries.

    `ranked_relevance[q]` is query q's whole candidate pool in ranked order, truthy where the candidate is relevant
    (in LAReQA: an answer sentence with the question's xling_id, in any language). If the lists are cut short,
    pass `num_relevant[q]`, the number of relevant candidates in the whole pool, since the divisor needs it.
    A query with no relevant candidate raises (the official code divides by zero).

    >>> map_at_k([[0, 1, 0, 1], [1, 0, 0, 0]], k=20)  # (1/2 + 2/4) / 2 = 0.5 and 1 / 1 = 1
    {'map@20': 75.0}
    """
    if not ranked_relevance:
        raise ValueError("map_at_k needs at least one query")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if num_relevant is not None and len(num_relevant) != len(ranked_relevance):
        raise ValueError("num_relevant needs one count per query")
    total = 0.0
    for q, ranking in enumerate(ranked_relevance):
        relevant = sum(bool(r) for r in ranking) if num_relevant is None else num_relevant[q]
        if relevant == 0:
            raise ValueError(f"query {q} has no relevant candidate, so its average precision is undefined")
        hits, precision_sum = 0, 0.0
        for rank, is_relevant in enumerate(ranking[:k], start=1):
            if is_relevant:
                hits += 1
                precision_sum += hits / rank
        total += precision_sum / min(relevant, k)
    return {f"map@{k}": 100.0 * total / len(ranked_relevance)}


def _tie_averaged_dcg(gains: np.ndarray, scores: np.ndarray, discounts: np.ndarray) -> float:
    """DCG of the order given by `scores` (highest first), where documents with equal scores share their positions:
    each gets the mean gain of its tie group, i.e. the DCG averaged over every order of the ties (McSherry & Najork
    2008, the default of sklearn.metrics.ndcg_score). XGLUE's predictions are 0-4 labels, so ties are the rule."""
    order = np.argsort(-scores, kind="stable")
    ranked_scores, ranked_gains = scores[order], gains[order]
    dcg, start = 0.0, 0
    while start < len(order):
        end = start + 1
        while end < len(order) and ranked_scores[end] == ranked_scores[start]:
            end += 1
        dcg += ranked_gains[start:end].mean() * discounts[start:end].sum()
        start = end
    return dcg


def ndcg_at_k(
    relevance: Sequence[Sequence[float]], scores: Sequence[Sequence[float]], k: int | None = None
) -> dict[str, float]:
    """Mean nDCG x100 over queries, XGLUE's Web Page Ranking metric.

    Definition: microsoft/XGLUE evaluation/xglue_evaluate.py `simple_ndcg`, which calls sklearn's `ndcg_score` on
    each query with its defaults. For query q, `relevance[q]` are the graded labels of its documents (WPR: bad 0,
    fair 1, good 2, excellent 3, perfect 4) and `scores[q]` the model's scores for the same documents (XGLUE's
    predictions are labels too). Gain is the label itself (linear, not 2^label - 1); the discount at rank r is
    1 / log2(r + 1); tied scores share the mean gain of their group (`_tie_averaged_dcg`); nDCG = DCG / the DCG of
    the documents sorted by label, and 0 for a query whose labels are all 0. XGLUE uses the whole list (k=None);
    a k zeroes the discounts after rank k. Queries with fewer than two documents are skipped, as XGLUE does.

    >>> ndcg_at_k([[3, 2, 0]], [[0.9, 0.8, 0.1]])
    {'ndcg': 100.0}
    """
    if len(relevance) != len(scores):
        raise ValueError(f"need scores for every query ({len(relevance)} label lists, {len(scores)} score lists)")
    if k is not None and k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    values = []
    for q, (labels, predicted) in enumerate(zip(relevance, scores, strict=True)):
        gains, predicted = np.asarray(labels, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
        if len(gains) != len(predicted):
            raise ValueError(f"query {q}: {len(gains)} labels for {len(predicted)} scores")
        if (gains < 0).any():
            raise ValueError(f"query {q}: relevance labels must be >= 0")
        if len(gains) < 2:
            continue
        discounts = np.array([1.0 / math.log2(rank + 1) for rank in range(1, len(gains) + 1)])
        if k is not None:
            discounts[k:] = 0.0
        ideal = float(np.sort(gains)[::-1] @ discounts)
        values.append(0.0 if ideal == 0 else _tie_averaged_dcg(gains, predicted, discounts) / ideal)
    if not values:
        raise ValueError("no query has two or more documents, so XGLUE's nDCG is undefined")
    return {"ndcg" if k is None else f"ndcg@{k}": 100.0 * float(np.mean(values))}
