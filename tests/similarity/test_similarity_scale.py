"""Similarity across model scale (xstilts.similarity.model_size) on hand-written ranked entries: per grid point and
method, Spearman, NDCG@k and regret@k averaged over targets, with bootstrap intervals over targets and seeds; and
the console tables name their grid point."""

from __future__ import annotations

import pytest

from xstilts.similarity.model_size import model_quality
from xstilts.similarity.ranking import quality
from xstilts.similarity_command import scale_table, tables


def _row(condition: str, similarity: float, per_seed: dict[str, float], base: float = 50.0) -> dict:
    gain = sum(per_seed.values()) / len(per_seed)
    return {
        "condition": condition,
        "gain": gain,
        "score": base + gain,
        "per_seed": per_seed,
        "similarity": {"textemb": similarity},
    }


def _entry(target: str, rows: list[dict], point: str = "model=small") -> dict:
    return {"target": target, "baseline": f"none [{point}]", "grid_point": point, "candidates": rows}


def test_a_perfect_ranking_everywhere_has_a_point_interval() -> None:
    rows = [
        _row("a", 0.9, {"1": 3.0, "2": 2.0}),
        _row("b", 0.5, {"1": 1.0, "2": 0.5}),
        _row("c", 0.1, {"1": -1.0, "2": -2.0}),
    ]
    result = model_quality([_entry("xnli", rows), _entry("panx", rows)], "textemb", k=1, n_boot=200)
    assert result["spearman"] == {"estimate": 1.0, "low": 1.0, "high": 1.0, "targets": 2, "random": 0.0}
    # 3 candidates, k = 1: a random first pick has rank relevance 0, 1 or 2 with equal chance, so NDCG@1 = 1/2
    assert result["ndcg"]["random"] == pytest.approx(0.5)
    assert result["regret"]["estimate"] == 0.0 and result["ndcg"]["estimate"] == pytest.approx(1.0)


def test_estimate_is_the_mean_over_targets_and_seeds_widen_the_interval() -> None:
    good = [
        _row("a", 0.9, {"1": 2.0, "2": 2.2}),
        _row("b", 0.5, {"1": 1.0, "2": 1.1}),
        _row("c", 0.1, {"1": 0.0, "2": 0.1}),
    ]
    # seeds disagree on b vs c: resampling seeds changes the ranking's Spearman
    noisy = [
        _row("a", 0.9, {"1": 2.0, "2": 2.0}),
        _row("b", 0.5, {"1": 3.0, "2": -1.0}),
        _row("c", 0.1, {"1": 0.0, "2": 0.5}),
    ]
    result = model_quality([_entry("xnli", good), _entry("panx", noisy)], "textemb", k=2, n_boot=400)
    by_target = [
        quality(
            [r["condition"] for r in rows],
            [r["similarity"]["textemb"] for r in rows],
            [r["gain"] for r in rows],
            [r["score"] for r in rows],
            2,
        ).spearman
        for rows in (good, noisy)
    ]
    spearman = result["spearman"]
    assert spearman["estimate"] == pytest.approx(sum(by_target) / 2) and spearman["targets"] == 2
    assert spearman["low"] < spearman["estimate"] <= spearman["high"] == 1.0


def test_candidates_without_similarity_or_gain_are_left_out() -> None:
    rows = [_row("a", 0.9, {"1": 1.0}), {**_row("b", 0.5, {"1": 2.0}), "gain": None}]
    assert model_quality([_entry("xnli", rows)], "textemb", k=1)["spearman"]["estimate"] is None  # one usable left


def test_console_tables_are_labelled_with_their_grid_point() -> None:
    entry = {**_entry("xnli", [_row("a", 0.9, {"1": 1.0})], "model=big"), "metric": "accuracy"}
    entry.update(rankings={"textemb": ["a"]}, quality={"textemb": None})
    scores, ranking = tables(entry, ("textemb",), 3)
    assert "xnli [model=big]" in scores.title and "xnli [model=big]" in ranking.title
    scale = {"k": 3, "n_boot": 10, "level": 0.95, "rows": []}
    for point in ("model=small", "model=big"):
        scale["rows"].append(
            {"grid_point": point, "model": point[6:], "method": "textemb"}
            | {m: {"estimate": 0.5, "low": 0.1, "high": 0.9, "targets": 2} for m in ("spearman", "ndcg", "regret")}
        )
    table = scale_table(scale)
    assert table.columns[0]._cells == ["model=small", "model=big"]
    assert table.columns[4]._cells[0] == "0.500 [0.100, 0.900]"
