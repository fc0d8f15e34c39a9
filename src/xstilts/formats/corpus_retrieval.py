"""Retrieval scored per corpus, without training: BUCC 2018 bitext mining (F1 at a margin threshold tuned on dev)
and candidate ranking (LAReQA, Mewsli-X: mAP@20).

An example is a whole `RetrievalCorpus` (queries, candidates, gold links). Sentences are embedded as for Tatoeba
(formats/retrieval.py: the same `layer` and `pooling` options and the same Pooler), each distinct text once: XTREME
mines over unique sentences (utils_retrieve.py `text_load_unify`), and equal texts have equal embeddings anyway.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from xstilts.formats.base import Feature
from xstilts.formats.retrieval import Retrieval
from xstilts.formats.scoring import BitextMiningScoring, CandidateRankingScoring
from xstilts.metrics.retrieval import Candidate, bucc_mine, nearest_neighbours
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import RetrievalCorpus

QUERIES, CANDIDATES = 0, 1


def _distinct(texts: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(texts))  # first occurrences, in file order


class _PerCorpus(Retrieval):
    """Embeds the distinct query and candidate texts of each corpus; subclasses turn them into predictions."""

    def encode(
        self, examples: Sequence[RetrievalCorpus], tokenizer: Any, task: TaskDef, max_length: int
    ) -> list[Feature]:
        features = []
        for c, corpus in enumerate(examples):
            for side, texts in ((QUERIES, corpus.queries), (CANDIDATES, corpus.candidates)):
                rows = tokenizer(_distinct(texts), truncation=True, max_length=max_length)["input_ids"]
                features += [Feature(ids, (c, side), len(ids)) for ids in rows]
        return features

    def aggregate(
        self, predictions: Sequence[np.ndarray], features: Sequence[Feature], examples: Sequence[RetrievalCorpus]
    ) -> list[Any]:
        sides: list[tuple[list, list]] = [([], []) for _ in examples]
        for vector, feature in zip(predictions, features, strict=True):
            corpus, side = feature.target
            sides[corpus][side].append(vector)
        return [self.predict(e, np.stack(q), np.stack(k)) for e, (q, k) in zip(examples, sides, strict=True)]

    def predict(self, corpus: RetrievalCorpus, queries: np.ndarray, candidates: np.ndarray) -> Any:
        """One corpus's prediction from the embeddings of its distinct query and candidate texts."""
        raise NotImplementedError


def _single_ids(ids: Sequence[str], texts: Sequence[str]) -> list[str | None]:
    """For each distinct text, its id; None for a text that occurs under several ids. XTREME drops those from the
    mined pairs, since a text pair then names no single sentence pair (utils_retrieve.py `read_sent2id`)."""
    owners: dict[str, list[str]] = {}
    for sentence_id, text in zip(ids, texts, strict=True):
        owners.setdefault(text, []).append(sentence_id)
    return [found[0] if len(found) == 1 else None for found in owners.values()]


class BitextMining(BitextMiningScoring, _PerCorpus):
    """BUCC 2018 as XTREME scores it (scripts/run_bucc2018.sh, third_party/run_retrieval.py, utils_retrieve.py).

    Each corpus is mined with the ratio margin over 4 nearest neighbours in both directions (`bucc_mine`, mode
    "max"): the prediction is the list of candidate pairs with their margin scores, in BUCC ids. A split lists its
    corpora in order (BUCC: dev, then test): the threshold with the best F1 on the first corpus's gold pairs is
    applied to the last one, whose precision, recall and F1 are reported, as XTREME carries the dev threshold
    over to test. A split of one corpus is scored at its own best threshold (XTREME's dev number)."""

    def predict(self, corpus: RetrievalCorpus, queries: np.ndarray, candidates: np.ndarray) -> list[Candidate]:
        source_ids = _single_ids(corpus.query_ids, corpus.queries)
        target_ids = _single_ids(corpus.candidate_ids, corpus.candidates)
        mined = bucc_mine(queries, candidates, k=4, mode="max")
        return [
            Candidate(pair.score, source_ids[pair.src_id], target_ids[pair.tgt_id])
            for pair in mined
            if source_ids[pair.src_id] is not None and target_ids[pair.tgt_id] is not None
        ]

    def export(self, predictions: Sequence[Sequence[Candidate]]) -> list[Any]:
        """Per corpus, its mined pairs as [margin score, source id, English id]."""
        return [[[pair.score, pair.src_id, pair.tgt_id] for pair in corpus] for corpus in predictions]


class CandidateRanking(CandidateRankingScoring, _PerCorpus):
    """Each query ranks the whole candidate pool by cosine; mAP@20 against the gold links (XTREME-R's LAReQA and
    Mewsli-X metric, `map_at_k`). The prediction is, per query, the ids of its 20 best candidates. A corpus whose
    queries carry languages (Mewsli-X) is scored on the queries in the language being evaluated."""

    def predict(
        self, corpus: RetrievalCorpus, queries: np.ndarray, candidates: np.ndarray
    ) -> list[tuple[str, list[str]]]:
        ids_of: dict[str, list[str]] = {}
        for candidate_id, text in zip(corpus.candidate_ids, corpus.candidates, strict=True):
            ids_of.setdefault(text, []).append(candidate_id)
        texts = list(ids_of)
        _, nearest = nearest_neighbours(queries, candidates, k=min(self.depth, len(texts)))
        # A text shared by several candidates ranks all of them at its place (they have one embedding).
        ranked = [[cid for t in row for cid in ids_of[texts[t]]][: self.depth] for row in nearest]
        row_of = {text: i for i, text in enumerate(_distinct(corpus.queries))}
        return [(qid, ranked[row_of[text]]) for qid, text in zip(corpus.query_ids, corpus.queries, strict=True)]

    def export(self, predictions: Sequence[Sequence[tuple[str, Sequence[str]]]]) -> list[Any]:
        """Per corpus, [query id, [its 20 best candidate ids]] for every query."""
        return [[[qid, list(ranking)] for qid, ranking in corpus] for corpus in predictions]
