"""The `xstilts` command line: run SPEC, results DIR, tasks, models."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from xstilts import __version__
from xstilts.errors import UserError

console = Console()


def cmd_run(args: argparse.Namespace) -> None:
    from xstilts.plan import build_plan
    from xstilts.results import collect, tables
    from xstilts.runner import Runner
    from xstilts.spec import load_spec, resolve_data_root

    spec = load_spec(args.spec)
    root = resolve_data_root(spec, args.data)
    plan = build_plan(spec, root)
    out = args.out or Path("runs") / spec.name
    Runner(spec, plan, root, out, console, source=spec.data_source).run()
    for table in tables(collect(out), spec.baseline):
        console.print(table)
    console.print(f"results: {out / 'results.sqlite'}")


def cmd_results(args: argparse.Namespace) -> None:
    import yaml

    from xstilts.results import collect, tables

    values = collect(args.dir)
    spec_file = args.dir / "spec.resolved.yaml"
    baseline = args.baseline
    if baseline is None and spec_file.is_file():
        conditions = (yaml.safe_load(spec_file.read_text()) or {}).get("intermediate", {})
        baseline = next((name for name, stages in conditions.items() if not stages), None)
    for table in tables(values, baseline):
        console.print(table)


def cmd_score(args: argparse.Namespace) -> None:
    from xstilts.benchmarks import BENCHMARKS, render
    from xstilts.scoring import benchmark_scores

    for condition, result in benchmark_scores(args.dir, BENCHMARKS[args.benchmark]).items():
        table = render(result)
        table.title = f"{args.benchmark} score, condition '{condition}'"
        console.print(table)


def cmd_score_predictions(args: argparse.Namespace) -> None:
    import json

    from xstilts.scoring import score_predictions
    from xstilts.spec import DATA_ENV

    root = args.data or (Path(os.environ[DATA_ENV]) if os.environ.get(DATA_ENV) else None)
    if root is None or not root.is_dir():
        raise UserError(f"--data: no data directory (give --data or set ${DATA_ENV})")
    print(json.dumps(score_predictions(args.task, args.lang, args.predictions, root, args.split), indent=2))


def cmd_tasks(args: argparse.Namespace) -> None:
    from xstilts.tasks import REGISTRY

    table = Table(title="tasks")
    for column in ("name", "format", "metric", "train", "eval split", "eval languages", "notes"):
        table.add_column(column, overflow="fold")
    for task in REGISTRY.values():
        train = ",".join(task.languages(task.train_split)) if task.train_split else "-"
        langs = task.eval_languages
        table.add_row(
            task.name,
            task.format,
            task.metric,
            train,
            task.eval_split or "-",
            f"{len(langs)}: {' '.join(langs)}" if langs else "-",
            task.notes,
        )
    console.print(table)


def cmd_models(args: argparse.Namespace) -> None:
    from xstilts.models.loading import BUILTIN, cache_dir

    table = Table(title=f"built-in models (cache: {cache_dir()})")
    for column in ("name", "description", "converted"):
        table.add_column(column)
    for name, model in BUILTIN.items():
        done = (cache_dir() / "models" / model.folder / "config.json").exists()
        table.add_row(name, model.description, "yes" if done else "on first use")
    console.print(table)
    console.print(
        "Any Hugging Face model id or local model directory also works as `model:` in a spec; "
        "`num_layers: k` keeps its first k layers."
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xstilts", description="Intermediate-task transfer, from one spec.")
    p.add_argument("--version", action="version", version=f"xstilts {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run every stage of a spec that is not done yet")
    run.add_argument("spec", type=Path)
    run.add_argument("--out", type=Path, help="experiment directory (default: runs/<spec name>)")
    run.add_argument("--data", type=Path, help="data directory (overrides the spec and $XSTILTS_DATA)")
    run.set_defaults(func=cmd_run)
    results = sub.add_parser("results", help="print an experiment's results with deltas over the baseline")
    results.add_argument("dir", type=Path)
    results.add_argument("--baseline", help="condition to compare against (default: the one with no stages)")
    results.set_defaults(func=cmd_results)
    score = sub.add_parser("score", help="benchmark scores (XTREME, XTREME-R, XGLUE) per condition")
    score.add_argument("dir", type=Path)
    score.add_argument("--benchmark", choices=["xtreme", "xtreme-r", "xglue"], default="xtreme")
    score.set_defaults(func=cmd_score)
    predictions = sub.add_parser("score-predictions", help="score any system's predictions with the official metric")
    predictions.add_argument("--task", required=True)
    predictions.add_argument("--lang", required=True)
    predictions.add_argument("--predictions", required=True, type=Path, help="JSON Lines, one value per example")
    predictions.add_argument("--split", help="default: the task's evaluation split")
    predictions.add_argument("--data", type=Path, help="data directory (default: $XSTILTS_DATA)")
    predictions.set_defaults(func=cmd_score_predictions)
    sub.add_parser("tasks", help="list the declared tasks").set_defaults(func=cmd_tasks)
    sub.add_parser("models", help="list the built-in models").set_defaults(func=cmd_models)
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.stdout.reconfigure(line_buffering=True)  # stage lines appear as they happen in logs and pipes too
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as err:
        # Plain text, never wrapped: the message names a file and line that users grep and click.
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished stages are kept, run again to resume", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
