"""Checks of a pending stage against its model and data that need both, run before the experiment directory
exists: an input length the model's position table cannot hold, or one too short for what the stage's format
must fit into a window (a QA question and its stride), is refused naming the spec field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xstilts.encoders.checks import position_limit
from xstilts.errors import SpecError
from xstilts.experiment.plan import Stage
from xstilts.formats import make_format
from xstilts.tasks import TaskDef
from xstilts.tasks.examples import Example
from xstilts.tasks.loading import subsample

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
