"""Readers for extractive QA files in SQuAD's JSON layout (SQuAD, XQuAD, MLQA, TyDiQA-GoldP)."""

from __future__ import annotations

import json
from pathlib import Path

from xstilts.errors import DataError
from xstilts.tasks.examples import (
    Example,
    SpanQAExample,
)
from xstilts.tasks.readers.files import (
    nonempty,
    read_text,
)


def read_squad_json(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """SQuAD v1.1 JSON (XQuAD, MLQA, TyDiQA-GoldP). Examples keep file order: TyDiQA ids are not unique
    (README), so nothing downstream may key by id alone."""
    text = read_text(path)
    if not text.strip():
        return nonempty(path, [])
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(path, f"invalid JSON: {e.msg}", line=e.lineno) from None
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise DataError(path, "expected a SQuAD JSON object with a 'data' list")
    examples: list[Example] = []
    for article in document["data"]:
        for paragraph in article.get("paragraphs", []):
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                answers = qa.get("answers", [])
                if split == "translate_train" and not all(_found(context, answer) for answer in answers):
                    continue  # translation lost the answer (answer_start -1): XTREME's run_squad skips these too
                examples.append(_span_example(path, qa, context, answers))
    return nonempty(path, examples)


def _found(context: str, answer: dict) -> bool:
    start, text = answer.get("answer_start"), answer.get("text")
    if not isinstance(start, int) or not isinstance(text, str) or start < 0:
        return False
    return context[start : start + len(text)] == text


def _span_example(path: Path, qa: dict, context: str, answers: list[dict]) -> SpanQAExample:
    for answer in answers:
        if not _found(context, answer):
            text, start = answer.get("text"), answer.get("answer_start")
            raise DataError(path, f"question {qa.get('id')!r}: answer {text!r} is not at offset {start} of its context")
    return SpanQAExample(
        str(qa.get("id", "")),
        qa["question"],
        context,
        tuple(a["text"] for a in answers),
        tuple(a["answer_start"] for a in answers),
    )
