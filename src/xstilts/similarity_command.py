"""`xstilts similarity DIR`: the entry function and its rich tables; xstilts.cli wires it to its parser. Nothing
heavy is imported until the command runs (every other command starts without torch)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from xstilts.similarity.settings import METHODS, Settings
from xstilts.spec import DATA_HELP

FILE = "similarity.json"


def methods_arg(text: str) -> tuple[str, ...]:
    """--methods: a comma-separated subset of the methods, in the order given."""
    chosen = tuple(m.strip().lower() for m in text.split(",") if m.strip())
    unknown = [m for m in chosen if m not in METHODS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown method {unknown[0] if unknown else text!r}; known: {','.join(METHODS)}"
        )
    return tuple(dict.fromkeys(chosen))


def layers_arg(text: str) -> tuple[int, ...]:
    """--fisher-layers: comma-separated layer indices, negative from the top (-1 is the last layer)."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"layer indices must be integers such as -1 or 10,11, got {text!r}") from None


def add_similarity_parser(sub: Any, positive: Callable[[str], int]) -> None:
    """The `similarity` subcommand on xstilts.cli's parser; defaults come from Settings."""
    defaults = Settings()
    similar = sub.add_parser("similarity", help="rank intermediate conditions per target by task similarity")
    similar.add_argument("dir", type=Path)
    similar.add_argument("--data", type=Path, help=DATA_HELP)
    similar.add_argument("--target", action="append", help="only this target (repeatable; default: every target)")
    similar.add_argument(
        "--methods",
        type=methods_arg,
        default=defaults.methods,
        help=f"comma-separated subset of {','.join(METHODS)} (default: all)",
    )
    similar.add_argument(
        "--examples",
        type=positive,
        default=defaults.examples,
        help=f"examples sampled per task (default {defaults.examples})",
    )
    similar.add_argument("--k", type=positive, default=defaults.k, help=f"k of NDCG@k and regret@k ({defaults.k})")
    similar.add_argument("--seed", type=int, default=defaults.seed, help="seed of the example samples")
    similar.add_argument(
        "--fisher-layers",
        type=layers_arg,
        default=defaults.fisher_layers,
        help="transformer layers TaskEmb takes the Fisher of, e.g. -1 or 10,11 (default: the last)",
    )
    similar.add_argument(
        "--cka-reference",
        choices=["target", "pretrained"],
        default=defaults.cka_reference,
        help="CKA compares with the baseline's target-trained encoder (default) or the pretrained one",
    )
    similar.set_defaults(func=cmd_similarity)


def cmd_similarity(args: argparse.Namespace) -> None:
    from xstilts.experiment.readback import open_experiment
    from xstilts.similarity.compute import similarity

    settings = Settings(
        methods=args.methods,
        examples=args.examples,
        k=args.k,
        seed=args.seed,
        fisher_layers=args.fisher_layers,
        cka_reference=args.cka_reference,
    )
    exp = open_experiment(Path(args.dir), data=args.data)
    result = similarity(exp, settings, tuple(args.target or ()))
    console = Console()
    for entry in result["targets"]:
        for table in tables(entry, settings.methods, settings.k):
            console.print(table)
    if len({row["grid_point"] for row in result["scale"]["rows"]}) > 1:
        console.print(scale_table(result["scale"]))
    path = write_atomic(exp.dir / FILE, result)
    console.print(f"similarity: {path}")


def write_atomic(path: Path, data: dict[str, Any]) -> Path:
    """Written beside, then renamed over: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def tables(entry: dict[str, Any], methods: tuple[str, ...], k: int) -> list[Table]:
    """Per target: the conditions with their measured gain and every method's score (rank), and the quality of
    each method's ranking."""
    from xstilts.report.similarity import quality_cells, quality_header, target_quality

    point = f" [{entry['grid_point']}]" if entry.get("grid_point") else ""  # two models must not look identical
    title = f"{entry['target']}{point}: similarity to each intermediate condition (baseline '{entry['baseline']}')"
    if entry.get("note"):
        table = Table(title=title)
        table.add_column("note")
        table.add_row(entry["note"])
        return [table]
    scores = Table(title=title)
    for column in ("condition", f"gain ({entry.get('metric') or '?'})", *methods):
        scores.add_column(column, justify="left" if column == "condition" else "right")
    ranks = {m: {c: i + 1 for i, c in enumerate(entry["rankings"].get(m, []))} for m in methods}
    for row in entry["candidates"]:
        cells = [
            f"{_number(row['similarity'].get(m), 4)} (#{ranks[m][row['condition']]})"
            if row["similarity"].get(m) is not None
            else "n/a"
            for m in methods
        ]
        gain = "-" if row["gain"] is None else f"{row['gain']:+.2f}"
        scores.add_row(row["condition"], gain, *cells)
    ranking = Table(title=f"{entry['target']}{point}: how well each ranking predicts the measured gains")
    for i, column in enumerate(quality_header(k)):
        ranking.add_column(column, justify="right" if 0 < i < 6 else "left")
    for method in methods:
        ranking.add_row(method, *quality_cells(*target_quality(entry, method)))
    return [scores, ranking]


def scale_table(scale: dict[str, Any]) -> Table:
    """Per grid point (model) and method: Spearman, NDCG@k and regret@k over the targets, with their intervals."""
    from xstilts.report.similarity_by_size import scale_cells, scale_header

    table = Table(title="Similarity across model scale: how well each method predicts the gains, per grid point")
    for i, column in enumerate(scale_header(scale["k"])):
        table.add_column(column, justify="right" if i > 2 else "left")
    for row in scale["rows"]:
        table.add_row(*scale_cells(row))
    return table
