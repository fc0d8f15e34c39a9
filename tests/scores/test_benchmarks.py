"""Benchmark declarations against the official lists, and benchmark scores on hand-computed cases."""

from __future__ import annotations

import math

import pytest
from rich.console import Console

from xstilts.scores.benchmarks import BENCHMARKS, XGLUE, XTREME, XTREME_R, Benchmark, BenchmarkTask, render, score

# Official language counts: google-research/xtreme evaluate.py (TASK2LANGS for XTREME, XTREME_R_TASK2LANGS for
# XTREME-R, whose empty LAReQA list is replaced by XQuAD-R's 11) and microsoft/XGLUE xglue_evaluate.py (task2lg).
COUNTS = {
    "xtreme": {
        "xnli": 15,
        "pawsx": 7,
        "udpos": 33,
        "panx": 40,
        "xquad": 11,
        "mlqa": 7,
        "tydiqa": 9,
        "bucc2018": 4,
        "tatoeba": 36,
    },
    "xtreme-r": {
        "xnli": 15,
        "xcopa": 11,
        "udpos": 38,
        "wikiann": 48,
        "xquad": 12,
        "mlqa": 7,
        "tydiqa": 9,
        "tatoeba": 41,
        "mewslix": 11,
        "lareqa": 11,
    },
    "xglue": {
        "xglue_ner": 4,
        "xglue_pos": 18,
        "nc": 5,
        "mlqa": 7,
        "xnli": 15,
        "pawsx": 4,
        "qadsm": 3,
        "wpr": 7,
        "qam": 3,
    },
}


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_language_counts_match_the_official_scripts(name: str):
    benchmark = BENCHMARKS[name]
    assert {t.name: len(t.languages) for t in benchmark.tasks} == COUNTS[name]


def test_benchmark_language_totals_match_the_papers():
    # XTREME: 40 languages; XTREME-R: 50; XGLUE: 19.
    assert (len(XTREME.languages), len(XTREME_R.languages), len(XGLUE.languages)) == (40, 50, 19)


def test_selected_language_lists_exactly():
    assert XTREME.task("xnli").languages == tuple("ar bg de el en es fr hi ru sw th tr ur vi zh".split())
    assert set(XTREME.task("bucc2018").languages) == {"de", "fr", "ru", "zh"}
    assert "en" not in XTREME.task("tatoeba").languages  # pairs with English, no English test set
    assert set(XTREME_R.task("udpos").languages) - set(XTREME.task("udpos").languages) == {"lt", "pl", "ro", "uk", "wo"}
    assert set(XTREME_R.task("xquad").languages) - set(XTREME.task("xquad").languages) == {"ro"}
    assert set(XTREME_R.task("lareqa").languages) == set(XTREME.task("xquad").languages)  # XQuAD-R, no Romanian
    assert set(XTREME_R.task("mewslix").languages) == set("ar de en es fa ja pl ro ta tr uk".split())
    assert set(XGLUE.task("pawsx").languages) == {"de", "en", "es", "fr"}
    assert set(XGLUE.task("xglue_ner").languages) == {"de", "en", "es", "nl"}


def test_categories_and_metrics_of_each_benchmark():
    assert BENCHMARKS == {"xtreme": XTREME, "xtreme-r": XTREME_R, "xglue": XGLUE}
    assert XTREME.category_tasks("QA") == ("xquad", "mlqa", "tydiqa")
    assert XTREME.category_tasks("retrieval") == ("bucc2018", "tatoeba")
    # XTREME-R as in its paper: ten tasks, LAReQA under retrieval, XCOPA in classification only.
    assert len(XTREME_R.tasks) == 10
    assert XTREME_R.category_tasks("retrieval") == ("tatoeba", "mewslix", "lareqa")
    assert XTREME_R.category_tasks("classification") == ("xnli", "xcopa")
    assert XTREME_R.task("lareqa").metrics == ("map@20",)
    assert XTREME_R.task("xquad").metrics == ("exact_match", "f1")
    assert XGLUE.task("mlqa").metrics == ("f1",)  # XGLUE scores MLQA by F1 alone
    assert XGLUE.task("wpr").metrics == ("ndcg",)


