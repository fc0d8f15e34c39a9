"""Metrics by name, as task declarations refer to them. Each returns {metric name: value in percent}."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from seqeval.metrics import f1_score


def accuracy(predictions: Sequence[Any], golds: Sequence[Any]) -> dict[str, float]:
    if len(predictions) != len(golds) or not golds:
        raise ValueError(f"accuracy needs equally many predictions and golds ({len(predictions)}, {len(golds)})")
    return {"accuracy": 100.0 * sum(p == g for p, g in zip(predictions, golds, strict=True)) / len(golds)}


def seqeval_f1(predictions: Sequence[list[str]], golds: Sequence[list[str]]) -> dict[str, float]:
    """Chunk F1 as XTREME computes it for PAN-X and UD-POS: seqeval's default (conlleval-style) mode, in which
    runs of identical tags form chunks and an I- tag with no B- before it starts one. Note: XTREME's UD-POS
    numbers come from seqeval 0.0.12; 1.2.x parses bare POS tags differently (../shared/docs/metric-facts.md)."""
    with warnings.catch_warnings():  # seqeval warns that POS tags "seem not to be NE tags": expected for UD-POS
        warnings.simplefilter("ignore", UserWarning)
        return {"f1": 100.0 * f1_score(list(golds), list(predictions))}


METRICS: dict[str, Callable[..., dict[str, float]]] = {"accuracy": accuracy, "seqeval_f1": seqeval_f1}
