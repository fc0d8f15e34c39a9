"""Accuracy, the metric XTREME's evaluate.py uses for XNLI and PAWS-X (and XCOPA, SIQA in XTREME-R)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def accuracy(predictions: Sequence[Any], golds: Sequence[Any]) -> dict[str, float]:
    """Percentage of examples whose prediction equals the gold label (google-research/xtreme evaluate.py `accuracy`).

    The official script zips the two lists and divides by the number of predictions; here unequal lengths or an
    empty list raise instead, since either means the predictions are not aligned with the examples.

    >>> accuracy(["a", "b", "b", "a"], ["a", "b", "a", "a"])
    {'accuracy': 75.0}
    """
    if len(predictions) != len(golds) or not golds:
        raise ValueError(f"accuracy needs equally many predictions and golds ({len(predictions)}, {len(golds)})")
    return {"accuracy": 100.0 * sum(p == g for p, g in zip(predictions, golds, strict=True)) / len(golds)}