# Synthetic XTREME results: every language of a task gets the same values, so each task score is known.
XTREME_VALUES = {
    "xnli": {"accuracy": 80.0},
    "pawsx": {"accuracy": 90.0},
    "udpos": {"f1": 75.0},
    "panx": {"f1": 65.0},
    "xquad": {"exact_match": 60.0, "f1": 80.0},  # 70
    "mlqa": {"exact_match": 50.0, "f1": 70.0},  # 60
    "tydiqa": {"exact_match": 45.0, "f1": 65.0},  # 55
    "bucc2018": {"f1": 85.0},
    "tatoeba": {"accuracy": 70.0},
}


def full_results(benchmark: Benchmark, values: dict[str, dict[str, float]]) -> dict:
    return {t.name: {lang: dict(values[t.name]) for lang in t.languages} for t in benchmark.tasks}


def test_full_xtreme_gives_the_plain_mean_over_nine_tasks():
    result = score(XTREME, full_results(XTREME, XTREME_VALUES))
    # (80 + 90 + 75 + 65 + 70 + 60 + 55 + 85 + 70) / 9 = 650 / 9, not the mean of the category means (73.54).
    assert result.overall == pytest.approx(650 / 9)
    assert result.missing == {}
    assert result.tasks["xquad"].score == pytest.approx(70.0)
    assert {name: c.score for name, c in result.categories.items()} == pytest.approx(
        {"classification": 85.0, "structured prediction": 70.0, "QA": 185 / 3, "retrieval": 77.5}
    )


def test_task_score_averages_languages_including_english():
    results = full_results(XTREME, XTREME_VALUES)
    results["xnli"]["en"] = {"accuracy": 95.0}  # 14 languages at 80, English at 95
    result = score(XTREME, results)
    assert result.tasks["xnli"].score == pytest.approx((95 + 14 * 80) / 15)  # 81.0
    assert result.overall == pytest.approx((650 + 1) / 9)


def test_qa_combines_exact_match_and_f1_per_language():
    results = full_results(XTREME, XTREME_VALUES)
    results["mlqa"] = {lang: {"exact_match": 40.0, "f1": 60.0} for lang in XTREME.task("mlqa").languages}
    results["mlqa"]["en"] = {"exact_match": 60.0, "f1": 80.0, "precision": 1.0}  # extra metrics are ignored
    mlqa = score(XTREME, results).tasks["mlqa"]
    assert mlqa.per_language["en"] == pytest.approx(70.0)
    assert mlqa.per_language["de"] == pytest.approx(50.0)
    assert mlqa.score == pytest.approx((70 + 6 * 50) / 7)  # 52.857...


def test_missing_task_leaves_overall_and_its_category_unset():
    results = full_results(XTREME, XTREME_VALUES)
    del results["tydiqa"]
    result = score(XTREME, results)
    assert result.overall is None
    assert result.missing == {"tydiqa": XTREME.task("tydiqa").languages}
    assert result.tasks["tydiqa"].score is None and not result.tasks["tydiqa"].partial
    assert result.categories["QA"].score is None and result.categories["QA"].incomplete == ("tydiqa",)
    assert result.categories["retrieval"].score == pytest.approx(77.5)


def test_missing_language_makes_the_task_partial():
    results = full_results(XTREME, XTREME_VALUES)
    del results["xnli"]["sw"]
    results["xnli"]["ar"] = {"accuracy": 67.0}
    result = score(XTREME, results)
    xnli = result.tasks["xnli"]
    assert xnli.partial and xnli.coverage == "14/15" and xnli.missing_languages == ("sw",)
    assert xnli.score == pytest.approx((67 + 13 * 80) / 14)  # still shown, over the languages present
    assert result.missing == {"xnli": ("sw",)}
    assert result.overall is None
    assert result.categories["classification"].score is None
    assert result.categories["structured prediction"].score == pytest.approx(70.0)


def test_languages_outside_the_official_list_are_ignored_and_listed():
    results = full_results(XTREME, XTREME_VALUES)
    results["pawsx"]["pt"] = {"accuracy": 0.0}
    result = score(XTREME, results)
    assert result.tasks["pawsx"].score == pytest.approx(90.0)
    assert result.tasks["pawsx"].ignored_languages == ("pt",)
    assert result.overall == pytest.approx(650 / 9)


