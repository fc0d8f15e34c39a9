"""Metrics: hand-computed cases pinning each official definition (../shared/docs/metric-facts.md), the docstring
examples, and a few properties that must hold for any input."""

from __future__ import annotations

import doctest
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xstilts.metrics.classification
import xstilts.metrics.mlqa
import xstilts.metrics.ranking
import xstilts.metrics.retrieval
import xstilts.metrics.squad
import xstilts.metrics.tagging
from xstilts.metrics import METRICS, accuracy, mlqa_em_f1, seqeval_f1, squad_em_f1, udpos_f1
from xstilts.metrics.mlqa import normalize_mlqa
from xstilts.metrics.ranking import map_at_k, ndcg_at_k
from xstilts.metrics.retrieval import (
    Candidate,
    bucc_f1,
    bucc_mine,
    bucc_optimal_threshold,
    margin_scores,
    nearest_neighbours,
    tatoeba_accuracy,
)
from xstilts.metrics.squad import normalize_squad

MODULES = [
    xstilts.metrics.classification,
    xstilts.metrics.tagging,
    xstilts.metrics.squad,
    xstilts.metrics.mlqa,
    xstilts.metrics.retrieval,
    xstilts.metrics.ranking,
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    assert doctest.testmod(module).failed == 0


def test_registry_keeps_the_old_api_and_adds_the_new_metrics():
    assert METRICS["accuracy"](["a", "b"], ["a", "a"], "en") == {"accuracy": 50.0}
    assert METRICS["seqeval_f1"]([["B-PER", "O"]], [["B-PER", "O"]], "en") == {"f1": 100.0}
    assert METRICS["udpos_f1"]([["NOUN", "VERB"]], [["NOUN", "VERB"]], "en") == {"f1": 100.0}
    assert METRICS["squad_em_f1"](["x"], [["x"]], "en") == {"exact_match": 100.0, "f1": 100.0}
    assert METRICS["mlqa_em_f1"](["x"], [["x"]], "en") == {"exact_match": 100.0, "f1": 100.0}


# --- classification -------------------------------------------------------------------------------------------


def test_accuracy():
    assert accuracy([1, 0, 1, 1], [1, 1, 1, 0]) == {"accuracy": 50.0}
    with pytest.raises(ValueError):
        accuracy([1], [1, 0])
    with pytest.raises(ValueError):
        accuracy([], [])


# --- tagging ---------------------------------------------------------------------------------------------------


def test_seqeval_f1_counts_chunks_and_lets_i_start_one():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    assert seqeval_f1([["B-PER", "I-PER", "B-ORG", "O"]], gold)["f1"] == pytest.approx(50.0)  # P = R = 1/2
    assert seqeval_f1([["I-PER", "I-PER", "O", "I-LOC"]], gold)["f1"] == pytest.approx(100.0)
    assert udpos_f1([["I-PER", "I-PER", "O", "I-LOC"]], gold)["f1"] == pytest.approx(100.0)


def test_udpos_f1_is_chunk_f1_over_runs_of_identical_tags():
    # gold NOUN(0-1) VERB(2); predicted NOUN(0) VERB(1-2): no chunk matches although 2 of 3 tokens do
    assert udpos_f1([["NOUN", "VERB", "VERB"]], [["NOUN", "NOUN", "VERB"]]) == {"f1": 0.0}
    # a run of NOUNs is one chunk, but S-initial tags (SCONJ) are single chunks: each SCONJ stands alone
    assert udpos_f1([["NOUN", "ADP"]], [["NOUN", "NOUN"]]) == {"f1": 0.0}
    assert udpos_f1([["SCONJ", "ADP"]], [["SCONJ", "SCONJ"]]) == {"f1": 50.0}
    # chunks never cross a sentence boundary: two one-token NOUN chunks, not one
    assert udpos_f1([["NOUN"], ["NOUN"]], [["NOUN"], ["NOUN"]]) == {"f1": 100.0}
    assert udpos_f1([["NOUN"], ["VERB"]], [["NOUN"], ["NOUN"]]) == {"f1": 50.0}


@pytest.mark.parametrize(
    ("prediction", "gold", "old_0_0_12", "new_1_2"),
    [
        # 1.2.x gives SCONJ and CCONJ the same type CONJ and drops the sentence-final X: 3/3 chunks match;
        # 0.0.12 keeps four chunks, three of which match: P = R = 3/4
        (["PRON", "VERB", "SCONJ", "X"], ["PRON", "VERB", "CCONJ", "X"], 75.0, 100.0),
        # 0.0.12: gold {NOUN, X}, predicted {NOUN, VERB}: P = R = 1/2. 1.2.x loses the final X: P = 1/2, R = 1
        (["NOUN", "VERB"], ["NOUN", "X"], 50.0, 200 / 3),
    ],
)
def test_udpos_f1_reproduces_seqeval_0_0_12_where_1_2_differs(prediction, gold, old_0_0_12, new_1_2):
    assert udpos_f1([prediction], [gold])["f1"] == pytest.approx(old_0_0_12)
    assert seqeval_f1([prediction], [gold])["f1"] == pytest.approx(new_1_2)


def test_udpos_f1_rejects_misaligned_sentences():
    with pytest.raises(ValueError):
        udpos_f1([["NOUN"]], [["NOUN", "VERB"]])
    with pytest.raises(ValueError):
        udpos_f1([["NOUN"]], [["NOUN"], ["VERB"]])


# --- SQuAD -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("co-operate", "cooperate"),  # ASCII punctuation is deleted, not turned into a space
        ("the_end", "theend"),
        ("The Beatles", "beatles"),
        ("An apple a day", "apple day"),
        ("banana theatre", "banana theatre"),  # articles are whole words only
        ("«Paris»", "«paris»"),  # non-ASCII punctuation stays
        ("$100 + €5 ～ ©", "100 €5 ～ ©"),
        ("  a  ", ""),
    ],
)
def test_squad_normalisation(text, normalised):
    assert normalize_squad(text) == normalised


