"""Every task xstilts knows, declared once, one module per benchmark or family of tasks."""

from __future__ import annotations

from xstilts.tasks.catalog import english, xglue, xtreme, xtreme_r
from xstilts.tasks.definition import TaskDef

TASKS: tuple[TaskDef, ...] = xtreme.TASKS + xtreme_r.TASKS + xglue.TASKS + english.TASKS
