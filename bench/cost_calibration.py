"""Fit experiment/cost.py's default CPU rates from finished experiments, and say how well they fit each stage.

    python bench/cost_calibration.py DIR:WALL_SECONDS [DIR:WALL_SECONDS ...] [--out bench/results/cost-calibration.json]

Each DIR is a finished experiment (read through the read-back API, nothing written; copy the store of one that a
run is still writing first), WALL_SECONDS its `xstilts run` wall clock (the store keeps each stage's seconds, not
the process's). Every finished stage's FLOPs are counted as `xstilts plan` counts them. The start-ups stay cost.py's
(DEFAULT_STARTUP, PROCESS_STARTUP: measured by bench/plan_estimate.py on a grid where they dominate); per kind, the
rate is the one under which the experiments' stages take as long as they did, each experiment weighted by its wall
clock so that a long study does not outvote a short one. Printed: the rates, each experiment's estimate against its
wall clock, and how the per-stage ratios (estimate / measured) spread, by kind and by task. Run it on an idle
machine's runs: the defaults are idle figures (cost.py scales them by the load at plan time).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

KINDS = ("train", "evaluate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="DIR:WALL_SECONDS of a finished experiment")
    parser.add_argument("--out", type=Path, default=common.REPO / "bench" / "results" / "cost-calibration.json")
    args = parser.parse_args()
    common.setup_env(2)
    from xstilts.experiment.cost import DEFAULT_STARTUP, PROCESS_STARTUP, cost_model
    from xstilts.experiment.plan import build_plan
    from xstilts.experiment.readback import open_experiment

    startup = DEFAULT_STARTUP["cpu"]
    stages = []  # (experiment, kind, task, FLOPs, measured seconds)
    walls = {}
    for item in args.runs:
        directory, wall = item.rsplit(":", 1)
        exp = open_experiment(Path(directory))
        name = exp.spec.name
        walls[name] = float(wall)
        plan = build_plan(exp.spec, exp.data_root())
        model = cost_model(plan, exp.data_root(), exp.spec.data_source)
        for key, record in exp.stages.items():
            if record.done and key in plan.stages:
                stage = plan.stages[key]
                stages.append((name, stage.kind, stage.task, model.flops(stage), record.seconds))
    # Per kind: FLOPs / rate = seconds - start-up, summed over the stages, each weighted by 1 / its run's wall clock.
    rates = {}
    for kind in KINDS:
        mine = [(walls[e], f, s) for e, k, _, f, s in stages if k == kind]
        work = sum(f / wall for wall, f, _ in mine)
        took = sum((s - startup[kind]) / wall for wall, _, s in mine)
        rates[kind] = float(f"{work / took:.2g}")  # two digits, as cost.py states them

    def ratio(kind: str, flops: float, seconds: float) -> float:
        return (startup[kind] + flops / rates[kind]) / seconds

    totals = {  # each experiment's estimate / its wall clock
        e: round((PROCESS_STARTUP + sum(startup[k] + f / rates[k] for x, k, _, f, _ in stages if x == e)) / wall, 2)
        for e, wall in walls.items()
    }
    groups: dict[str, list[float]] = {}
    for e, kind, task, flops, seconds in stages:
        for group in (kind, f"{kind} {task}", f"{e}: {kind}"):
            groups.setdefault(group, []).append(ratio(kind, flops, seconds))
    spread = {g: _spread(r) for g, r in sorted(groups.items())}
    result = {"rates": rates, "totals": totals, "spread": spread}
    result["stages"] = [dict(zip(("experiment", "kind", "task", "flops", "seconds"), s, strict=True)) for s in stages]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "stages"}, indent=2))


def _spread(ratios: list[float]) -> dict[str, float]:
    ordered = sorted(ratios)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 2),
        "q1": round(quartiles[0], 2),
        "q3": round(quartiles[2], 2),
        "min": round(ordered[0], 2),
        "max": round(ordered[-1], 2),
    }


if __name__ == "__main__":
    main()
