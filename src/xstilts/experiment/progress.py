"""What a plan will do (`xstilts plan`; its cost comes from cost.py) and how far an experiment has got
(`xstilts status`)."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table
from rich.tree import Tree

from xstilts.experiment import checkpoint
from xstilts.experiment.cost import PlanCost
from xstilts.experiment.locks import is_locked
from xstilts.experiment.plan import Plan, Stage, TrainStage
from xstilts.experiment.store import Store


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
    if math.isnan(seconds):  # a model whose config cannot be read offline
        return "?"
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
        f"(without sharing: {duration(cost.naive_seconds)}), as FLOPs over a rate; "
        + "; ".join(f"{n} stage{'s' * (n > 1)}: {source}" for source, n in sources.items()),
    ]


@dataclass
class Progress:
    done: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    seconds_left: float | None = None


def progress(plan: Plan, experiment_dir: Path, cost: PlanCost | None = None) -> Progress:
    """Each stage's state. A stage marked running whose lock no process holds has crashed: it counts as failed.
    With a cost estimate (cost.py, whose rates come from this store's finished stages), the time left: the
    estimates of the stages not done, less the time the running ones have already spent."""
    store = Store(experiment_dir)
    try:
        states = store.statuses()
    finally:
        store.close()
    out = Progress()
    spent: dict[str, float] = {}
    for key in plan.stages:
        status, _, marked_at, _ = states.get(key, (None, None, None, None))
        if status == "done":
            out.done.append(key)
        elif status == "running" and is_locked(checkpoint.lock_path(experiment_dir, key)):
            out.running.append(key)
            spent[key] = time.time() - (marked_at or time.time())
        elif status in ("failed", "running"):
            out.failed.append(key)
        else:
            out.pending.append(key)
    if cost is not None:
        left = out.running + out.pending + out.failed
        out.seconds_left = sum(max(0.0, cost.stages[k].seconds - spent.get(k, 0.0)) for k in left)
    return out


def status_table(plan: Plan, experiment_dir: Path, cost: PlanCost | None = None) -> tuple[Table, Progress]:
    state = progress(plan, experiment_dir, cost)
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
