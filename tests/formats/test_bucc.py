"""BUCC 2018: the reader on files in XTREME's layout, the dev-tuned threshold on hand-computed candidates, and the
whole chain (plan, mining, stored F1, score-predictions, the XTREME table) on corpora built from real Tatoeba pairs.
No BUCC data is offline, so the corpora are written to tmp_path in the real layout."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import yaml

from xstilts.cli import main
from xstilts.errors import DataError
from xstilts.formats.corpus_retrieval import BitextMining
from xstilts.metrics.retrieval import Candidate
from xstilts.tasks import get_task
from xstilts.tasks.examples import RetrievalCorpus
from xstilts.tasks.loading import load_examples

BUCC = get_task("bucc2018")


def write_corpus(
    root: Path, lang: str, part: str, pairs: list[tuple[str, str]], extra: tuple[list[str], list[str]], gold=True
) -> Path:
    """`{lang}-en.{part}.{lang|en|gold}` under xtreme/bucc2018: the translation pairs hidden among extra sentences
    on both sides; the English side is written in reverse order so that gold pairs are not line-aligned."""
    folder = root / "xtreme" / "bucc2018"
    folder.mkdir(parents=True, exist_ok=True)
    sources = [s for s, _ in pairs] + extra[0]
    english = ([e for _, e in pairs] + extra[1])[::-1]
    source_ids = [f"{lang}-{part}-{i:06d}" for i in range(len(sources))]
    english_ids = [f"en-{part}-{i:06d}" for i in range(len(english))]
    source = folder / f"{lang}-en.{part}.{lang}"
    source.write_text("".join(f"{i}\t{s}\n" for i, s in zip(source_ids, sources, strict=True)))
    source.with_suffix(".en").write_text("".join(f"{i}\t{s}\n" for i, s in zip(english_ids, english, strict=True)))
    if gold:
        lines = [f"{source_ids[i]}\t{english_ids[english.index(e)]}\n" for i, (_, e) in enumerate(pairs)]
        source.with_suffix(".gold").write_text("".join(lines))
    return source


def tatoeba_corpora(data: Path, root: Path, lang: str = "de") -> None:
    """Dev and test corpora from the real Tatoeba de-en pairs: 24 pairs and 12 unpaired sentences a side each."""
    tatoeba = data / "xtreme" / "tatoeba"
    sources = (tatoeba / f"{lang}-en.{lang}").read_text().split("\n")
    english = (tatoeba / f"{lang}-en.en").read_text().split("\n")
    for part, start in (("dev", 0), ("test", 100)):
        pairs = list(zip(sources[start : start + 24], english[start : start + 24], strict=True))
        extra = (sources[start + 24 : start + 36], english[start + 36 : start + 48])
        write_corpus(root, lang, part, pairs, extra)


# --- reader ---------------------------------------------------------------------------------------------------


def test_test_split_reads_dev_then_test_in_the_xtreme_layout(tmp_path: Path):
    write_corpus(tmp_path, "fr", "dev", [("chat", "cat"), ("chien", "dog")], (["maison"], ["tree", "car"]))
    write_corpus(tmp_path, "fr", "test", [("pomme", "apple")], ([], ["pear"]))
    dev, test = load_examples(BUCC, "test", "fr", tmp_path)
    assert (dev.name, test.name) == ("fr-en.dev", "fr-en.test")
    assert dev.queries == ("chat", "chien", "maison")
    assert dev.candidates == ("car", "tree", "dog", "cat")
    assert dev.gold == (("fr-dev-000000", "en-dev-000003"), ("fr-dev-000001", "en-dev-000002"))
    assert test.gold == (("fr-test-000000", "en-test-000001"),)
    assert [c.name for c in load_examples(BUCC, "dev", "fr", tmp_path)] == ["fr-en.dev"]


def test_missing_test_gold_says_where_to_find_it(tmp_path: Path):
    write_corpus(tmp_path, "ru", "dev", [("кот", "cat")], ([], []))
    write_corpus(tmp_path, "ru", "test", [("пёс", "dog")], ([], []), gold=False)
    with pytest.raises(DataError, match=r"ru-en\.test\.gold.*training-gold"):
        load_examples(BUCC, "test", "ru", tmp_path)


def test_gold_pair_with_an_unknown_id_names_its_line(tmp_path: Path):
    source = write_corpus(tmp_path, "zh", "dev", [("猫", "cat"), ("狗", "dog")], ([], []))
    gold = source.with_suffix(".gold")
    gold.write_text(gold.read_text().replace("zh-dev-000001", "zh-dev-000099"))
    with pytest.raises(DataError, match=r"zh-en\.dev\.gold:2: id 'zh-dev-000099' is not in zh-en\.dev\.zh"):
        load_examples(BUCC, "dev", "zh", tmp_path)


def test_a_sentence_id_given_twice_is_refused(tmp_path: Path):
    source = write_corpus(tmp_path, "de", "dev", [("Katze", "cat")], (["Hund"], []))
    source.write_text(source.read_text().replace("de-dev-000001", "de-dev-000000"))
    with pytest.raises(DataError, match=r"de-en\.dev\.de:2: id 'de-dev-000000' occurs twice"):
        load_examples(BUCC, "dev", "de", tmp_path)


# --- scoring --------------------------------------------------------------------------------------------------


def corpus(name: str, gold: list[tuple[str, str]]) -> RetrievalCorpus:
    return RetrievalCorpus(name, (), (), (), (), tuple(sorted(gold)))


def test_threshold_is_tuned_on_dev_gold_and_applied_to_test():
    dev_candidates = [
        Candidate(0.9, "a1", "b1"),  # extracted prefix F1s: 2*1/(1+3) = .5
        Candidate(0.8, "a2", "b2"),  # 2*2/(2+3) = .8
        Candidate(0.7, "a3", "b9"),  # 2*2/(3+3) = .667
        Candidate(0.6, "a4", "b4"),  # 2*3/(4+3) = .857, the best: threshold (0.6 + 0.5) / 2 = 0.55
        Candidate(0.5, "a5", "b5"),  # 2*3/(5+3) = .75
    ]
    dev = corpus("dev", [("a1", "b1"), ("a2", "b2"), ("a4", "b4")])
    test_candidates = [
        Candidate(0.95, "x1", "y1"),
        Candidate(0.56, "x2", "y2"),
        Candidate(0.54, "x3", "y3"),  # gold, but below the dev threshold (test's own best would take it)
        Candidate(0.30, "x4", "y9"),
    ]
    test = corpus("test", [("x1", "y1"), ("x2", "y2"), ("x3", "y3"), ("x5", "y5")])
    scores = BitextMining().score([dev_candidates, test_candidates], [dev, test], BUCC, "de")
    # 2 extracted, both right, of 4 gold pairs: P = 100, R = 50, F1 = 2 * 1 * .5 / 1.5
    assert scores == pytest.approx({"f1": 200 / 3, "precision": 100.0, "recall": 50.0})
    assert list(scores) == ["f1", "precision", "recall"]  # F1 first: the number runs print and select on
    # One corpus alone is scored at its own best threshold (XTREME's dev number): 6/7.
    assert BitextMining().score([dev_candidates], [dev], BUCC, "de")["f1"] == pytest.approx(600 / 7)


def test_exported_candidates_score_as_the_predictions_do():
    fmt = BitextMining()
    predictions = [[Candidate(0.9, "a", "b"), Candidate(0.4, "c", "e")], [Candidate(0.7, "x", "y")]]
    examples = [corpus("dev", [("a", "b")]), corpus("test", [("x", "y"), ("z", "w")])]
    exported = json.loads(json.dumps(fmt.export(predictions)))
    assert exported[1] == [[0.7, "x", "y"]]
    assert fmt.score_exported(exported, examples, BUCC, "de") == fmt.score(predictions, examples, BUCC, "de")


def test_a_text_under_two_ids_is_left_out_of_the_mined_pairs():
    # XTREME mines unique texts and then drops texts that several ids share (read_sent2id): "Katze" is s1 and s3.
    pool = RetrievalCorpus("c", ("s1", "s2", "s3"), ("Katze", "Hund", "Katze"), ("e1", "e2"), ("cat", "dog"), ())
    unit = np.eye(2, dtype=np.float32)
    mined = BitextMining().predict(pool, unit, unit + 0.1)  # rows: distinct texts (Katze, Hund) and (cat, dog)
    assert [(p.src_id, p.tgt_id) for p in mined] == [("s2", "e2")]


# --- through the whole chain ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory, data: Path, me5_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("bucc")
    tatoeba_corpora(data, root / "data")
    spec = {
        "name": "bucc",
        "data_dir": str(root / "data"),
        "model": {"name": "me5-small", "num_layers": 2},
        "intermediate": {"none": []},
        "targets": [{"task": "bucc2018", "eval_languages": ["de"]}],
    }
    (root / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["run", str(root / "spec.yaml"), "--out", str(root / "run")]) == 0
    return root / "run"


def stored_scores(experiment: Path) -> dict[str, float]:
    with sqlite3.connect(experiment / "results.sqlite") as db:
        rows = db.execute(
            "SELECT s.metric, s.value FROM runs r JOIN results s ON s.stage_key = r.eval_key WHERE s.language = 'de'"
        ).fetchall()
    return dict(rows)


@pytest.mark.integration
def test_mining_real_translations_is_scored_on_test_at_the_dev_threshold(experiment: Path):
    scores = stored_scores(experiment)
    assert set(scores) == {"f1", "precision", "recall"}
    # The 2-layer me5 slice finds real German-English translations (Tatoeba: > 20% accuracy) among distractors.
    assert 20.0 < scores["f1"] <= 100.0
    f1 = 2 * scores["precision"] * scores["recall"] / (scores["precision"] + scores["recall"])
    assert scores["f1"] == pytest.approx(f1)


@pytest.mark.integration
def test_score_predictions_reproduces_the_stored_f1(experiment: Path, capsys):
    with sqlite3.connect(experiment / "results.sqlite") as db:
        (eval_key,) = db.execute("SELECT eval_key FROM runs WHERE target = 'bucc2018'").fetchone()
    predictions = experiment / "stages" / eval_key / "predictions-de.jsonl"
    dev, test = (json.loads(line) for line in predictions.read_text().splitlines())
    assert all(isinstance(score, float) and src.startswith("de-dev") for score, src, _ in dev)
    capsys.readouterr()
    data = experiment.parent / "data"
    args = ["score-predictions", "--task", "bucc2018", "--lang", "de", "--predictions", str(predictions)]
    assert main([*args, "--data", str(data)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["f1"] == pytest.approx(stored_scores(experiment)["f1"])
    assert main(["score", str(experiment), "--benchmark", "xtreme"]) == 0
    assert "bucc2018" in capsys.readouterr().out


def test_a_model_mines_each_sentence_at_most_once_and_its_export_rescores(tmp_path: Path, tiny_model_dir: Path):
    from xstilts.encoders.loading import load_encoder, load_tokenizer
    from xstilts.formats import make_format
    from xstilts.spec import ModelSpec
    from xstilts.training.evaluate import evaluate
    from xstilts.training.task_model import TaskModel

    words = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november".split()
    same = [(f"{a} {b} {a}", f"{a} {b} {a}") for a, b in zip(words, words[3:] + words[:3], strict=True)]
    write_corpus(tmp_path, "fr", "dev", same[:6], (["oscar papa"], ["quebec romeo sierra"]))
    write_corpus(tmp_path, "fr", "test", same[6:], (["tango"], ["uniform victor"]))
    spec = ModelSpec(name=str(tiny_model_dir))
    encoder, tokenizer = load_encoder(spec), load_tokenizer(spec)
    fmt = make_format("bitext_mining")
    model = TaskModel(encoder, fmt.make_head(encoder.config, BUCC), fmt)
    examples = load_examples(BUCC, "test", "fr", tmp_path)
    predictions, scores = evaluate(model, BUCC, examples, "fr", tokenizer, 64, 8, bf16=False)
    for mined, corpus in zip(predictions, examples, strict=True):
        sources, targets = [p.src_id for p in mined], [p.tgt_id for p in mined]
        assert len(set(sources)) == len(sources) and len(set(targets)) == len(targets)  # "max" mode: one pair each
        assert set(sources) <= set(corpus.query_ids) and set(targets) <= set(corpus.candidate_ids)
        assert all(p.score > 0 for p in mined)
    assert 0.0 <= scores["f1"] <= 100.0
    exported = json.loads(json.dumps(fmt.export(predictions)))
    assert fmt.score_exported(exported, examples, BUCC, "fr") == scores
