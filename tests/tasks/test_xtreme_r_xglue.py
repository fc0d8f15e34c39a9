"""XTREME-R's and XGLUE's own tasks: WikiANN is PAN-X under XTREME-R's name; XGLUE NC, QADSM, WPR and QAM read XGLUE's
files (written to tmp_path in its layout: none are offline) and its Hub copy (a stand-in `datasets`); WPR's nDCG groups
rows into queries as XGLUE's script does; the benchmark objects name only declared tasks."""

from __future__ import annotations

import dataclasses
import json
import math
import sqlite3
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import yaml

from xstilts.cli import main
from xstilts.errors import DataError
from xstilts.formats.corpus_retrieval import CandidateRanking
from xstilts.formats.ranking import Ranking, query_groups
from xstilts.scores.benchmarks import XGLUE, XTREME_R, score
from xstilts.scores.predictions import benchmark_scores
from xstilts.tasks import REGISTRY, get_task
from xstilts.tasks.examples import ClassificationExample, RetrievalCorpus
from xstilts.tasks.lareqa import sentence_spans
from xstilts.tasks.loading import load_examples

# --- WikiANN ---------------------------------------------------------------------------------------------------


def test_wikiann_is_panx_under_xtreme_r_name(data: Path):
    wikiann, panx = get_task("wikiann"), get_task("panx")
    different = {"name", "description", "notes"}
    assert wikiann.model_dump(exclude=different) == panx.model_dump(exclude=different)
    assert load_examples(wikiann, "dev", "sw", data) == load_examples(panx, "dev", "sw", data)


def test_xtreme_r_scores_wikiann_results():
    results = {"wikiann": {lang: {"f1": 60.0} for lang in XTREME_R.task("wikiann").languages}}
    assert score(XTREME_R, results).tasks["wikiann"].score == pytest.approx(60.0)


def test_benchmarks_name_declared_tasks():
    # every task a benchmark scores is declared, XGLUE's CoNLL NER and UD v2.5 POS included
    named = {t.name for benchmark in (XTREME_R, XGLUE) for t in benchmark.tasks}
    assert named <= set(REGISTRY)
    for task in XGLUE.tasks:  # and its declaration covers the languages the benchmark averages over
        assert set(task.languages) <= set(get_task(task.name).eval_languages), task.name


# --- XGLUE files ---------------------------------------------------------------------------------------------


def write_xglue(root: Path, task: str, lang: str, split: str, rows: list[tuple[str, ...]]) -> Path:
    path = root / "xglue_full_dataset" / task.upper() / f"xglue.{task}.{lang}.{split}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(row) + "\n" for row in rows))
    return path


WPR_DEV = [  # query, page title, snippet, grade (0-4, as XGLUE writes it)
    ("wetter berlin", "Wetter Berlin", "Vorhersage für heute", "4"),
    ("wetter berlin", "Berlin Tourismus", "Sehenswürdigkeiten", "1"),
    ("wetter berlin", "Wetter", "Allgemein", "2"),
    ("bahn fahrplan", "Fahrplan", "Deutsche Bahn Auskunft", "3"),
    ("bahn fahrplan", "Bahnhof", "Öffnungszeiten", "0"),
]


def test_xglue_rows_become_text_pairs_with_named_labels(tmp_path: Path):
    write_xglue(tmp_path, "wpr", "de", "dev", WPR_DEV)
    write_xglue(tmp_path, "nc", "fr", "dev", [("Un titre", "Le corps de l'article", "sports")])
    write_xglue(tmp_path, "qam", "de", "dev", [("Wer?", "Niemand.", "1"), ("Wo?", "Hier.", "0")])
    first = load_examples(get_task("wpr"), "dev", "de", tmp_path)[0]
    assert first == ClassificationExample("wetter berlin", "Wetter Berlin Vorhersage für heute", "Perfect")
    assert load_examples(get_task("nc"), "dev", "fr", tmp_path) == [
        ClassificationExample("Un titre", "Le corps de l'article", "sports")
    ]
    assert [e.label for e in load_examples(get_task("qam"), "dev", "de", tmp_path)] == ["True", "False"]


