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
    for a, article in enumerate(document["data"]):
        for p, paragraph in enumerate(_objects(path, article, "paragraphs", f"data[{a}]", required=False)):
            where = f"data[{a}].paragraphs[{p}]"
            context = _text(path, paragraph, "context", where)
            for q, qa in enumerate(_objects(path, paragraph, "qas", where)):
                _text(path, qa, "question", f"{where}.qas[{q}]")
                answers = _objects(path, qa, "answers", f"{where}.qas[{q}]", required=False)
                if split == "translate_train" and not all(_found(context, answer) for answer in answers):
                    continue  # translation lost the answer (answer_start -1): XTREME's run_squad skips these too
                examples.append(_span_example(path, qa, context, answers))
    return nonempty(path, examples)


def _objects(path: Path, parent: object, key: str, where: str, required: bool = True) -> list[dict]:
    """parent[key] as a list of JSON objects; anything else is refused naming where in the file it is."""
    if not isinstance(parent, dict):
        raise DataError(path, f"{where} must be a JSON object, got {type(parent).__name__}")
    if key not in parent and not required:
        return []
    value = parent.get(key)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise DataError(path, f"{where}.{key} must be a list of JSON objects")
    return value


def _text(path: Path, parent: dict, key: str, where: str) -> str:
    if not isinstance(parent.get(key), str):
        raise DataError(path, f"{where} has no '{key}' text")
    return parent[key]


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
