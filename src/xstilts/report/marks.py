"""One rule for the report's significance marks, wherever a gain is marked (transfer matrix, gains per language, order
effects, data-size tables).

With two or more seeds a gain is marked "*" only when BOTH tests reject at SIGNIFICANT: the sign-flip test over
seeds (analysis/sign_flip.py: would another training run give a gain of the same sign?) and the permutation test over
evaluation examples (analysis/stats.py: do these trained models differ?), the latter after Holm's correction where
the table corrects across languages. The example-level test alone pools every seed's predictions and cannot see
training noise, so a tiny pooled p beside a seed test that does not reject is not marked. With one seed there is no
seed-level test: a gain whose example-level p is below SIGNIFICANT is marked with a different sign, ONE_SEED_MARK,
which the legend calls "example-level only".

Since the smallest two-sided sign-flip p with n seeds is 2 / 2^n, "*" needs at least 6 seeds; the tables still give
both p-values, so a reader sees how far each test is from its threshold."""

from __future__ import annotations

from collections.abc import Iterable

from xstilts.analysis.compare import Comparison

SIGNIFICANT = 0.05
BOTH_MARK = "*"  # seed-level and example-level tests both below SIGNIFICANT
ONE_SEED_MARK = "†"  # one seed: the example-level test alone


def mark(example_p: float | None, seed_p: float | None, seeds: int) -> str:
    """The mark of one gain: BOTH_MARK, ONE_SEED_MARK or "" (see the module docstring for the rule).

    >>> mark(0.0001, 0.25, 3), mark(0.0001, 0.03, 6), mark(0.0001, None, 1), mark(None, 0.01, 8)
    ('', '*', '†', '')
    """
    if example_p is None or example_p >= SIGNIFICANT:
        return ""
    if seeds <= 1:
        return ONE_SEED_MARK
    return BOTH_MARK if seed_p is not None and seed_p < SIGNIFICANT else ""


def average_mark(c: Comparison) -> str:
    """The mark of a comparison's gain on the average over languages (one test each: no correction)."""
    return mark(c.test.p_value if c.test else None, c.seed_test.p_value if c.seed_test else None, len(c.seeds))


def language_mark(c: Comparison, lang: str) -> str:
    """The mark of one language's gain: the example-level p after Holm across the comparison's languages, the
    per-language sign-flip p uncorrected."""
    return mark(c.language_p_holm.get(lang), c.language_seed_p.get(lang), len(c.seeds))


def legend(comparisons: Iterable[Comparison | None], holm: bool = False) -> str:
    """The marks' rule as a table note, for the seed counts present in `comparisons`."""
    seeds = {len(c.seeds) for c in comparisons if c is not None}
    example = f"the permutation test over examples{' after Holm' if holm else ''}"
    parts = []
    if any(n >= 2 for n in seeds):
        parts.append(
            f"{BOTH_MARK}: both the sign-flip test over seeds and {example} give p < {SIGNIFICANT} (the rule for two "
            f"or more seeds; {BOTH_MARK} needs at least 6 seeds, as the sign-flip p cannot go below 2 / 2^n)"
        )
    if 1 in seeds:
        parts.append(f"{ONE_SEED_MARK}: one seed, example-level only: {example} gives p < {SIGNIFICANT}")
    return "Marks: " + "; ".join(parts) + "." if parts else ""
