"""The report's one rule for significance marks (report/marks.py), on synthetic stores: with two or more seeds a gain
is marked only when the sign-flip test over seeds and the permutation test over examples both reject; with one seed
the example-level test alone gives a different mark that the legend calls "example-level only"."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.test_report import FAST, _stage, build_experiment, write_gold
from xstilts.analysis.compare import Comparisons
from xstilts.experiment.readback import open_experiment
from xstilts.report.marks import BOTH_MARK, ONE_SEED_MARK, average_mark, language_mark, legend, mark
from xstilts.report.transfer import transfer_section

GRID = {"none": ([], 0.0), "sick": ([_stage("sick", 1000)], 0.35)}
SIX = (1, 2, 3, 4, 5, 6)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_gold(root)
    return root


def _comparison(directory: Path, target: str = "xnli"):
    exp = open_experiment(directory)
    comparisons = Comparisons(exp, FAST)
    return exp, comparisons, comparisons.get("sick", "none", target)


def test_seeds_that_disagree_get_no_mark_however_small_the_pooled_p(tmp_path: Path, data: Path) -> None:
    # Three seeds gain a lot, three lose a little: pooled over seeds the examples differ clearly, but a new seed
    # is about as likely to lose as to gain.
    lifts = {("sick", s): 0.35 if s <= 3 else -0.12 for s in SIX}
    exp, comparisons, c = _comparison(build_experiment(tmp_path / "exp", data, GRID, SIX, seed_lift=lifts))
    assert c.test.p_value < 0.01 and c.seed_test.p_value > 0.2
    assert average_mark(c) == ""
    assert all(language_mark(c, lang) == "" for lang in c.languages)
    section = str(transfer_section(exp, comparisons).blocks)
    assert "both the sign-flip test over seeds and the permutation test over examples" in section


def test_seeds_that_agree_are_marked_once_both_tests_reject(tmp_path: Path, data: Path) -> None:
    # Six seeds that all gain: the sign-flip p reaches its floor 2 / 2^6 = 0.03125 < 0.05.
    _, _, c = _comparison(build_experiment(tmp_path / "exp", data, GRID, SIX))
    assert c.test.p_value < 0.01 and c.seed_test.p_value == pytest.approx(2 / 64)
    assert average_mark(c) == BOTH_MARK


def test_three_agreeing_seeds_are_never_marked(tmp_path: Path, data: Path) -> None:
    # The smallest sign-flip p with 3 seeds is 0.25: the example-level p alone does not mark the gain.
    _, _, c = _comparison(build_experiment(tmp_path / "exp", data, GRID, (1, 2, 3)))
    assert c.test.p_value < 0.01 and c.seed_test.p_value == 0.25
    assert average_mark(c) == ""


def test_one_seed_marks_say_example_level_only(tmp_path: Path, data: Path) -> None:
    _, _, c = _comparison(build_experiment(tmp_path / "exp", data, GRID, (1,)))
    assert c.seed_test is None and c.test.p_value < 0.01
    assert average_mark(c) == ONE_SEED_MARK
    assert "example-level only" in legend([c]) and BOTH_MARK + ":" not in legend([c])


def test_the_rule_by_hand() -> None:
    assert mark(0.001, 0.03, 6) == BOTH_MARK
    assert mark(0.001, 0.25, 3) == "" and mark(0.06, 0.01, 8) == "" and mark(None, 0.01, 8) == ""
    assert mark(0.049, None, 1) == ONE_SEED_MARK and mark(0.05, None, 1) == ""
