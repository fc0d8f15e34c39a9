"""What a plan will do (`xstilts plan`; its cost comes from cost.py) and how far an experiment has got
(`xstilts status`)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean

from rich.table import Table
from rich.tree import Tree

from xstilts import checkpoint
from xstilts.cost import PlanCost
from xstilts.locks import is_locked
from xstilts.plan import Plan, Stage, TrainStage
from xstilts.store import Store


def describe(stage: Stage) -> str:
    if isinstance(stage, TrainStage):
        parts = "; ".join(f"{p.task} {'+'.join(p.languages)} n={p.max_train_examples or 'all'}" for p in stage.parts)
        return f"train {parts} {stage.key}"
    return f"evaluate {stage.task} ({len(stage.languages)} languages) {stage.key}"


def plan_tree(plan: Plan, cost: PlanCost | None = None) -> Tree:
    """The DAG as a tree: every stage under the stage whose encoder it starts from, with its estimated time."""
    tree = Tree(f"{len(plan.stages)} unique stages ({plan.naive_stage_count} if nothing were shared)")
    nodes = {}
    for stage in plan.stages.values():
        parent = nodes.get(stage.parent, tree)
        time = f" ~{duration(cost.stages[stage.key].seconds)}" if cost else ""
        nodes[stage.key] = parent.add(describe(stage) + time, highlight=False)
    return tree


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def cost_lines(cost: PlanCost) -> list[str]:
    """The work in examples, the estimated time, and where each estimate's rate came from."""
    unique, naive = cost.stages.values(), cost.naive
    sources = Counter(c.source for c in unique)
    return [
        f"cost: {sum(c.passes for c in unique):,.0f} training example-passes and "
        f"{sum(c.examples for c in unique):,.0f} evaluated examples (without sharing: "
        f"{sum(c.passes for c in naive):,.0f} and {sum(c.examples for c in naive):,.0f})",
        f"time: about {duration(cost.seconds)} for the unique stages on one runner "
        f"(without sharing: {duration(cost.naive_seconds)}), as FLOPs over a rate: "
        + "; ".join(f"{n} stage{'s' * (n > 1)} at a {source}" for source, n in sources.items()),
    ]


@dataclass
class Progress:
    done: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    seconds_left: float | None = None


def progress(plan: Plan, experiment_dir: Path) -> Progress:
    """Each stage's state. A stage marked running whose lock no process holds has crashed: it counts as failed."""
    store = Store(experiment_dir)
    try:
        states = store.statuses()
    finally:
        store.close()
    out = Progress()
    seconds: dict[str, list[float]] = {}
    for key, stage in plan.stages.items():
        status, took, _, _ = states.get(key, (None, None, None, None))
        if status == "done":
            out.done.append(key)
            seconds.setdefault(stage.kind, []).append(took or 0.0)
        elif status == "running" and is_locked(checkpoint.lock_path(experiment_dir, key)):
            out.running.append(key)
        elif status in ("failed", "running"):
            out.failed.append(key)
        else:
            out.pending.append(key)
    left = out.running + out.pending + out.failed
    if all(plan.stages[k].kind in seconds for k in left):
        out.seconds_left = sum(mean(seconds[plan.stages[k].kind]) for k in left)
    return out


def status_table(plan: Plan, experiment_dir: Path) -> tuple[Table, Progress]:
    state = progress(plan, experiment_dir)
    store = Store(experiment_dir)
    try:
        states = store.statuses()
    finally:
        store.close()
    table = Table(title=f"{experiment_dir}: {len(state.done)}/{len(plan.stages)} stages done")
    for column in ("state", "stage", "seconds", "note"):
        table.add_column(column)
    for label, keys in (
        ("running", state.running),
        ("failed", state.failed),
        ("pending", state.pending),
        ("done", state.done),
    ):
        for key in keys:
            _, took, _, log = states.get(key, (None, None, None, None))
            note = json.loads(log).get("error", "") if log else ""
            table.add_row(label, describe(plan.stages[key]), f"{took:.0f}" if took else "", note)
    return table, state
