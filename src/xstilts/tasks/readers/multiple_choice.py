"""Readers for multiple-choice files (SocialIQA, COPA/XCOPA, CosmosQA, CommonsenseQA, own JSONL)."""

from __future__ import annotations

import re
from pathlib import Path

from xstilts.tasks.examples import (
    Example,
    MultipleChoiceExample,
)
from xstilts.tasks.readers.files import (
    Row,
    check_label,
    header_rows,
    jsonl_rows,
    nonempty,
    str_list,
)


def _multiple_choice(
    row: Row,
    context: str,
    question: str,
    choices: tuple[str, ...],
    label: int,
    labels: tuple[str, ...] | None,
) -> MultipleChoiceExample:
    if not 0 <= label < len(choices):
        raise row.error(f"answer index {label} out of range for {len(choices)} choices")
    check_label(row.path, row.line, str(label), labels)
    return MultipleChoiceExample(context, question, choices, label)


def read_siqa_jsonl(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    examples: list[Example] = []
    for row in jsonl_rows(path):
        choices = (row.text("answerA"), row.text("answerB"), row.text("answerC"))
        label = row.index("correct", {"A": 0, "B": 1, "C": 2})
        examples.append(_multiple_choice(row, row.text("context"), row.text("question"), choices, label, labels))
    return nonempty(path, examples)


_COPA_QUESTIONS = {"cause": "What was the cause?", "effect": "What happened as a result?"}
_XCOPA_NAME = re.compile(r"(?P<split>val|test)\.(?P<lang>[^.]+)\.jsonl")


def _english_copa_questions(path: Path) -> dict[int, str]:
    """idx -> question kind from the English COPA file of the same split, or {} if there is none."""
    # The XCOPA `question` field is wrong upstream for th/tr/sw/id/it (th val: 52 of 100; README "XCOPA",
    # allenai/natural-instructions#522). All languages share idx and item order, and the English val/test
    # files match the correct languages exactly, so English is the reference.
    match = _XCOPA_NAME.fullmatch(path.name)
    if match is None or path.parent.name != match["lang"]:
        return {}
    english = path.parent.parent / f"{match['split']}-en.jsonl"
    if not english.is_file():
        return {}
    return {row.integer("idx"): row.text("question") for row in jsonl_rows(english)}


def read_copa_jsonl(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """COPA / XCOPA. Note: xcopa/test-en.jsonl has placeholder labels (all 0), so it cannot be evaluated."""
    english_questions = _english_copa_questions(path)
    examples: list[Example] = []
    for row in jsonl_rows(path):
        kind = english_questions.get(row.integer("idx"), row.text("question"))
        if kind not in _COPA_QUESTIONS:
            raise row.error(f"key 'question' is {kind!r}, expected 'cause' or 'effect'")
        choices = (row.text("choice1"), row.text("choice2"))
        question = _COPA_QUESTIONS[kind]
        examples.append(_multiple_choice(row, row.text("premise"), question, choices, row.integer("label"), labels))
    return nonempty(path, examples)


def read_cosmosqa_csv(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    answers = tuple(f"answer{i}" for i in range(4))
    examples: list[Example] = []
    for row in header_rows(path, ",", ("context", "question", *answers, "label")):
        label = row.index("label", {str(i): i for i in range(4)})
        choices = tuple(row.text(key) for key in answers)
        examples.append(_multiple_choice(row, row.text("context"), row.text("question"), choices, label, labels))
    return nonempty(path, examples)


def read_csqa_jsonl(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """CommonsenseQA in the Hugging Face schema (README: not the original nested one)."""
    examples: list[Example] = []
    for row in jsonl_rows(path):
        choices = Row(path, row.line, row.mapping("choices"))
        letters, texts = choices.get("label"), choices.get("text")
        if not str_list(letters) or not str_list(texts) or len(letters) != len(texts):
            raise row.error("key 'choices' must hold equally long string lists 'label' and 'text'")
        label = row.index("answerKey", {letter: i for i, letter in enumerate(letters)})
        examples.append(_multiple_choice(row, "", row.text("question"), tuple(texts), label, labels))
    return nonempty(path, examples)


def read_multiple_choice_jsonl(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """Your own multiple-choice data: {"context": ... (optional), "question": ..., "choices": [...], "label": i}."""
    examples: list[Example] = []
    for row in jsonl_rows(path):
        choices = row.get("choices")
        if not str_list(choices) or len(choices) < 2:
            raise row.error("key 'choices' must be a list of at least two strings")
        context = row.text("context") if "context" in row.data else ""
        label = row.index("label", dict(zip(range(len(choices)), range(len(choices)), strict=True)))
        examples.append(_multiple_choice(row, context, row.text("question"), tuple(choices), label, labels))
    return nonempty(path, examples)
