"""The same tasks from the Hugging Face Hub (`pip install 'xstilts[hub]'`, needs internet). Used only when a
spec asks for it with `data_source: hub`; never offline, never by the tests against the real Hub (they load local
Parquet repositories shaped by tests/fixtures/hub/ through the same `datasets.load_dataset` call). Every source is
read at its pinned revision, with no loading script: `datasets` >= 4 loads none."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from xstilts.errors import DataError
from xstilts.tasks.definition import HubSource, TaskDef
from xstilts.tasks.examples import (
    ClassificationExample,
    Example,
    MultipleChoiceExample,
    SpanQAExample,
    TaggingExample,
)
from xstilts.tasks.lareqa import Paragraph, lareqa_corpus, sentence_spans


def load_from_hub(task: TaskDef, split: str, lang: str) -> list[Example]:
    """The examples of `split` in `lang`: the rows of every declared source that has the split, in order."""
    sources = [source for source in task.hub if split in source.splits]
    if not sources:
        raise DataError(f"hub:{task.name}", f"no Hub source is declared for split '{split}'")
    if task.format in _CORPORA:  # one example per language, built from the rows of every language of the split
        return _CORPORA[task.format](task, sources, split, lang)
    convert = _CONVERTERS[task.format]
    examples: list[Example] = []
    for source in sources:
        for rows in _load(source, split, lang):
            examples += [e for row in rows if (e := convert(_HubRow(source, row, rows.features))) is not None]
    return examples


def _load(source: HubSource, split: str, lang: str) -> Iterator[Any]:
    try:
        import datasets
    except ImportError:
        needed = "the 'datasets' package is needed: pip install 'xstilts[hub]'"
        raise DataError(f"hub:{source.dataset}", needed) from None
    if source.languages and lang not in source.languages:
        raise DataError(
            f"hub:{source.dataset}", f"the Hub copy has no language '{lang}' (it has {len(source.languages)})"
        )
    config = source.config.format(lang=lang) if source.config else None
    for hub_split in (s.format(lang=lang) for s in source.splits[split]):  # XGLUE's "validation.{lang}"
        try:
            yield datasets.load_dataset(source.dataset, split=hub_split, **_where(source, config, hub_split))
        except Exception as err:  # the Hub client raises many unrelated types; all mean "could not load"
            where = f"hub:{source.dataset}@{source.revision}/{config or ''}:{hub_split}"
            raise DataError(where, f"cannot load: {err}") from None


def _where(source: HubSource, config: str | None, hub_split: str) -> dict[str, Any]:
    """load_dataset's arguments naming the files of one split at the pinned revision. The Parquet export has no
    card naming its configurations, so its files are named instead: configuration C's split S is C/S/*.parquet
    ("default" for a dataset with one configuration)."""
    if source.parquet_export:
        return {"revision": source.revision, "data_files": {hub_split: f"{config or 'default'}/{hub_split}/*.parquet"}}
    return {"name": config, "revision": source.revision}


class _HubRow:
    """One Hub row read through its source's declaration (column names, label map)."""

    def __init__(self, source: HubSource, row: dict[str, Any], features: Any):
        self.source, self.row, self.features = source, row, features

    def has(self, field: str) -> bool:
        return field in self.source.columns

    def get(self, field: str) -> Any:
        # "a+b": the text columns a and b joined by a space (XGLUE WPR's page title and snippet as one document)
        parts = [self._column(name) for name in self.source.columns[field].split("+")]
        return parts[0] if len(parts) == 1 else " ".join(parts)

    def _column(self, name: str) -> Any:
        value = self.row
        for key in name.split("."):
            value = value[key]
        return value

    def label(self) -> str | None:
        """The label as text: a ClassLabel id becomes its name; None for an unlabelled row (a ClassLabel id of
        -1, as SNLI marks pairs without gold consensus, or an empty label, as in HellaSwag's test split)."""
        value = self.get("label")
        names = getattr(self.features.get(self.source.columns["label"]), "names", None)
        if isinstance(value, int) and value < 0 or str(value).strip() == "":
            return None
        text = names[value] if names is not None and isinstance(value, int) else str(value).strip()
        if not self.source.label_map:
            return text
        if text not in self.source.label_map:
            raise DataError(f"hub:{self.source.dataset}", f"label {text!r} is not in the declared label_map")
        return str(self.source.label_map[text])


def _classification(row: _HubRow) -> Example | None:
    label = row.label()
    text_b = row.get("text_b") if row.has("text_b") else None
    return None if label is None else ClassificationExample(row.get("text_a"), text_b, label)


def _tagging(row: _HubRow) -> Example:
    tag_feature = getattr(row.features[row.source.columns["tags"]], "feature", None)  # Sequence(ClassLabel)
    names = getattr(tag_feature, "names", None)
    tags = tuple(names[t] if names is not None else str(t) for t in row.get("tags"))
    return TaggingExample(tuple(row.get("words")), tags)


def _multiple_choice(row: _HubRow) -> Example | None:
    label = row.label()
    if label is None:
        return None
    if row.source.choice_columns:
        choices = tuple(row.row[column] for column in row.source.choice_columns)
    else:
        choices = tuple(row.get("choices"))
    context = row.get("context") if row.has("context") else ""
    question = row.get("question") if row.has("question") else ""
    return MultipleChoiceExample(context, question, choices, int(label))


def _span_qa(row: _HubRow) -> Example:
    # SQuAD v2.0's unanswerable questions have empty answer lists; they stay, as examples without an answer.
    return SpanQAExample(
        str(row.get("id")),
        row.get("question"),
        row.get("context"),
        tuple(row.get("answers")),
        tuple(row.get("answer_starts")),
    )


def _answer_pool(task: TaskDef, sources: list[HubSource], split: str, lang: str) -> list[Example]:
    """LAReQA from SQuAD-style rows (id, question, context, answer starts), one config per language (XQuAD-R on the
    Hub): `lang`'s questions against the sentences of every language of the split. The Hub copy has no sentence
    breaks, so they are inferred (tasks/lareqa.py `sentence_spans`)."""
    paragraphs: dict[str, list[Paragraph]] = {}
    for language in task.languages(split):
        questions: dict[str, list[tuple[str, str, int]]] = {}  # context -> its questions, in row order
        for source in sources:
            for rows in _load(source, split, language):
                for row in (_HubRow(source, r, rows.features) for r in rows):
                    starts = row.get("answer_starts")
                    entry = (str(row.get("id")), row.get("question"), int(starts[0]) if len(starts) else -1)
                    questions.setdefault(row.get("context"), []).append(entry)
        paragraphs[language] = []
        for context, asked in questions.items():
            spans = sentence_spans(context)
            sentences = tuple(context[start:end] for start, end in spans)
            paragraphs[language].append(Paragraph(sentences, spans, tuple(asked)))
    return [lareqa_corpus(paragraphs, lang)]


_CORPORA: dict[str, Callable[[TaskDef, list[HubSource], str, str], list[Example]]] = {
    "candidate_ranking": _answer_pool,
}

_CONVERTERS: dict[str, Callable[[_HubRow], Example | None]] = {
    "classification": _classification,
    "ranking": _classification,  # graded pairs (XGLUE WPR) are classification rows
    "tagging": _tagging,
    "multiple_choice": _multiple_choice,
    "span_qa": _span_qa,
}
