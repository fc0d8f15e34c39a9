"""xstilts.analysis.stats on hand-made cases with known answers: bootstrap intervals over seeds and examples, the
paired permutation test, per-example statistics that recompute the task's metric on a resample (chunk F1 included),
and the power-law fit."""

from __future__ import annotations

import random

import numpy as np
import pytest

from xstilts.analysis.stats import (
    ExampleScores,
    bootstrap_examples,
    bootstrap_seeds,
    example_scores,
    fit_power_law,
    permutation_test,
    power_law_band,
)
from xstilts.formats import make_format
from xstilts.metrics import METRICS
from xstilts.tasks import REGISTRY
from xstilts.tasks.examples import ClassificationExample, SpanQAExample, TaggingExample, TranslationPair

XNLI, PANX, UDPOS = REGISTRY["xnli"], REGISTRY["panx"], REGISTRY["udpos"]


def nli(golds: list[str]) -> list[ClassificationExample]:
    return [ClassificationExample("p", "h", g) for g in golds]


def accuracy_scores(correct: list[bool]) -> ExampleScores:
    labels = ["entailment"] * len(correct)
    predictions = ["entailment" if c else "neutral" for c in correct]
    return example_scores(XNLI, predictions, nli(labels), "en", "accuracy")


# -- bootstrap over seeds ------------------------------------------------------------------------------------


def test_interval_of_constant_values_is_a_point() -> None:
    interval = bootstrap_seeds([1.5, 1.5, 1.5, 1.5])
    assert (interval.estimate, interval.low, interval.high, interval.n) == (1.5, 1.5, 1.5, 4)


def test_one_seed_gives_a_point_and_says_n_is_one() -> None:
    interval = bootstrap_seeds([3.0])
    assert (interval.low, interval.high, interval.n) == (3.0, 3.0, 1)


def test_two_seeds_interval_spans_their_values() -> None:
    # Resampled means of [0, 10] are 0, 5 or 10 with probabilities 1/4, 1/2, 1/4: the 95% interval is [0, 10].
    interval = bootstrap_seeds([0.0, 10.0], n_boot=4000)
    assert (interval.estimate, interval.low, interval.high) == (5.0, 0.0, 10.0)


def test_bootstrap_is_seeded() -> None:
    values = [0.3, 1.9, -0.4, 2.2, 0.8, 1.1, -1.3, 0.05]
    assert bootstrap_seeds(values, n_boot=100, seed=7) == bootstrap_seeds(values, n_boot=100, seed=7)
    assert bootstrap_seeds(values, n_boot=100, seed=7) != bootstrap_seeds(values, n_boot=100, seed=8)


# -- per-example statistics recompute the metric -------------------------------------------------------------


def test_accuracy_statistics() -> None:
    scores = accuracy_scores([True, True, False, True])
    assert scores.value() == 75.0
    # a resample holding example 2 (wrong) twice and example 0 (right) twice: 50%
    assert scores.weighted(np.array([[2.0, 0.0, 2.0, 0.0]]))[0] == 50.0


def test_chunk_f1_is_recomputed_not_averaged() -> None:
    golds = [TaggingExample(("a", "b", "c"), ("B-PER", "I-PER", "O")), TaggingExample(("d",), ("B-LOC",))]
    golds.append(TaggingExample(("e", "f"), ("B-ORG", "O")))
    predictions = [["B-PER", "I-PER", "O"], ["O"], ["B-ORG", "B-LOC"]]
    scores = example_scores(PANX, predictions, golds, "de", "f1")
    # correct 2 (PER, ORG), predicted 3, gold 3: F1 = 2 * 2 / (3 + 3); the mean of per-sentence F1s would be 55.6
    assert scores.value() == pytest.approx(200 * 2 / 6)
    assert scores.stats[0].tolist() == [[1, 1, 1], [0, 0, 1], [1, 2, 1]]


def test_a_tag_list_shorter_than_its_sentence_is_refused_as_the_scorer_refuses_it() -> None:
    # Evaluation writes exactly one tag per word (words cut by max_length are predicted O), so a shorter list
    # means damaged predictions: the statistics refuse it rather than pad it and score something else.
    golds = [TaggingExample(("a", "b", "c"), ("O", "O", "B-LOC"))]
    with pytest.raises(ValueError, match="sentence 1: 1 predicted tags for 3 words"):
        example_scores(PANX, [["O"]], golds, "en", "f1")


def _random_tags(rng: random.Random, tags: tuple[str, ...], n: int) -> list[list[str]]:
    return [[rng.choice(tags) for _ in range(rng.randint(1, 7))] for _ in range(n)]


@pytest.mark.parametrize("task", [PANX, UDPOS], ids=lambda t: t.name)
def test_resampled_chunk_f1_equals_the_metric_on_the_resampled_corpus(task) -> None:
    rng = random.Random(3)
    gold_tags = _random_tags(rng, task.labels, 60)
    golds = [TaggingExample(tuple(f"w{i}" for i in range(len(t))), tuple(t)) for t in gold_tags]
    predictions = [[t if rng.random() < 0.7 else rng.choice(task.labels) for t in tags] for tags in gold_tags]
    scores = example_scores(task, predictions, golds, "en", "f1")
    for _ in range(5):
        indices = [rng.randrange(60) for _ in range(60)]
        weights = np.bincount(indices, minlength=60)[None, :].astype(float)
        expected = METRICS[task.metric]([predictions[i] for i in indices], [gold_tags[i] for i in indices], "en")
        assert scores.weighted(weights)[0] == pytest.approx(expected["f1"])


