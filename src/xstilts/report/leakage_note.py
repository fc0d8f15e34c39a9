"""What the report says about the data each stage drew, recomputed from the spec (experiment/leakage.py): in its
first section, overlaps of training and evaluation data that `allow_overlap: true` let run and those that are
stated only (shared sentences, a benchmark's own repeats between its splits); in the order-effects
section, whether two curricula really hold the same training examples."""

from __future__ import annotations

from xstilts.errors import UserError
from xstilts.experiment.leakage import condition_material, plan_overlaps
from xstilts.experiment.readback import Experiment, Unavailable
from xstilts.report.curricula import OrderPair
from xstilts.report.document import Bullets, Section


def overlap_blocks(exp: Experiment) -> list:
    """The overlaps of the experiment's plan (recomputed from its spec and data), as report blocks; [] if none."""
    try:
        found = plan_overlaps(exp.plan, exp.spec, exp.data_root(), exp.examples)  # the report's one example cache
    except (Unavailable, UserError) as why:
        return [f"Overlap between training and evaluation data was not checked: {why}."]
    allowed = [o for o in found if not o.why_not_refused]  # refused kinds that allow_overlap let run
    stated = [o for o in found if o.why_not_refused]
    blocks: list = []
    if allowed:
        blocks += [
            "**Training and evaluation data overlap** (allowed by allow_overlap: true): the scores of these targets "
            "in these languages partly measure examples the model was trained on (or their translations).",
            Bullets([_line(o) for o in allowed]),
        ]
    if stated:
        blocks += [
            "**Overlap that does not refuse a run**: evaluation examples that share a sentence with a training "
            "example though the examples differ, and repeats between two declared splits of one benchmark (its "
            "split is the reference published scores use). Read these scores knowing it.",
            Bullets([f"{_line(o)}: {o.why_not_refused}" for o in stated]),
        ]
    return blocks


def _line(o) -> str:
    return f"{o.stage} -> {o.target}, {o.language}: {o.count} of {o.of} evaluation examples ({o.kind})"


def with_overlaps(first: Section, exp: Experiment) -> Section:
    """The first section with the overlap statement after its opening paragraph."""
    blocks = overlap_blocks(exp)
    return Section(first.title, [*first.blocks[:1], *blocks, *first.blocks[1:]]) if blocks else first


def material_lines(exp: Experiment, pairs: list[OrderPair]) -> list[str]:
    """Per order pair: "same material" only when the drawn examples are equal as computed, else how many they share
    and each side's examples per language."""
    try:
        material = condition_material(exp.plan, exp.spec, exp.data_root(), exp.examples)
    except (Unavailable, UserError) as why:
        return [f"{p.a} vs {p.b}: training material not compared ({why})" for p in pairs]
    lines = []
    for p in pairs:
        a, b = material.get(p.a), material.get(p.b)
        if a is None or b is None:
            lines.append(f"{p.a} vs {p.b}: not in the plan of this spec")
        elif a == b:
            lines.append(
                f"{p.a} vs {p.b}: the same training material ({sum(a.values()):,} examples, compared one by one)"
            )
        else:
            lines.append(
                f"{p.a} vs {p.b}: NOT the same training material: {sum((a & b).values()):,} examples shared of "
                f"{sum(a.values()):,} and {sum(b.values()):,}; {p.a}: {_per_language(a)}; {p.b}: {_per_language(b)}"
            )
    return lines


def _per_language(units) -> str:
    counts: dict[str, int] = {}
    for (_, _, lang, _), n in units.items():
        counts[lang] = counts.get(lang, 0) + n
    return " / ".join(f"{n} {lang}" for lang, n in sorted(counts.items(), key=lambda kv: (kv[0] != "en", kv[0])))