def test_squad_em_f1_hand_cases():
    # "cat sat on mat" vs "cat on mat": 3 shared tokens, P = 3/4, R = 1, F1 = 6/7
    assert squad_em_f1(["the cat sat on the mat"], [["cat on mat"]]) == pytest.approx(
        {"exact_match": 0.0, "f1": 600 / 7}
    )
    # the best gold counts, for EM and F1 separately
    assert squad_em_f1(["Paris"], [["Paris, France", "paris"]]) == {"exact_match": 100.0, "f1": 100.0}
    # a Chinese answer is one whitespace token
    assert squad_em_f1(["北京大学"], [["北京"]]) == {"exact_match": 0.0, "f1": 0.0}
    # mean over questions
    assert squad_em_f1(["x", "y"], [["x"], ["z"]]) == {"exact_match": 50.0, "f1": 50.0}


def test_squad_empty_against_empty_is_an_exact_match_with_zero_f1():
    assert squad_em_f1(["The"], [["a"]]) == {"exact_match": 100.0, "f1": 0.0}
    assert mlqa_em_f1(["¿?"], [["el"]], "es") == {"exact_match": 100.0, "f1": 0.0}


def test_squad_input_checks():
    with pytest.raises(ValueError):
        squad_em_f1(["x"], ["x"])  # a bare string is not a list of answers
    with pytest.raises(ValueError):
        squad_em_f1(["x"], [[]])
    with pytest.raises(ValueError):
        squad_em_f1([], [])


# --- MLQA ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "lang", "normalised"),
    [
        ("The Eiffel Tower!", "en", "eiffel tower"),
        ("«Paris»", "en", "paris"),  # Unicode punctuation goes too (unlike SQuAD)
        ("$100 + €5 ～ © <b>", "en", "100 €5 ～ © b"),  # ASCII symbols go, other symbols stay
        ("¿Dónde está el Museo del Prado?", "es", "dónde está museo del prado"),
        ("Los Angeles y unas casas", "es", "angeles y casas"),
        ("Der Vertrag von Versailles, den die Mächte schlossen", "de", "vertrag von versailles mächte schlossen"),
        ("thủ đô của Việt Nam là Hà Nội", "vi", "thủ đô việt nam hà nội"),  # "of" and "is" count as articles
        ("những cái chiếc", "vi", ""),
        ("الكتاب", "ar", "كتاب"),
        ("فالكتاب", "ar", "ف كتاب"),  # ال is replaced inside a word too
        ("the ताज महल।", "hi", "the ताज महल"),  # no articles in hi; the danda is punctuation
        ("北京大学 2008年", "zh", "北 京 大 学 2008 年"),
        ("東京タワー", "zh", "東 京 タワー"),  # kana are not split
        ("龦龦龥", "zh", "龦龦 龥"),  # U+9FA6 lies past U+9FA5, the end of the split range
        ("the cat", "zh", "the cat"),  # no articles in zh
    ],
)
def test_mlqa_normalisation(text, lang, normalised):
    assert normalize_mlqa(text, lang) == normalised


