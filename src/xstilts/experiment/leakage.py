"""Leakage between what an experiment trains on and what it evaluates, found before anything runs.

Every training stage's examples (after subsampling, exactly as the stage will draw them) are compared with every
evaluation set of the experiment, whatever the task, split or format, by what they read (experiment/text_units.py:
normalised text units, so a tagging reader and the masked-language reader of one file read the same sentences):

- same file: the stage reads a file an evaluation reads, compared by content digest, so a byte copy under another
  name is the same file (a bring-your-own task that trains on a copy of its dev file): the count is the evaluation
  examples whose text the stage trains on;
- content: evaluation examples whose input text is a training example's, up to case, spacing, punctuation, Unicode
  forms and the order of its fields (a pair's sides swapped);
- near duplicate: the Jaccard similarity of the two examples' word-bigram sets (within each text unit) is at least
  NEAR_DUPLICATE (0.7: one word in about seven changed), found by a prefix-filtered similarity join;
- shared sentence: an evaluation example shares a text unit of 3 tokens or more (a sentence, a pair side, a context)
  with a training example although the examples differ (PAWS-X test pairs reuse dev sentences). Reported, not
  refused: the labelled item (the pair) is new;
- parallel id: XNLI, PAWS-X, XQuAD and MLQA are translations across languages (TaskDef.parallel: "row" when row i
  of every language is one item, "id" when the example ids are shared), and a split may translate another task's
  (TaskDef.parallel_to: XQuAD's test is SQuAD v1.1 dev), so training on German XNLI dev leaks the French XNLI dev
  rows with the same index, and training on SQuAD dev leaks every XQuAD language, though no text is shared.

Each evaluation example is counted once, under the strongest of content, near duplicate and shared sentence.
Repeats between two declared splits of one benchmark (PAN-X train and dev share 2.9% of their English sentences,
UD-POS train and test 0.3%) are the benchmark's own: its split is the reference every published score uses, so they
are reported, not refused, unless the files are byte copies of each other.

An overlap refuses the run (exit 2, one line naming the stage, target, language and count) unless the stage or the
target says `allow_overlap: true`; then it runs and the report states the overlap in its first section, beside the
overlaps that are reported only. Only files are checked: the Hugging Face Hub source is not read before the run."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from math import ceil
from pathlib import Path

from xstilts.errors import UserError
from xstilts.experiment.plan import EvalStage, Plan, TrainStage
from xstilts.experiment.store import condition_label
from xstilts.experiment.text_units import Read, identifies, jaccard, read
from xstilts.spec import Spec
from xstilts.tasks import REGISTRY
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.loading import ExampleCache, file_digest, split_files, subsample

# Near duplicate: Jaccard similarity of word-bigram sets at or above this (a one-word edit in a 15-word sentence
# keeps 0.75; two sentences that share a phrase stay far below).
NEAR_DUPLICATE = 0.7
REFUSED_KINDS = ("same file", "content", "near duplicate", "parallel id")
REPORTED_KINDS = ("shared sentence",)  # the labelled item differs: stated, never refused


@dataclass(frozen=True)
class ExampleSet:
    """The examples one stage trains on, or one evaluation scores, in one language."""

    owner: str  # the spec field that asks for it: "intermediate.sick[0]" or "targets[1]"
    task: str
    split: str
    language: str
    files: frozenset[str]  # content digests of the files read
    rows: tuple[int, ...]  # each example's line in its language's file order (after subsampling)
    reads: tuple[Read, ...]  # what each example reads (text_units.read)
    ids: tuple[str, ...]  # example ids, where the examples have them
    parallel: str | None  # the task's TaskDef.parallel
    allow: bool  # allow_overlap on the stage or target
    # The items these examples translate: "task/split" (TaskDef.parallel_to, else the set's own task and split)
    items: str = ""
    # (benchmark, split) pairs whose declared files these are (PAN-X train also feeds mlm_wiki), for own repeats
    benchmark_splits: frozenset[tuple[str, str]] = frozenset()
    paths: frozenset[str] = frozenset()  # resolved paths of the files read


@dataclass(frozen=True)
class Overlap:
    stage: str
    target: str
    language: str
    kind: str  # one of REFUSED_KINDS or REPORTED_KINDS
    count: int
    of: int  # evaluation examples in that language
    allowed: bool  # allow_overlap on the stage or target
    why_not_refused: str = ""  # "" or why it runs without allow_overlap (a reported kind, the benchmark's own)

    @property
    def refused(self) -> bool:
        return not self.allowed and not self.why_not_refused

    def line(self) -> str:
        return (
            f"leakage: {self.stage} trains on {self.count} of the {self.of} evaluation examples of {self.target} "
            f"in {self.language} ({self.kind}); set allow_overlap: true on the stage or target to run it anyway"
        )


def example_set(
    owner: str, task: TaskDef, split: str, language: str, root: Path, chosen: Sequence[tuple[int, object]], allow: bool
) -> ExampleSet:
    paths = [p.resolve() for p in split_files(task, split, language, root)]
    return ExampleSet(
        owner=owner,
        task=task.name,
        split=split,
        language=language,
        files=frozenset(_digest(p) for p in paths if p.is_file()),
        rows=tuple(i for i, _ in chosen),
        reads=tuple(read(e) for _, e in chosen),
        ids=tuple(str(e.id) for _, e in chosen if getattr(e, "id", None) is not None),
        parallel=task.parallel,
        allow=allow,
        items=task.parallel_to.get(split, f"{task.name}/{split}"),
        benchmark_splits=_benchmark_splits(task, split, language) if REGISTRY.get(task.name) else frozenset(),
        paths=frozenset(str(p) for p in paths),
    )


def _digest(path: Path) -> str:
    stat = path.stat()
    return file_digest(path, stat.st_size, stat.st_mtime_ns)


def _benchmark_splits(task: TaskDef, split: str, language: str) -> frozenset[tuple[str, str]]:
    declared = tuple(task.splits[split].paths(language))
    return frozenset(pair for pair, paths in _declared_files(language).items() if paths == declared)


@cache
def _declared_files(language: str) -> dict[tuple[str, str], tuple[str, ...]]:
    """(benchmark, split) -> its declared relative files in `language`, over the built-in catalogue."""
    return {
        (task.name, split): tuple(declared.paths(language))
        for task in REGISTRY.values()
        for split, declared in task.splits.items()
        if language in declared.languages
    }


def _benchmarks_own(train: ExampleSet, evaluation: ExampleSet) -> bool:
    """Two declared splits of one benchmark, read from its declared files (not byte copies of each other)."""
    own = any(
        task == other_task and split != other_split
        for task, split in train.benchmark_splits
        for other_task, other_split in evaluation.benchmark_splits
    )
    return own and not (train.files & evaluation.files and not train.paths & evaluation.paths)


def content_counts(train: ExampleSet, evaluation: ExampleSet) -> dict[str, int]:
    """Evaluation examples whose text is a training example's ("content"), nearly ("near duplicate"), or that share
    a text unit with one ("shared sentence"); each counted under the strongest."""
    keys = {r.key for r in train.reads if identifies(r)}
    left = [r for r in evaluation.reads if not (identifies(r) and r.key in keys)]  # not the same text
    near = near_duplicates(train.reads, left)
    units: set[str] = set().union(*(r.units for r in train.reads))
    shared = sum(bool(r.units & units) for i, r in enumerate(left) if i not in near)
    return {"content": len(evaluation.reads) - len(left), "near duplicate": len(near), "shared sentence": shared}


def near_duplicates(train: Sequence[Read], evaluation: Sequence[Read]) -> set[int]:
    """Indices of evaluation examples with a training example at Jaccard >= NEAR_DUPLICATE over their shingles.
    A prefix-filtered join: with shingles ordered rarest first, two sets at Jaccard >= t share one of the first
    |A| - ceil(t |A|) + 1 shingles of each, so only those are indexed and probed (exact, not sampled)."""
    frequency = Counter(s for r in evaluation for s in r.shingles)

    def prefix(shingles: frozenset[str]) -> list[str]:
        ordered = sorted(shingles, key=lambda s: (frequency[s], s))
        return ordered[: len(ordered) - ceil(NEAR_DUPLICATE * len(ordered)) + 1]

    index: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(evaluation):
        if identifies(r):
            for s in prefix(r.shingles):
                index[s].append(i)
    found: set[int] = set()
    for r in train:
        if not identifies(r) or not r.shingles & frequency.keys():
            continue
        size = len(r.shingles)
        for i in {i for s in prefix(r.shingles) for i in index.get(s, ())} - found:
            other = evaluation[i].shingles
            if (
                NEAR_DUPLICATE * size <= len(other) <= size / NEAR_DUPLICATE
                and jaccard(r.shingles, other) >= NEAR_DUPLICATE
            ):
                found.add(i)
    return found


def overlaps(train: ExampleSet, evaluation: ExampleSet) -> list[Overlap]:
    """Every kind of overlap between one training set and one evaluation set (none: an empty list)."""
    counts = content_counts(train, evaluation)
    found: list[tuple[str, int]] = []
    if train.files & evaluation.files:  # one file read by both (a split column, as SICK's, keeps them apart)
        found.append(("same file", counts["content"] + counts["near duplicate"]))
    else:
        found += [("content", counts["content"]), ("near duplicate", counts["near duplicate"])]
    found.append(("shared sentence", counts["shared sentence"]))
    parallel = train.parallel or evaluation.parallel
    if (
        parallel
        and train.items == evaluation.items
        and (train.task, train.language) != (evaluation.task, evaluation.language)
    ):
        if parallel == "row" and train.task == evaluation.task:
            found.append(("parallel id", len(set(train.rows) & set(evaluation.rows))))
        elif parallel == "id":
            found.append(("parallel id", len(set(train.ids) & set(evaluation.ids))))
    own = _benchmarks_own(train, evaluation)
    return [
        Overlap(
            train.owner,
            evaluation.owner,
            evaluation.language,
            kind,
            n,
            len(evaluation.rows),
            train.allow or evaluation.allow,
            "reported only: the examples differ"
            if kind in REPORTED_KINDS
            else "the benchmark's own splits"
            if own
            else "",
        )
        for kind, n in found
        if n > 0
    ]


def find_overlaps(train: Iterable[ExampleSet], evaluation: Sequence[ExampleSet]) -> list[Overlap]:
    return [o for t in train for e in evaluation for o in overlaps(t, e)]


def refuse(found: Sequence[Overlap]) -> None:
    """UserError (exit 2) naming the first overlap that no allow_overlap covers and that is not reported only."""
    refused = [o for o in found if o.refused]
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
