"""Task declarations: the built-in catalogue and the table a plan reads tasks from."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from xstilts.tasks.catalog import TASKS
from xstilts.tasks.definition import Split, TaskDef

# The built-in declarations, read-only: a spec's own tasks and the label sets a plan fills in from the data live
# in that plan's own table (task_table), so planning one spec never changes what another sees.
REGISTRY: Mapping[str, TaskDef] = MappingProxyType({task.name: task for task in TASKS})


def task_table(own: tuple[TaskDef, ...] = ()) -> dict[str, TaskDef]:
    """The built-in tasks plus a spec's own declarations, as a new table. An own task may not shadow a
    different built-in declaration, and must name a known reader."""
    from xstilts.errors import SpecError
    from xstilts.tasks.readers import READERS

    table = dict(REGISTRY)
    for i, task in enumerate(own):
        if task.name in table and _as_declared(table[task.name]) != task:
            raise SpecError(f"tasks[{i}].name", f"'{task.name}' is already a declared task; choose another name")
        if task.reader not in READERS:
            raise SpecError(
                f"tasks[{i}].reader", f"unknown reader '{task.reader}'; known: {', '.join(sorted(READERS))}"
            )
        table[task.name] = task
    return table


def _as_declared(task: TaskDef) -> TaskDef:
    """A task as declared: a plan fills in an open label set (labels_from: train) from the data."""
    return task.model_copy(update={"labels": ()}) if task.labels_from == "train" else task


def get_task(name: str) -> TaskDef:
    """The built-in task called `name`; KeyError lists the known names."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown task '{name}'; known tasks: {', '.join(sorted(REGISTRY))}") from None


__all__ = ["REGISTRY", "Split", "TaskDef", "get_task", "task_table"]