def test_mlqa_em_f1_hand_cases():
    # zh splits characters: 北 京 大 学 vs 北 京, P = 2/4, R = 1, F1 = 2/3 (SQuAD gives 0 here)
    assert mlqa_em_f1(["北京大学"], [["北京"]], "zh") == pytest.approx({"exact_match": 0.0, "f1": 200 / 3})
    # ar: ف كتاب vs كتاب: P = 1/2, R = 1
    assert mlqa_em_f1(["فالكتاب"], [["الكتاب"]], "ar") == pytest.approx({"exact_match": 0.0, "f1": 200 / 3})
    assert mlqa_em_f1(["Vertrag von Versailles"], [["der Vertrag von Versailles"]], "de")["exact_match"] == 100.0


def test_mlqa_unknown_language_raises_once_an_answer_is_scored():
    with pytest.raises(ValueError, match="unknown MLQA language"):
        mlqa_em_f1(["x"], [["x"]], "fr")
    with pytest.raises(ValueError):
        normalize_mlqa("", "fr")


# --- retrieval -------------------------------------------------------------------------------------------------


def test_nearest_neighbours_by_cosine_in_bounded_blocks(monkeypatch):
    queries = np.array([[1.0, 0.0], [0.0, 3.0]])
    index = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 0.0]])  # cosines to query 0: 0, 0.707, 1
    expected_ids = [[2, 1], [0, 1]]
    expected_scores = [[1.0, math.sqrt(0.5)], [1.0, math.sqrt(0.5)]]
    for block in (2**25, 1):  # one block, and one query row per block
        monkeypatch.setattr(xstilts.metrics.retrieval, "faiss", None)
        monkeypatch.setattr(xstilts.metrics.retrieval, "_BLOCK_ELEMENTS", block)
        scores, ids = nearest_neighbours(queries, index, k=2)
        assert ids.tolist() == expected_ids
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-6)
    with pytest.raises(ValueError):
        nearest_neighbours(queries, index, k=4)


def test_tatoeba_queries_are_english_and_the_index_non_english():
    non_english = np.array([[1.0, 0.0], [0.0, 1.0]])
    english = np.array([[1.0, 0.1], [1.0, 0.2]])
    # English queries: both are nearest to non-English row 0, so only query 0 is right
    assert tatoeba_accuracy(non_english, english) == {"accuracy": 50.0}
    # the other direction would find both partners
    assert tatoeba_accuracy(english, non_english) == {"accuracy": 100.0}
    with pytest.raises(ValueError):
        tatoeba_accuracy(non_english, english[:1])


SRC = np.array([[1.0, 0.0], [0.0, 1.0]])
TGT = np.array([[1.0, 0.0], [0.6, 0.8]])
# cosines s0t0 = 1, s0t1 = 0.6, s1t0 = 0, s1t1 = 0.8; with k = 2 the neighbourhood means are
# s0 0.8, s1 0.4, t0 0.5, t1 0.7, so margin(i, j) = cos / ((mean_i + mean_j) / 2):
# s0t0 = 1 / 0.65, s0t1 = 0.6 / 0.75, s1t0 = 0, s1t1 = 0.8 / 0.55


def test_ratio_margin_scores_by_hand():
    m = margin_scores(SRC, TGT, k=2)
    assert m.fwd_ids.tolist() == [[0, 1], [1, 0]]
    np.testing.assert_allclose(m.fwd_scores, [[1 / 0.65, 0.6 / 0.75], [0.8 / 0.55, 0.0]], rtol=1e-6)
    assert m.bwd_ids.tolist() == [[0, 1], [1, 0]]
    np.testing.assert_allclose(m.bwd_scores, [[1 / 0.65, 0.0], [0.8 / 0.55, 0.6 / 0.75]], rtol=1e-6)
    # with k = 1 every mutually nearest pair scores exactly 1, which is why BUCC uses k >= 2
    np.testing.assert_allclose(margin_scores(SRC, TGT, k=1).fwd_scores, [[1.0], [1.0]], rtol=1e-6)


@pytest.mark.parametrize("mode", ["max", "intersect"])
def test_bucc_mine_pairs_each_sentence_once(mode):
    mined = bucc_mine(SRC, TGT, k=2, mode=mode)
    assert [(c.src_id, c.tgt_id) for c in mined] == [(0, 0), (1, 1)]
    assert [c.score for c in mined] == pytest.approx([1 / 0.65, 0.8 / 0.55], rel=1e-6)


