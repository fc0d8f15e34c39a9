"""LAReQA (Roy et al. 2020) over XQuAD-R: language-agnostic answer retrieval from a multilingual pool.

XQuAD-R is XQuAD with sentence breaks: 11 parallel languages whose question ids are shared across languages. The
candidate pool is every sentence of every paragraph in all 11 languages; a question's relevant candidates are the
sentences that hold its answer, in every language (11 per question). Questions are asked in one language at a time,
and XTREME-R scores mAP@20 per question language (formats/corpus_retrieval.py `CandidateRanking`).

Both the official files (google-research-datasets/lareqa xquad-r/{lang}.json, with `sentences` and
`sentence_breaks`) and the Hub copy (google-research-datasets/xquad_r, which has no sentence breaks, so they are
inferred by `sentence_spans`) are turned into `Paragraph`s, and `lareqa_corpus` builds the corpus from them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from xstilts.tasks.examples import RetrievalCorpus


@dataclass(frozen=True)
class Paragraph:
    """One XQuAD-R paragraph: its sentences with their character spans, and its questions as (id, question, answer
    start offset in the paragraph)."""

    sentences: tuple[str, ...]
    breaks: tuple[tuple[int, int], ...]
    questions: tuple[tuple[str, str, int], ...]

    def sentence_of(self, offset: int) -> int | None:
        """The index of the sentence holding character `offset`; None when it falls between sentences (XTREME's
        LAReQA loader skips such questions)."""
        return next((i for i, (start, end) in enumerate(self.breaks) if start <= offset < end), None)


def lareqa_corpus(paragraphs: Mapping[str, Sequence[Paragraph]], lang: str) -> RetrievalCorpus:
    """`lang`'s questions against the sentences of every language in `paragraphs` (language -> its paragraphs)."""
    candidate_ids, candidates = [], []
    answer: dict[tuple[str, str], str] = {}  # (language, question id) -> id of the sentence holding its answer
    for language, paras in paragraphs.items():
        for p, paragraph in enumerate(paras):
            for s, sentence in enumerate(paragraph.sentences):
                candidate_ids.append(f"{language}/{p}/{s}")
                candidates.append(sentence)
            for question_id, _, start in paragraph.questions:
                index = paragraph.sentence_of(start)
                if index is not None:
                    answer[(language, question_id)] = f"{language}/{p}/{index}"
    query_ids, queries, gold = [], [], set()
    for paragraph in paragraphs[lang]:
        for question_id, question, _ in paragraph.questions:
            if (lang, question_id) not in answer:
                continue
            query_ids.append(f"{lang}/{question_id}")
            queries.append(question)
            gold |= {(query_ids[-1], answer[(m, question_id)]) for m in paragraphs if (m, question_id) in answer}
    return RetrievalCorpus(
        f"lareqa-{lang}", tuple(query_ids), tuple(queries), tuple(candidate_ids), tuple(candidates), tuple(sorted(gold))
    )


# A sentence ends at . ! ? (or their full-width, Arabic and Devanagari forms) and any closing quotes or brackets,
# before whitespace; the full-width and CJK stops end one even without whitespace. Thai, which marks sentences by
# spaces alone, is left whole: an approximation of the official breaks, used only where a copy lacks them.
_SENTENCE_END = re.compile(r"""(?:[.!?؟।]["'”’)\]]*(?=\s)|[。！？]["'”’)\]」』]*)""")


def sentence_spans(text: str) -> tuple[tuple[int, int], ...]:
    """(start, end) of each sentence of `text`, surrounding whitespace excluded."""
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    trimmed = []
    for begin, end in spans:
        while begin < end and text[begin].isspace():
            begin += 1
        while end > begin and text[end - 1].isspace():
            end -= 1
        if begin < end:
            trimmed.append((begin, end))
    return tuple(trimmed)
