"""The scoring half of each format: the JSON shape of its predictions (one value per gold example, as xstilts writes
them to stages/<key>/predictions-<lang>.jsonl and as `xstilts score-predictions` reads them), how one prediction is
checked against its gold example, and how a list of them is scored with the task's metric.

Each format class (formats/*.py) inherits its scoring half, so `check` and `score` are methods of the format. This
module imports no torch: `score-predictions` builds a format's scoring half alone and starts in a fraction of a
second."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from xstilts.metrics import METRICS
from xstilts.metrics.ranking import map_at_k, ndcg_at_k
from xstilts.metrics.retrieval import Candidate, bucc_f1, bucc_optimal_threshold
from xstilts.tasks.definition import TaskDef


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _label_problem(value: Any, task: TaskDef, what: str) -> str | None:
    """A label must be one of the task's label strings, spelled as declared (`1` is not `"1"`)."""
    known = ", ".join(_shown(label) for label in task.labels)
    if not isinstance(value, str):
        return f"{_shown(value)} is not a string; {what} are label strings" + (f" ({known})" if known else "")
    if task.labels and value not in task.labels:
        return f"{_shown(value)} is not a label of {task.name} ({known})"
    return None


class Scoring:
    """What a format's predictions look like and how they are checked and scored. Subclasses set `name`, `shape`
    (one line for --help and docs/tasks.md) and `example` (one predictions line), and implement `problem`."""

    name: str
    shape: str
    example: str

    def problem(self, value: Any, index: int, examples: Sequence[Any], task: TaskDef) -> str | None:
        """Why `value` cannot be the prediction for examples[index], or None if it can."""
        raise NotImplementedError(f"{self.name} predictions cannot be scored from a file")

    def first_problem(self, values: Sequence[Any], examples: Sequence[Any], task: TaskDef) -> tuple[int, str] | None:
        """(index, why) of the first prediction that does not fit, or None."""
        for index, value in enumerate(values):
            found = self.problem(value, index, examples, task)
            if found is not None:
                return index, found
        return None

    def score_exported(self, exported: Sequence[Any], examples: Sequence[Any], task: TaskDef, lang: str) -> dict:
        """{metric: value in percent} of predictions in their JSON form (checked first with `first_problem`)."""
        return self.score(exported, examples, task, lang)

    def score(self, predictions: Sequence[Any], examples: Sequence[Any], task: TaskDef, lang: str) -> dict:
        raise NotImplementedError(f"{self.name} is a training task only")


class ClassificationScoring(Scoring):
    name = "classification"
    shape = 'the label, a string spelled as the task declares it (XNLI "entailment"; PAWS-X "1", not 1)'
    example = '"entailment"'

    def problem(self, value: Any, index: int, examples: Sequence[Any], task: TaskDef) -> str | None:
        return _label_problem(value, task, "classification predictions")

    def score(self, predictions: Sequence[str], examples: Sequence[Any], task: TaskDef, lang: str) -> dict:
        return METRICS[task.metric](predictions, [e.label for e in examples], lang)


def query_groups(examples: Sequence[Any]) -> list[range]:
    """Index ranges of consecutive examples with the same query (text_a). A query that comes back after another
    one is a new group, as in XGLUE's script."""
    starts = [i for i, e in enumerate(examples) if i == 0 or e.text_a != examples[i - 1].text_a]
    return [range(start, end) for start, end in zip(starts, [*starts[1:], len(examples)], strict=True)]


class RankingScoring(ClassificationScoring):
    """nDCG per query over predicted grades (formats/ranking.py says how XGLUE groups and scores them)."""

    name = "ranking"
    shape = "the predicted grade, a label string (XGLUE WPR: Bad, Fair, Good, Excellent, Perfect)"
    example = '"Good"'

    def score(self, predictions: Sequence[str], examples: Sequence[Any], task: TaskDef, lang: str) -> dict:
        grade = {label: i for i, label in enumerate(task.labels)}
        groups = query_groups(examples)
        gains = [[grade[examples[i].label] for i in group] for group in groups]
        scores = [[grade[predictions[i]] for i in group] for group in groups]
        return ndcg_at_k(gains, scores)