def test_xglue_file_with_an_unknown_label_names_its_line(tmp_path: Path):
    write_xglue(tmp_path, "qadsm", "fr", "dev", [("q", "titre", "desc", "Good"), ("q", "titre", "desc", "Great")])
    with pytest.raises(DataError, match=r"xglue\.qadsm\.fr\.dev:2: label 'Great' is not one of the allowed labels"):
        load_examples(get_task("qadsm"), "dev", "fr", tmp_path)


def test_xglue_unlabelled_test_file_is_refused(tmp_path: Path):
    # XGLUE's test files are query, title, snippet: the snippet would be read as a label, which it is not.
    path = write_xglue(tmp_path, "wpr", "de", "dev", [(q, t, s) for q, t, s, _ in WPR_DEV])
    with pytest.raises(DataError, match=str(path.name)):
        load_examples(get_task("wpr"), "dev", "de", tmp_path)


def write_xglue_tagging(root: Path, task: str, lang: str, split: str, text: str) -> Path:
    """A file of XGLUE's NER or POS download: xglue_full_dataset/{NER,POS}/{lang}.{split}."""
    path = root / "xglue_full_dataset" / task.upper() / f"{lang}.{split}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# CoNLL-2003 as XGLUE ships it: word and tag separated by a space, IOB1 (I- opens a chunk), a -DOCSTART- marker
NER_DEV = "-DOCSTART- O\n\nEU I-ORG\nlehnt O\nab O\n\nPeter I-PER\nBlackburn I-PER\nin O\nBerlin I-LOC\n"
POS_TRAIN = "The DET\ncat NOUN\nsat VERB\n. PUNCT\n\nIt PRON\nran VERB\n"


def test_xglue_ner_and_pos_files_become_tagged_sentences(tmp_path: Path):
    write_xglue_tagging(tmp_path, "ner", "de", "dev", NER_DEV)
    write_xglue_tagging(tmp_path, "pos", "en", "train", POS_TRAIN)
    ner = load_examples(get_task("xglue_ner"), "dev", "de", tmp_path)
    assert [(e.words, e.tags) for e in ner] == [
        (("EU", "lehnt", "ab"), ("I-ORG", "O", "O")),
        (("Peter", "Blackburn", "in", "Berlin"), ("I-PER", "I-PER", "O", "I-LOC")),
    ]
    pos = load_examples(get_task("xglue_pos"), "train", "en", tmp_path)
    assert [e.tags for e in pos] == [("DET", "NOUN", "VERB", "PUNCT"), ("PRON", "VERB")]
    assert get_task("xglue_pos").eval_languages == tuple(XGLUE.task("xglue_pos").languages)


def test_xglue_tagging_file_errors_name_file_and_line(tmp_path: Path):
    write_xglue_tagging(tmp_path, "ner", "nl", "dev", "Jan B-PER\nwoont O\nin O\nGent B-CITY\n")
    with pytest.raises(DataError, match=r"nl\.dev:4: label 'B-CITY' is not one of the allowed labels"):
        load_examples(get_task("xglue_ner"), "dev", "nl", tmp_path)
    write_xglue_tagging(tmp_path, "pos", "de", "dev", "Haus NOUN\nist\n")
    with pytest.raises(DataError, match=r"de\.dev:2: expected a word and a tag"):
        load_examples(get_task("xglue_pos"), "dev", "de", tmp_path)


def test_a_spec_naming_xglue_ner_and_pos_runs_and_xglue_scores_them(tmp_path: Path, me5_dir: Path, capsys):
    data = tmp_path / "data"
    ner_train = "John I-PER\nlives O\nin O\nParis I-LOC\n\nACME I-ORG\nhired O\nMary I-PER\n\n" * 4
    write_xglue_tagging(data, "ner", "en", "train", ner_train)
    write_xglue_tagging(data, "ner", "de", "dev", NER_DEV)
    write_xglue_tagging(data, "pos", "en", "train", POS_TRAIN * 4)
    write_xglue_tagging(data, "pos", "nl", "dev", "De DET\nkat NOUN\nslaapt VERB\n. PUNCT\n")
    spec = {
        "name": "xglue",
        "data_dir": str(data),
        "model": {"name": "me5-small", "num_layers": 2},
        "train": {"batch_size": 8, "epochs": 1},
        "intermediate": {"none": []},
        "targets": [
            {"task": "xglue_ner", "eval_languages": ["de"]},
            {"task": "xglue_pos", "eval_languages": ["nl"]},
        ],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "run")]) == 0
    with sqlite3.connect(tmp_path / "run" / "results.sqlite") as db:
        stored = {
            (task, metric): value
            for task, metric, value in db.execute("SELECT task, metric, value FROM results WHERE language != 'avg'")
        }
    # the metric names XGLUE's benchmark averages: NER's f1 and POS's accuracy
    assert {("xglue_ner", "f1"), ("xglue_pos", "accuracy")} <= set(stored)
    scores = benchmark_scores(tmp_path / "run", XGLUE)["none"].tasks
    assert scores["xglue_ner"].per_language == {"de": pytest.approx(stored[("xglue_ner", "f1")])}
    assert scores["xglue_pos"].per_language == {"nl": pytest.approx(stored[("xglue_pos", "accuracy")])}
    assert main(["score", str(tmp_path / "run"), "--benchmark", "xglue"]) == 0
    assert "xglue score, condition 'none'" in capsys.readouterr().out


