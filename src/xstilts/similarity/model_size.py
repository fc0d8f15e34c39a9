"""Similarity across model scale: per model (grid point), how well each similarity method's ranking predicts the
gains, as Spearman's rho, NDCG@k, regret@k and regret@1 averaged over the targets, each with a percentile bootstrap
interval that resamples the targets and, within each target, the seeds the gains were measured on, and beside it the
measure's exact expectation under a random ranking (similarity/ranking.py), averaged over the same targets.

One draw: targets are drawn with replacement from the model's targets; for each, the seeds that every candidate
finished are drawn with replacement and each candidate's gain is the mean of its per-seed gains over the drawn seeds
(its target score shifts with it); the ranking by similarity (fixed: the similarity was measured once) is scored
against those gains, and the draw's value is the mean over the drawn targets. With one target and one seed there is
nothing to resample and the interval is the point."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from statistics import fmean
from typing import Any

import numpy as np

from xstilts.experiment.readback import Experiment
from xstilts.similarity.ranking import quality

MEASURES = ("spearman", "ndcg", "regret", "regret_1")  # regret at k and at 1
N_BOOT = 500
LEVEL = 0.95


def _candidates(entry: dict[str, Any], method: str) -> list[dict[str, Any]]:
    return [
        c
        for c in entry.get("candidates", [])
        if c.get("gain") is not None and c.get("similarity", {}).get(method) is not None and c.get("per_seed")
    ]


def _values(
    rows: Sequence[dict[str, Any]], method: str, k: int, seeds: Sequence[str] | None, suffix: str = ""
) -> dict[str, float]:
    """The ranking quality of one target with gains averaged over `seeds` (all of a row's seeds when None); with
    suffix "_random", each measure's expectation under a random ranking instead."""
    names = [r["condition"] for r in rows]
    gains = [fmean(r["per_seed"][s] for s in (seeds or r["per_seed"])) for r in rows]
    scores = [r["score"] - r["gain"] + g for r, g in zip(rows, gains, strict=True)]
    q = quality(names, [r["similarity"][method] for r in rows], gains, scores, k)
    return {m: getattr(q, m + suffix) for m in MEASURES if getattr(q, m + suffix) is not None}


def model_quality(
    entries: Sequence[dict[str, Any]], method: str, k: int, n_boot: int = N_BOOT, seed: int = 0
) -> dict[str, dict[str, float | int | None]]:
    """measure -> {estimate, low, high, targets, random} for one model's target entries and one method; `random`
    is the mean over targets of the measure's exact expectation under a random ranking."""
    usable = [rows for e in entries if len(rows := _candidates(e, method)) >= 2]
    out: dict[str, dict[str, float | int | None]] = {}
    points = [_values(rows, method, k, None) for rows in usable]
    chance = [_values(rows, method, k, None, "_random") for rows in usable]
    rng = np.random.default_rng(seed)
    common = [sorted(set.intersection(*(set(r["per_seed"]) for r in rows))) for rows in usable]
    draws: dict[str, list[float]] = defaultdict(list)
    for _ in range(n_boot if usable else 0):
        per_target: dict[str, list[float]] = defaultdict(list)
        for t in rng.integers(0, len(usable), len(usable)):
            seeds = [common[t][i] for i in rng.integers(0, len(common[t]), len(common[t]))] if common[t] else None
            for m, v in _values(usable[t], method, k, seeds).items():
                per_target[m].append(v)
        for m, values in per_target.items():
            draws[m].append(fmean(values))
    for m in MEASURES:
        estimates = [p[m] for p in points if m in p]
        random = [p[m] for p in chance if m in p]
        low, high = np.quantile(draws[m], [(1 - LEVEL) / 2, (1 + LEVEL) / 2]) if draws[m] else (None, None)
        out[m] = {
            "estimate": fmean(estimates) if estimates else None,
            "low": None if low is None else float(low),
            "high": None if high is None else float(high),
            "targets": len(estimates),
            "random": fmean(random) if random else None,
        }
    return out


def grid_label(exp: Experiment, baseline: str) -> str:
    """The grid point a baseline belongs to ("model=me5-small/L6"), else the model its runs used."""
    return exp.variant_of.get(baseline) or f"model={exp.model(baseline)}"


def across_models(
    exp: Experiment, entries: Sequence[dict[str, Any]], methods: Sequence[str], k: int, n_boot: int = N_BOOT
) -> dict[str, Any]:
    """The cross-scale block of similarity.json: per grid point (model) and method, the three measures with
    intervals. Entries are grouped by their `grid_point`."""
    by_point: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        if entry.get("candidates"):
            by_point[entry["grid_point"]].append(entry)
    rows = [
        {"grid_point": point, "model": exp.model(group[0]["baseline"]), "method": method}
        | model_quality(group, method, k, n_boot, seed=i)
        for i, (point, group) in enumerate(by_point.items())
        for method in methods
    ]
    return {"k": k, "n_boot": n_boot, "level": LEVEL, "rows": rows}
