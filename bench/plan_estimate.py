"""Does `xstilts plan` hold? Estimate a small 2-layer me5-small grid, run it, and compare per stage and in total.

    python bench/plan_estimate.py [--sizes 100,400] [--target-size 200] [--out bench/results/plan-estimate.json]

The spec: me5-small cut to 2 layers; conditions none and sick, SICK at each --sizes (a grid axis); target PAN-X
trained on --target-size English sentences for one epoch, evaluated on 100 dev sentences in en, de and sw; one
seed. The estimate is taken with nothing finished (the defaults of experiment/cost.py), then the spec is run with
`xstilts run` in a fresh process under a wall clock. Printed: each stage's estimate against the seconds its store
row recorded, the run's wall time against the plan's total, and the start-up and rate fitted per kind from the
measured stages (least squares, as cost.py fits them from a store), which is where cost.py's cpu defaults come from.

The full quickstart is not run here (the machine is shared); this grid is small on purpose. Times on a loaded
machine are longer than on an idle one: the `cpu_load` figure says how busy it was.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402


def spec(root: Path, sizes: list[int], target_size: int) -> dict:
    return {
        "name": "plan-estimate",
        "data_dir": str(root),
        "model": {"name": "me5-small", "num_layers": 2},
        "seeds": [1],
        "intermediate": {"none": [], "sick": [{"task": "sick"}]},
        "grid": {"intermediate_size": sizes},
        "targets": [
            {
                "task": "panx",
                "max_train_examples": target_size,
                "max_eval_examples": 100,
                "eval_languages": ["en", "de", "sw"],
            }
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="100,400", help="SICK sizes, the grid axis")
    parser.add_argument("--target-size", type=int, default=200)
    parser.add_argument("--out", type=Path, default=common.REPO / "bench" / "results" / "plan-estimate.json")
    args = parser.parse_args()
    common.setup_env(2)
    import yaml

    from xstilts.experiment.cost import cost_model, estimate, fit_startup_and_rate
    from xstilts.experiment.plan import build_plan
    from xstilts.experiment.store import Store
    from xstilts.spec import parse_spec

    root = common.data_root()
    raw = spec(root, [int(s) for s in args.sizes.split(",")], args.target_size)
    parsed = parse_spec(raw)
    plan = build_plan(parsed, root)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        load_before = os.getloadavg()[0]
        cost = estimate(plan, root, None)  # the defaults, times the current load's slowdown
        path = Path(tmp) / "spec.yaml"
        path.write_text(yaml.safe_dump(raw))
        env = {**os.environ, "PYTHONPATH": str(common.REPO / "src")}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "xstilts.cli", "run", str(path), "--out", str(out)], check=True, env=env)
        wall = time.perf_counter() - started
        load = (load_before + os.getloadavg()[0]) / 2
        store = Store(out)
        try:
            recorded = {key: seconds for key, (status, seconds, _, _) in store.statuses().items() if status == "done"}
        finally:
            store.close()
        # The fit cost.py would make from this store: per kind, (FLOPs, seconds) of every finished stage.
        model = cost_model(plan, root)
        points: dict[str, list[tuple[float, float]]] = {}
        for key, seconds in recorded.items():
            stage = plan.stages[key]
            points.setdefault(stage.kind, []).append((model.flops(stage), seconds))
    rows = [
        {
            "stage": f"{stage.kind} {stage.task}",
            "key": key,
            "estimate_s": round(cost.stages[key].seconds, 1),
            "measured_s": round(recorded[key], 1),
        }
        for key, stage in plan.stages.items()
    ]
    fits = {kind: fit_startup_and_rate(p) for kind, p in points.items()}
    result = {
        "spec": raw["grid"] | {"target_size": args.target_size, "model": "me5-small, 2 layers"},
        "stages": rows,
        "estimate_total_s": round(cost.total_seconds, 1),
        "wall_s": round(wall, 1),
        "ratio": round(cost.total_seconds / wall, 2),
        "process_startup_s": round(wall - sum(recorded.values()), 1),
        "fits": {
            k: None if f is None else {"startup_s": round(f[0], 2), "rate": f"{f[1]:.3g}"} for k, f in fits.items()
        },
        "cpu_load": round(load, 2),
        "slowdown_at_plan": round(max(1.0, load_before / (os.cpu_count() or 1)), 2),
        "cores": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print("| stage | estimate | measured |\n|---|---|---|")
    for row in rows:
        print(f"| {row['stage']} `{row['key'][:8]}` | {row['estimate_s']} s | {row['measured_s']} s |")
    print(f"| **run (xstilts run, wall clock)** | {result['estimate_total_s']} s | {result['wall_s']} s |")
    print(json.dumps({k: v for k, v in result.items() if k != "stages"}, indent=2))


if __name__ == "__main__":
    main()