# --- WPR: nDCG per query -----------------------------------------------------------------------------------


def ranking_examples(rows: list[tuple[str, int]]) -> list[ClassificationExample]:
    grades = get_task("wpr").labels
    return [ClassificationExample(query, "page", grades[grade]) for query, grade in rows]


def test_queries_are_runs_of_the_same_query_text():
    examples = ranking_examples([("a", 0), ("a", 1), ("b", 2), ("a", 3)])
    assert query_groups(examples) == [range(0, 2), range(2, 3), range(3, 4)]


def test_wpr_ndcg_by_hand():
    wpr = get_task("wpr")
    gold = [("q1", 2), ("q1", 0), ("q1", 1), ("q2", 0), ("q2", 3), ("q3", 4), ("q1", 1), ("q1", 1)]
    predicted = [2, 1, 1, 4, 0, 0, 3, 0]
    examples = ranking_examples(gold)
    result = Ranking().score([wpr.labels[g] for g in predicted], examples, wpr, "de")
    d2, d3 = 1 / math.log2(3), 1 / math.log2(4)
    first = (2 + (0 + 1) / 2 * (d2 + d3)) / (2 + 1 * d2)  # docs 2 and 3 tie on predicted grade 1: mean gain 0.5
    second = (0 + 3 * d2) / 3  # the page graded 0 was ranked first
    # q3 has one page and is skipped; the second run of q1 is its own query, ranked perfectly (equal gains)
    assert result == {"ndcg": pytest.approx(100 * (first + second + 1.0) / 3)}


def test_wpr_ndcg_agrees_with_xglue_script_computation():
    # xglue_evaluate.py simple_ndcg: sklearn's ndcg_score per query (guid), queries of one row skipped, mean.
    from sklearn.metrics import ndcg_score

    rng = np.random.default_rng(0)
    queries = [f"q{q}" for q in rng.integers(0, 12, 200)]
    gold, predicted = rng.integers(0, 5, 200), rng.integers(0, 5, 200)
    examples = ranking_examples(list(zip(queries, gold.tolist(), strict=True)))
    wpr = get_task("wpr")
    ours = Ranking().score([wpr.labels[p] for p in predicted], examples, wpr, "de")["ndcg"]
    official = [
        ndcg_score([gold[list(group)]], [predicted[list(group)]]) for group in query_groups(examples) if len(group) > 1
    ]
    assert ours == pytest.approx(100 * float(np.mean(official)))


# --- the Hub copy ---------------------------------------------------------------------------------------------


class ClassLabel:
    def __init__(self, names):
        self.names = names


class Rows(list):
    features: dict = {}


def test_xglue_hub_rows_join_title_and_snippet(monkeypatch):
    calls = []

    def load_dataset(path, name, *, split, revision):
        config = name
        calls.append((path, config, split))
        rows = Rows(
            [{"query": "q", "web_page_title": "Title", "web_page_snippet": "snippet text", "relavance_label": 3}]
        )
        rows.features = {"relavance_label": ClassLabel(["Bad", "Fair", "Good", "Excellent", "Perfect"])}
        return rows

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    [example] = load_examples(get_task("wpr"), "dev", "pt", Path("."), source="hub")
    assert example == ClassificationExample("q", "Title snippet text", "Excellent")
    assert calls == [("hgissbkh/xglue", "wpr", "validation.pt")]  # a Parquet copy of the script-only microsoft/xglue


