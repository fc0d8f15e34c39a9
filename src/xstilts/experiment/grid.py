"""A resolved spec's conditions at every point of its grid, as the report compares them.

The store labels a grid point's runs as their own conditions ("sick [intermediate_size=500]"). Each point's stage
lists are written out with the grid's settings in them (the size in max_train_examples, the model in a "model" key,
grid training options merged into each stage's "train"), so that the size and scale sections, which compare stage
lists, find a grid axis exactly as they find conditions that a spec writes out by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xstilts.errors import UserError
from xstilts.scores.tables import label
from xstilts.spec import parse_spec


@dataclass(frozen=True)
class GridPoint:
    condition: str  # as the store labels its runs, e.g. "sick [intermediate_size=500]"; the plain name without a grid
    variant: str  # the grid point, e.g. "intermediate_size=500"; empty without a grid
    stages: list[dict[str, Any]]
    model: dict[str, Any]


def grid_points(spec: dict[str, Any]) -> list[GridPoint]:
    """One entry per (grid point, condition) of a resolved spec, in the planner's order."""
    model = spec.get("model") or {}
    plain = [GridPoint(c, "", list(stages or []), model) for c, stages in spec["intermediate"].items()]
    if not any((spec.get("grid") or {}).values()):
        return plain
    try:
        parsed = parse_spec(spec)
    except UserError:  # a spec written by another version: its points cannot be expanded, the conditions stay plain
        return plain
    base_train = parsed.train.model_dump(mode="json")
    points = []
    for variant, point in parsed.variants():
        point_model = point.model.model_dump(mode="json")
        train = {k: v for k, v in point.train.model_dump(mode="json").items() if v != base_train[k]}
        for name, stages in point.intermediate.items():
            dumped = [stage.model_dump(mode="json") for stage in stages]
            for stage in dumped:
                stage["train"] = {**train, **stage["train"]}  # a stage's own overrides win, as in Spec.train_config
                if parsed.grid.model:
                    stage["model"] = point_model
            points.append(GridPoint(label(name, variant), variant, dumped, point_model))
    return points
