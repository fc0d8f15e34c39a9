"""The `xstilts` command line: run SPEC, results DIR, tasks, models."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from xstilts import __version__
from xstilts.data.cli import add_data_parser
from xstilts.errors import UserError, did_you_mean, exit_code, one_line
from xstilts.formats.scoring import shapes_text
from xstilts.launch.executors import run_on_ray, start_local_runners
from xstilts.report.cli import cmd_report
from xstilts.similarity_command import add_similarity_parser
from xstilts.spec import DATA_HELP

console = Console()


def _spec_and_data(args: argparse.Namespace) -> tuple[Any, Path]:
    """The spec, its data directory, and every model of it checked to be loadable without a Hub that cannot be
    reached: in seconds, before torch and transformers are imported."""
    from xstilts.encoders.loading import refuse_unreachable
    from xstilts.experiment.tracking import require as require_trackers
    from xstilts.spec import load_spec, resolve_data_root

    spec = load_spec(args.spec)
    root = resolve_data_root(spec, args.data)
    for model in [spec.model, *spec.grid.model]:
        refuse_unreachable(model)
    require_trackers(spec.track)
    return spec, root


def cmd_run(args: argparse.Namespace) -> None:
    spec, root = _spec_and_data(args)
    from xstilts.experiment.leakage import plan_overlaps, refuse
    from xstilts.experiment.plan import build_plan
    from xstilts.experiment.preflight import check_out
    from xstilts.experiment.runner import Runner
    from xstilts.launch.launcher import stage_launcher
    from xstilts.scores.tables import results_tables

    # spec.resolved.yaml records where the data was, so status, report and similarity find it without flags.
    spec = spec.model_copy(update={"data_dir": root.resolve()})
    plan = build_plan(spec, root)
    out = args.out or Path("runs") / spec.name
    check_out(out)
    launcher = stage_launcher(spec, debug=getattr(args, "debug", False))  # --debug: tracebacks in the stage logs too
    runner = Runner(spec, plan, root, out, console, source=spec.data_source, launcher=launcher)
    # Leakage between training and evaluation data: exit 2 before anything is written. It reads through the
    # runner's example cache, which preflight then reuses: every data file is read once.
    refuse(plan_overlaps(plan, spec, root, runner.context.examples))
    todo = runner.prepare()  # bad data or models fail here, before any file is written
    if args.executor == "ray":
        run_on_ray(args.spec, out, root, args.jobs, args.address)
    else:
        helpers = start_local_runners(args.spec, out, root, args.jobs) if args.jobs > 1 else []
        runner.run(todo)
        for helper in helpers:
            if helper.wait() != 0:
                raise UserError(f"a helper runner failed (exit {helper.returncode}); see {out}/logs/")
    for table in results_tables(out, spec.baseline):
        console.print(table)
    console.print(f"results: {out / 'results.sqlite'}")


def cmd_plan(args: argparse.Namespace) -> None:
    from xstilts.encoders.known_configs import known_config
    from xstilts.encoders.loading import refuse_unreachable
    from xstilts.spec import load_spec, resolve_data_root

    gpu = _gpu(args.gpu)
    spec = load_spec(args.spec)
    root = resolve_data_root(spec, args.data)
    for model in [spec.model, *spec.grid.model]:
        if known_config(model) is None:  # a known shape prices a plan without the model (cost.cost_model)
            refuse_unreachable(model)
    from xstilts.experiment.cost import DataSizes, estimate
    from xstilts.experiment.leakage import plan_overlaps, refuse
    from xstilts.experiment.plan import build_plan
    from xstilts.experiment.plan_view import cost_lines, plan_tree

    plan = build_plan(spec, root, allow_absent=True)  # a plan before the data is fetched; `run` needs it all
    sizes = DataSizes(root, spec.data_source, plan.tasks)  # one example cache for the leakage check and the cost
    if not plan.absent:
        refuse(plan_overlaps(plan, spec, root, sizes.examples))
    cost = estimate(plan, root, args.out or Path("runs") / spec.name, spec.data_source, sizes, gpu)
    console.print(plan_tree(plan, cost))
    for line in cost_lines(cost):
        console.print(line, highlight=False)
    if plan.absent:
        read = {task for stage in plan.stages.values() for task, _, _ in stage.reads()}
        open_sets = sorted(t for t in read if plan.tasks[t].labels_from == "train" and not plan.tasks[t].labels)
        labels = f", the label sets of {', '.join(open_sets)} (labels_from: train)" if open_sets else ""
        console.print(
            f"not checked without the data: overlap of training and evaluation data (leakage){labels}; "
            "`xstilts run` checks them once the data is there",
            highlight=False,
        )


def _gpu(name: str | None) -> Any:
    from xstilts.experiment.gpus import find_gpu

    return None if name is None else find_gpu(name)


def cmd_status(args: argparse.Namespace) -> None:
    from xstilts.experiment.cost import estimate
    from xstilts.experiment.plan import build_plan
    from xstilts.experiment.plan_view import duration
    from xstilts.experiment.progress import status_table
    from xstilts.spec import load_spec, resolve_data_root

    spec_file = args.dir / "spec.resolved.yaml"
    if not spec_file.is_file():
        raise UserError(f"{args.dir}: not an experiment directory (no spec.resolved.yaml)")
    spec = load_spec(spec_file)
    root = resolve_data_root(spec, args.data)
    plan = build_plan(spec, root)
    table, state = status_table(plan, args.dir, estimate(plan, root, args.dir, spec.data_source))
    console.print(table)
    left = f", about {duration(state.seconds_left)} left (xstilts plan shows how)" if state.seconds_left else ""
    console.print(
        f"{len(state.done)} done, {len(state.running)} running, {len(state.failed)} failed, "
        f"{len(state.pending)} pending{left}"
    )


def cmd_results(args: argparse.Namespace) -> None:
    from xstilts.scores.tables import results_tables

    for table in results_tables(args.dir, args.baseline):
        console.print(table)


def cmd_score(args: argparse.Namespace) -> None:
    from xstilts.scores.benchmarks import BENCHMARKS, render
    from xstilts.scores.predictions import benchmark_scores

    for condition, result in benchmark_scores(args.dir, BENCHMARKS[args.benchmark]).items():
        table = render(result)
        table.title = f"{args.benchmark} score, condition '{condition}'"
        console.print(table)


def cmd_score_predictions(args: argparse.Namespace) -> None:
    import json

    from xstilts.scores.predictions import score_predictions
    from xstilts.spec import find_data_root

    root = find_data_root(args.data, None)
    print(json.dumps(score_predictions(args.task, args.lang, args.predictions, root, args.split), indent=2))


def cmd_tasks(args: argparse.Namespace) -> None:
    from xstilts.scores.benchmarks import BENCHMARKS
    from xstilts.tasks import REGISTRY

    if args.name is not None:
        if args.name not in REGISTRY:
            raise UserError(f"unknown task '{args.name}'{did_you_mean(args.name, REGISTRY)}; xstilts tasks lists them")
        _print_task(REGISTRY[args.name])
        return
    # One short line per task, so the list fits 80 columns; `xstilts tasks NAME` has the rest.
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("name", "format", "benchmark", "languages"):
        table.add_column(column, no_wrap=True, justify="right" if column == "languages" else "left")
    for task in REGISTRY.values():
        benchmarks = [name for name, b in BENCHMARKS.items() if task.name in {t.name for t in b.tasks}]
        split = task.eval_split or task.train_split
        table.add_row(task.name, task.format, ",".join(benchmarks) or "-", str(len(task.languages(split))))
    console.print(table)
    console.print("languages: of the evaluation split; `xstilts tasks NAME` shows one task", highlight=False)


def _print_task(task: Any) -> None:
    """One task: its declaration as YAML (what an own task in a spec would say), then its splits and notes."""
    import yaml

    declaration = task.model_dump(mode="json", exclude_defaults=True, exclude={"splits", "notes", "description"})
    console.print(f"{task.name}: {task.description}", highlight=False)
    text = yaml.safe_dump(declaration, sort_keys=False, allow_unicode=True, default_flow_style=None, width=78)
    console.print(text.rstrip(), highlight=False, markup=False)  # [a, b] is YAML here, not rich markup
    for name, split in task.splits.items():
        roles = [role for role in ("train", "dev", "eval") if getattr(task, f"{role}_split") == name]
        console.print(f"split {name}{' (' + ', '.join(roles) + ')' if roles else ''}:", highlight=False)
        console.print(f"  files: {', '.join(split.files)}", highlight=False)
        console.print(f"  languages ({len(split.languages)}): {' '.join(split.languages)}", highlight=False)
    if task.notes:
        console.print(f"notes: {task.notes}", highlight=False)


def cmd_models(args: argparse.Namespace) -> None:
    from xstilts.encoders.loading import BUILTIN, cache_dir

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


# results and score read only the store; they take --data so that every command takes the same flags.
NOT_READ = "accepted like every command's --data; results come from the store, which needs no data"


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return int(text)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="xstilts", description="Intermediate-task transfer, from one spec.")
    p.add_argument("--version", action="version", version=f"xstilts {__version__}")
    p.add_argument("--debug", action="store_true", help="print the traceback of an error instead of one line")
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run every stage of a spec that is not done yet")
    run.add_argument("spec", type=Path)
    run.add_argument("--out", type=Path, help="experiment directory (default: runs/<spec name>)")
    run.add_argument("--data", type=Path, help=DATA_HELP)
    run.add_argument("--jobs", type=_positive, default=1, help="runners to start (default 1)")
    run.add_argument("--executor", choices=["local", "ray"], default="local", help="where the runners run")
    run.add_argument("--address", help="Ray cluster address (default: a local Ray instance)")
    run.set_defaults(func=cmd_run)
    plan = sub.add_parser("plan", help="show a spec's stages, what they share, and their cost; runs nothing")
    plan.add_argument("spec", type=Path)
    plan.add_argument("--data", type=Path, help=DATA_HELP)
    plan.add_argument("--out", type=Path, help="experiment directory whose finished stages time the estimate")
    plan.add_argument("--gpu", metavar="NAME", help="price the stages on this GPU (h100, a100-80gb, l4, v100, ...)")
    plan.set_defaults(func=cmd_plan)
    status = sub.add_parser("status", help="done, running, failed and pending stages of an experiment")
    status.add_argument("dir", type=Path)
    status.add_argument("--data", type=Path, help=DATA_HELP)
    status.set_defaults(func=cmd_status)
    results = sub.add_parser("results", help="print an experiment's results with deltas over the baseline")
    results.add_argument("dir", type=Path)
    results.add_argument("--baseline", help="condition to compare against (default: the one with no stages)")
    results.add_argument("--data", type=Path, help=NOT_READ)
    results.set_defaults(func=cmd_results)
    score = sub.add_parser("score", help="benchmark scores (XTREME, XTREME-R, XGLUE) per condition")
    score.add_argument("dir", type=Path)
    score.add_argument("--benchmark", choices=["xtreme", "xtreme-r", "xglue"], default="xtreme")
    score.add_argument("--data", type=Path, help=NOT_READ)
    score.set_defaults(func=cmd_score)
    predictions = sub.add_parser(
        "score-predictions",
        help="score any system's predictions with the official metric",
        description="Score a JSON Lines file of predictions, one JSON value per gold example in the gold file's "
        "order, with the task's official metric. Each value is checked first: a wrong type, a label outside the "
        "task's set or a tag list whose length is not the sentence's is refused with its line.",
        epilog=f"predictions per format (shape, then an example line):\n{shapes_text()}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predictions.add_argument("--task", required=True)
    predictions.add_argument("--lang", required=True)
    predictions.add_argument("--predictions", required=True, type=Path, help="JSON Lines, one value per example")
    predictions.add_argument("--split", help="default: the task's evaluation split")
    predictions.add_argument("--data", type=Path, help=DATA_HELP)
    predictions.set_defaults(func=cmd_score_predictions)
    report = sub.add_parser("report", help="write an HTML, Markdown and LaTeX report of an experiment")
    report.add_argument("dir", type=Path)
    report.add_argument("--out", type=Path, help="output directory (default: DIR/report)")
    report.add_argument("--data", type=Path, help=f"{DATA_HELP}; the gold data of the per-example statistics")
    report.set_defaults(func=cmd_report)
    add_similarity_parser(sub, _positive)
    add_data_parser(sub)
    tasks = sub.add_parser("tasks", help="list the declared tasks, or show one")
    tasks.add_argument("name", nargs="?", help="a task: its declaration, splits, languages and notes")
    tasks.set_defaults(func=cmd_tasks)
    sub.add_parser("models", help="list the built-in models").set_defaults(func=cmd_models)
    for command in sub.choices.values():  # `--debug` after the command too: xstilts run spec.yaml --debug
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.stdout.reconfigure(line_buffering=True)  # stage lines appear as they happen in logs and pipes too
    if os.environ.get("XSTILTS_THREADS"):
        import torch

        torch.set_num_threads(int(os.environ["XSTILTS_THREADS"]))
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as err:
        if getattr(args, "debug", False):
            raise
        # Plain text, never wrapped: the message names a file and line that users grep and click.
        notes = "".join(f"; {note}" for note in getattr(err, "__notes__", []))
        print(f"error: {err}{notes}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM during a run (errors.Terminated: exit 143)
        notes = "".join(f"; {note}" for note in getattr(err, "__notes__", []))
        print(f"{err or 'interrupted'}{notes or '; finished stages are kept'}; run again to resume", file=sys.stderr)
        return getattr(err, "exit_code", 130)
    except Exception as err:
        # One error boundary: whatever escaped (a file that cannot be read or written, a damaged store, a
        # malformed file) is one line, never a traceback, unless --debug asks for it.
        if getattr(args, "debug", False):
            raise
        print(f"error: {one_line(err, getattr(args, 'dir', None) or getattr(args, 'out', None))}", file=sys.stderr)
        return exit_code(err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
