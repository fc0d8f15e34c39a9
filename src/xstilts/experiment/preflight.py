"""Checks of a pending stage against its model and data that need both, run before the experiment directory
exists: an input length the model's position table cannot hold, or one too short for what the stage's format
must fit into a window (a QA question and its stride), is refused naming the spec field; a data file edited
after the plan hashed it (so the stage key would not hold what the stage reads) is refused naming the file."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from xstilts.encoders.checks import position_limit
from xstilts.errors import DataError, SpecError, UserError
from xstilts.experiment.plan import Stage
from xstilts.formats import make_format
from xstilts.tasks import TaskDef
from xstilts.tasks.examples import Example
from xstilts.tasks.loading import Source, file_digest, fingerprint, split_files, subsample

Examples = Callable[[str, str, str], list[Example]]  # (task, split, language) -> examples


def stage_inputs(stage: Stage, examples: Examples) -> list[tuple[str, str, dict[str, Any], list[Example], int]]:
    """(spec field, task, format options, the examples it encodes, max_length) for each input of a stage:
    the same subsets the stage will draw, so that a check holds exactly for what runs."""
    if stage.kind == "evaluate":
        return [
            (
                "train.eval_max_length",
                stage.task,
                stage.format_options,
                subsample(examples(stage.task, stage.split, lang), stage.max_eval_examples, stage.data_seed),
                stage.eval_max_length,
            )
            for lang in stage.languages
        ]
    out = []
    config = stage.config
    for part in stage.parts:
        drawn = part.draw(lambda lang, p=part: examples(p.task, p.split, lang), stage.data_seed)
        chosen = [e for _, e in drawn]
        out.append(("train.max_length", part.task, part.format_options, chosen, config.max_length))
        if part.dev_split:
            dev = subsample(examples(part.task, part.dev_split, "en"), config.max_dev_examples, stage.data_seed)
            out.append(("train.eval_max_length", part.task, part.format_options, dev, config.eval_max_length))
    return out


def check_lengths(
    stage: Stage, tokenizer: Any, model_config: Any, examples: Examples, task_of: Callable[[str], TaskDef]
) -> None:
    limit = position_limit(model_config, tokenizer)
    for field, task, options, chosen, max_length in stage_inputs(stage, examples):
        if limit is not None and max_length > limit:
            raise SpecError(field, f"{max_length} exceeds the {limit} positions of model '{stage.model.name}'")
        problem = make_format(task_of(task).format, options).length_problem(chosen, tokenizer, max_length)
        if problem is not None:
            raise SpecError(field, f"{problem} ({task})")


def _data_groups(stage: Stage) -> list[tuple[str, str, tuple[str, ...]]]:
    """(task, split, languages) of each fingerprint the plan puts into the stage's `data`, in its order
    (experiment/plan.py: a training part's files, then its English dev file; an evaluation's files)."""
    if stage.kind == "evaluate":
        return [(stage.task, stage.split, stage.languages)]
    groups = []
    for part in stage.parts:
        groups.append((part.task, part.split, part.languages))
        if part.dev_split:
            groups.append((part.task, part.dev_split, ("en",)))
    return groups


def check_unchanged(stage: Stage, tasks: Mapping[str, TaskDef], root: Path, source: Source) -> None:
    """Refuse a stage whose data files no longer have the content the plan hashed into its key: they were edited
    between planning and reading, and the stage would be recorded under the key of content it never read."""
    if source != "files":
        return  # from the Hub, the declared sources stand for the content (tasks/loading.fingerprint)
    now = "".join(fingerprint(tasks[task], split, langs, root, source) for task, split, langs in _data_groups(stage))
    if now == stage.data:
        return
    size = len(now) // len(_data_groups(stage))
    for i, (task, split, langs) in enumerate(_data_groups(stage)):
        if now[i * size : (i + 1) * size] != stage.data[i * size : (i + 1) * size]:
            files = [str(path) for lang in langs for path in split_files(tasks[task], split, lang, root)]
            raise DataError(
                files[0] if len(files) == 1 else f"{files[0]} (or another of {len(files)} {task} {split} files)",
                "changed while this run read it; run again, and leave the data unchanged while it starts",
            )


def data_files(stage: Stage, tasks: Mapping[str, TaskDef], root: Path) -> dict[str, str]:
    """Every data file the stage reads, by its path under the data root, with its SHA-256: the stage's record
    says exactly what it read (the key holds only a hash of them all)."""
    files = {}
    for task, split, lang in stage.reads():
        for path in split_files(tasks[task], split, lang, root):
            stat = path.stat()
            name = str(path.relative_to(root)) if path.is_relative_to(root) else str(path)
            files[name] = file_digest(path, stat.st_size, stat.st_mtime_ns)
    return files


def check_out(out: Path) -> None:
    """`--out` must be an experiment directory or a path where one can be made: not a file, and not a symbolic
    link to nothing or to a file. A link to a directory (runs kept on another disk) is followed."""
    if out.is_symlink() and not out.exists():
        raise UserError(f"--out: {out} is a symbolic link to {os.readlink(out)}, which does not exist")
    if out.exists() and not out.is_dir():
        link = f" (a symbolic link to {out.resolve()})" if out.is_symlink() else ""
        raise UserError(f"--out: {out}{link} is a file, not an experiment directory")
