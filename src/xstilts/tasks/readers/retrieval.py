"""Readers for retrieval data: Tatoeba pairs, BUCC corpora, LAReQA (XQuAD-R)."""

from __future__ import annotations

import json
from pathlib import Path

from xstilts.errors import DataError
from xstilts.tasks.examples import (
    Example,
    RetrievalCorpus,
    TranslationPair,
)
from xstilts.tasks.lareqa import Paragraph, lareqa_corpus
from xstilts.tasks.readers.files import (
    check_columns,
    lines,
    nonempty,
    read_text,
)


def read_tatoeba(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """Tatoeba `{xx}-en.{xx}` with its English side `{xx}-en.en` beside it, line i translating line i; or LASER's
    layout, `tatoeba.{xxx}-eng.{xxx}` with `tatoeba.{xxx}-eng.eng` (3-letter codes). XTREME's download writes the
    English side sorted (its gold order is private): such a file is refused, since scoring it as aligned would
    report near-zero accuracy as if it were real."""
    english = path.with_suffix(".en")
    if not english.is_file() and path.with_suffix(".eng").is_file():
        english = path.with_suffix(".eng")  # LASER's layout
    sources = nonempty(path, [line for _, line in lines(path) if line])
    targets = [line for _, line in lines(english) if line]
    if len(sources) != len(targets):
        raise DataError(english, f"{len(targets)} lines, but {path.name} has {len(sources)}")
    if len(targets) > 2 and targets == sorted(targets):
        raise DataError(
            english,
            "lines are sorted alphabetically (an XTREME download): not aligned with "
            f"{path.name}; use the line-aligned English side",
        )
    return [TranslationPair(s, t) for s, t in zip(sources, targets, strict=True)]


def read_bucc(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """BUCC 2018 in XTREME's layout: `{xx}-en.{dev,test}.{xx}` and the English `{xx}-en.{dev,test}.en` beside it,
    `id<TAB>sentence` per line, and `{xx}-en.{dev,test}.gold` with `xx_id<TAB>en_id` per gold pair. The whole file
    pair is one example (mining is scored per corpus). XTREME's download script deletes the test gold
    (`rm $base_dir/*test.gold`); keep it from BUCC's training-gold archive to score test."""
    query_ids, queries = _id_sentences(path)
    candidate_ids, candidates = _id_sentences(path.with_suffix(".en"))
    gold_path = path.with_suffix(".gold")
    if not gold_path.is_file():
        why = "file not found (XTREME's download deletes BUCC test gold: take it from BUCC's training-gold archive)"
        raise DataError(gold_path, why)
    known = (set(query_ids), set(candidate_ids))
    gold = set()
    for line, text in lines(gold_path):
        if not text.strip():
            continue
        fields = text.split("\t")
        check_columns(gold_path, line, fields, 2)
        for field, ids, side in zip(fields, known, (path.name, path.with_suffix(".en").name), strict=True):
            if field not in ids:
                raise DataError(gold_path, f"id {field!r} is not in {side}", line=line)
        gold.add((fields[0], fields[1]))
    if not gold:
        raise DataError(gold_path, "no gold pairs")
    return [RetrievalCorpus(path.stem, query_ids, queries, candidate_ids, candidates, tuple(sorted(gold)))]


def read_lareqa_json(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """LAReQA: XQuAD-R's `xquad-r/{lang}.json` (SQuAD JSON whose paragraphs also carry `sentences` and
    `sentence_breaks`) asks its questions against the sentences of every `*.json` beside it (tasks/lareqa.py).
    One example: the whole corpus."""
    own = _xquad_r_paragraphs(path)
    if not any(paragraph.questions for paragraph in own):
        raise DataError(path, "no examples")
    siblings = sorted(p for p in path.parent.glob("*.json") if p != path)
    paragraphs = {path.stem: own} | {sibling.stem: _xquad_r_paragraphs(sibling) for sibling in siblings}
    return [lareqa_corpus(paragraphs, path.stem)]


def _xquad_r_paragraphs(path: Path) -> list[Paragraph]:
    text = read_text(path)
    if not text.strip():
        return []
    try:
        document = json.loads(text)
        return [
            Paragraph(
                tuple(paragraph["sentences"]),
                tuple((start, end) for start, end in paragraph["sentence_breaks"]),
                tuple((qa["id"], qa["question"], qa["answers"][0]["answer_start"]) for qa in paragraph["qas"]),
            )
            for article in document["data"]
            for paragraph in article["paragraphs"]
        ]
    except json.JSONDecodeError as e:
        raise DataError(path, f"invalid JSON: {e.msg}", line=e.lineno) from None
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise DataError(path, f"not XQuAD-R JSON (paragraphs with sentences, sentence_breaks and qas): {e!r}") from None


def _id_sentences(path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`id<TAB>sentence` lines (BUCC): the ids and the sentences, in file order; ids must be unique."""
    ids: dict[str, None] = {}
    sentences = []
    for line, text in lines(path):
        if not text.strip():
            continue
        fields = text.split("\t", 1)
        check_columns(path, line, fields, 2)
        if fields[0] in ids:
            raise DataError(path, f"id {fields[0]!r} occurs twice", line=line)
        ids[fields[0]] = None
        sentences.append(fields[1])
    if not sentences:
        raise DataError(path, "no examples")
    return tuple(ids), tuple(sentences)
