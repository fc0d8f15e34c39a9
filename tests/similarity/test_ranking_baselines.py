"""Ranking measures of the similarity methods against what a random ranking gives: NDCG with rank relevance spreads
orders from 0 to 1 (the old score-as-relevance NDCG gave a random order of 6 candidates 0.975), and the exact random
expectations of NDCG@k and regret@k equal brute-force means over every permutation."""

from __future__ import annotations

import itertools
from statistics import fmean

import pytest

from xstilts.similarity.ranking import (
    ndcg_at_k,
    quality,
    random_ndcg_at_k,
    random_regret_at_k,
    regret_at_k,
    relevance,
    spearman,
)

GAINS = [1.2, -0.4, 0.3, 2.0, 0.3, -1.1]  # six candidates, one tie
SCORES = [60.0 + g for g in GAINS]


def _all_orders(n: int):
    return itertools.permutations(range(n))


def test_random_ndcg_is_the_mean_over_all_orders() -> None:
    rel = relevance(GAINS)
    for k in (1, 3, 6):
        brute = fmean(ndcg_at_k([rel[i] for i in order], k) for order in _all_orders(len(rel)))
        assert random_ndcg_at_k(rel, k) == pytest.approx(brute, abs=1e-12)


def test_random_ndcg_is_far_from_one() -> None:
    # 6 candidates, k = 3: the case, where score-as-relevance NDCG gave 0.975 to a random order
    rel = relevance(GAINS)
    assert random_ndcg_at_k(rel, 3) < 0.65
    worst = min(ndcg_at_k([rel[i] for i in order], 3) for order in _all_orders(len(rel)))
    assert worst < 0.25
    # three candidates: every order scored >= 0.996 before; now the worst order gets (0 + 1/log2 3 + 2/2) /
    # (2 + 1/log2 3) = 0.620 at k = 3, and 0 at k = 1
    three = relevance([0.1, 0.5, 0.9])
    assert min(ndcg_at_k([three[i] for i in order], 3) for order in _all_orders(3)) == pytest.approx(0.6199062)
    assert min(ndcg_at_k([three[i] for i in order], 1) for order in _all_orders(3)) == 0.0


def test_random_regret_is_the_mean_over_all_orders() -> None:
    for k in (1, 2, 3, 6):
        brute = fmean(regret_at_k([SCORES[i] for i in order], k) for order in _all_orders(len(SCORES)))
        assert random_regret_at_k(SCORES, k) == pytest.approx(brute, abs=1e-12)
    assert random_regret_at_k(SCORES, 6) == 0.0


def test_random_spearman_expectation_is_zero() -> None:
    similarity = [0.3, 0.1, 0.7, 0.2, 0.9, 0.5]
    brute = fmean(spearman([similarity[i] for i in order], GAINS) for order in _all_orders(len(GAINS)))
    assert brute == pytest.approx(0.0, abs=1e-12)
    q = quality(list("abcdef"), similarity, GAINS, SCORES, k=3)
    assert q.spearman_random == 0.0


def test_quality_carries_every_random_expectation() -> None:
    q = quality(list("abcdef"), [0.8, 0.1, 0.7, 0.9, 0.2, 0.0], GAINS, SCORES, k=3)
    assert q.ndcg_random == pytest.approx(random_ndcg_at_k(relevance(GAINS), 3))
    assert q.regret_random == pytest.approx(random_regret_at_k(SCORES, 3))
    assert q.regret_1_random == pytest.approx(random_regret_at_k(SCORES, 1))
    assert q.ndcg == pytest.approx(1.0) and q.top == "d"  # the best gain ranked first, then the next two


def _entry() -> dict:
    from dataclasses import asdict

    from xstilts.similarity.model_size import model_quality

    per_seed = {"a": {"1": 2.0, "2": 1.0}, "b": {"1": 0.5, "2": 1.5}, "c": {"1": -1.0, "2": 0.0}}
    candidates = [
        {
            "condition": name,
            "gain": sum(seeds.values()) / 2,
            "score": 60.0 + sum(seeds.values()) / 2,
            "per_seed": seeds,
            "similarity": {"textemb": similarity},
        }
        for (name, seeds), similarity in zip(per_seed.items(), (0.9, 0.5, 0.1), strict=True)
    ]
    entry = {"target": "xnli", "baseline": "none", "metric": "accuracy", "candidates": candidates}
    rows = [(c["condition"], c["similarity"]["textemb"], c["gain"], c["score"]) for c in candidates]
    q = quality(*(list(column) for column in zip(*rows, strict=True)), k=2)
    entry["quality"] = {"textemb": asdict(q)}
    entry["quality_intervals"] = {"textemb": model_quality([entry], "textemb", 2)}
    return entry


def test_the_report_shows_each_ranking_measure_with_its_random_expectation_and_interval() -> None:
    from xstilts.report.similarity import OLD_FILE, quality_cells, similarity_section, target_quality

    entry = _entry()
    n, rho, ndcg, regret_1, regret_k, top, best = quality_cells(*target_quality(entry, "textemb"))
    assert (n, top, best) == ("3", "a", "a")
    # seeds disagree on a vs b (seed 2 puts b first): Spearman's interval over seeds reaches below 1
    assert rho.startswith("1.000 [") and rho.endswith("(random 0.000)")
    assert ndcg.startswith("1.000") and f"(random {random_ndcg_at_k([2.0, 1.0, 0.0], 2):.3f})" in ndcg
    assert regret_1.endswith(f"(random {random_regret_at_k([61.5, 61.0, 59.5], 1):.2f})")
    settings = {"methods": ["textemb"], "k": 2, "examples": 8, "seed": 0, "cka_reference": "target"}
    section = similarity_section({"settings": settings | {"semb_prefix": ""}, "targets": [entry]})
    assert OLD_FILE not in str(section.blocks)
    # a file written before the baselines existed says so instead of showing a bare NDCG
    old = _entry()
    old["quality"]["textemb"] = {key: value for key, value in old["quality"]["textemb"].items() if "random" not in key}
    del old["quality_intervals"]
    section = similarity_section({"settings": settings | {"semb_prefix": ""}, "targets": [old]})
    assert OLD_FILE in str(section.blocks)
