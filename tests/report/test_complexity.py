"""Task complexity measures (xstilts.report.complexity) on hand-computed cases: label entropy, the blocks and bits of
Voita & Titov's online code (with a counting probe whose probabilities are known, and with the logistic probe on
data whose labels the features do or do not give), the learning-curve area, and Spearman's rho against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from xstilts.analysis.stats import bootstrap_spearman, spearman
from xstilts.report.complexity import (
    block_ends,
    curve_area,
    entropy_bits,
    input_words,
    logistic_probe,
    online_code_length,
    output_labels,
)
from xstilts.tasks import REGISTRY
from xstilts.tasks.examples import ClassificationExample, MultipleChoiceExample, TaggingExample


def test_entropy_by_hand() -> None:
    assert entropy_bits(["a", "b", "c", "d"]) == pytest.approx(2.0)
    assert entropy_bits(["x"] * 5) == 0.0
    # p = (3/4, 1/4): -(3/4 log2 3/4 + 1/4 log2 1/4) = 0.8113
    assert entropy_bits(["a", "a", "a", "b"]) == pytest.approx(0.75 * math.log2(4 / 3) + 0.25 * 2)


def test_labels_and_input_length_by_format() -> None:
    nli = [ClassificationExample("a man sleeps", "nobody sleeps", "contradiction")] * 2
    assert output_labels(REGISTRY["xnli"], nli) == (3, ["contradiction", "contradiction"])
    tags = [TaggingExample(("Jan", "lives"), ("B-PER", "O"))]
    assert output_labels(REGISTRY["panx"], tags) == (7, ["B-PER", "O"])
    mc = [MultipleChoiceExample("ctx here", "why?", ("a b", "c", "d"), 2)]
    assert output_labels(REGISTRY["siqa"], mc) == (3, [2])
    assert output_labels(REGISTRY["xquad"], []) == (None, [])  # a span has no fixed label set
    assert input_words(nli[0]) == 5 and input_words(tags[0]) == 2 and input_words(mc[0]) == 7


def counting_probe(features: np.ndarray, labels: np.ndarray, classes: int, l2: float):
    """Laplace-smoothed label frequencies, ignoring the features: p(k) = (count_k + 1) / (n + K)."""
    p = (np.bincount(labels, minlength=classes) + 1) / (len(labels) + classes)
    return lambda new: np.tile(p, (len(new), 1))


def test_online_code_length_by_hand() -> None:
    # 8 units, all label 0, K = 2, blocks ending at 2, 4, 8:
    # block 1: uniform, 2 x log2 2 = 2 bits; block 2: p(0) = 3/4 after 2 zeros, 2 x -log2 3/4;
    # block 3: p(0) = 5/6 after 4 zeros, 4 x -log2 5/6. Total 2 + 0.830 + 1.052 = 3.882 bits.
    code = online_code_length(np.zeros((8, 1)), np.zeros(8, int), 2, ends=(2, 4, 8), probe=counting_probe)
    expected = 2 + 2 * -math.log2(3 / 4) + 4 * -math.log2(5 / 6)
    assert code.bits == pytest.approx(expected) and code.bits == pytest.approx(3.8822, abs=1e-4)
    assert code.uniform_bits == 8.0 and code.compression == pytest.approx(8 / expected) and code.units == 8


def test_block_ends_follow_voita_and_titov_fractions() -> None:
    assert block_ends(1000) == (8, 16, 32, 62, 125, 250, 500, 1000)
    assert block_ends(10) == (8, 10)  # a tiny sample: the first block and the rest
    with pytest.raises(ValueError, match="must end at the sample"):
        online_code_length(np.zeros((4, 1)), np.zeros(4, int), 2, ends=(2, 3))


def test_logistic_probe_codes_predictable_labels_shorter_than_uniform_and_noise_not() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 5))
    given = (features[:, 0] > 0).astype(int) + 2 * (features[:, 1] > 0)  # 4 labels that the features determine
    noise = rng.integers(0, 4, 400)
    learnable = online_code_length(features, given, 4, probe=logistic_probe)
    random_labels = online_code_length(features, noise, 4, probe=logistic_probe)
    assert learnable.uniform_bits == 800.0
    assert learnable.compression > 2.0  # well under 2 bits per unit: the weakest L2 weight wins after a block
    assert 0.85 < random_labels.compression < 1.05  # nothing to learn: about the uniform code


def test_curve_area() -> None:
    assert curve_area([2.0, 1.0, 1.0, 0.0]) == 0.5  # mean 1.0 over the first point 2.0
    assert curve_area([1.1, 1.1]) == pytest.approx(1.0)  # the loss never fell
    assert curve_area([]) is None


def test_spearman_and_its_bootstrap_agree_with_scipy() -> None:
    x = [3.0, 1.0, 2.0, 2.0, 5.0]
    ys = np.random.default_rng(1).normal(size=(6, 5))
    ys[0] = [1, 1, 2, 3, 3]  # ties on both sides
    for y in ys:
        assert spearman(x, y) == pytest.approx(scipy_stats.spearmanr(x, y).statistic)
    gains = np.tile(np.array([[0.5], [-1.0], [0.0], [0.2], [2.0]]), (1, 4))  # every language ranks tasks alike
    interval = bootstrap_spearman(x, gains, n_boot=200)
    expected = scipy_stats.spearmanr(x, gains[:, 0]).statistic
    assert (interval.estimate, interval.low, interval.high, interval.n) == pytest.approx((expected,) * 3 + (4,))


def test_each_block_uses_the_weight_that_coded_the_previous_block_best() -> None:
    # a probe whose probability of the right label is its weight: blocks are coded with 0.5 (the middle weight,
    # first coded block), then 0.9 (best on the block before), 0.9
    def probe(features, labels, classes, l2):
        return lambda new: np.tile([l2, 1 - l2], (len(new), 1))

    code = online_code_length(
        np.zeros((8, 1)), np.zeros(8, int), 2, ends=(2, 4, 6, 8), probe=probe, weights=(0.1, 0.5, 0.9)
    )
    assert code.bits == pytest.approx(2 + 2 * -math.log2(0.5) + 4 * -math.log2(0.9))
