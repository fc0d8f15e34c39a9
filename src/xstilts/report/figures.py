"""The report's figures, drawn with matplotlib's Agg canvas (no display, no pyplot state) and returned as PNG bytes.
Every figure is titled with what it shows and the data behind it; captions in the report repeat that."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

_DPI = 110
_COLOURS = ("#3b6ea5", "#d1793a", "#4f9a5a", "#b5485d", "#7d62a8", "#8a7a4c", "#3a9aa0", "#777777")


def _new(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(fig)  # Agg explicitly: the report is drawn headless, whatever backend the user configured
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, facecolor="white")
    return buffer.getvalue()


def heatmap(
    rows: Sequence[str], columns: Sequence[str], values: np.ndarray, labels: Sequence[Sequence[str]], title: str
) -> bytes:
    """Gains as colours around zero (blue up, red down), each cell annotated; NaN cells are grey ("missing")."""
    fig = _new(max(5.5, 2.6 + 1.9 * len(columns)), 1.6 + 0.75 * len(rows))
    ax = fig.add_subplot()
    limit = float(np.nanmax(np.abs(values))) if np.isfinite(values).any() else 1.0
    cmap = colormaps["RdBu"].with_extremes(bad="#dddddd")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=-max(limit, 0.5), vmax=max(limit, 0.5))
    ax.set_xticks(range(len(columns)), columns)
    ax.set_yticks(range(len(rows)), rows)
    for i in range(len(rows)):
        for j in range(len(columns)):
            strong = np.isfinite(values[i, j]) and abs(values[i, j]) > 0.6 * limit
            ax.text(j, i, labels[i][j], ha="center", va="center", fontsize=8, color="white" if strong else "black")
    fig.colorbar(image, ax=ax, label="gain (points)", shrink=0.8)
    ax.set_title(title, fontsize=9)
    return _png(fig)


def language_bars(
    languages: Sequence[str],
    series: dict[str, Sequence[float]],
    marks: dict[str, Sequence[str]],
    title: str,
) -> bytes:
    """One group of bars per language, one bar per condition; each bar carries its mark (report/marks.py), if any."""
    fig = _new(min(10.0, max(6.0, 0.45 * len(languages) * max(1, len(series)) + 2)), 3.6)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(series))
    x = np.arange(len(languages))
    for k, (name, gains) in enumerate(series.items()):
        offset = x - 0.4 + width * (k + 0.5)
        ax.bar(offset, gains, width, label=name, color=_COLOURS[k % len(_COLOURS)])
        for xi, gain, star in zip(offset, gains, marks.get(name, ()), strict=False):
            if star and np.isfinite(gain):
                ax.text(xi, gain, star, ha="center", va="bottom" if gain >= 0 else "top", fontsize=11)
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(x, languages, fontsize=9)
    ax.set_ylabel("gain over baseline (points)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, frameon=False, ncols=min(4, len(series)))
    ax.set_title(title, fontsize=9)
    return _png(fig)


def size_curve(
    points: Sequence[tuple[float, Sequence[float]]],
    fit: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None,
    title: str,
) -> bytes:
    """Per-seed gains (small dots) and their mean (large dots) against the number of intermediate examples, with
    the fitted power law and its bootstrap band when there is one."""
    fig = _new(6.0, 3.6)
    ax = fig.add_subplot()
    if fit is not None:
        grid, curve, low, high = fit
        ax.fill_between(grid, low, high, color=_COLOURS[0], alpha=0.2, label="95% band (bootstrap over seeds)")
        ax.plot(grid, curve, color=_COLOURS[0], label="a - b n^(-c)")
    for n, gains in points:
        ax.scatter([n] * len(gains), gains, s=10, color="#777777", zorder=3)
    ax.scatter([n for n, _ in points], [np.mean(g) for _, g in points], s=40, color=_COLOURS[1], zorder=4, label="mean")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("intermediate training examples")
    ax.set_ylabel("gain over baseline (points)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(title, fontsize=9)
    return _png(fig)


def model_lines(models: Sequence[str], series: dict[str, Sequence[float]], ylabel: str, title: str) -> bytes:
    """One line per curriculum across models (in the order given); NaN where a model has no result."""
    fig = _new(max(5.0, 1.4 * len(models) + 2), 3.6)
    ax = fig.add_subplot()
    for k, (name, values) in enumerate(series.items()):
        ax.plot(range(len(models)), values, marker="o", label=name, color=_COLOURS[k % len(_COLOURS)])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(models)), models, fontsize=8)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(title, fontsize=9)
    return _png(fig)


def similarity_panels(
    panels: dict[str, Sequence[tuple[str, float, float]]],
    title: str,
    xlabel: str = "{} similarity",
    ylabel: str = "gain over baseline (points)",
) -> bytes:
    """One panel per method: each condition's similarity score (x) against its measured gain (y), labelled, so a
    method that predicts transfer shows the points rising from left to right. The complexity section draws its
    measures (x, `xlabel` formatted with the panel's name) against the low-resource gain the same way."""
    fig = _new(max(4.0, 3.0 * len(panels)), 3.2)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for k, (ax, (method, points)) in enumerate(zip(axes, panels.items(), strict=True)):
        ax.scatter([x for _, x, _ in points], [y for _, _, y in points], s=30, color=_COLOURS[k % len(_COLOURS)])
        for name, x, y in points:
            ax.annotate(name, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.axhline(0, color="black", linewidth=0.8)
        ax.margins(x=0.2, y=0.15)  # room for the labels of the outermost points
        ax.set_xlabel(xlabel.format(method), fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel)
    fig.suptitle(title, fontsize=9)
    return _png(fig)


def interval_panels(
    points: Sequence[str], panels: dict[str, dict[str, Sequence[tuple[str, float, float, float]]]], title: str
) -> bytes:
    """One panel per measure: per series (e.g. a similarity method), its estimate at each grid point (x, labelled)
    with its interval as an error bar; NaN bounds draw the point alone."""
    fig = _new(max(4.0, 3.4 * len(panels)), 3.4)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (measure, series) in zip(axes, panels.items(), strict=True):
        for k, (name, values) in enumerate(series.items()):
            x = np.array([points.index(p) for p, *_ in values]) + 0.08 * (k - (len(series) - 1) / 2)
            y = np.array([v[1] for v in values])
            spread = np.array([[v[1] - v[2] for v in values], [v[3] - v[1] for v in values]])
            colour = _COLOURS[k % len(_COLOURS)]
            ax.errorbar(x, y, yerr=np.nan_to_num(spread), marker="o", capsize=3, label=name, color=colour)
        ax.set_xticks(range(len(points)), points, fontsize=7, rotation=20)
        ax.set_title(measure, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=9)
    return _png(fig)
