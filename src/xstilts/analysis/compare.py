"""Two conditions on one target: their difference per language and on the average over languages, an interval for
it, paired permutation tests over evaluation examples and sign-flip tests over seeds. Every section of the report is
built from these comparisons.

Seeds are paired: only seeds both conditions finished count, and a seed's difference is taken within the seed.
The interval is a Student t interval over seeds when there are two or more (a percentile bootstrap of 2-4 seeds
covers far less than its nominal 95%); with one seed it is a percentile bootstrap over evaluation examples (the same
resampled examples for both conditions), which measures evaluation noise but not training noise."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from statistics import fmean

from xstilts.analysis.sign_flip import SignFlipTest, sign_flip_test
from xstilts.analysis.stats import (
    ExampleScores,
    Interval,
    PermutationTest,
    bootstrap_examples,
    example_scores,
    holm,
    t_interval_seeds,
)
from xstilts.analysis.stats import permutation_test as paired_permutation_test
from xstilts.errors import UserError
from xstilts.experiment.readback import Cell, Experiment, Unavailable
from xstilts.scores.predictions import read_predictions


@dataclass(frozen=True)
class ResamplingSettings:
    """How many resamples the report's intervals and permutation tests draw, at which level, from which seed."""

    n_boot_seeds: int = 10_000  # no longer drawn: seed intervals are t intervals (kept so existing calls stay valid)
    n_boot_examples: int = 2000
    n_perm: int = 9999
    level: float = 0.95
    seed: int = 0
    complexity_sample: int = 256  # examples per intermediate task for the online code length (report/complexity.py)


@dataclass(frozen=True)
class Comparison:
    a: str
    b: str
    target: str
    metric: str
    seeds: tuple[int, ...]  # seeds both conditions finished
    languages: tuple[str, ...]
    per_language: dict[str, float]  # mean over seeds of a - b
    per_seed: tuple[float, ...]  # per seed, the mean over languages of a - b
    per_language_seed: dict[str, tuple[float, ...]]  # per language, a - b in each seed
    examples: dict[str, int]  # evaluation examples per language
    interval: Interval | None = None
    method: str = ""  # what the interval is over: "seeds" (t interval) or "examples" (percentile bootstrap)
    test: PermutationTest | None = None  # on the average over languages; examples of all seeds pooled
    language_p: dict[str, float] = field(default_factory=dict)
    seed_test: SignFlipTest | None = None  # on the average over languages, one unit per seed; None with one seed
    language_seed_p: dict[str, float] = field(default_factory=dict)
    note: str = ""  # why there are no example-level statistics

    @property
    def language_p_holm(self) -> dict[str, float]:
        """The per-language p-values adjusted by Holm's method across this comparison's languages."""
        return holm(self.language_p)

    @property
    def average(self) -> float:
        return fmean(self.per_seed)

    def cell(self) -> str:
        return str(self.interval) if self.interval else f"{self.average:+.1f}"

    @property
    def interval_label(self) -> str:
        """What the interval is, e.g. "95% t interval, 3 seeds" or "95% percentile bootstrap over examples"."""
        if self.interval is None:
            return "no interval"
        if self.method == "seeds":
            return f"{self.interval.level:.0%} t interval, {len(self.seeds)} seeds"
        return f"{self.interval.level:.0%} percentile bootstrap over examples"


def sample_text(comparisons: Iterable[Comparison]) -> str:
    """How much data some numbers rest on, e.g. "3 seeds; 300 examples in each of 10 languages", or with ranges
    ("1-3 seeds") where the comparisons differ (a partial grid)."""
    comparisons = list(comparisons)
    seeds = sorted({len(c.seeds) for c in comparisons})
    examples = {lang: n for c in comparisons for lang, n in c.examples.items()}
    seed_text = f"{_span(seeds)} seed{'s' * (seeds != [1])}"
    counts = sorted(set(examples.values()))
    if not counts:
        return seed_text
    langs = f"{len(examples)} language{'s' * (len(examples) != 1)}"
    if len(counts) == 1:
        return f"{seed_text}; {counts[0]:,} examples in each of {langs}"
    return f"{seed_text}; {_span(counts)} examples per language in {langs}"


def _span(values: list[int]) -> str:
    return f"{values[0]:,}" if values[0] == values[-1] else f"{values[0]:,}-{values[-1]:,}"


