"""Where the quickstart's resident memory goes: runs `xstilts run SPEC` in this process and reports, for each
phase of each stage (encoder load, featurisation, training, evaluation, checkpoint save, encoder copies, ...), the
resident set size (RSS) before it, its peak during it and RSS after it.

    python bench/memory.py [--spec examples/quickstart.yaml] [--out DIR] [--json FILE]

Peaks come from the kernel's own high-water mark (VmHWM in /proc/self/status), reset at the start of each phase by
writing 5 to /proc/self/clear_refs (Linux only), so a phase's peak is exact, not sampled; a nested phase folds its
peak into the phase around it. The run is the CLI's own (`xstilts.cli.main`), the phases found by wrapping the
functions that do them, so nothing else changes. The output directory is deleted first: every stage runs."""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
KB = 1024


def status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS (Linux >= 4.0)


class Phases:
    """A stack of open phases; each closed one becomes a row (name, depth, RSS before, peak, RSS after, seconds)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.open: list[dict[str, Any]] = []  # each with the peak seen so far by its own (reset) mark
        self.started = time.perf_counter()
        self.count = 0  # rows are reported in the order their phases began

    def enter(self, name: str) -> None:
        if self.open:  # the parent's peak so far, before the mark is reset for the child
            self.open[-1]["peak"] = max(self.open[-1]["peak"], status_kb("VmHWM"))
        rss = status_kb("VmRSS")
        reset_peak()
        row = {"phase": name, "depth": len(self.open), "order": self.count, "before": rss, "peak": rss}
        self.count += 1
        self.open.append({**row, "at": time.perf_counter()})

    def leave(self) -> None:
        row = self.open.pop()
        row["peak"] = max(row["peak"], status_kb("VmHWM"))
        row["after"] = status_kb("VmRSS")
        row["seconds"] = time.perf_counter() - row.pop("at")
        self.rows.append(row)
        if self.open:
            self.open[-1]["peak"] = max(self.open[-1]["peak"], row["peak"])
        reset_peak()  # the parent's later peak, measured from here

    def wrap(self, owner: Any, attribute: str, name: str | Callable[..., str]) -> None:
        inner = getattr(owner, attribute)

        @functools.wraps(inner)
        def measured(*args: Any, **kwargs: Any) -> Any:
            self.enter(name(*args, **kwargs) if callable(name) else name)
            try:
                return inner(*args, **kwargs)
            finally:
                self.leave()

        setattr(owner, attribute, measured)


def instrument(phases: Phases) -> None:
    """Wrap the functions that make up a run where the modules that call them look them up."""
    import copy
    from types import SimpleNamespace

    from xstilts.experiment import execute, leakage, runner
    from xstilts.scores import tables
    from xstilts.training import evaluate, train

    phases.wrap(leakage, "plan_overlaps", "leakage check (reads the data)")
    phases.wrap(runner.Runner, "prepare", "preflight: data, tokenizer, configs")
    phases.wrap(tables, "results_tables", "results tables")
    phases.wrap(runner, "execute", lambda ctx, stage: f"stage {stage.kind} {stage.task} {stage.key[:8]}")
    phases.wrap(execute, "load_encoder", "load pretrained encoder")
    phases.wrap(execute, "encoder_with_weights", "encoder from parent checkpoint")
    execute.copy = SimpleNamespace(deepcopy=copy.deepcopy)  # only the stage's own copies, not every deepcopy
    phases.wrap(execute.copy, "deepcopy", "deep copy of the parent's encoder")
    phases.wrap(execute.feature_cache, "encode", "featurise")
    phases.wrap(execute, "new_task_models", "task models")
    phases.wrap(execute, "train", "train")
    phases.wrap(train, "_keep_best", "keep best dev weights")
    phases.wrap(evaluate, "predict", "predict")
    phases.wrap(execute.checkpoint, "save", "save checkpoint")
    phases.wrap(execute, "_write_predictions", "write predictions")


def report(phases: Phases) -> str:
    lines = ["| phase | RSS before MB | peak MB | RSS after MB | s |", "|---|---|---|---|---|"]
    for row in sorted(phases.rows, key=lambda r: r["order"]):
        name = "&nbsp;&nbsp;" * row["depth"] + row["phase"]
        cells = [row["before"] // KB, row["peak"] // KB, row["after"] // KB]
        lines.append(f"| {name} | " + " | ".join(f"{c:,}" for c in cells) + f" | {row['seconds']:.1f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spec", type=Path, default=REPO / "examples" / "quickstart.yaml")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "xstilts-memory")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    phases = Phases()
    instrument(phases)
    phases.enter("whole run")
    from xstilts.cli import main as cli_main

    code = cli_main(["run", str(args.spec), "--out", str(args.out)])
    phases.leave()
    peak = max(r["peak"] for r in phases.rows)
    text = report(phases)
    print(f"peak RSS of the run (the highest phase peak): {peak:,} kB ({peak // KB:,} MB)")
    print(f"\nexit {code}; MALLOC_ARENA_MAX={os.environ.get('MALLOC_ARENA_MAX', 'unset')}\n{text}")
    if args.json:
        args.json.write_text(json.dumps({"rows": phases.rows, "peak_kb": peak}, indent=1))
    sys.exit(code)


if __name__ == "__main__":
    main()
