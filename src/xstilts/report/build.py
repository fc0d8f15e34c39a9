"""build_report: read an experiment directory, compute every section once, and write report.html (self-contained),
report.md with its PNGs, and tables/*.tex."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from xstilts import __version__
from xstilts.analysis.compare import Comparisons, ResamplingSettings
from xstilts.experiment.readback import Experiment, open_experiment
from xstilts.report.by_language import language_section
from xstilts.report.complexity_section import complexity_section
from xstilts.report.document import Figure, Section, Table, to_html, to_latex, to_markdown
from xstilts.report.effects import order_section, scale_section, size_section
from xstilts.report.leakage_note import with_overlaps
from xstilts.report.similarity import descriptor_section, similarity_section
from xstilts.report.similarity import read as read_similarity
from xstilts.report.similarity_by_size import similarity_scale_section
from xstilts.report.transfer import coverage_section, transfer_section


@dataclass(frozen=True)
class ReportPaths:
    html: Path
    markdown: Path
    figures: tuple[Path, ...]
    tables: tuple[Path, ...]


def sections(experiment: Experiment, settings: ResamplingSettings | None = None) -> list[Section]:
    settings = settings or ResamplingSettings()
    comparisons = Comparisons(experiment, settings)
    parts = [
        with_overlaps(coverage_section(experiment), experiment),  # leakage the spec allowed, stated first
        transfer_section(experiment, comparisons),
        language_section(experiment, comparisons),
        order_section(experiment, comparisons),
        size_section(experiment, comparisons),
        scale_section(experiment, comparisons),
        complexity_section(experiment, comparisons, settings.complexity_sample),
    ]
    similarity = read_similarity(experiment)  # written by `xstilts similarity DIR`, when it has been run
    if similarity is not None:
        parts += [similarity_section(similarity), descriptor_section(similarity)]
        across = similarity_scale_section(similarity)  # only with rankings at several grid points (models)
        parts += [across] if across else []
    return parts


def build_report(
    experiment_dir: Path,
    out_dir: Path | None = None,
    settings: ResamplingSettings | None = None,
    data: Path | None = None,
) -> ReportPaths:
    """Write the report of `experiment_dir` to `out_dir` (default: experiment_dir/report) and return its files.
    `data` (--data) is where the per-example statistics find the gold data."""
    experiment = open_experiment(Path(experiment_dir), data=data)
    out = Path(out_dir) if out_dir is not None else experiment.dir / "report"
    parts = sections(experiment, settings)
    title = f"X-STILTs report: {experiment.spec.name}"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    subtitle = f"Experiment {experiment.dir.resolve()}; xstilts {__version__}; written {stamp}."
    (out / "tables").mkdir(parents=True, exist_ok=True)
    blocks = [b for s in parts for b in s.blocks]
    figures = []
    for figure in (b for b in blocks if isinstance(b, Figure)):
        figures.append(out / f"{figure.name}.png")
        figures[-1].write_bytes(figure.png)
    tables = []
    for table in (b for b in blocks if isinstance(b, Table)):
        tables.append(out / "tables" / f"{table.name}.tex")
        tables[-1].write_text(to_latex(table), encoding="utf-8")
    html, markdown = out / "report.html", out / "report.md"
    html.write_text(to_html(title, subtitle, parts), encoding="utf-8")
    markdown.write_text(to_markdown(title, subtitle, parts), encoding="utf-8")
    return ReportPaths(html, markdown, tuple(figures), tuple(tables))
