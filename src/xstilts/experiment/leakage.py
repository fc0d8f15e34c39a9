"""Leakage between what an experiment trains on and what it evaluates, found before anything runs.

Every training stage's examples (after subsampling, exactly as the stage will draw them) are compared with every
evaluation set of the experiment, three ways:

- same file: the stage reads a file an evaluation reads (a bring-your-own task that trains and evaluates on one
  file, or a stage trained on a benchmark's dev split): the count is the evaluation rows the stage trains on;
- content: evaluation examples whose input text (every text field but the labels, case and spacing folded) is the
  input of a training example, whatever the task or file;
- parallel id: XNLI, PAWS-X, XQuAD and MLQA are translations across languages (TaskDef.parallel: "row" when row i
  of every language is one item, "id" when the example ids are shared), so training on German XNLI dev leaks the
  French XNLI dev rows with the same index even though no text is shared.

An overlap refuses the run (exit 2, one line naming the stage, target, language and count) unless the stage or the
target says `allow_overlap: true`; then it runs and the report states the overlap in its first section.
Only files are checked: the Hugging Face Hub source is not read before the run (the check says so)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path

from xstilts.errors import UserError
from xstilts.experiment.plan import EvalStage, Plan, TrainStage
from xstilts.experiment.store import condition_label
from xstilts.spec import Spec
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.loading import ExampleCache, split_files, subsample

# Fields that are answers, not input: equal inputs with other labels are still the same item.
_NOT_INPUT = frozenset({"label", "tags", "answers", "answer_starts", "id"})
# Inputs shorter than this many words ("Paris", ". . .") recur in unrelated data and identify no item.
MIN_WORDS = 3


def content_key(example: object) -> str:
    """The example's input text, case-folded and whitespace-collapsed, fields joined by a separator."""
    parts: list[str] = []
    for f in fields(example) if is_dataclass(example) else ():
        if f.name in _NOT_INPUT:
            continue
        value = getattr(example, f.name)
        parts += [str(v) for v in value] if isinstance(value, tuple) else [str(value or "")]
    return "\x1f".join(" ".join(p.split()).casefold() for p in parts)


@dataclass(frozen=True)
class ExampleSet:
    """The examples one stage trains on, or one evaluation scores, in one language."""

    owner: str  # the spec field that asks for it: "intermediate.sick[0]" or "targets[1]"
    task: str
    split: str
    language: str
    files: frozenset[str]
    rows: tuple[int, ...]  # each example's line in its language's file order (after subsampling)
    keys: tuple[str, ...]  # content_key of each example
    ids: tuple[str, ...]  # example ids, where the examples have them
    parallel: str | None  # the task's TaskDef.parallel
    allow: bool  # allow_overlap on the stage or target


@dataclass(frozen=True)
class Overlap:
    stage: str
    target: str
    language: str
    kind: str  # "same file", "content" or "parallel id"
    count: int
    of: int  # evaluation examples in that language
    allowed: bool

    def line(self) -> str:
        return (
            f"leakage: {self.stage} trains on {self.count} of the {self.of} evaluation examples of {self.target} "
            f"in {self.language} ({self.kind}); set allow_overlap: true on the stage or target to run it anyway"
        )


def example_set(
    owner: str, task: TaskDef, split: str, language: str, root: Path, chosen: Sequence[tuple[int, object]], allow: bool
) -> ExampleSet:
    return ExampleSet(
        owner=owner,
        task=task.name,
        split=split,
        language=language,
        files=frozenset(str(p.resolve()) for p in split_files(task, split, language, root)),
        rows=tuple(i for i, _ in chosen),
        keys=tuple(content_key(e) for _, e in chosen),
        ids=tuple(str(e.id) for _, e in chosen if getattr(e, "id", None) is not None),
        parallel=task.parallel,
        allow=allow,
    )


def overlaps(train: ExampleSet, evaluation: ExampleSet) -> list[Overlap]:
    """Every kind of overlap between one training set and one evaluation set (none: an empty list)."""
    found: list[tuple[str, int]] = []
    trained = set(train.keys)
    if train.files & evaluation.files:  # one file read by both (a split column, as SICK's, keeps them apart)
        found.append(("same file", sum(k in trained for k in evaluation.keys)))
    elif train.task != evaluation.task or train.split == evaluation.split:
        # Two splits of one task (PAN-X train and dev) repeat some inputs by the benchmark's own making: its split
        # is the reference, so content is compared within one split or across tasks, not across a task's splits.
        trained = {k for k in trained if len(k.split()) >= MIN_WORDS}  # \x1f, the field separator, splits too
        found.append(("content", sum(k in trained for k in evaluation.keys)))
    if train.parallel and (train.task, train.split) == (evaluation.task, evaluation.split):
        if train.language != evaluation.language:
            same = (
                set(train.rows) & set(evaluation.rows)
                if train.parallel == "row"
                else set(train.ids) & set(evaluation.ids)
            )
            found.append(("parallel id", len(same)))
    allowed = train.allow or evaluation.allow
    return [
        Overlap(train.owner, evaluation.owner, evaluation.language, kind, n, len(evaluation.rows), allowed)
        for kind, n in found
        if n > 0
    ]