class Comparisons:
    """Comparisons of an experiment, each computed once (sections share them)."""

    def __init__(self, experiment: Experiment, settings: ResamplingSettings):
        self.exp, self.settings = experiment, settings
        self._cache: dict[tuple[str, str, str], Comparison | None] = {}
        self._per_example: dict[tuple[Cell, str, str], ExampleScores] = {}

    def get(self, a: str, b: str, target: str) -> Comparison | None:
        """None when the two conditions share no finished seed and language on `target`."""
        if (a, b, target) not in self._cache:
            plain = self.difference(a, b, target)
            self._cache[(a, b, target)] = self._with_statistics(plain) if plain else None
        return self._cache[(a, b, target)]

    def difference(self, a: str, b: str, target: str) -> Comparison | None:
        """The paired difference alone, without intervals or tests (cheap); None as for `get`."""
        exp = self.exp
        seeds = tuple(s for s in exp.seeds_of(a, target) if s in exp.seeds_of(b, target))
        if not seeds:
            return None
        langs = tuple(
            lang
            for lang in exp.languages(target)
            if all(exp.value(c, target, s, lang) is not None for c in (a, b) for s in seeds)
        )
        if not langs:
            return None
        value = exp.value
        diff = {(s, lang): value(a, target, s, lang) - value(b, target, s, lang) for s in seeds for lang in langs}
        return Comparison(
            a=a,
            b=b,
            target=target,
            metric=exp.metrics[target],
            seeds=seeds,
            languages=langs,
            per_language={lang: fmean(diff[(s, lang)] for s in seeds) for lang in langs},
            per_seed=tuple(fmean(diff[(s, lang)] for lang in langs) for s in seeds),
            per_language_seed={lang: tuple(diff[(s, lang)] for s in seeds) for lang in langs},
            examples={lang: exp.examples_count(a, target, seeds[0], lang) or 0 for lang in langs},
        )

    def _with_statistics(self, c: Comparison) -> Comparison:
        st = self.settings
        seeds_ci = t_interval_seeds(c.per_seed, st.level) if len(c.seeds) > 1 else None
        if len(c.seeds) > 1:  # needs only the stored scores, so it stands where the example-level tests cannot
            c = replace(
                c,
                seed_test=sign_flip_test(c.per_seed, st.n_perm, st.seed),
                language_seed_p={
                    lang: sign_flip_test(d, st.n_perm, st.seed + i + 1).p_value
                    for i, (lang, d) in enumerate(c.per_language_seed.items())
                },
            )
        try:
            a, b = self._strata(c.a, c), self._strata(c.b, c)
        except Unavailable as why:
            return replace(c, interval=seeds_ci, method="seeds" if seeds_ci else "", note=str(why))
        interval, method = seeds_ci, "seeds"
        if interval is None:
            interval, method = bootstrap_examples(a, b, st.n_boot_examples, st.level, st.seed), "examples"
        test = paired_permutation_test(a, b, st.n_perm, st.seed)
        language_p = {
            lang: paired_permutation_test(x, y, st.n_perm, st.seed + i + 1).p_value
            for i, (lang, x, y) in enumerate(zip(c.languages, a, b, strict=True))
        }
        return replace(c, interval=interval, method=method, test=test, language_p=language_p)

    def _strata(self, condition: str, c: Comparison) -> list[ExampleScores]:
        """Per language, the metric of every seed (stacked) per example; Unavailable says why not."""
        return [
            ExampleScores.stack([self._seed_scores((condition, c.target, s), lang, c.metric) for s in c.seeds])
            for lang in c.languages
        ]

    def _seed_scores(self, cell: Cell, lang: str, metric: str) -> ExampleScores:
        if (cell, lang, metric) not in self._per_example:  # the baseline takes part in every comparison: read it once
            task = self.exp.evaluated_task(cell)
            path = self.exp.predictions_file(cell, lang)
            gold = self.exp.gold(cell, lang)
            try:
                scores = example_scores(task, read_predictions(path), gold, lang, metric)
            except (ValueError, UserError) as err:  # a malformed file, or predictions that do not fit the gold
                raise Unavailable(str(err)) from None
            self._per_example[(cell, lang, metric)] = scores
        return self._per_example[(cell, lang, metric)]