def test_bucc_mine_max_takes_pairs_by_score_skipping_taken_sentences():
    # three sources, one target: every source's best is target 0, so "max" keeps only the best of them
    src = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8]])
    tgt = np.array([[1.0, 0.0]])
    assert [(c.src_id, c.tgt_id) for c in bucc_mine(src, tgt, k=4, mode="max")] == [(0, 0)]
    assert [(c.src_id, c.tgt_id) for c in bucc_mine(src, tgt, k=4, mode="intersect")] == [(0, 0)]
    with pytest.raises(ValueError):
        bucc_mine(src, tgt, mode="union")


def test_bucc_threshold_takes_ties_together_and_keeps_the_higher_threshold_on_equal_f1():
    candidates = [
        Candidate(0.9, "a", "a"),  # gold
        Candidate(0.6, "b", "b"),  # gold
        Candidate(0.6, "c", "c"),
        Candidate(0.6, "d", "d"),
        Candidate(0.2, "e", "e"),
    ]
    gold = {("a", "a"), ("b", "b")}
    # F1 = 2c / (extracted + gold): >= 0.9 -> 2/3; >= 0.6 -> 4/6 = 2/3 (the official walk would stop inside the
    # tie at 1.0 and then extract all three); >= 0.2 -> 4/7. Equal F1: the higher threshold, midway to 0.6.
    threshold = bucc_optimal_threshold(candidates, gold)
    assert threshold == pytest.approx(0.75)
    assert bucc_f1(candidates, gold, threshold) == pytest.approx({"precision": 100.0, "recall": 50.0, "f1": 200 / 3})
    # extraction is score >= threshold, so a threshold at a tie takes the whole tie
    assert bucc_f1(candidates, gold, 0.6) == pytest.approx({"precision": 50.0, "recall": 100.0, "f1": 200 / 3})


def test_bucc_threshold_at_the_lowest_candidate_where_the_official_code_crashes():
    candidates = [(0.9, 1, 1), (0.5, 2, 2)]
    gold = {(2, 2)}
    # >= 0.9: nothing correct; >= 0.5: P = 1/2, R = 1, F1 = 2/3, the best, at the last candidate
    assert bucc_optimal_threshold(candidates, gold) == 0.5
    assert bucc_f1(candidates, gold, 0.5) == pytest.approx({"precision": 50.0, "recall": 100.0, "f1": 200 / 3})


def test_bucc_threshold_without_any_correct_candidate_extracts_nothing():
    candidates = [(0.9, 1, 1)]
    threshold = bucc_optimal_threshold(candidates, {(2, 2)})
    assert threshold == math.inf
    assert bucc_f1(candidates, {(2, 2)}, threshold) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_bucc_duplicate_pairs_keep_their_best_score():
    candidates = [(0.3, 1, 1), (0.9, 1, 1), (0.5, 2, 2)]
    assert bucc_f1(candidates, {(1, 1)}, 0.8) == {"precision": 100.0, "recall": 100.0, "f1": 100.0}


# --- ranking ---------------------------------------------------------------------------------------------------


def test_map_at_k_worked_examples():
    # query 1: hits at ranks 2 and 4, (1/2 + 2/4) / 2 = 1/2; query 2: a hit at rank 1, 1/1
    assert map_at_k([[0, 1, 0, 1], [1, 0, 0, 0]]) == {"map@20": 75.0}
    # only the top k count: a hit at rank 2 of 2 relevant, 1/2 / min(2, 2)
    assert map_at_k([[0, 1, 0, 1]], k=2) == {"map@2": 25.0}
    # normalised by min(relevant, k): three relevant, k = 1, a hit at rank 1 scores 1
    assert map_at_k([[1, 1, 1]], k=1) == {"map@1": 100.0}
    # a ranking cut short needs the pool's number of relevant candidates
    assert map_at_k([[1, 0]], num_relevant=[4]) == {"map@20": 25.0}
    with pytest.raises(ValueError):
        map_at_k([[0, 0]])


