"""How far an experiment has got (`xstilts status`): each stage's state from the store and the locks, and the
time left by the plan's cost estimate."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.table import Table

from xstilts.experiment import checkpoint
from xstilts.experiment.cost import PlanCost
from xstilts.experiment.locks import is_locked
from xstilts.experiment.plan import Plan
from xstilts.experiment.plan_view import describe
from xstilts.experiment.store import StageRecord, Store, read_store


@dataclass
class StageStates:
    """The plan's stage keys by state, and the estimated time left."""

    done: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    seconds_left: float | None = None


def stage_states(plan: Plan, experiment_dir: Path, cost: PlanCost | None = None) -> StageStates:
    """Each stage's state. A stage marked running whose lock no process holds has crashed: it counts as failed.
    With a cost estimate (cost.py, whose rates come from this store's finished stages), the time left: the
    estimates of the stages not done, less the time the running ones have already spent."""
    records = _records(experiment_dir)
    out = StageStates()
    spent: dict[str, float] = {}
    for key in plan.stages:
        status = records[key].status if key in records else None
        marked_at = records[key].finished_at if key in records else None  # when the row was last marked
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


def status_table(plan: Plan, experiment_dir: Path, cost: PlanCost | None = None) -> tuple[Table, StageStates]:
    state = stage_states(plan, experiment_dir, cost)
    records = _records(experiment_dir)
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
            took = records[key].seconds if key in records else None
            note = records[key].log.get("error", "") if key in records else ""
            table.add_row(label, describe(plan.stages[key]), f"{took:.0f}" if took else "", note)
    return table, state


def _records(experiment_dir: Path) -> dict[str, StageRecord]:
    """The store's stage rows, read without changing the store; none before the first stage was marked."""
    return read_store(experiment_dir).stages if (experiment_dir / Store.FILE).is_file() else {}
