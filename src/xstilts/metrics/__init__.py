"""Metrics by name, as task declarations refer to them. Each returns {metric name: value in percent}.

Every metric is written from its official definition, cited in its docstring and pinned by hand-computed tests
(tests/metrics/test_metrics.py); docs/metric-facts.md records what the official scorers really do.

    classification  accuracy                      XNLI, PAWS-X, XCOPA, ...
    tagging         seqeval_f1, udpos_f1          PAN-X (seqeval 1.2.x), UD-POS (seqeval 0.0.12, as XTREME)
    squad           squad_em_f1                   XQuAD, TyDiQA-GoldP
                    squad_v2_em_f1                SQuAD v2.0 (HasAns/NoAns/overall)
    tokens          token_accuracy                CCG supertagging
    mlqa            mlqa_em_f1                    MLQA (per-language normalisation)
    retrieval       tatoeba_accuracy, bucc_*      Tatoeba, BUCC 2018 (embeddings in, not in METRICS)
    ranking         map_at_k, ndcg_at_k           LAReQA mAP@20, XGLUE WPR nDCG (not in METRICS)

METRICS holds the metrics that score predictions against golds, all called as (predictions, golds, lang):
only MLQA's normalisation depends on the language; the others ignore it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from xstilts.metrics.classification import accuracy
from xstilts.metrics.mlqa import mlqa_em_f1
from xstilts.metrics.squad import squad_em_f1, squad_v2_em_f1
from xstilts.metrics.tagging import seqeval_f1, udpos_f1
from xstilts.metrics.tokens import token_accuracy

Metric = Callable[[Sequence[Any], Sequence[Any], str], dict[str, float]]


def _language_independent(metric: Callable[[Sequence[Any], Sequence[Any]], dict[str, float]]) -> Metric:
    def scored(predictions: Sequence[Any], golds: Sequence[Any], lang: str) -> dict[str, float]:
        return metric(predictions, golds)

    scored.__doc__ = metric.__doc__
    return scored


METRICS: dict[str, Metric] = {
    "accuracy": _language_independent(accuracy),
    "seqeval_f1": _language_independent(seqeval_f1),
    "udpos_f1": _language_independent(udpos_f1),
    "squad_em_f1": _language_independent(squad_em_f1),
    "squad_v2_em_f1": _language_independent(squad_v2_em_f1),
    "token_accuracy": _language_independent(token_accuracy),
    "mlqa_em_f1": mlqa_em_f1,
}

__all__ = [
    "METRICS",
    "accuracy",
    "mlqa_em_f1",
    "seqeval_f1",
    "squad_em_f1",
    "squad_v2_em_f1",
    "token_accuracy",
    "udpos_f1",
]
