"""What the report's first section says about training on evaluation data: a run with `allow_overlap: true` went
ahead despite an overlap that experiment/leakage.py found, and every number of such a target rests on it."""

from __future__ import annotations

from xstilts.errors import UserError
from xstilts.experiment.leakage import plan_overlaps
from xstilts.experiment.plan import build_plan
from xstilts.experiment.readback import Experiment, Unavailable
from xstilts.report.document import Bullets, Section


def overlap_blocks(exp: Experiment) -> list:
    """The overlaps of the experiment's plan (recomputed from its spec and data), as report blocks; [] if none."""
    try:
        root = exp.data_root()
        found = plan_overlaps(build_plan(exp.spec, root), exp.spec, root)
    except (Unavailable, UserError) as why:
        return [f"Overlap between training and evaluation data was not checked: {why}."]
    if not found:
        return []
    return [
        "**Training and evaluation data overlap** (allowed by allow_overlap: true): the scores of these targets in "
        "these languages partly measure examples the model was trained on (or their translations).",
        Bullets(
            [
                f"{o.stage} -> {o.target}, {o.language}: {o.count} of {o.of} evaluation examples ({o.kind})"
                for o in found
            ]
        ),
    ]


def with_overlaps(first: Section, exp: Experiment) -> Section:
    """The first section with the overlap statement after its opening paragraph."""
    blocks = overlap_blocks(exp)
    return Section(first.title, [*first.blocks[:1], *blocks, *first.blocks[1:]]) if blocks else first
