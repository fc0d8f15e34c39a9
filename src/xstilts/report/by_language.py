"""Section (b): does a gain hold across languages? Per-language gains, then the same gains grouped by language
family, script and resource class (Joshi et al. 2020, 0-5), each group with its spread across languages: the
standard deviation and the range. A curriculum whose mean gain hides losses in some languages shows up here."""

from __future__ import annotations

import math
from statistics import fmean, stdev

from xstilts.analysis.compare import Comparison, Comparisons, sample_text
from xstilts.experiment.readback import Experiment
from xstilts.report import figures
from xstilts.report.document import Figure, Section, Table
from xstilts.report.marks import language_mark, legend
from xstilts.report.transfer import ONE_SEED, seed_test_note
from xstilts.tasks.languages import JOSHI_CLASS_NAMES, Language, language

GROUPINGS = (("family", "language family"), ("script", "script"), ("resource_class", "resource class"))


def _meta(code: str) -> Language | None:
    try:
        return language(code)
    except KeyError:
        return None


def _group_of(code: str, field: str) -> str:
    meta = _meta(code)
    if meta is None:
        return "unknown"
    value = getattr(meta, field)
    return f"{value}: {JOSHI_CLASS_NAMES[value]}" if field == "resource_class" else value


def spread(values: list[float]) -> str:
    """ "+0.4 ± 1.2 (-1.0..+2.4)": mean, sample standard deviation and range across languages."""
    if not values:
        return "-"
    sd = f" ± {stdev(values):.1f}" if len(values) > 1 else ""
    return f"{fmean(values):+.1f}{sd} ({min(values):+.1f}..{max(values):+.1f})"


def language_section(exp: Experiment, comparisons: Comparisons) -> Section:
    blocks: list = [
        "Is a gain robust across languages? Per-language gains over the baseline (mean over the seeds both "
        "conditions finished), the paired permutation test per language, and the gains grouped by family, script "
        "and resource class with mean ± standard deviation (range) across the group's languages."
    ]
    for target in exp.targets:
        comps = {c: comparisons.get(c, exp.baseline(c), target) for c in exp.conditions if exp.baseline(c) != c}
        comps = {c: comp for c, comp in comps.items() if comp is not None}
        if not comps:
            blocks.append(f"{target}: no condition has results to compare with the baseline.")
            continue
        langs = _ordered({lang for comp in comps.values() for lang in comp.languages})
        blocks += [_figure(target, langs, comps), _per_language_table(target, langs, comps), _robustness(target, comps)]
        blocks += [_grouped_table(target, langs, comps, field, name) for field, name in GROUPINGS]
    return Section("Gains per language", blocks)


def _ordered(langs: set[str]) -> list[str]:
    """English first, then from high- to low-resource, then by family, so neighbouring bars are comparable."""

    def key(code: str) -> tuple:
        meta = _meta(code)
        return (code != "en", -(meta.resource_class if meta else -1), meta.family if meta else "", code)

    return sorted(langs, key=key)


def _sample(comps: dict[str, Comparison]) -> str:
    return sample_text(comps.values())


def _figure(target: str, langs: list[str], comps: dict[str, Comparison]) -> Figure:
    labels = [f"{lang}\n({_meta(lang).resource_class if _meta(lang) else '?'})" for lang in langs]
    series = {c: [comp.per_language.get(lang, math.nan) for lang in langs] for c, comp in comps.items()}
    marks = {c: [language_mark(comp, lang) for lang in langs] for c, comp in comps.items()}
    title = f"{target}: gain per language (resource class in brackets)"
    caption = (
        f"{target}: per-language gains over the baseline. {legend(comps.values(), holm=True)} Holm's correction is "
        f"across each condition's languages; the per-language seed test is uncorrected. {_sample(comps)}."
    )
    return Figure(f"language_gains_{target}", caption, figures.language_bars(labels, series, marks, title))