class MultipleChoiceScoring(Scoring):
    name = "multiple_choice"
    shape = 'the 0-based index of the chosen answer, an integer (XCOPA: 0 or 1, not "1")'
    example = "1"

    def problem(self, value: Any, index: int, examples: Sequence[Any], task: TaskDef) -> str | None:
        choices = len(examples[index].choices)
        if not _is_int(value):
            return f"{_shown(value)} is not an integer; multiple_choice predictions are answer indices 0..{choices - 1}"
        if not 0 <= value < choices:
            return f"{value} is not an answer index of this question (0..{choices - 1})"
        return None

    def score(self, predictions: Sequence[int], examples: Sequence[Any], task: TaskDef, lang: str) -> dict:
        return METRICS[task.metric](predictions, [e.label for e in examples], lang)


class TaggingScoring(Scoring):
    name = "tagging"
    shape = "a list of tag strings from the task's tag set, exactly one per word of the sentence"
    example = '["B-PER", "I-PER", "O", "B-LOC"]'

    def problem(self, value: Any, index: int, examples: Sequence[Any], task: TaskDef) -> str | None:
        words = len(examples[index].words)
        if not isinstance(value, list):
            return f"{_shown(value)} is not a list; tagging predictions are one list of tags per sentence"
        if len(value) != words:
            return f"{len(value)} tags for a sentence of {words} words"
        for tag in value:
            found = _label_problem(tag, task, "tags")
            if found is not None:
                return found
        return None

    def score(self, predictions: Sequence[list[str]], examples: Sequence[Any], task: TaskDef, lang: str) -> dict:
        # Exactly one tag per word (decoding predicts the words max_length cut off): a shorter or longer list would
        # score every later word against the wrong gold tag, or not at all, so it is an error rather than padding.
        for i, (tags, example) in enumerate(zip(predictions, examples, strict=True)):
            if len(tags) != len(example.words):
                raise ValueError(f"sentence {i + 1}: {len(tags)} predicted tags for {len(example.words)} words")
        return METRICS[task.metric](list(predictions), [list(e.tags) for e in examples], lang)


class SpanQAScoring(Scoring):
    name = "span_qa"
    shape = 'the answer text, a string ("" for no answer)'
    example = '"1920s"'

    def problem(self, value: Any, index: int, examples: Sequence[Any], task: TaskDef) -> str | None:
        if not isinstance(value, str):
            return f"{_shown(value)} is not a string; span_qa predictions are answer texts"
        return None

    def score(self, predictions: Sequence[str], examples: Sequence[Any], task: TaskDef, lang: str) -> dict:
        return METRICS[task.metric](list(predictions), [list(e.answers) for e in examples], lang)


class RetrievalScoring(Scoring):
    name = "retrieval"
    shape = "per English sentence, the 0-based line of the non-English sentence it retrieved"
    example = "17"

    def problem(self, value: Any, index: int, examples: Sequence[Any], task: TaskDef) -> str | None:
        if not _is_int(value) or not 0 <= value < len(examples):
            return f"{_shown(value)} is not a line index of the {len(examples)} sentences (0..{len(examples) - 1})"
        return None

    def score_exported(self, exported: Sequence[int], examples: Sequence[Any], task: TaskDef, lang: str) -> dict:
        """Accuracy of retrieved line indices: the gold for query i is line i."""
        return METRICS["accuracy"](list(exported), list(range(len(examples))), lang)


def _list_of(value: Any, fits: Any) -> bool:
    return isinstance(value, list) and all(fits(item) for item in value)


