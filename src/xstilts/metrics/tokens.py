"""Per-token accuracy, the standard score of CCG supertagging (Clark and Curran 2007 report the share of
words whose supertag is right; with ~1,300 tags there are no chunks for seqeval to find)."""

from __future__ import annotations

from collections.abc import Sequence


def token_accuracy(predictions: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]) -> dict[str, float]:
    """Percent of words, over all sentences, whose predicted tag equals the gold tag.

    >>> token_accuracy([["NP", "S\\\\NP"], ["N"]], [["NP", "(S\\\\NP)/NP"], ["N"]])
    {'accuracy': 66.66666666666667}
    """
    if len(predictions) != len(golds):
        raise ValueError(f"need one prediction per sentence ({len(predictions)} predictions, {len(golds)} sentences)")
    right = total = 0
    for i, (predicted, gold) in enumerate(zip(predictions, golds, strict=True)):
        if len(predicted) != len(gold):
            raise ValueError(f"sentence {i}: {len(predicted)} predicted tags for {len(gold)} words")
        right += sum(p == g for p, g in zip(predicted, gold, strict=True))
        total += len(gold)
    if total == 0:
        raise ValueError("no words to score")
    return {"accuracy": 100.0 * right / total}
