"""The `xstilts data` subcommands: `fetch` (and `fetch --list`) and `check`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from xstilts.errors import UserError

console = Console()


def add_data_parser(sub: Any) -> None:
    """`data fetch` and `data check` on xstilts.cli's parser."""
    data = sub.add_parser("data", help="fetch benchmark data, or check a data directory")
    commands = data.add_subparsers(dest="data_command", required=True)
    fetch = commands.add_parser(
        "fetch",
        help="download and convert benchmarks or tasks into the layout the tasks read",
        description="Download BENCHMARK (xtreme, xtreme-r, xglue, english, quickstart) or TASK sources from their "
        "public hosts or the Hugging Face Hub, resumably, check them against the manifest's sha256 pins and "
        "write them in the layout the task declarations read. docs/data.md: sources, licences, manual steps.",
    )
    fetch.add_argument("names", nargs="*", metavar="BENCHMARK|TASK")
    fetch.add_argument("--to", type=Path, help="data directory (default: $XSTILTS_CACHE/data, found by every command)")
    fetch.add_argument("--languages", type=_languages, help="comma-separated language codes (default: all)")
    fetch.add_argument("--list", action="store_true", help="list every source, its size, licence and manual step")
    fetch.add_argument("--keep-downloads", action="store_true", help="keep the downloaded archives after converting")
    fetch.set_defaults(func=cmd_fetch)
    check = commands.add_parser(
        "check", help="which tasks, languages and splits DIR holds; do files match the manifest"
    )
    check.add_argument("dir", type=Path, nargs="?", help="data directory (default: $XSTILTS_CACHE/data)")
    check.set_defaults(func=cmd_check)
    for command in (fetch, check):  # `--debug` after the subcommand too, as every other command takes it
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _languages(text: str) -> frozenset[str]:
    codes = frozenset(code.strip() for code in text.split(",") if code.strip())
    if not codes:
        raise argparse.ArgumentTypeError("give at least one language code")
    return codes


def cmd_fetch(args: argparse.Namespace) -> None:
    from xstilts.data.fetch import fetch
    from xstilts.data.home import fetched_root

    if args.list:
        _list_sources()
        return
    if not args.names:
        raise UserError(
            "data fetch: name a benchmark or task (xtreme, xtreme-r, xglue, english, quickstart), or --list"
        )
    root = args.to or fetched_root()
    report = fetch(args.names, root, args.languages, Console(stderr=True), keep_downloads=args.keep_downloads)
    total = sum(len(files) for files in report.written.values())
    console.print(
        f"{total} file(s) from {len(report.written)} source(s) in {root}; `xstilts data check {root}` verifies them"
    )
    for name, step in report.manual.items():
        console.print(f"{name}: needs a manual step: {step}", soft_wrap=True)


def _list_sources() -> None:
    """One block per source: name, tasks, size and licence, then where it comes from and any manual step. Plain
    lines rather than a table, so URLs and licence names are never folded mid-word."""
    from xstilts.data.registry import BENCHMARKS, SOURCES

    for source in SOURCES:
        console.print(
            f"[bold]{source.name}[/bold] ({' '.join(source.tasks)}): {source.size}; licence: {source.licence}",
            soft_wrap=True,
        )
        console.print(f"    {source.description}; {source.homepage}", soft_wrap=True, highlight=False)
        if source.manual:
            console.print(f"    manual step: {source.manual}", soft_wrap=True, highlight=False)
    console.print()
    for name, tasks in BENCHMARKS.items():
        console.print(f"[bold]{name}[/bold]: {' '.join(tasks)}", soft_wrap=True)


def cmd_check(args: argparse.Namespace) -> None:
    from xstilts.data.check import holdings, read_files, verify
    from xstilts.data.home import fetched_root

    root = args.dir or fetched_root()
    if not root.is_dir():
        raise UserError(f"{root}: no such data directory")
    held = holdings(root)
    if not held:
        raise UserError(f"{root}: holds no declared task's files (`xstilts data fetch` writes them)")
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("task", "split", "languages", "missing"):
        table.add_column(column, overflow="fold")
    for h in held:
        table.add_row(h.task, h.split, f"{len(h.present)}: {' '.join(h.present)}", " ".join(h.missing) or "-")
    console.print(table)
    verdict = verify(root, read_files(root, held))
    console.print(
        f"{verdict.pinned_ok} file(s) match the manifest's pins, {verdict.recorded_ok} match what fetch recorded, "
        f"{verdict.unverified} not known to either"
    )
    if verdict.bad:
        shown = "; ".join(verdict.bad[:3]) + (f"; and {len(verdict.bad) - 3} more" if len(verdict.bad) > 3 else "")
        raise UserError(f"{root}: {len(verdict.bad)} file(s) do not match: {shown}")