def test_squad_statistics_are_per_question_means() -> None:
    task = REGISTRY["xquad"]
    golds = [SpanQAExample(str(i), "q", "the red cat sat", ("red cat",), (4,)) for i in range(3)]
    predictions = ["red cat", "the red cat", "cat sat"]
    f1 = example_scores(task, predictions, golds, "en", "f1")
    official = make_format("span_qa").score_exported(predictions, golds, task, "en")["f1"]
    assert f1.value() == pytest.approx(official)
    assert example_scores(task, predictions, golds, "en", "exact_match").value() == pytest.approx(200 / 3)


def test_retrieval_statistics_keep_the_candidate_pool() -> None:
    golds = [TranslationPair(f"s{i}", f"t{i}") for i in range(4)]
    scores = example_scores(REGISTRY["tatoeba"], [0, 1, 3, 2], golds, "de", "accuracy")  # queries 0, 1 right
    assert scores.value() == 50.0 and scores.weighted(np.array([[1.0, 1.0, 0.0, 0.0]]))[0] == 100.0


def test_predictions_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="2 predictions for 3 examples"):
        example_scores(XNLI, ["neutral", "neutral"], nli(["neutral"] * 3), "en", "accuracy")


# -- bootstrap over examples ---------------------------------------------------------------------------------


def test_example_interval_of_a_perfect_system_is_a_point() -> None:
    interval = bootstrap_examples(accuracy_scores([True] * 30), n_boot=200)
    assert (interval.estimate, interval.low, interval.high, interval.n) == (100.0, 100.0, 100.0, 30)


def test_paired_difference_of_identical_predictions_is_zero() -> None:
    scores = accuracy_scores([True, False] * 20)
    interval = bootstrap_examples(scores, scores, n_boot=200)
    assert (interval.estimate, interval.low, interval.high) == (0.0, 0.0, 0.0)


def test_example_interval_matches_the_binomial_spread() -> None:
    # 50 of 100 right: the bootstrap standard error of accuracy is about sqrt(.5 * .5 / 100) = 5 points
    interval = bootstrap_examples(accuracy_scores([True, False] * 50), n_boot=4000, seed=1)
    assert interval.estimate == 50.0
    assert interval.low == pytest.approx(50 - 1.96 * 5, abs=1.5) and interval.high == pytest.approx(
        50 + 1.96 * 5, abs=1.5
    )


def test_strata_are_averaged_and_seeds_stacked() -> None:
    en, de = accuracy_scores([True] * 10), accuracy_scores([False] * 10)
    assert bootstrap_examples([en, de], n_boot=50).estimate == 50.0
    stacked = ExampleScores.stack([en, de])  # two seeds on the same examples: their mean
    assert stacked.stats.shape == (2, 10, 2) and stacked.value() == 50.0


# -- permutation test ----------------------------------------------------------------------------------------


def test_identical_predictions_give_p_one() -> None:
    scores = accuracy_scores([True, False, True] * 10)
    result = permutation_test(scores, scores, n_perm=999)
    assert (result.difference, result.p_value) == (0.0, 1.0)


def test_a_huge_consistent_difference_gives_the_smallest_p() -> None:
    # 60 examples, a always right and b always wrong: only swapping none or all (2 of 2^60) is as extreme
    result = permutation_test(accuracy_scores([True] * 60), accuracy_scores([False] * 60), n_perm=999)
    assert result.difference == 100.0 and result.p_value == pytest.approx(1 / 1000)


def test_two_examples_give_p_one_half() -> None:
    # |difference| stays 100 only when both or neither example is swapped: probability 1/2
    result = permutation_test(accuracy_scores([True, True]), accuracy_scores([False, False]), n_perm=9999, seed=2)
    assert result.p_value == pytest.approx(0.5, abs=0.02)


def test_permutation_recomputes_chunk_f1() -> None:
    golds = [TaggingExample(("a", "b"), ("B-PER", "O"))] * 40
    good = example_scores(PANX, [["B-PER", "O"]] * 40, golds, "en", "f1")
    bad = example_scores(PANX, [["O", "O"]] * 40, golds, "en", "f1")
    result = permutation_test(good, bad, n_perm=499, seed=0)
    assert result.difference == 100.0 and result.p_value == pytest.approx(1 / 500)
    assert permutation_test(good, bad, n_perm=499, seed=0) == result  # seeded


# -- power law -----------------------------------------------------------------------------------------------


def test_power_law_fit_recovers_its_parameters() -> None:
    n = [100, 300, 1000, 3000, 10000, 30000]
    y = [4.0 - 30.0 * x**-0.5 for x in n]
    law = fit_power_law(n, y)
    assert law.a == pytest.approx(4.0, abs=0.05) and law.c == pytest.approx(0.5, abs=0.01)
    assert law(np.array(n)) == pytest.approx(y, abs=0.05)


def test_power_law_needs_three_sizes() -> None:
    with pytest.raises(ValueError, match="three distinct sizes"):
        fit_power_law([100, 100, 1000], [1.0, 1.1, 2.0])


def test_band_has_no_width_with_one_seed_and_contains_the_curve_with_several() -> None:
    grid = np.array([100.0, 1000.0, 10000.0])
    one = [(100.0, [1.0]), (1000.0, [2.5]), (10000.0, [3.0])]
    low, high = power_law_band(one, grid, n_boot=50)
    assert low == pytest.approx(high)
    several = [(100.0, [0.5, 1.0, 1.5]), (1000.0, [2.0, 2.5, 3.0]), (10000.0, [2.8, 3.0, 3.2])]
    low, high = power_law_band(several, grid, n_boot=300)
    curve = fit_power_law([100, 1000, 10000], [1.0, 2.5, 3.0])(grid)
    assert np.all(low <= curve + 1e-9) and np.all(curve <= high + 1e-9) and np.all(high - low > 0)
