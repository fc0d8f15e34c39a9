"""Mewsli-X (XTREME-R): entity mentions in WikiNews articles in 11 languages retrieve their WikiData entity from a
candidate set of ~1M entity descriptions in 50 languages; mAP@20 (with one gold entity per mention, the mean
reciprocal rank within the top 20).

The files are those XTREME-R's download script moves to `mewslix/`: `wikinews_mentions-{dev,test}.jsonl` (one
ContextualMention per line) and `candidate_set_entities.jsonl` (one Entity per line), in the schema of
google-research dense_representations_for_entity_retrieval/mel/mewsli_x (also xtreme third_party/utils_mewslix.py).
Texts are made as that code's baseline does: a mention is its sentence with the mention marked by braces and the
mention prepended (`preprocess_mention`); an entity is its description's sentences (`preprocess_entity_description`).
The mentions of all languages are in one file, so the corpus holds them all and each query carries its language.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xstilts.errors import DataError
from xstilts.tasks.examples import Example, RetrievalCorpus
from xstilts.tasks.readers.files import json_object

CANDIDATES = "candidate_set_entities.jsonl"
_BRACED = re.compile(r"\{(.*?)\}")  # braces already in the text are rewritten as parentheses, as there


def read_mewslix_jsonl(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """`wikinews_mentions-{split}.jsonl` against `candidate_set_entities.jsonl` beside it; one example."""
    query_ids, queries, languages, gold = [], [], [], []
    for line, record in _records(path):
        try:
            query_ids.append(record["mention"]["example_id"])
            queries.append(mention_text(record))
            languages.append(record["context"]["language"])
            gold.append((query_ids[-1], record["mention"]["entity_id"]))
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise DataError(path, f"not a Mewsli-X contextual mention: {e!r}", line=line) from None
    if not queries:
        raise DataError(path, "no examples")
    candidates = path.parent / CANDIDATES
    candidate_ids, descriptions = [], []
    for line, record in _records(candidates, stream=True):
        try:
            candidate_ids.append(record["entity_id"])
            descriptions.append(_one_line(" ".join(_sentences(record["description"], record["sentence_spans"]))))
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise DataError(candidates, f"not a Mewsli-X entity: {e!r}", line=line) from None
    return [
        RetrievalCorpus(
            path.stem,
            tuple(query_ids),
            tuple(queries),
            tuple(candidate_ids),
            tuple(descriptions),
            tuple(sorted(gold)),
            tuple(languages),
        )
    ]


def mention_text(record: dict[str, Any]) -> str:
    """The query for one contextual mention: "mention: left { mention } right" over the mention's sentence."""
    context, span = record["context"], record["mention"]["mention_span"]
    start, end = span["start"], span["end"]
    sentence = next(s for s in context["sentence_spans"] if s["start"] <= start and end <= s["end"])
    text = context["text"]
    left = _BRACED.sub(r"(\1)", text[sentence["start"] : start])
    right = _BRACED.sub(r"(\1)", text[end : sentence["end"]])
    return _one_line(f"{span['text']}: {left} {{ {span['text']} }} {right}")


def _sentences(text: str, spans: list[dict[str, int]]) -> Iterator[str]:
    for span in spans:
        yield text[span["start"] : span["end"]]


def _one_line(text: str) -> str:
    # As the baseline: newlines become spaces, doubled spaces are halved once, the ends stripped.
    return " ".join(text.splitlines()).replace("  ", " ").strip()


def _records(path: Path, stream: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, JSON object) per non-blank line. The whole file is decoded first, so that a bad byte is
    reported before any JSON; `stream` reads line by line instead (the candidate set is ~0.5 GB)."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    with handle:
        if not stream:
            data = handle.read()
            try:
                data.decode("utf-8-sig")
            except UnicodeDecodeError as e:
                raise DataError(
                    path, f"invalid UTF-8 (byte 0x{data[e.start]:02x})", line=data.count(b"\n", 0, e.start) + 1
                ) from None
            handle = data.splitlines(keepends=True)  # type: ignore[assignment]
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise DataError(path, f"invalid UTF-8 (byte 0x{raw[e.start]:02x})", line=number) from None
            if not line.strip():
                continue
            yield number, json_object(path, number, line)