def test_full_xtreme_r_averages_ten_tasks_with_lareqa_in_retrieval():
    values = {
        "xnli": {"accuracy": 80.0},
        "xcopa": {"accuracy": 70.0},
        "udpos": {"f1": 75.0},
        "wikiann": {"f1": 65.0},
        "xquad": {"exact_match": 60.0, "f1": 80.0},  # 70
        "mlqa": {"exact_match": 50.0, "f1": 70.0},  # 60
        "tydiqa": {"exact_match": 45.0, "f1": 65.0},  # 55
        "tatoeba": {"accuracy": 80.0},
        "mewslix": {"map@20": 40.0},
        "lareqa": {"map@20": 30.0},
    }
    result = score(XTREME_R, full_results(XTREME_R, values))
    assert result.overall == pytest.approx(625 / 10)
    assert result.categories["retrieval"].score == pytest.approx(50.0)  # (80 + 40 + 30) / 3
    assert result.categories["classification"].score == pytest.approx(75.0)  # XCOPA counted once


def test_xglue_scores_mlqa_by_f1_alone():
    values = {
        "xglue_ner": {"f1": 80.0},
        "xglue_pos": {"accuracy": 80.0},
        "nc": {"accuracy": 80.0},
        "mlqa": {"exact_match": 0.0, "f1": 62.0},
        "xnli": {"accuracy": 70.0},
        "pawsx": {"accuracy": 90.0},
        "qadsm": {"accuracy": 70.0},
        "wpr": {"ndcg": 70.0},
        "qam": {"accuracy": 70.0},
    }
    result = score(XGLUE, full_results(XGLUE, values))
    assert result.tasks["mlqa"].score == pytest.approx(62.0)
    assert result.overall == pytest.approx(672 / 9)
    assert result.categories["single-input understanding"].score == pytest.approx(80.0)
    assert result.categories["pair-input understanding"].score == pytest.approx(432 / 6)  # 62 + 70 + 90 + 70 + 70 + 70


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"f1": 80.0}, "no exact_match"),
        ({"exact_match": 60.0, "f1": math.nan}, "not a finite number"),
        ({"exact_match": 60.0, "f1": 180.0}, "outside 0..100"),
    ],
)
def test_malformed_results_are_refused(entry: dict, message: str):
    results = full_results(XTREME, XTREME_VALUES)
    results["xquad"]["de"] = entry
    with pytest.raises(ValueError, match=message):
        score(XTREME, results)


def test_declarations_are_validated():
    task = BenchmarkTask("xnli", "XNLI", "classification", ("accuracy",), ("en", "de"))
    with pytest.raises(ValueError, match="twice"):
        Benchmark("b", (task, task), ("classification",))
    with pytest.raises(ValueError, match="categories"):
        Benchmark("b", (task,), ("classification", "retrieval"))
    with pytest.raises(ValueError, match="metrics"):
        BenchmarkTask("x", "X", "classification", ("bleu",), ("en",))
    with pytest.raises(ValueError, match="repeats"):
        BenchmarkTask("x", "X", "classification", ("accuracy",), ("en", "en"))


def _text(table) -> str:
    console = Console(record=True, width=200)
    console.print(table)
    return console.export_text()


def test_render_shows_tasks_categories_and_overall():
    complete = _text(render(score(XTREME, full_results(XTREME, XTREME_VALUES))))
    assert "72.2" in complete and "15/15" in complete and "n/a" not in complete

    results = full_results(XTREME, XTREME_VALUES)
    del results["xnli"]["sw"]
    del results["tydiqa"]
    text = _text(render(score(XTREME, results)))
    xnli_row = next(line for line in text.splitlines() if line.strip("│ ").startswith("xnli"))
    assert "14/15" in xnli_row and "partial: missing sw" in xnli_row
    tydiqa_row = next(line for line in text.splitlines() if line.strip("│ ").startswith("tydiqa"))
    assert "0/9" in tydiqa_row and "missing" in tydiqa_row
    overall_row = next(line for line in text.splitlines() if line.strip("│ ").startswith("overall"))
    assert "n/a: missing xnli (sw); tydiqa" in overall_row
