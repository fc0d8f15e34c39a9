"""What can be checked of a spec's own task declaration before any of its files is read."""

from __future__ import annotations

import re
import string

from xstilts.tasks.catalog import TASKS
from xstilts.tasks.definition import TaskDef

_READER_FORMATS: dict[str, set[str]] = {}
_FORMAT_METRICS: dict[str, set[str]] = {}
for _task in TASKS:
    _READER_FORMATS.setdefault(_task.reader, set()).add(_task.format)
    _FORMAT_METRICS.setdefault(_task.format, set()).add(_task.metric)


def check_own_task(task: TaskDef) -> None:
    """What can be known about a spec's own task before any file is read: a name that is safe in file paths,
    a reader that gives the examples its format needs, a metric its format computes, and file patterns that
    name files (no empty list, no placeholder but {lang})."""
    if not _TASK_NAME.match(task.name):
        raise ValueError(f"task name '{task.name}' must be letters, digits, '_', '.' or '-' (it names files)")
    formats = _READER_FORMATS.get(task.reader)
    if formats is not None and task.format not in formats:
        raise ValueError(
            f"task '{task.name}': reader '{task.reader}' gives examples for {' or '.join(sorted(formats))} tasks, "
            f"not {task.format}"
        )
    known = _FORMAT_METRICS.get(task.format, set())
    if task.metric not in known:
        raise ValueError(
            f"task '{task.name}': unknown metric '{task.metric}' for a {task.format} task; known: "
            f"{', '.join(sorted(known))}"
        )
    for name, split in task.splits.items():
        for lang, patterns in [("", split.files), *split.per_language.items()]:
            where = f"task '{task.name}' split '{name}'" + (f" ({lang})" if lang else "")
            if not patterns:
                raise ValueError(f"{where}: files is empty")
            for pattern in patterns:
                try:
                    fields = {f for _, f, _, _ in string.Formatter().parse(pattern) if f is not None}
                except ValueError as err:
                    raise ValueError(f"{where}: file pattern '{pattern}': {err}") from None
                if fields - {"lang"}:
                    raise ValueError(
                        f"{where}: file pattern '{pattern}' has placeholder(s) {sorted(fields - {'lang'})}; "
                        "only {lang} is known"
                    )
        if not split.languages:
            raise ValueError(f"task '{task.name}' split '{name}': languages is empty")


_TASK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
