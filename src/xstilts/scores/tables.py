"""The results table: per target task, one row per language (and the average), one column per intermediate
condition, means over seeds, and each condition's difference from the no-intermediate baseline."""

from __future__ import annotations

from pathlib import Path
from statistics import mean

from rich.markup import escape
from rich.table import Table

from xstilts.experiment.readback import AVERAGE, condition_label, open_experiment

TableCell = tuple[str, str, str, str]  # target, metric, condition, language; condition includes the grid point


def results_tables(experiment_dir: Path, baseline: str | None = None) -> list[Table]:
    """The `results` command: the tables of an experiment's finished runs (a store without its spec will do), with
    gains against `baseline`, by default the spec's condition without intermediate stages."""
    experiment = open_experiment(experiment_dir, need_spec=False)
    if baseline is None and experiment.spec is not None:
        baseline = experiment.spec.baseline
    return seed_mean_tables(experiment.seed_values(), baseline)


def _variant(condition_label: str) -> str:
    return condition_label.partition(" [")[2].rstrip("]")


def seed_mean_tables(values: dict[TableCell, list[float]], baseline: str | None) -> list[Table]:
    """One table per target, metric and grid point; gains are against the baseline of the same grid point."""
    out = []
    points = sorted({(t, m, _variant(c)) for t, m, c, _ in values})
    for target, metric, variant in points:
        cells = {
            (c, lang): v for (t, m, c, lang), v in values.items() if (t, m, _variant(c)) == (target, metric, variant)
        }
        base = condition_label(baseline, variant) if baseline else None
        out.append(_table(f"{target}: {metric}" + (f" [{variant}]" if variant else ""), cells, base))
    return out


def _table(title: str, cells: dict[tuple[str, str], list[float]], baseline: str | None) -> Table:
    conditions = sorted({c for c, _ in cells}, key=lambda c: (c != baseline, c))
    langs = sorted({lang for _, lang in cells} - {AVERAGE}, key=lambda lang: (lang != "en", lang)) + [AVERAGE]
    compare = baseline in conditions
    # escape: grid points are written in brackets, which rich would read as markup
    table = Table(title=escape(title + (f", delta vs '{baseline}'" if compare else "")))
    table.add_column("language")
    for condition in conditions:
        seeds = max(len(v) for (c, _), v in cells.items() if c == condition)
        table.add_column(escape(f"{condition} ({seeds} seed{'s' * (seeds != 1)})"), justify="right")
    for lang in langs:
        row = [lang]
        for condition in conditions:
            base = cells.get((baseline, lang)) if compare and condition != baseline else None
            row.append(_cell(cells.get((condition, lang)), base))
        table.add_row(*row, end_section=lang == langs[-2])
    return table


def _cell(values: list[float] | None, base: list[float] | None) -> str:
    if not values:
        return "-"
    if not base:
        return f"{mean(values):.1f}"
    delta = mean(values) - mean(base)
    colour = "green" if delta > 0 else "red" if delta < 0 else "dim"
    return f"{mean(values):.1f} [{colour}]({delta:+.1f})[/]"
