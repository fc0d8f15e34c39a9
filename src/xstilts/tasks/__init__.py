"""Task declarations and the lookup by name."""

from __future__ import annotations

from xstilts.tasks.catalog import TASKS
from xstilts.tasks.definition import Split, TaskDef

REGISTRY: dict[str, TaskDef] = {task.name: task for task in TASKS}


def register(tasks: tuple[TaskDef, ...]) -> None:
    """Add a spec's own task declarations. A name may not shadow a different declaration."""
    from xstilts.errors import SpecError
    from xstilts.tasks.readers import READERS

    for i, task in enumerate(tasks):
        if task.name in REGISTRY and _as_declared(REGISTRY[task.name]) != task:
            raise SpecError(f"tasks[{i}].name", f"'{task.name}' is already a declared task; choose another name")
        if task.reader not in READERS:
            raise SpecError(
                f"tasks[{i}].reader", f"unknown reader '{task.reader}'; known: {', '.join(sorted(READERS))}"
            )
        REGISTRY[task.name] = task


def _as_declared(task: TaskDef) -> TaskDef:
    """A registered task as declared: a plan fills in an open label set (labels_from: train) from the data."""
    return task.model_copy(update={"labels": ()}) if task.labels_from == "train" else task


def get_task(name: str) -> TaskDef:
    """The declared task called `name`; KeyError lists the known names."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown task '{name}'; known tasks: {', '.join(sorted(REGISTRY))}") from None


__all__ = ["REGISTRY", "Split", "TaskDef", "get_task", "register"]