class BitextMiningScoring(Scoring):
    """BUCC: the threshold tuned on the first corpus is applied to the last (formats/corpus_retrieval.py)."""

    name = "bitext_mining"
    shape = "per corpus of the split (BUCC: dev, then test), the mined pairs [[margin, xx id, en id], ...]"
    example = '[[1.31, "de-000012", "en-000873"], [1.02, "de-000013", "en-004410"]]'

    def problem(self, value: Any, index: int, examples: Sequence[Any], task: TaskDef) -> str | None:
        def pair(item: Any) -> bool:
            return (
                isinstance(item, list)
                and len(item) == 3
                and isinstance(item[0], int | float)
                and not isinstance(item[0], bool)
                and all(isinstance(x, str) for x in item[1:])
            )

        if not _list_of(value, pair):
            return "not a list of [margin, source id, English id] triples"
        return None

    def score(self, predictions: Sequence[Sequence[Candidate]], examples: Sequence[Any], task: TaskDef, lang: str):
        threshold = bucc_optimal_threshold(predictions[0], examples[0].gold)
        scores = bucc_f1(predictions[-1], examples[-1].gold, threshold)
        return {"f1": scores["f1"], "precision": scores["precision"], "recall": scores["recall"]}

    def score_exported(self, exported: Sequence[Any], examples: Sequence[Any], task: TaskDef, lang: str) -> dict:
        candidates = [[Candidate(float(s), str(src), str(tgt)) for s, src, tgt in corpus] for corpus in exported]
        return self.score(candidates, examples, task, lang)


class CandidateRankingScoring(Scoring):
    """mAP@20 against the gold links, per query language (formats/corpus_retrieval.py)."""

    name = "candidate_ranking"
    shape = "per corpus, [[query id, [its 20 best candidate ids]], ...]"
    example = '[["q-17", ["c-3", "c-41", "c-9"]], ["q-18", ["c-7", "c-3"]]]'
    depth = 20

    def problem(self, value: Any, index: int, examples: Sequence[Any], task: TaskDef) -> str | None:
        def ranking(item: Any) -> bool:
            return (
                isinstance(item, list)
                and len(item) == 2
                and isinstance(item[0], str)
                and _list_of(item[1], lambda c: isinstance(c, str))
            )

        if not _list_of(value, ranking):
            return "not a list of [query id, [candidate ids]] pairs"
        if len(value) != len(examples[index].query_ids):
            return f"{len(value)} rankings for a corpus of {len(examples[index].query_ids)} queries"
        return None

    def score_exported(self, exported: Sequence[Any], examples: Sequence[Any], task: TaskDef, lang: str) -> dict:
        # Stated here, not inherited: the format's class inherits retrieval's line-index accuracy after this one.
        return self.score(exported, examples, task, lang)

    def score(
        self,
        predictions: Sequence[Sequence[tuple[str, Sequence[str]]]],
        examples: Sequence[Any],
        task: TaskDef,
        lang: str,
    ) -> dict[str, float]:
        relevance, counts = [], []
        for rankings, corpus in zip(predictions, examples, strict=True):
            relevant: dict[str, set[str]] = {}
            for query_id, candidate_id in corpus.gold:
                relevant.setdefault(query_id, set()).add(candidate_id)
            languages = corpus.query_languages or (lang,) * len(rankings)
            for (query_id, ranking), language in zip(rankings, languages, strict=True):
                if language != lang:  # a corpus of several languages' queries (Mewsli-X) is scored per language
                    continue
                gold = relevant.get(query_id, set())
                relevance.append([cid in gold for cid in ranking])
                counts.append(len(gold))
        return map_at_k(relevance, k=self.depth, num_relevant=counts)


SCORING: dict[str, type[Scoring]] = {
    s.name: s
    for s in (
        ClassificationScoring,
        RankingScoring,
        MultipleChoiceScoring,
        TaggingScoring,
        SpanQAScoring,
        RetrievalScoring,
        BitextMiningScoring,
        CandidateRankingScoring,
    )
}


def shapes_text() -> str:
    """Each format's predictions shape and an example line, for --help and docs/tasks.md."""
    return "\n".join(f"  {s.name}: {s.shape}\n      {s.example}" for s in SCORING.values())
