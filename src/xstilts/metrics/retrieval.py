"""Sentence retrieval: cosine nearest neighbours, Tatoeba accuracy, and BUCC 2018 mining, threshold and F1.

Definitions: google-research/xtreme third_party/utils_retrieve.py (adapted there from facebookresearch/LASER's
mining code) and third_party/run_retrieval.py; docs/metric-facts.md records the checked facts. Embeddings
are compared by cosine: rows are L2-normalised, then inner products are taken.

BUCC candidates are `Candidate(score, src_id, tgt_id)` named tuples (plain 3-tuples in that order work too). The ids
are whatever the gold pairs use: `bucc_mine` returns row numbers of the embedding matrices; map them to BUCC sentence
ids (or the gold pairs to rows) before scoring. XTREME mines over unique sentence texts and drops texts that occur
more than once in a BUCC file; that is the loader's job, not done here.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

try:  # optional: the exact search below finds the same neighbours, only more slowly on large indexes
    import faiss
except ImportError:
    faiss = None

_BLOCK_ELEMENTS = 2**25  # similarities the exact search holds at once: 128 MiB of float32, whatever the index size


class Candidate(NamedTuple):
    """A mined sentence pair: its margin score and the ids of its source and target sentences."""

    score: float
    src_id: Hashable
    tgt_id: Hashable


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """float32 copy with every row scaled to length 1 (faiss.normalize_L2's effect); all-zero rows stay zero."""
    x = np.array(x, dtype=np.float32, ndmin=2)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def nearest_neighbours(queries: np.ndarray, index: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k rows of `index` with the highest cosine similarity to each query row.

    Returns (scores, ids), both of shape (len(queries), k), best first: float32 cosines and int64 row numbers of
    `index`. Uses faiss's exact IndexFlatIP when faiss is installed (as XTREME does), otherwise an exact torch
    search over blocks of queries so memory stays bounded. Ties may come back in either order.
    """
    queries, index = _unit_rows(queries), _unit_rows(index)
    if queries.shape[1] != index.shape[1]:
        raise ValueError(f"queries have dimension {queries.shape[1]}, the index {index.shape[1]}")
    if not 1 <= k <= len(index):
        raise ValueError(f"k must be between 1 and the index size {len(index)}, got {k}")
    if faiss is not None:
        flat = faiss.IndexFlatIP(index.shape[1])
        flat.add(index)
        scores, ids = flat.search(queries, k)
        return scores, ids.astype(np.int64)
    import torch  # here, not at the top: scoring predictions from a file (formats/scoring.py) needs no torch

    keys = torch.from_numpy(index)
    block = max(1, _BLOCK_ELEMENTS // len(index))
    scores, ids = [], []
    for start in range(0, len(queries), block):
        similarities = torch.from_numpy(queries[start : start + block]) @ keys.T
        top = torch.topk(similarities, k, dim=1)
        scores.append(top.values.numpy())
        ids.append(top.indices.numpy())
    if not scores:
        return np.zeros((0, k), dtype=np.float32), np.zeros((0, k), dtype=np.int64)
    return np.concatenate(scores), np.concatenate(ids).astype(np.int64)


def tatoeba_accuracy(src_emb: np.ndarray, tgt_emb: np.ndarray) -> dict[str, float]:
    """Tatoeba accuracy x100 as XTREME computes it (run_retrieval.py with utils_retrieve.similarity_search).

    `src_emb` holds the non-English sentences and `tgt_emb` their English translations, row i aligned with row i.
    The index is the non-English side and the English sentences are the queries; a query is correct when its
    nearest neighbour (cosine; XTREME's L2 search on normalised vectors ranks identically) is its own row.
    """
    if len(src_emb) != len(tgt_emb) or len(src_emb) == 0:
        raise ValueError(f"need equally many aligned sentences on both sides ({len(src_emb)}, {len(tgt_emb)})")
    _, ids = nearest_neighbours(tgt_emb, src_emb, k=1)
    return {"accuracy": 100.0 * float(np.mean(ids[:, 0] == np.arange(len(tgt_emb))))}


@dataclass(frozen=True)
class MarginNeighbours:
    """Each sentence's k nearest neighbours on the other side, scored by ratio margin.

    fwd_ids[i] are the targets nearest source i and fwd_scores[i] their margins, best cosine first;
    bwd_ids[j], bwd_scores[j] the same for target j over the sources.
    """

    fwd_scores: np.ndarray
    fwd_ids: np.ndarray
    bwd_scores: np.ndarray
    bwd_ids: np.ndarray


def margin_scores(src_emb: np.ndarray, tgt_emb: np.ndarray, k: int = 4) -> MarginNeighbours:
    """Ratio-margin scores of each sentence's k nearest neighbours in both directions (XTREME `mine_bitext` with
    margin='ratio', neighborhood=4; Artetxe & Schwenk 2019):

        margin(x, y) = cos(x, y) / ((mean cos of x to its k nearest y + mean cos of y to its k nearest x) / 2)

    k is capped at the size of the other side, as there. With k = 1 a mutually nearest pair scores exactly 1,
    so the margin no longer ranks anything: use k >= 2 (metric-facts.md).
    """
    fwd_cos, fwd_ids = nearest_neighbours(src_emb, tgt_emb, min(k, len(tgt_emb)))
    bwd_cos, bwd_ids = nearest_neighbours(tgt_emb, src_emb, min(k, len(src_emb)))
    src_mean, tgt_mean = fwd_cos.mean(axis=1), bwd_cos.mean(axis=1)
    # The candidate's cosine is the neighbour similarity already found; XTREME recomputes it as a dot product.
    fwd_scores = fwd_cos / ((src_mean[:, None] + tgt_mean[fwd_ids]) / 2)
    bwd_scores = bwd_cos / ((tgt_mean[:, None] + src_mean[bwd_ids]) / 2)
    return MarginNeighbours(fwd_scores, fwd_ids, bwd_scores, bwd_ids)


def bucc_mine(
    src_emb: np.ndarray, tgt_emb: np.ndarray, k: int = 4, mode: Literal["max", "intersect"] = "max"
) -> list[Candidate]:
    """Candidate pairs with their margin scores, as XTREME's `mine_bitext(mode='mine')` writes them.

    Each sentence's best partner is its neighbour with the highest margin. mode="max" (XTREME's default): pool every
    source's and every target's best pair, and take them by decreasing score, skipping a pair when its source or its
    target was already taken (so each sentence is in at most one pair), and write those scoring above 0 (XTREME's
    `threshold=0`; a ratio margin is only that low for a negative cosine). mode="intersect": keep source i with its
    best target j only when i is also j's best source, whatever the score, as there. Ids are row numbers; on tied
    scores in mode="max" the forward pair comes first (XTREME's unstable argsort leaves that order unspecified).
    """
    m = margin_scores(src_emb, tgt_emb, k)
    rows_src, rows_tgt = np.arange(len(m.fwd_ids)), np.arange(len(m.bwd_ids))
    fwd_best = m.fwd_ids[rows_src, m.fwd_scores.argmax(axis=1)]
    bwd_best = m.bwd_ids[rows_tgt, m.bwd_scores.argmax(axis=1)]
    fwd_top, bwd_top = m.fwd_scores.max(axis=1), m.bwd_scores.max(axis=1)
    if mode == "intersect":
        return [Candidate(float(fwd_top[i]), int(i), int(j)) for i, j in enumerate(fwd_best) if bwd_best[j] == i]
    if mode != "max":
        raise ValueError(f"mode must be 'max' or 'intersect', got {mode!r}")
    pooled = [Candidate(float(s), int(i), int(j)) for i, (j, s) in enumerate(zip(fwd_best, fwd_top, strict=True))]
    pooled += [Candidate(float(s), int(i), int(j)) for j, (i, s) in enumerate(zip(bwd_best, bwd_top, strict=True))]
    pooled.sort(key=lambda pair: -pair.score)
    taken_src, taken_tgt, mined = set(), set(), []
    for pair in pooled:
        if pair.src_id in taken_src or pair.tgt_id in taken_tgt:
            continue
        taken_src.add(pair.src_id)
        taken_tgt.add(pair.tgt_id)
        if pair.score > 0:
            mined.append(pair)
    return mined


def _best_score_per_pair(candidates: Iterable[tuple[float, Hashable, Hashable]]) -> dict[tuple, float]:
    # A pair listed twice keeps its higher score, as XTREME's read_candidate2score does.
    best: dict[tuple, float] = {}
    for score, src_id, tgt_id in candidates:
        pair = (src_id, tgt_id)
        best[pair] = max(float(score), best.get(pair, -math.inf))
    return best


def bucc_optimal_threshold(
    candidates: Iterable[tuple[float, Hashable, Hashable]], gold_pairs: Iterable[tuple[Hashable, Hashable]]
) -> float:
    """The threshold whose extraction (every candidate with score >= threshold) has the best F1 against the gold
    pairs (XTREME `bucc_optimize`).

    Like the official search, it walks the candidates from the highest score down and returns the midpoint between
    the last score kept and the next one, so the threshold also separates the two on new data; on equal F1 the
    higher threshold wins (F1s are compared exactly here; the official float comparison can pick the lower
    threshold when two F1s are equal). Two differences where the official code is not what `>=` then extracts:
    - tied scores enter together, since `>=` cannot take part of a tie (the official walk scores each prefix of a
      tie, and the F1 it picks is then not the F1 of its extraction); with distinct scores both agree;
    - when the best F1 is at the lowest-scored candidate the official code indexes past the end and crashes; here
      the threshold is that lowest score, which extracts every candidate.
    With no gold pair among the candidates every threshold has F1 = 0 and the result is +inf (extract nothing);
    the official code returns 0 there.
    """
    ranked = sorted(_best_score_per_pair(candidates).items(), key=lambda item: -item[1])
    gold = set(gold_pairs)
    best_correct, best_extracted, threshold = 0, 0, math.inf
    correct = 0
    for i, (pair, score) in enumerate(ranked):
        correct += pair in gold
        next_score = ranked[i + 1][1] if i + 1 < len(ranked) else None
        if next_score == score:
            continue  # the tie goes on: no threshold stops here
        extracted = i + 1
        # F1 = 2c / (extracted + |gold|); compared by cross-multiplying so equal F1s compare equal exactly.
        if correct * (best_extracted + len(gold)) > best_correct * (extracted + len(gold)):
            best_correct, best_extracted = correct, extracted
            threshold = score if next_score is None else (score + next_score) / 2
            if next_score is not None and threshold <= next_score:  # adjacent floats: the midpoint rounded down
                threshold = score
    return threshold


def bucc_f1(
    candidates: Iterable[tuple[float, Hashable, Hashable]],
    gold_pairs: Iterable[tuple[Hashable, Hashable]],
    threshold: float,
) -> dict[str, float]:
    """Precision, recall and F1 x100 of the pairs with score >= threshold against the gold pairs (XTREME
    `bucc_extract` then `bucc_eval`, and evaluate.py `bucc_f1`); all 0 when no extracted pair is correct."""
    extracted = {pair for pair, score in _best_score_per_pair(candidates).items() if score >= threshold}
    gold = set(gold_pairs)
    correct = len(extracted & gold)
    if correct == 0:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    precision, recall = correct / len(extracted), correct / len(gold)
    return {
        "precision": 100.0 * precision,
        "recall": 100.0 * recall,
        "f1": 100.0 * (2 * precision * recall / (precision + recall)),
    }
