"""Task declarations and the lookup by name."""

from __future__ import annotations

from xstilts.tasks.catalog import TASKS
from xstilts.tasks.definition import Split, TaskDef

REGISTRY: dict[str, TaskDef] = {task.name: task for task in TASKS}


def get_task(name: str) -> TaskDef:
    """The declared task called `name`; KeyError lists the known names."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown task '{name}'; known tasks: {', '.join(sorted(REGISTRY))}") from None


__all__ = ["REGISTRY", "Split", "TaskDef", "get_task"]
