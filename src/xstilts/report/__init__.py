"""Analyses and reports of a finished (or partial) experiment: `build_report(DIR, OUT)` writes report.html,
report.md and tables/*.tex. See docs/report.md for what each section answers and the statistics it uses."""

from xstilts.report.build import ReportPaths, build_report
from xstilts.report.compare import Settings

__all__ = ["ReportPaths", "Settings", "build_report"]