def test_ndcg_worked_examples():
    log2_3 = math.log2(3)
    ideal = 3 + 2 / log2_3  # labels 3, 2, 0 in their best order: 3/log2(2) + 2/log2(3) + 0/log2(4)
    # order by score: labels 3, 0, 2 -> DCG = 3 + 0 + 2/log2(4) = 4
    assert ndcg_at_k([[3, 2, 0]], [[0.9, 0.1, 0.5]])["ndcg"] == pytest.approx(100 * 4 / ideal)
    # tied scores share ranks 1-2: mean gain 2.5 times (1 + 1/log2(3))
    assert ndcg_at_k([[3, 2, 0]], [[1, 1, 0]])["ndcg"] == pytest.approx(100 * 2.5 * (1 + 1 / log2_3) / ideal)
    # gain is the label (linear): labels 1, 2, 0 in score order -> (1 + 2/log2 3) / (2 + 1/log2 3)
    assert ndcg_at_k([[1, 2, 0]], [[0.2, 0.1, 0.0]])["ndcg"] == pytest.approx(100 * (1 + 2 / log2_3) / (2 + 1 / log2_3))
    # all-zero labels score 0; one-document queries are skipped, as XGLUE does
    assert ndcg_at_k([[0, 0], [3], [3, 2, 0]], [[1, 0], [1], [3, 2, 1]]) == {"ndcg": 50.0}
    # @k: the top document has label 0
    assert ndcg_at_k([[0, 3]], [[1, 0]], k=1) == {"ndcg@1": 0.0}
    with pytest.raises(ValueError):
        ndcg_at_k([[3]], [[1]])


# --- properties --------------------------------------------------------------------------------------------------

PIECES = [*"ab ,.-_«»北京的", "the ", "an ", "el ", "der ", "của ", "ال"]
TEXT = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)


@settings(max_examples=150, deadline=None)
@given(predictions=st.lists(TEXT, min_size=1, max_size=4), data=st.data())
def test_em_never_exceeds_f1_unless_the_answer_normalises_to_nothing(predictions, data):
    golds = [data.draw(st.lists(TEXT, min_size=1, max_size=3)) for _ in predictions]
    for lang in ("en", "es", "de", "vi", "ar", "zh"):
        for p, g in zip(predictions, golds, strict=True):
            scores = mlqa_em_f1([p], [g], lang)
            assert 0.0 <= scores["f1"] <= 100.0 and scores["exact_match"] in (0.0, 100.0)
            if normalize_mlqa(p, lang):
                assert scores["exact_match"] <= scores["f1"]
    for p, g in zip(predictions, golds, strict=True):
        scores = squad_em_f1([p], [g])
        if normalize_squad(p):
            assert scores["exact_match"] <= scores["f1"] <= 100.0


@settings(max_examples=100, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=20), seed=st.integers(0, 99)
)
def test_accuracy_is_permutation_invariant(pairs, seed):
    shuffled = list(pairs)
    np.random.default_rng(seed).shuffle(shuffled)
    score = accuracy([p for p, _ in pairs], [g for _, g in pairs])["accuracy"]
    assert score == pytest.approx(accuracy([p for p, _ in shuffled], [g for _, g in shuffled])["accuracy"])
    assert 0.0 <= score <= 100.0


TAGS = st.sampled_from(["NOUN", "VERB", "SCONJ", "CCONJ", "X", "INTJ", "O", "B-PER", "I-PER", "I-LOC"])


@settings(max_examples=150, deadline=None)
@given(golds=st.lists(st.lists(TAGS, max_size=6), min_size=1, max_size=4), data=st.data())
def test_udpos_f1_is_symmetric_bounded_and_perfect_on_itself(golds, data):
    predictions = [data.draw(st.lists(TAGS, min_size=len(g), max_size=len(g))) for g in golds]
    score = udpos_f1(predictions, golds)["f1"]
    assert 0.0 <= score <= 100.0
    assert score == pytest.approx(udpos_f1(golds, predictions)["f1"])  # F1 is symmetric in P and R
    if any(tag != "O" for sentence in golds for tag in sentence):  # at least one chunk
        assert udpos_f1(golds, golds)["f1"] == pytest.approx(100.0)


@settings(max_examples=100, deadline=None)
@given(lists=st.lists(st.lists(st.integers(0, 4), min_size=2, max_size=8), min_size=1, max_size=4), data=st.data())
def test_ranking_metrics_are_bounded(lists, data):
    scores = [data.draw(st.lists(st.integers(0, 4), min_size=len(x), max_size=len(x))) for x in lists]
    assert 0.0 <= ndcg_at_k(lists, scores)["ndcg"] <= 100.0 + 1e-9
    relevance = [[int(x > 2) for x in row] for row in lists if any(x > 2 for x in row)]
    if relevance:
        assert 0.0 <= map_at_k(relevance, k=3)["map@3"] <= 100.0 + 1e-9
