"""Statistics of a CPU harness run, computed before it is rendered or saved: for each training table, every
loop's English dev score against xstilts' with a 95% paired-bootstrap interval over dev examples
(common.paired_bootstrap). The renderer (bench/report_cpu.py) only reads what this adds."""

from __future__ import annotations

from typing import Any

import common
from cases import TRAIN_CONFIGS, WHATIF_CONFIGS, slug


def add_statistics(run: dict[str, Any]) -> dict[str, Any]:
    """`run` with `delta_vs_xstilts` on every training record measured after its table's xstilts row (the same
    seeded bootstrap every time: re-rendering a saved run gives the same intervals)."""
    recs = {r["name"]: r for r in run["records"]}
    for task_key, task in common.TASKS.items():
        for freeze in (False, True):
            configs = TRAIN_CONFIGS + ([] if freeze else WHATIF_CONFIGS)
            names = [f"train-{task_key}-{'frozen' if freeze else 'full'}-{slug(label)}" for label, _ in configs]
            rows = [recs[name] for name in names if name in recs]
            if not rows or rows[0].get("label") != "xstilts" or "error" in rows[0]:
                continue
            fmt = "classification" if task == "sick" else "tagging"
            for r in rows[1:]:
                if "error" in r:
                    break  # the table stops at its first error
                r["delta_vs_xstilts"] = common.paired_bootstrap(fmt, r["dev_counts"], rows[0]["dev_counts"])
    return run
