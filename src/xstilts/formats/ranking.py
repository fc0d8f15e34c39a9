"""Graded relevance of (query, document) pairs, scored by nDCG per query: XGLUE's Web Page Ranking (WPR).

Featurisation, head and loss are classification's: a pair is classified into the task's grades, listed worst first
(WPR: Bad, Fair, Good, Excellent, Perfect = 0..4), as XGLUE's baselines do. The metric is XGLUE's
(evaluation/xglue_evaluate.py `load_data` and `simple_ndcg`): rows are grouped into queries, a new query starting
wherever the query text differs from the previous row's; within a query the predicted grade is the score and the
gold grade the gain of `ndcg_at_k` (sklearn's ndcg_score, whole list, ties averaged); queries with fewer than two
documents are skipped; the mean over queries is reported.
"""

from __future__ import annotations

from xstilts.formats.classification import Classification
from xstilts.formats.scoring import RankingScoring, query_groups

__all__ = ["Ranking", "query_groups"]


class Ranking(RankingScoring, Classification):
    """Classification's featurisation, head and loss; RankingScoring's nDCG (formats/scoring.py)."""