# --- WPR through the whole chain -----------------------------------------------------------------------------


@pytest.mark.integration
def test_wpr_trains_on_english_and_scores_ndcg(tmp_path: Path, me5_dir: Path, capsys):
    rng = np.random.default_rng(1)
    train = [(f"query {i % 6}", f"page {i}", "snippet", str(rng.integers(0, 5))) for i in range(24)]
    write_xglue(tmp_path / "data", "wpr", "en", "train", train)
    dev = write_xglue(tmp_path / "data", "wpr", "de", "dev", WPR_DEV)
    spec = {
        "name": "wpr",
        "data_dir": str(tmp_path / "data"),
        "model": {"name": "me5-small", "num_layers": 2},
        "train": {"batch_size": 8, "epochs": 1},
        "intermediate": {"none": []},
        "targets": [{"task": "wpr", "eval_languages": ["de"]}],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "run")]) == 0
    with sqlite3.connect(tmp_path / "run" / "results.sqlite") as db:
        (eval_key,) = db.execute("SELECT eval_key FROM runs WHERE target = 'wpr'").fetchone()
        stored = dict(
            db.execute("SELECT metric, value FROM results WHERE stage_key = ? AND language = 'de'", (eval_key,))
        )
    assert set(stored) == {"ndcg"} and 0.0 < stored["ndcg"] <= 100.0
    predictions = tmp_path / "run" / "stages" / eval_key / "predictions-de.jsonl"
    assert len(predictions.read_text().splitlines()) == len(WPR_DEV) and dev.is_file()
    capsys.readouterr()
    args = ["score-predictions", "--task", "wpr", "--lang", "de", "--predictions", str(predictions)]
    assert main([*args, "--data", str(tmp_path / "data")]) == 0
    assert json.loads(capsys.readouterr().out)["ndcg"] == pytest.approx(stored["ndcg"])


# --- LAReQA ----------------------------------------------------------------------------------------------------


def xquad_r_file(root: Path, lang: str, paragraphs: list[tuple[str, list[tuple[str, str, int]]]]) -> Path:
    """An XQuAD-R file: paragraphs (context, [(question id, question, answer start)]) with inferred sentences."""
    data = []
    for context, questions in paragraphs:
        spans = sentence_spans(context)
        qas = [{"id": i, "question": q, "answers": [{"answer_start": a, "text": context[a]}]} for i, q, a in questions]
        data.append(
            {
                "context": context,
                "qas": qas,
                "sentence_breaks": [list(span) for span in spans],
                "sentences": [context[s:e] for s, e in spans],
            }
        )
    path = root / "xtreme" / "lareqa" / "xquad-r" / f"{lang}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"data": [{"paragraphs": data}]}, ensure_ascii=False))
    return path


def test_sentences_end_at_sentence_punctuation():
    text = "Er kam um 3.5 Uhr. Sie ging! Warum? 你好。再见。 last"
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Er kam um 3.5 Uhr.",
        "Sie ging!",
        "Warum?",
        "你好。",
        "再见。",
        "last",
    ]


def test_lareqa_pools_every_language_and_links_each_answer_sentence(tmp_path: Path):
    xquad_r_file(tmp_path, "en", [("Tom came. Ann left.", [("q1", "Who left?", 10), ("q2", "Who came?", 0)])])
    xquad_r_file(tmp_path, "de", [("Tom kam. Anna ging.", [("q1", "Wer ging?", 9), ("q2", "Wer kam?", 0)])])
    [pool] = load_examples(get_task("lareqa"), "test", "de", tmp_path)
    assert pool.queries == ("Wer ging?", "Wer kam?")
    assert dict(zip(pool.candidate_ids, pool.candidates, strict=True)) == {
        "de/0/0": "Tom kam.",
        "de/0/1": "Anna ging.",
        "en/0/0": "Tom came.",
        "en/0/1": "Ann left.",
    }
    assert pool.gold == (("de/q1", "de/0/1"), ("de/q1", "en/0/1"), ("de/q2", "de/0/0"), ("de/q2", "en/0/0"))


