"""`xstilts report DIR [--out OUT]`: the entry function; xstilts.cli wires it to its parser."""

from __future__ import annotations

import argparse
from pathlib import Path


def cmd_report(args: argparse.Namespace) -> None:
    """Write the report of experiment directory args.dir to args.out (default: DIR/report)."""
    from xstilts.report import build_report

    # --data (the parser always sets it; a Namespace built by hand may leave it out)
    paths = build_report(args.dir, args.out or Path(args.dir) / "report", data=getattr(args, "data", None))
    print(f"report: {paths.html}")
    print(f"        {paths.markdown} ({len(paths.figures)} figures beside it)")
    print(f"        {paths.html.parent / 'tables'} ({len(paths.tables)} LaTeX tables, booktabs)")
