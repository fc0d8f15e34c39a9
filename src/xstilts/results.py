"""The results table: per target task, one row per intermediate condition, one column per language,
means over seeds, and each condition's difference from the no-intermediate baseline."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from statistics import mean

from rich.table import Table

from xstilts.errors import UserError
from xstilts.store import AVERAGE, Store

Cell = tuple[str, str, str, str]  # target, metric, condition, language


def collect(experiment_dir: Path) -> dict[Cell, list[float]]:
    if not (experiment_dir / Store.FILE).is_file():
        raise UserError(f"{experiment_dir}: not an experiment directory (no {Store.FILE})")
    store = Store(experiment_dir)
    try:
        values: dict[Cell, list[float]] = defaultdict(list)
        for condition, target, _seed, lang, metric, value, _n in store.run_results():
            values[(target, metric, condition, lang)].append(value)
        return values
    finally:
        store.close()


def tables(values: dict[Cell, list[float]], baseline: str | None) -> list[Table]:
    out = []
    for target, metric in sorted({(t, m) for t, m, _, _ in values}):
        cells = {(c, lang): mean(v) for (t, m, c, lang), v in values.items() if (t, m) == (target, metric)}
        seeds = {c: len(v) for (t, m, c, lang), v in values.items() if (t, m) == (target, metric)}
        conditions = sorted({c for c, _ in cells}, key=lambda c: (c != baseline, c))
        langs = sorted({lang for _, lang in cells} - {AVERAGE}) + [AVERAGE]
        title = f"{target}: {metric}" + (f" (delta vs '{baseline}')" if baseline in conditions else "")
        table = Table(title=title)
        table.add_column("condition")
        table.add_column("seeds", justify="right")
        for lang in langs:
            table.add_column(lang, justify="right")
        for condition in conditions:
            row = [condition, str(seeds[condition])]
            for lang in langs:
                value = cells.get((condition, lang))
                base = cells.get((baseline, lang)) if baseline and condition != baseline else None
                row.append(_cell(value, base))
            table.add_row(*row)
        out.append(table)
    return out


def _cell(value: float | None, base: float | None) -> str:
    if value is None:
        return "-"
    if base is None:
        return f"{value:.1f}"
    delta = value - base
    colour = "green" if delta > 0 else "red" if delta < 0 else "dim"
    return f"{value:.1f} [{colour}]({delta:+.1f})[/]"
