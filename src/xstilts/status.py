"""What a plan will do (`xstilts plan`) and how far an experiment has got (`xstilts status`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean

from rich.table import Table
from rich.tree import Tree

from xstilts import checkpoint
from xstilts.data import load_examples
from xstilts.locks import is_locked
from xstilts.plan import Plan, Stage, TrainStage
from xstilts.store import Store
from xstilts.tasks import REGISTRY


def describe(stage: Stage) -> str:
    if isinstance(stage, TrainStage):
        parts = "; ".join(f"{p.task} {'+'.join(p.languages)} n={p.max_train_examples or 'all'}" for p in stage.parts)
        return f"train {parts} {stage.key}"
    return f"evaluate {stage.task} ({len(stage.languages)} languages) {stage.key}"


def plan_tree(plan: Plan) -> Tree:
    """The DAG as a tree: every stage under the stage whose encoder it starts from."""
    tree = Tree(f"{len(plan.stages)} unique stages ({plan.naive_stage_count} if nothing were shared)")
    nodes = {}
    for stage in plan.stages.values():
        parent = nodes.get(stage.parent, tree)
        nodes[stage.key] = parent.add(describe(stage), highlight=False)
    return tree


def plan_cost(plan: Plan, root: Path) -> dict[str, float]:
    """The work a plan implies, counted in examples (training example-passes and evaluated examples), for the
    unique stages and for the same grid run with no sharing."""
    sizes: dict[tuple[str, str, str], int] = {}

    def count(task: str, split: str, lang: str) -> int:
        if (task, split, lang) not in sizes:
            sizes[(task, split, lang)] = len(load_examples(REGISTRY[task], split, lang, root))
        return sizes[(task, split, lang)]

    def work(stage: Stage) -> tuple[float, float]:
        if isinstance(stage, TrainStage):
            n = 0
            for part in stage.parts:
                available = sum(count(part.task, part.split, lang) for lang in part.languages)
                n += min(available, part.max_train_examples or available)
            passes = (
                stage.config.max_steps * stage.config.batch_size * stage.config.grad_accum_steps
                if stage.config.max_steps
                else n * stage.config.epochs
            )
            return passes, 0.0
        per_lang = [count(stage.task, stage.split, lang) for lang in stage.languages]
        return 0.0, float(sum(min(n, stage.max_eval_examples or n) for n in per_lang))

    unique = [work(s) for s in plan.stages.values()]
    naive = [work(plan.stages[key]) for run in plan.runs for key in (*run.chain, run.eval_key)]
    return {
        "train_passes": sum(t for t, _ in unique),
        "eval_examples": sum(e for _, e in unique),
        "naive_train_passes": sum(t for t, _ in naive),
        "naive_eval_examples": sum(e for _, e in naive),
    }


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
