"""Analyses and reports of a finished (or partial) experiment: `build_report(DIR, OUT)` writes report.html,
report.md and tables/*.tex. See docs/report.md for what each section answers and the statistics it uses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xstilts.analysis.compare import ResamplingSettings
    from xstilts.report.build import ReportPaths, build_report

__all__ = ["ReportPaths", "ResamplingSettings", "build_report"]


def __getattr__(name: str) -> Any:
    # Imported on first use (PEP 562): xstilts.cli imports xstilts.report.cli at start-up, and every other command
    # should not pay for loading torch, the task formats and matplotlib.
    if name in ("ReportPaths", "build_report"):
        from xstilts.report import build

        return getattr(build, name)
    if name == "ResamplingSettings":
        from xstilts.analysis.compare import ResamplingSettings

        return ResamplingSettings
    raise AttributeError(f"module 'xstilts.report' has no attribute {name!r}")
