"""xstilts performance benchmark: one command, every figure side by side, on me5-small and real data.

    python bench/run.py --quick        # about 10 minutes on 2 cores: every measurement, small sizes
    python bench/run.py --full         # about an hour: 2,000 training examples per task, larger eval sets
    python bench/run.py --quick --only peak,train-pair    # a subset (names: see --list)
    python bench/run.py --device cpu   # like with like: xstilts vs Trainer on identical batches (bench/fair.py)
    python bench/run.py --device cuda  # the same on a GPU: random-init XLM-R Base and Large shapes
    python bench/run.py --device cuda --shapes xlmr-large --tasks sick --reps 3   # one part of it
    python bench/run.py --render bench/results/latest-fair-cuda.json   # a saved run's table, PERFORMANCE.md again
    python bench/run.py --document     # PERFORMANCE.md by topic from bench/results/latest-*.json and bench/notes/

The cases are bench/cases.py's registry; bench/runner.py runs each configuration in its own subprocess
(bench/measure.py), one after another, so peak resident memory
(from the kernel's rusage of that child) and thread pools never mix. Before and after each child the harness
reads /proc/stat, so every row also says how many cores the rest of the machine used meanwhile: the numbers are
only comparable when that column is near 0.

Statistics (bench/verdicts.py) are computed before the renderer (bench/report_cpu.py, bench/fair.py) reads them.
Writes bench/results/<mode>-<time>.json (everything, raw, with its typed `measurements`: bench/measurement.py),
copies it to latest-<mode>.json and rewrites PERFORMANCE.md (bench/document.py). Nothing under src/ or tests/ is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402
from cases import CASES, DEVICE_CASES, MODES, default_cases  # noqa: E402
from measurement import from_fair, from_harness  # noqa: E402
from report_cpu import render  # noqa: E402
from runner import Harness, machine  # noqa: E402
from verdicts import add_statistics  # noqa: E402

RESULTS = HERE / "results"
PERFORMANCE_MD = REPO / "PERFORMANCE.md"


def write_document() -> None:
    """PERFORMANCE.md again, by topic, from the latest results and bench/notes/ (bench/document.py)."""
    from document import document

    PERFORMANCE_MD.write_text(document())


def run_fair(
    device: str, threads: int, write: bool, sizes: dict[str, Any] | None = None, results: Path = RESULTS
) -> None:
    """One in-process run of a like-with-like case (DEVICE_CASES); then PERFORMANCE.md is rewritten (unless not write).
    `sizes` overrides fair.SIZES[device] (training examples per run, repetitions, dev steps, shapes, tasks); the
    results JSON goes to `results` (bench/gpu/run.sh gives each of its parts a folder of its own)."""
    common.setup_env(threads)
    import fair

    command = shlex.join(["python", "bench/run.py", *sys.argv[1:]])
    started = time.perf_counter()
    case = DEVICE_CASES[device]
    result = case.run(case.device, sizes)
    result.update(command=command, device_type=device, total_s=time.perf_counter() - started, machine=machine())
    result["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["measurements"] = [m.to_json() for m in from_fair(result, result["date"])]
    out = results / f"fair-{device}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    latest = results / f"latest-{fair_section(result, device)}.json"
    shutil.copyfile(out, latest)
    text = fair.render_result(result, str(latest.relative_to(REPO) if latest.is_relative_to(REPO) else latest))
    print(text)
    if write:
        write_document()


def fair_section(result: dict[str, Any], device: str) -> str:
    """PERFORMANCE.md's generated section for a like-with-like result: a run of dev scores alone (--reps 0) has its
    own, so that it does not replace the timed run's."""
    timed = any(run.get("train") for run in result["runs"])
    return f"fair-{device}" if timed else f"fair-{device}-quality"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="small sizes, about 10 minutes (default)")
    group.add_argument("--full", action="store_true", help="2,000 training examples per task, about an hour")
    group.add_argument(
        "--device",
        choices=list(DEVICE_CASES),
        help="a like-with-like case (bench/cases.py DEVICE_CASES; bench/fair.py)",
    )
    ap.add_argument("--only", help=f"comma-separated subset of: {', '.join(CASES)}")
    ap.add_argument("--threads", type=int, default=2, help="torch threads per measurement (default 2)")
    ap.add_argument(
        "--settle",
        type=float,
        default=None,
        metavar="S",
        help="before each measurement wait up to S seconds for other processes to go quiet "
        "(default: 15 in quick mode, 120 in full mode; 0 = never wait)",
    )
    ap.add_argument(
        "--retries",
        type=int,
        default=None,
        help="re-run a measurement during which other processes used > 0.3 cores, keeping the least "
        "disturbed attempt (default: 0 quick, 1 full)",
    )
    ap.add_argument("--train-examples", type=int, help="with --device: training examples per timed run")
    ap.add_argument("--reps", type=int, help="with --device: interleaved repetitions")
    ap.add_argument(
        "--dev-steps", type=int, help="with --device: steps trained before the dev scores, at most one epoch (0: none)"
    )
    ap.add_argument("--dev-seeds", type=int, help="with --device: seeds of the dev-score runs (default: 3 CPU, 1 GPU)")
    ap.add_argument(
        "--dev-start", choices=["pretrained", "random"], help="with --device: the dev runs' encoder (CPU: pretrained)"
    )
    ap.add_argument(
        "--embeddings",
        choices=["frozen", "trained", "both"],
        help="with --device: which runs (CPU: both, GPU: trained)",
    )
    ap.add_argument("--shapes", help="with --device: comma-separated encoder shapes (bench/fair.py SHAPES)")
    ap.add_argument("--tasks", help="with --device: comma-separated tasks (default: sick,panx)")
    ap.add_argument("--results-dir", type=Path, default=RESULTS, help="with --device: where the JSON goes")
    ap.add_argument("--no-write", action="store_true", help="do not touch PERFORMANCE.md")
    ap.add_argument(
        "--render", type=Path, help="print a saved results JSON's table (any mode), then rewrite PERFORMANCE.md"
    )
    ap.add_argument("--document", action="store_true", help="only rewrite PERFORMANCE.md (bench/document.py)")
    ap.add_argument("--list", action="store_true", help="the registry's cases, their topics and modes")
    args = ap.parse_args()

    if args.device:
        overrides = {"n_train": args.train_examples, "reps": args.reps, "dev_steps": args.dev_steps}
        overrides |= {"dev_seeds": args.dev_seeds, "dev_start": args.dev_start}
        overrides |= {"shapes": args.shapes and args.shapes.split(","), "tasks": args.tasks and args.tasks.split(",")}
        if args.embeddings:
            overrides["freeze"] = {"frozen": [True], "trained": [False], "both": [True, False]}[args.embeddings]
        sizes = {key: value for key, value in overrides.items() if value is not None}
        return run_fair(args.device, args.threads, not args.no_write, sizes, args.results_dir.resolve())
    if args.list:
        for name, case in CASES.items():
            print(f"{name:16s} {case.topic:12s} modes: {', '.join(case.modes)}")
        return
    if args.document:
        return write_document()
    if args.render:
        from document import render_results

        print(render_results(args.render.stem, json.loads(args.render.read_text())))
        if not args.no_write:
            write_document()
        return
    mode = "full" if args.full else "quick"
    steps = args.only.split(",") if args.only else default_cases(mode)
    unknown = set(steps) - set(CASES)
    if unknown:
        ap.error(f"unknown step(s) {sorted(unknown)}; known: {list(CASES)}")
    common.setup_env(args.threads)
    os.environ.setdefault("XSTILTS_CACHE", str(REPO / ".cache"))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out_dir = RESULTS / f"{mode}-{stamp}"
    settle_max = args.settle if args.settle is not None else {"quick": 15.0, "full": 120.0}[mode]
    retries = args.retries if args.retries is not None else {"quick": 0, "full": 1}[mode]
    harness = Harness(mode, MODES[mode], args.threads, out_dir, settle_max, retries)
    started, t0, load0 = datetime.now(UTC).isoformat(timespec="seconds"), time.perf_counter(), os.getloadavg()
    print(f"xstilts benchmark, {mode} mode: {', '.join(steps)}", flush=True)
    for step in steps:
        CASES[step].run(harness)
    others = [r["process"]["others_cores"] for r in harness.records if "process" in r]
    run = {
        "mode": mode,
        "command": shlex.join(["python", "bench/run.py", *sys.argv[1:]]),
        "settle_max_s": settle_max,
        "retries": retries,
        "started": started,
        "total_s": time.perf_counter() - t0,
        "threads": args.threads,
        "loadavg_start": load0,
        "loadavg_end": os.getloadavg(),
        "others_mean": statistics.fmean(others) if others else 0.0,
        "machine": machine(),
        "records": harness.records,
    }
    text = render(add_statistics(run))
    run["measurements"] = [m.to_json() for m in from_harness(run)]
    (out_dir / "results.json").write_text(json.dumps(run, indent=1))
    print(text)
    if not args.only:  # a partial run neither replaces the latest complete one nor the generated section
        shutil.copyfile(out_dir / "results.json", RESULTS / f"latest-{mode}.json")
        if not args.no_write:
            write_document()
    print(f"\nraw results: {(out_dir / 'results.json').relative_to(REPO)}; {run['total_s'] / 60:.1f} min")


if __name__ == "__main__":
    main()
