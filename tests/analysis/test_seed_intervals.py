"""Seed intervals hold their nominal coverage with few seeds: a seeded simulation of 3 normal per-seed gains, where
the t interval covers the true mean about 95% of the time and the percentile bootstrap (which 3 values cannot push
beyond their [min, max]) about 75%. Also the labels and warnings the report gives these intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from xstilts.analysis.stats import bootstrap_seeds, t_interval_seeds

TRIALS = 2000
# Binomial standard error of a 95% coverage over 2,000 trials is 0.0049: 3 of them either side.
TOLERANCE = 3 * math.sqrt(0.95 * 0.05 / TRIALS)


def _coverage(make_interval, n: int, trials: int = TRIALS) -> float:
    rng = np.random.default_rng(25)
    true_mean = 1.0
    hits = 0
    for _ in range(trials):
        interval = make_interval(rng.normal(true_mean, 2.0, n))
        hits += interval.low <= true_mean <= interval.high
    return hits / trials


def test_t_interval_holds_95_percent_with_three_seeds() -> None:
    assert _coverage(t_interval_seeds, 3) == pytest.approx(0.95, abs=TOLERANCE)


def test_percentile_bootstrap_of_three_seeds_falls_short() -> None:
    covered = _coverage(lambda x: bootstrap_seeds(x, n_boot=400, seed=1), 3, trials=1000)
    # [min, max] of 3 normal draws covers the mean with probability 1 - 2 / 2^3 = 0.75; the bootstrap's quantiles
    # sit a little inside it
    assert covered < 0.80


def test_t_interval_matches_scipy_and_widens_with_few_seeds() -> None:
    values = [0.4, 1.9, -0.3, 1.1]
    ours = t_interval_seeds(values)
    low, high = stats.t.interval(0.95, df=3, loc=np.mean(values), scale=stats.sem(values))
    assert (ours.low, ours.high) == (pytest.approx(low), pytest.approx(high))
    assert ours.kind == "t" and ours.n == 4
    # wider than [min, max] with 3 seeds, where the bootstrap stays inside it
    three = [1.0, 2.0, 4.0]
    assert t_interval_seeds(three).low < min(three) and t_interval_seeds(three).high > max(three)
    assert bootstrap_seeds(three).low >= min(three) and bootstrap_seeds(three).high <= max(three)


def test_constant_or_single_seed_gives_the_point() -> None:
    assert t_interval_seeds([2.0, 2.0, 2.0]).low == 2.0 == t_interval_seeds([2.0, 2.0, 2.0]).high
    single = t_interval_seeds([3.0])
    assert (single.low, single.high, single.n) == (3.0, 3.0, 1)


def test_report_labels_seed_intervals_and_warns_wherever_they_are_shown(tmp_path) -> None:
    from tests.report.test_report import FAST, build_experiment, write_gold
    from xstilts.analysis.compare import Comparisons
    from xstilts.experiment.readback import open_experiment
    from xstilts.report.effects import order_section
    from xstilts.report.transfer import transfer_section

    write_gold(tmp_path / "data")
    exp = open_experiment(build_experiment(tmp_path / "exp", tmp_path / "data"))
    comparisons = Comparisons(exp, FAST)
    for section in (transfer_section(exp, comparisons), order_section(exp, comparisons)):
        text = str(section.blocks)
        assert "95% t interval, 3 seeds" in text and "Few seeds (as few as 3)" in text
        assert "percentile-bootstrap interval (over seeds" not in text
