"""What `xstilts plan` prints: the stage DAG as a tree with each stage's estimated time, and the plan's cost
(estimated by cost.py)."""

from __future__ import annotations

import math
from collections import Counter

from rich.tree import Tree

from xstilts.experiment.cost import PlanCost
from xstilts.experiment.plan import Plan, Stage, TrainStage


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
    lines = [
        f"cost: {sum(c.passes for c in unique):,.0f} training example-passes and "
        f"{sum(c.examples for c in unique):,.0f} evaluated examples (without sharing: "
        f"{sum(c.passes for c in naive):,.0f} and {sum(c.examples for c in naive):,.0f})",
        f"time: about {duration(cost.total_seconds)} for the unique stages on one runner, start-up included "
        f"(without sharing: {duration(cost.startup + cost.naive_seconds)}), as start-up plus FLOPs over a rate; "
        + "; ".join(f"{n} stage{'s' * (n > 1)}: {source}" for source, n in sources.items()),
    ]
    if cost.gpu is not None:
        lines.append(
            f"GPU-hours: {_hours(cost.total_seconds)} on one {cost.gpu.name} for the unique stages (without "
            f"sharing: {_hours(cost.startup + cost.naive_seconds)}); an estimate from an assumed utilisation, see "
            "the gpu line"
        )
    return lines + cost.notes


def _hours(seconds: float) -> str:
    hours = seconds / 3600
    return f"{hours:,.0f}" if hours >= 10 else f"{hours:.2f}"