def test_map_at_20_of_rankings_by_hand():
    pool = RetrievalCorpus("p", ("a", "b"), ("qa", "qb"), ("x", "y", "z"), ("X", "Y", "Z"), ())
    pool = dataclasses.replace(pool, gold=(("a", "x"), ("a", "z"), ("b", "y")))
    rankings = [[("a", ["y", "x", "z"]), ("b", ["y", "z", "x"])]]
    # a: relevant at ranks 2 and 3: (1/2 + 2/3) / 2; b: relevant at rank 1: 1
    expected = 100 * ((1 / 2 + 2 / 3) / 2 + 1) / 2
    lareqa = get_task("lareqa")
    assert CandidateRanking().score(rankings, [pool], lareqa, "de") == {"map@20": pytest.approx(expected)}
    exported = json.loads(json.dumps(CandidateRanking().export(rankings)))
    assert CandidateRanking().score_exported(exported, [pool], lareqa, "de") == {"map@20": pytest.approx(expected)}


def test_lareqa_from_the_hub_infers_sentences(monkeypatch):
    calls = []

    def load_dataset(path, name, *, split, revision):
        config = name
        calls.append((path, config, split))
        context = {"en": "Tom came. Ann left.", "de": "Tom kam. Anna ging."}.get(config, "Ένας. Δύο.")
        rows = Rows([{"id": "q1", "question": f"{config}?", "context": context, "answers": {"answer_start": [10]}}])
        rows.features = {}
        return rows

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    [pool] = load_examples(get_task("lareqa"), "test", "en", Path("."), source="hub")
    assert len(calls) == 11 and calls[0] == ("google-research-datasets/xquad_r", "ar", "validation")
    assert pool.queries == ("en?",) and len(pool.candidates) == 22
    assert ("en/q1", "en/0/1") in pool.gold and ("en/q1", "de/0/1") in pool.gold


@pytest.mark.integration
def test_lareqa_ranks_real_xquad_answers(tmp_path: Path, data: Path, me5_dir: Path, capsys):
    # XQuAD's German and English files are XQuAD-R without its sentence breaks: 2 articles, sentences inferred.
    for lang in ("en", "de"):
        document = json.loads((data / "xtreme" / "xquad" / f"xquad.{lang}.json").read_text())
        paragraphs = [
            (p["context"], [(qa["id"], qa["question"], qa["answers"][0]["answer_start"]) for qa in p["qas"]])
            for article in document["data"][:2]
            for p in article["paragraphs"]
        ]
        xquad_r_file(tmp_path / "data", lang, paragraphs)
    spec = {
        "name": "lareqa",
        "data_dir": str(tmp_path / "data"),
        "model": {"name": "me5-small", "num_layers": 2},
        "intermediate": {"none": []},
        "targets": [{"task": "lareqa", "eval_languages": ["de", "en"]}],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "run")]) == 0
    with sqlite3.connect(tmp_path / "run" / "results.sqlite") as db:
        (eval_key,) = db.execute("SELECT eval_key FROM runs WHERE target = 'lareqa'").fetchone()
        query = "SELECT language, value FROM results WHERE stage_key = ? AND metric = 'map@20'"
        stored = dict(db.execute(query, (eval_key,)))
    [pool] = load_examples(get_task("lareqa"), "test", "de", tmp_path / "data")
    # Random rankings of this pool put the 2 relevant sentences in the top 20 rarely: mAP@20 of a few points.
    chance = 100 * 20 / len(pool.candidates)
    assert chance < stored["de"] <= 100.0 and chance < stored["en"] <= 100.0
    predictions = tmp_path / "run" / "stages" / eval_key / "predictions-de.jsonl"
    capsys.readouterr()
    args = ["score-predictions", "--task", "lareqa", "--lang", "de", "--predictions", str(predictions)]
    assert main([*args, "--data", str(tmp_path / "data")]) == 0
    assert json.loads(capsys.readouterr().out)["map@20"] == pytest.approx(stored["de"])


# --- Mewsli-X --------------------------------------------------------------------------------------------------


def mention(example_id: str, lang: str, text: str, start: int, end: int, entity: str) -> dict:
    sentences = [{"start": s, "end": e} for s, e in sentence_spans(text)]
    context = {"document_title": "t", "document_url": "u", "document_id": "d", "language": lang, "text": text}
    span = {"start": start, "end": end, "text": text[start:end]}
    return {
        "context": {**context, "sentence_spans": sentences},
        "mention": {"example_id": example_id, "mention_span": span, "entity_id": entity},
    }


