"""The online code of multiple-choice tasks is over each question's K choices (report/complexity.py): the first block
costs log2 K bits per question, later blocks -log2 p(gold choice) under a probe over the K choices; every code comes
with its base rate, the entropy of the coded labels. Before, each (question, answer) pair was coded as right/wrong
against log2 2, so SocialIQA's 0.949 bits per pair sat above its base rate (0.918) and looked simpler than SICK."""

from __future__ import annotations

import math

import numpy as np
import pytest

from xstilts.report.complexity import choice_probe, online_code_length
from xstilts.report.complexity_measure import Measurer
from xstilts.tasks import REGISTRY
from xstilts.tasks.examples import MultipleChoiceExample


def fixed_choice_probe(features: np.ndarray, labels: np.ndarray, classes: int, l2: float):
    """Ignores what it is trained on: p = (1/2, 1/4, 1/4) over the three choices of every question."""
    return lambda new: np.tile([0.5, 0.25, 0.25], (len(new), 1))


def test_multiple_choice_code_length_by_hand() -> None:
    # 4 questions with K = 3 choices (a (4, 3, 2) block of choice states), gold choices 0, 0, 1, 2, blocks ending
    # at 2 and 4: block 1 uniform, 2 x log2 3 bits; block 2 under p = (1/2, 1/4, 1/4): gold 1 costs -log2 1/4 = 2
    # and gold 2 another 2. Total 2 log2 3 + 4 = 7.1699 bits over 4 questions.
    features = np.zeros((4, 3, 2))
    labels = np.array([0, 0, 1, 2])
    code = online_code_length(features, labels, 3, ends=(2, 4), probe=fixed_choice_probe)
    assert code.bits == pytest.approx(2 * math.log2(3) + 4) and code.bits == pytest.approx(7.1699, abs=1e-4)
    assert code.uniform_bits == pytest.approx(4 * math.log2(3)) and code.units == 4
    # base rate: gold positions (1/2, 1/4, 1/4) have entropy 1.5 bits
    assert code.base_rate_per_unit == pytest.approx(1.5) and code.base_rate_bits == pytest.approx(6.0)


def test_choice_probe_learns_which_choice_is_gold() -> None:
    rng = np.random.default_rng(0)
    n, k, d = 300, 4, 6
    features = rng.normal(size=(n, k, d))
    gold = rng.integers(0, k, n)
    features[np.arange(n), gold, 0] += 2.5  # the gold choice stands out on one feature
    code = online_code_length(features, gold, k, probe=choice_probe)
    assert code.uniform_bits == pytest.approx(n * 2.0)
    assert code.bits_per_unit < 0.8 * code.base_rate_per_unit  # well below what gold-position frequencies give
    probabilities = choice_probe(features, gold, k, 0.1)(features[:5])
    assert probabilities.shape == (5, k) and np.allclose(probabilities.sum(axis=1), 1.0)
    noise = online_code_length(rng.normal(size=(n, k, d)), gold, k, probe=choice_probe)
    assert noise.bits_per_unit > 0.95 * noise.base_rate_per_unit  # nothing to learn: about the base rate


def test_the_measurer_codes_a_question_as_one_unit_over_its_choices(monkeypatch) -> None:
    questions = [MultipleChoiceExample(f"context {i}", "why?", ("a", "b", "c"), i % 3) for i in range(12)]
    measurer = Measurer(exp=None, sample=12)
    # one 2-d state per (question, choice): the gold choice's state is (1, 0), the others (0, 1)
    monkeypatch.setattr(
        measurer,
        "_states",
        lambda pairs: [
            np.array([1.0, 0.0]) if c == "abc"[int(t.split()[1]) % 3] else np.array([0.0, 1.0]) for t, c in pairs
        ],
    )
    features, labels, classes = measurer._units(REGISTRY["siqa"], questions)
    assert features.shape == (12, 3, 2) and classes == 3 and list(labels) == [i % 3 for i in range(12)]
    code = measurer._code(REGISTRY["siqa"], questions)
    assert code.units == 12 and code.uniform_bits == pytest.approx(12 * math.log2(3))  # not 36 pairs x 1 bit
    assert code.bits < code.uniform_bits


def test_questions_with_different_numbers_of_choices_are_refused() -> None:
    mixed = [MultipleChoiceExample("c", "q", ("a", "b", "c"), 0), MultipleChoiceExample("c", "q", ("a", "b"), 1)]
    measurer = Measurer(exp=None, sample=2)
    measurer._states = lambda pairs: [np.zeros(2) for _ in pairs]
    with pytest.raises(ValueError, match="2 to 3 choices"):
        measurer._units(REGISTRY["siqa"], mixed)
