"""Section "Similarity across model scale", present when similarity.json holds rankings for several grid points
(models): one table and one figure giving, per model, how well each similarity method predicts the gains (Spearman,
NDCG@k, regret@k as means over targets, with bootstrap intervals over targets and seeds; similarity/model_size.py
computes them, the report only reads them). Every row and point is labelled with its grid point."""

from __future__ import annotations

import math
from typing import Any

from xstilts.report import figures
from xstilts.report.document import Figure, Section, Table

NAMES = {"spearman": "Spearman", "ndcg": "NDCG@{k}", "regret": "regret@{k} (%)"}


def scale_header(k: int) -> list[str]:
    return ["grid point", "model", "method", "targets", *(NAMES[m].format(k=k) for m in NAMES)]


def _cell(entry: dict[str, Any], digits: int) -> str:
    if entry.get("estimate") is None:
        return "-"
    text = f"{entry['estimate']:.{digits}f}"
    if entry.get("low") is not None:
        text += f" [{entry['low']:.{digits}f}, {entry['high']:.{digits}f}]"
    if entry.get("random") is not None:  # absent from a similarity.json written before it was computed
        text += f" (random {entry['random']:.{digits}f})"
    return text


def scale_cells(row: dict[str, Any]) -> list[str]:
    targets = max((row[m].get("targets") or 0) for m in NAMES)
    cells = [_cell(row[m], 2 if m == "regret" else 3) for m in NAMES]
    return [row["grid_point"], row["model"], row["method"], str(targets), *cells]


def similarity_scale_section(data: dict[str, Any]) -> Section | None:
    scale = data.get("scale")
    if not scale or len({row["grid_point"] for row in scale["rows"]}) < 2:
        return None
    k, rows = scale["k"], scale["rows"]
    text = (
        "Does a similarity method predict the gains equally well at every model size? Per grid point (model) and "
        f"method: Spearman's rho, NDCG@{k} and regret@{k}, each the mean over the targets ranked at that grid point, "
        f"with a {scale['level']:.0%} percentile bootstrap interval ({scale['n_boot']} draws resampling the targets "
        "and, within each, the seeds the gains were measured on; the similarity scores stay fixed), and in brackets "
        "the measure's exact expectation under a random ranking, averaged over the same targets. With one target "
        "and one seed the interval is the point."
    )
    table = Table(
        "similarity_scale",
        "Ranking quality of each similarity method per grid point (model)",
        scale_header(k),
        [scale_cells(row) for row in rows],
    )
    panels: dict[str, dict[str, list[tuple[str, float, float, float]]]] = {}
    for m, name in NAMES.items():
        for row in rows:
            entry = row[m]
            if entry.get("estimate") is None:
                continue
            low, high = (entry["low"], entry["high"]) if entry.get("low") is not None else (math.nan, math.nan)
            panels.setdefault(name.format(k=k), {}).setdefault(row["method"], []).append(
                (row["grid_point"], entry["estimate"], low, high)
            )
    points = list(dict.fromkeys(row["grid_point"] for row in rows))
    png = figures.interval_panels(points, panels, "Similarity methods across model scale (grid points on x)")
    caption = (
        f"Ranking quality per grid point ({', '.join(points)}), mean over targets with {scale['level']:.0%} intervals."
    )
    return Section("Similarity across model scale", [text, table, Figure("similarity_scale", caption, png)])