def entity(entity_id: str, description: str) -> dict:
    spans = [{"start": s, "end": e} for s, e in sentence_spans(description)]
    return {"entity_id": entity_id, "title": entity_id, "description": description, "sentence_spans": spans}


def write_mewslix(root: Path) -> None:
    folder = root / "xtreme" / "mewslix"
    folder.mkdir(parents=True, exist_ok=True)
    text = "Der Kanzler traf {Obama} in Berlin. Danach flog er heim."
    mentions = [
        mention("de-1", "de", text, 28, 34, "Q64"),
        mention("de-2", "de", text, 0, 11, "Q4970706"),
        mention("en-1", "en", "Paris is big. It is in France.", 23, 29, "Q142"),
    ]
    entities = [
        entity("Q64", "Berlin ist die Hauptstadt.\nSie liegt an der Spree."),
        entity("Q142", "France is a country."),
        entity("Q4970706", "Bundeskanzler ist ein Amt."),
    ]
    for name, rows in (("wikinews_mentions-test.jsonl", mentions), ("candidate_set_entities.jsonl", entities)):
        (folder / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def test_mewslix_mentions_are_marked_in_their_sentence(tmp_path: Path):
    write_mewslix(tmp_path)
    [pool] = load_examples(get_task("mewslix"), "test", "de", tmp_path)
    # XTREME-R's baseline text: the mention, then its sentence with the mention in braces (old braces -> parens)
    assert pool.queries[0] == "Berlin: Der Kanzler traf (Obama) in { Berlin } ."
    assert pool.queries[2] == "France: It is in { France } ."
    assert pool.query_languages == ("de", "de", "en")
    assert pool.candidates[0] == "Berlin ist die Hauptstadt. Sie liegt an der Spree."
    assert pool.gold == (("de-1", "Q64"), ("de-2", "Q4970706"), ("en-1", "Q142"))


def test_mewslix_scores_the_queries_of_the_evaluated_language():
    pool = RetrievalCorpus(
        "m", ("d1", "d2", "e1"), ("a", "b", "c"), ("X", "Y"), ("x", "y"), (("d1", "X"), ("d2", "Y"), ("e1", "X"))
    )
    pool = dataclasses.replace(pool, query_languages=("de", "de", "en"))
    rankings = [[("d1", ["Y", "X"]), ("d2", ["Y", "X"]), ("e1", ["Y", "X"])]]
    mewslix = get_task("mewslix")
    # de: reciprocal ranks 1/2 and 1; en: 1/2
    assert CandidateRanking().score(rankings, [pool], mewslix, "de") == {"map@20": pytest.approx(75.0)}
    assert CandidateRanking().score(rankings, [pool], mewslix, "en") == {"map@20": pytest.approx(50.0)}


def test_mewslix_runs_through_a_model(tmp_path: Path, tiny_model_dir: Path):
    from xstilts.encoders.loading import load_encoder, load_tokenizer
    from xstilts.formats import make_format
    from xstilts.spec import ModelSpec
    from xstilts.training.evaluate import evaluate
    from xstilts.training.task_model import TaskModel

    write_mewslix(tmp_path)
    spec = ModelSpec(name=str(tiny_model_dir))
    encoder, tokenizer = load_encoder(spec), load_tokenizer(spec)
    mewslix = get_task("mewslix")
    fmt = make_format(mewslix.format)
    model = TaskModel(encoder, fmt.make_head(encoder.config, mewslix), fmt)
    examples = load_examples(mewslix, "test", "de", tmp_path)
    predictions, scores = evaluate(model, mewslix, examples, "de", tokenizer, 64, 8, bf16=False)
    [rankings] = predictions
    assert [qid for qid, _ in rankings] == ["de-1", "de-2", "en-1"]
    assert all(sorted(ranking) == ["Q142", "Q4970706", "Q64"] for _, ranking in rankings)  # the whole pool of 3
    assert 100 / 3 <= scores["map@20"] <= 100.0  # each de query's entity is at rank 3 at worst
    exported = json.loads(json.dumps(fmt.export(predictions)))
    assert fmt.score_exported(exported, examples, mewslix, "de") == scores
