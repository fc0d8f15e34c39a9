"""The example types that readers produce and formats consume, one per task format."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ClassificationExample:
    """A sentence (text_b is None) or sentence pair with a label from the task's label set."""

    text_a: str
    text_b: str | None
    label: str


@dataclass(frozen=True, slots=True)
class MultipleChoiceExample:
    """A context (with an optional question) and candidate answers; label is the index of the right one."""

    context: str
    question: str
    choices: tuple[str, ...]
    label: int


@dataclass(frozen=True, slots=True)
class TaggingExample:
    """A pre-tokenised sentence with one tag per word."""

    words: tuple[str, ...]
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SpanQAExample:
    """Extractive QA: answers are spans of the context, given as texts and character offsets."""

    id: str
    question: str
    context: str
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class TranslationPair:
    """A sentence and its translation (Tatoeba): source is the non-English side, target the English side."""

    source: str
    target: str


@dataclass(frozen=True, slots=True)
class RetrievalCorpus:
    """Queries and candidates with ids, and the gold (query id, candidate id) links, scored as one unit. BUCC: the
    non-English sentences mine their translations among the English ones. LAReQA, Mewsli-X: each query ranks the
    whole candidate pool."""

    name: str  # where it came from, for messages (e.g. "de-en.test")
    query_ids: tuple[str, ...]
    queries: tuple[str, ...]
    candidate_ids: tuple[str, ...]
    candidates: tuple[str, ...]
    gold: tuple[tuple[str, str], ...]  # sorted, so that an example's repr is its content (feature cache key)
    # Mewsli-X keeps every language's queries in one corpus: each query's language, so each is scored in its own.
    query_languages: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TextExample:
    """Raw text, for masked-language modelling."""

    text: str


Example = (
    TextExample
    | ClassificationExample
    | MultipleChoiceExample
    | TaggingExample
    | SpanQAExample
    | TranslationPair
    | RetrievalCorpus
)