def _per_language_table(target: str, langs: list[str], comps: dict[str, Comparison]) -> Table:
    header = ["language", "family", "script", "class", *comps]
    rows = []
    for lang in langs:
        meta = _meta(lang)
        row = [
            f"{lang} {meta.name}" if meta else lang,
            *((meta.family, meta.script, str(meta.resource_class)) if meta else ("?", "?", "?")),
        ]
        for comp in comps.values():
            row.append(_language_cell(comp, lang) if lang in comp.per_language else "missing")
        rows.append(row)
    caption = f"{target}: gain per language over the baseline, {_sample(comps)}"
    return Table(f"language_gains_{target}", caption, header, rows, _notes(comps, seed_p=True))


def _language_cell(comp: Comparison, lang: str) -> str:
    """ "+1.2 (p=0.0001, Holm 0.0006; seeds p=0.25)": the gain, its pooled tests and its seed-level test, then its
    mark (report/marks.py: both tests, or the example-level test alone with one seed)."""
    tests = []
    p, adjusted = comp.language_p.get(lang), comp.language_p_holm.get(lang)
    if p is not None and adjusted is not None:
        tests.append(f"p={p:.3g}, Holm {adjusted:.3g}")
    if lang in comp.language_seed_p:
        tests.append(f"seeds p={comp.language_seed_p[lang]:.3g}")
    return f"{comp.per_language[lang]:+.1f}" + (f" ({'; '.join(tests)})" if tests else "") + language_mark(comp, lang)


def _notes(comps: dict[str, Comparison], seed_p: bool = False) -> list[str]:
    notes = [
        "p: paired permutation test over examples in one language, the examples of all seeds pooled (each "
        "permutation swaps an example's two conditions' predictions, in every seed at once), uncorrected; Holm: the "
        "same p-values adjusted by Holm's step-down correction across the condition's "
        "languages on this target (family-wise error). The transfer matrix's p "
        "is one test of the average over languages and needs no correction across languages.",
        legend(comps.values(), holm=True),
    ]
    if any(len(c.seeds) == 1 for c in comps.values()):
        notes.append(ONE_SEED)
    if seed_p and (note := seed_test_note(comps.values())):  # only the table that shows it
        notes.append(f"{note} Per language it is uncorrected.")
    return notes + sorted({f"No p-values for {c.a}: {c.note}" for c in comps.values() if c.note})


def _robustness(target: str, comps: dict[str, Comparison]) -> Table:
    header = ["condition", "mean gain", "std across languages", "worst", "best", "languages up", "marked (Holm)"]
    rows = []
    for c, comp in comps.items():
        gains = comp.per_language
        worst, best = min(gains, key=gains.get), max(gains, key=gains.get)
        significant = [lang for lang in gains if language_mark(comp, lang)]
        rows.append(
            [
                c,
                f"{fmean(gains.values()):+.1f}",
                f"{stdev(gains.values()):.1f}" if len(gains) > 1 else "n/a",
                f"{gains[worst]:+.1f} ({worst})",
                f"{gains[best]:+.1f} ({best})",
                f"{sum(g > 0 for g in gains.values())}/{len(gains)}",
                f"{len(significant)}/{len(gains)}" if comp.language_p else "n/a",
            ]
        )
    caption = f"{target}: robustness of the gain across languages, {_sample(comps)}"
    return Table(f"robustness_{target}", caption, header, rows, _notes(comps))


def _grouped_table(target: str, langs: list[str], comps: dict[str, Comparison], field: str, name: str) -> Table:
    groups: dict[str, list[str]] = {}
    for lang in langs:
        groups.setdefault(_group_of(lang, field), []).append(lang)
    order = sorted(groups, reverse=field == "resource_class")  # resource classes from 5 (richest) down
    header = [name, "languages", *comps]
    rows = []
    for group in order:
        gains = [
            spread([c.per_language[lang] for lang in groups[group] if lang in c.per_language]) for c in comps.values()
        ]
        rows.append([group, " ".join(groups[group]), *gains])
    caption = f"{target}: gains by {name}, mean ± std (range) over the group's languages; {_sample(comps)}"
    return Table(f"by_{field}_{target}", caption, header, rows)
