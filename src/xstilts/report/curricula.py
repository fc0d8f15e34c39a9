"""Which conditions of a grid can be compared as curricula, read from the spec's stage lists alone: pairs that hold
the same training in a different order, and series that differ only in one stage's number of examples.

A stage is compared by its canonical JSON (all of its settings), so two conditions that differ in anything else,
a learning rate say, are never paired: the difference would not be the order or the size alone."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from itertools import combinations
from typing import Any

Stages = list[dict[str, Any]]


def describe(stages: Stages) -> str:
    """A curriculum in one line, e.g. "sick (en, 2,000) → siqa (en)"; "no intermediate stage" for the baseline."""
    if not stages:
        return "no intermediate stage"
    parts = []
    for stage in stages:
        size = f", {stage['max_train_examples']:,}" if stage.get("max_train_examples") else ""
        parts.append(f"{stage['task']} ({'+'.join(stage.get('languages') or ['en'])}{size})")
    return " → ".join(parts)


def canonical(stage: dict[str, Any], without: tuple[str, ...] = ()) -> str:
    return json.dumps({k: v for k, v in stage.items() if k not in without}, sort_keys=True, default=str)


@dataclass(frozen=True)
class OrderPair:
    a: str
    b: str
    kind: str  # "task order", "English first vs mixed" or "language arrangement"


def _units(stages: Stages) -> Counter:
    """The training material of a curriculum regardless of order: (task, language, other settings) per language."""
    return Counter(
        (stage["task"], lang, canonical(stage, ("languages", "max_train_examples", "max_examples_per_language")))
        for stage in stages
        for lang in stage.get("languages") or ["en"]
    )


def _english_first(stages: Stages) -> bool:
    langs = [tuple(s.get("languages") or ["en"]) for s in stages]
    return bool(langs) and langs[0] == ("en",) and any("en" not in group for group in langs[1:])


def order_pairs(conditions: dict[str, Stages]) -> list[OrderPair]:
    """Pairs of conditions with the same stages in another order (A then B vs B then A), or the same tasks and
    languages split differently into stages (English first, then the other languages, vs all mixed in one)."""
    pairs = []
    for a, b in combinations([c for c, stages in conditions.items() if stages], 2):
        sa, sb = conditions[a], conditions[b]
        if [canonical(s) for s in sa] == [canonical(s) for s in sb]:
            continue
        if sorted(canonical(s) for s in sa) == sorted(canonical(s) for s in sb):
            pairs.append(OrderPair(a, b, "task order"))
        elif _units(sa) == _units(sb) and [s.get("languages") for s in sa] != [s.get("languages") for s in sb]:
            mixed = _english_first(sa) != _english_first(sb)
            pairs.append(OrderPair(a, b, "English first vs mixed" if mixed else "language arrangement"))
    return pairs


@dataclass(frozen=True)
class SizeAxis:
    position: int | None  # the stage whose max_train_examples varies; None: every stage, by the same size
    task: str
    conditions: tuple[str, ...]  # ordered by that stage's max_train_examples (None, all examples, last)


def _size(stages: Stages, position: int | None) -> float:
    """The size a condition sits at on an axis; None (all examples) sorts last."""
    size = stages[position if position is not None else 0].get("max_train_examples")
    return size or float("inf")


def size_axes(conditions: dict[str, Stages]) -> list[SizeAxis]:
    """Series of two or more conditions whose stage lists are identical except for max_train_examples of one
    stage, or (curricula of several stages, as a grid over intermediate_size makes them) of every stage, each
    condition with one size for all its stages."""
    groups: dict[tuple[int | None, str], list[str]] = defaultdict(list)
    for name, stages in conditions.items():
        for i in range(len(stages)):
            rest = [canonical(s, ("max_train_examples",) if j == i else ()) for j, s in enumerate(stages)]
            groups[(i, json.dumps(rest))].append(name)
        if len(stages) > 1 and len({s.get("max_train_examples") for s in stages}) == 1:
            groups[(None, json.dumps([canonical(s, ("max_train_examples",)) for s in stages]))].append(name)
    axes = []
    for (position, _), names in groups.items():
        if len({_size(conditions[n], position) for n in names}) >= 2:
            order = sorted(names, key=lambda n: _size(conditions[n], position))
            stages = conditions[names[0]]
            task = "+".join(s["task"] for s in stages) if position is None else stages[position]["task"]
            axes.append(SizeAxis(position, task, tuple(order)))
    return axes
