"""Graded relevance of (query, document) pairs, scored by nDCG per query: XGLUE's Web Page Ranking (WPR).

Featurisation, head and loss are classification's: a pair is classified into the task's grades, listed worst first
(WPR: Bad, Fair, Good, Excellent, Perfect = 0..4), as XGLUE's baselines do. The metric is XGLUE's
(evaluation/xglue_evaluate.py `load_data` and `simple_ndcg`): rows are grouped into queries, a new query starting
wherever the query text differs from the previous row's; within a query the predicted grade is the score and the
gold grade the gain of `ndcg_at_k` (sklearn's ndcg_score, whole list, ties averaged); queries with fewer than two
documents are skipped; the mean over queries is reported.
"""

from __future__ import annotations

from collections.abc import Sequence

from xstilts.formats.classification import Classification
from xstilts.metrics.ranking import ndcg_at_k
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import ClassificationExample


def query_groups(examples: Sequence[ClassificationExample]) -> list[range]:
    """Index ranges of consecutive examples with the same query (text_a). A query that comes back after another
    one is a new group, as in XGLUE's script."""
    starts = [i for i, e in enumerate(examples) if i == 0 or e.text_a != examples[i - 1].text_a]
    return [range(start, end) for start, end in zip(starts, [*starts[1:], len(examples)], strict=True)]


class Ranking(Classification):
    name = "ranking"

    def score(
        self, predictions: Sequence[str], examples: Sequence[ClassificationExample], task: TaskDef, lang: str
    ) -> dict[str, float]:
        grade = {label: i for i, label in enumerate(task.labels)}
        groups = query_groups(examples)
        gains = [[grade[examples[i].label] for i in group] for group in groups]
        scores = [[grade[predictions[i]] for i in group] for group in groups]
        return ndcg_at_k(gains, scores)
