"""SQuAD v1.1 exact match and F1, the scorer XTREME applies to XQuAD and TyDiQA-GoldP in every language.

Definition: the official SQuAD v1.1 `evaluate-v1.1.py` (copied as google-research/xtreme
third_party/evaluate_squad.py). Normalise both strings (lowercase; drop ASCII punctuation; replace the words
a/an/the by a space; collapse whitespace), then EM = the normalised strings are equal, F1 = harmonic mean of token
precision and recall over whitespace tokens; each prediction takes its best score over the gold answers; both x100.
Consequences worth knowing (docs/metric-facts.md): only ASCII punctuation goes, so `co-operate` becomes
`cooperate`; a Chinese or Thai answer is one token; a prediction and gold that both normalise to "" have EM = 100
but F1 = 0. `score_answers` is shared with the MLQA scorer, which differs only in its normalisation.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Sequence

_ASCII_PUNCTUATION = frozenset(string.punctuation)
# \b is Unicode-aware on str patterns, as in the official script: the "a" of "théa" is not a word of its own.
_ENGLISH_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_squad(text: str) -> str:
    """SQuAD v1.1 `normalize_answer`: lower -> drop ASCII punctuation -> articles to spaces -> collapse whitespace.

    >>> normalize_squad("The  Co-operative, Ltd.")
    'cooperative ltd'
    """
    text = "".join(ch for ch in text.lower() if ch not in _ASCII_PUNCTUATION)
    return " ".join(_ENGLISH_ARTICLES.sub(" ", text).split())


def token_f1(prediction_tokens: Sequence[str], gold_tokens: Sequence[str]) -> float:
    """F1 over the multiset of tokens the two sides share, in [0, 1]. No shared token gives 0, including when both
    sides are empty: the official scripts return 0 there before dividing, although EM counts that case as a match."""
    shared = sum((Counter(prediction_tokens) & Counter(gold_tokens)).values())
    if shared == 0:
        return 0.0
    precision, recall = shared / len(prediction_tokens), shared / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def score_answers(
    predictions: Sequence[str], golds: Sequence[Sequence[str]], normalize: Callable[[str], str]
) -> dict[str, float]:
    """Mean over questions of the best EM and the best F1 over each question's gold answers, x100.

    `predictions[i]` answers the question whose acceptable answers are `golds[i]`. The official scripts score a
    question without a prediction as 0; here every question must have one, so the lists must align.
    """
    if len(predictions) != len(golds) or not golds:
        raise ValueError(f"need one prediction per question ({len(predictions)} predictions, {len(golds)} questions)")
    exact_match = f1 = 0.0
    for i, (prediction, answers) in enumerate(zip(predictions, golds, strict=True)):
        if isinstance(answers, str) or not answers:
            raise ValueError(f"question {i}: golds must be a non-empty list of answer strings, got {answers!r}")
        predicted = normalize(prediction)
        normalized_answers = [normalize(answer) for answer in answers]
        exact_match += max(float(predicted == answer) for answer in normalized_answers)
        f1 += max(token_f1(predicted.split(), answer.split()) for answer in normalized_answers)
    return {"exact_match": 100.0 * exact_match / len(golds), "f1": 100.0 * f1 / len(golds)}


def squad_em_f1(predictions: Sequence[str], golds: Sequence[Sequence[str]]) -> dict[str, float]:
    """SQuAD v1.1 exact match and F1 in percent (module docstring), the best over each question's gold answers.

    >>> squad_em_f1(["the Eiffel tower"], [["Eiffel Tower", "tower"]])
    {'exact_match': 100.0, 'f1': 100.0}
    >>> squad_em_f1(["Paris, France"], [["Paris"]])
    {'exact_match': 0.0, 'f1': 66.66666666666666}
    """
    return score_answers(predictions, golds, normalize_squad)


def squad_v2_em_f1(predictions: Sequence[str], golds: Sequence[Sequence[str]]) -> dict[str, float]:
    """SQuAD v2.0 exact match and F1 in percent, overall and split into answerable (HasAns) and unanswerable
    (NoAns) questions, as the official `evaluate-v2.0.py` reports them (without its threshold search: the
    prediction "" is the model's "no answer", chosen by the span_qa format).

    Definition (evaluate-v2.0.py): a question whose gold answers are all empty strings is unanswerable (the script
    turns an empty answer list into [""]); the normalisation is v1.1's; EM and F1 take the best over the gold
    answers, so on an unanswerable question both are 100 for the prediction "" and 0 for anything else (F1 is 1
    there only when both sides normalise to no tokens, unlike v1.1's token_f1). Each HasAns/NoAns key is only
    present when that kind of question is.

    >>> squad_v2_em_f1(["", "Paris"], [[], ["Paris", "in Paris"]])["exact_match"]
    100.0
    >>> squad_v2_em_f1(["Paris"], [[]])
    {'exact_match': 0.0, 'f1': 0.0, 'NoAns_exact_match': 0.0, 'NoAns_f1': 0.0}
    """
    if len(predictions) != len(golds) or not golds:
        raise ValueError(f"need one prediction per question ({len(predictions)} predictions, {len(golds)} questions)")
    scores: dict[str, list[tuple[float, float]]] = {"HasAns": [], "NoAns": []}
    for prediction, answers in zip(predictions, golds, strict=True):
        if isinstance(answers, str):
            raise ValueError(f"golds must be lists of answer strings, got {answers!r}")
        normalized = [normalize_squad(a) for a in answers if normalize_squad(a)] or [""]
        predicted = normalize_squad(prediction)
        kind = "HasAns" if normalized != [""] else "NoAns"
        exact = max(float(predicted == a) for a in normalized)
        f1 = max(_v2_f1(predicted.split(), a.split()) for a in normalized)
        scores[kind].append((exact, f1))
    result = _means(scores["HasAns"] + scores["NoAns"], "")
    for kind, pairs in scores.items():
        if pairs:
            result |= _means(pairs, f"{kind}_")
    return result


def _v2_f1(prediction_tokens: Sequence[str], gold_tokens: Sequence[str]) -> float:
    # evaluate-v2.0.py: "If either is no-answer, then F1 is 1 if they agree, 0 otherwise".
    if not prediction_tokens or not gold_tokens:
        return float(prediction_tokens == gold_tokens)
    return token_f1(prediction_tokens, gold_tokens)


def _means(pairs: Sequence[tuple[float, float]], prefix: str) -> dict[str, float]:
    return {
        f"{prefix}exact_match": 100.0 * sum(e for e, _ in pairs) / len(pairs),
        f"{prefix}f1": 100.0 * sum(f for _, f in pairs) / len(pairs),
    }