def find_overlaps(train: Iterable[ExampleSet], evaluation: Sequence[ExampleSet]) -> list[Overlap]:
    return [o for t in train for e in evaluation for o in overlaps(t, e)]


def refuse(found: Sequence[Overlap]) -> None:
    """UserError (exit 2) naming the first overlap that no allow_overlap covers."""
    refused = [o for o in found if not o.allowed]
    if refused:
        raise UserError(refused[0].line())


# -- the example sets of a plan ----------------------------------------------------------------------------------


# (task name, split, language) -> examples: the command's ExampleCache (the runner's StageContext.examples, the cost
# model's DataSizes.examples, the report's Experiment.examples), or one of its own, so a command reads each data file
# once for every check it runs.
Examples = Callable[[str, str, str], list]


def plan_sets(plan: Plan, spec: Spec, root: Path, read: Examples) -> tuple[list[ExampleSet], list[ExampleSet]]:
    """(training sets, evaluation sets) of a plan, each stage's examples drawn as the stage will draw them."""
    owners = _owners(plan, spec)

    train: dict[tuple, ExampleSet] = {}  # seeds and targets share example sets: each is compared once
    evaluation: dict[tuple, ExampleSet] = {}
    for key, stage in plan.stages.items():
        owner, allow = owners.get(key, (key, False))
        if isinstance(stage, TrainStage):
            for part, lang, picked in drawn(stage, read):
                task = plan.tasks[part.task]
                found = example_set(owner, task, part.split, lang, root, picked, allow)
                train.setdefault((owner, task.name, part.split, lang, found.rows), found)
        elif isinstance(stage, EvalStage):
            task = plan.tasks[stage.task]
            for lang in stage.languages:
                rows = list(enumerate(read(task.name, stage.split, lang)))
                picked = subsample(rows, stage.max_eval_examples, stage.data_seed)  # as execute's evaluation draws
                found = example_set(owner, task, stage.split, lang, root, picked, allow)
                evaluation.setdefault((owner, task.name, stage.split, lang, found.rows), found)
    return list(train.values()), list(evaluation.values())


def drawn(stage: TrainStage, read: Examples) -> Iterator[tuple]:
    """(part, language, [(row, example)]) of everything a training stage trains on, drawn as execute.train_stage
    draws it: each language's subset (max_examples_per_language), the languages pooled, then one seeded subset."""
    for part in stage.parts:
        rows = part.draw(lambda lang, p=part: list(enumerate(read(p.task, p.split, lang))), stage.data_seed)
        for lang in part.languages:
            yield part, lang, [row for lg, row in rows if lg == lang]


def condition_material(plan: Plan, spec: Spec, root: Path, read: Examples | None = None) -> dict[str, Counter]:
    """What each condition's intermediate stages train on, as a multiset of (task, split, language, row), keyed by
    the condition's label at its grid point: two curricula hold the same material exactly when these are equal."""
    read = read or ExampleCache(plan.tasks, root)

    material: dict[str, Counter] = {}
    for run in plan.runs:
        label = condition_label(run.condition, run.variant)
        if label in material:
            continue
        units: Counter = Counter()
        for key in run.chain[: len(spec.intermediate.get(run.condition, ()))]:  # the target's own stage is last
            stage = plan.stages[key]
            assert isinstance(stage, TrainStage)
            for part, lang, picked in drawn(stage, read):
                units.update((part.task, part.split, lang, i) for i, _ in picked)
        material[label] = units
    return material


def _owners(plan: Plan, spec: Spec) -> dict[str, tuple[str, bool]]:
    """stage key -> (the spec field that asks for it, its allow_overlap)."""
    owners: dict[str, tuple[str, bool]] = {}
    target_index = {t.task: i for i, t in reversed(list(enumerate(spec.targets)))}
    for run in plan.runs:
        steps = spec.intermediate.get(run.condition, ())
        t = target_index.get(run.target, 0)
        target = spec.targets[t]
        for i, key in enumerate(run.chain):
            if i < len(steps):
                owners.setdefault(key, (f"intermediate.{run.condition}[{i}]", steps[i].allow_overlap))
            else:
                owners.setdefault(key, (f"targets[{t}] ({target.task} training)", target.allow_overlap))
        owners.setdefault(run.eval_key, (f"targets[{t}] ({target.task})", target.allow_overlap))
    return owners


def plan_overlaps(plan: Plan, spec: Spec, root: Path, read: Examples | None = None) -> list[Overlap]:
    """Every overlap of a plan; [] when the data comes from the Hub (not read before the run). `read`: the caller's
    example cache, when it has one (the runner's), so that the files are read once."""
    if spec.data_source != "files":
        return []
    train, evaluation = plan_sets(plan, spec, root, read or ExampleCache(plan.tasks, root))
    return find_overlaps(train, evaluation)
