"""Translate-train: XTREME's machine-translated training data, declared as a `translate_train` split in the XTREME
layout, read in both file shapes, trained on by an intermediate stage and by a target; absent files are named."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import yaml

from xstilts.cli import main
from xstilts.errors import DataError
from xstilts.experiment.plan import build_plan
from xstilts.spec import parse_spec
from xstilts.tasks import get_task
from xstilts.tasks.loading import load_examples
from xstilts.tasks.readers.qa import read_squad_json

XNLI_TT = "xtreme/xnli/XNLI-Translated/en-{lang}-translated.tsv"
LABELS = ("entailment", "neutral", "contradictory")  # XNLI-MT's spelling of contradiction


def write_xnli_translations(root: Path, n: int = 12) -> None:
    """German in the translations bucket's five columns, French in the three XTREME's processors read."""
    de = [f"en premise {i}\ten hypothesis {i}\tPrämisse {i}\tHypothese {i}\t{LABELS[i % 3]}" for i in range(n)]
    fr = [f"prémisse {i}\thypothèse {i}\t{LABELS[i % 3]}" for i in range(n)]
    for lang, rows in (("de", de), ("fr", fr)):
        path = root / XNLI_TT.format(lang=lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")


def test_both_file_shapes_read_as_the_translated_pair(tmp_path: Path):
    write_xnli_translations(tmp_path)
    task = get_task("xnli")
    de = load_examples(task, "translate_train", "de", tmp_path)
    fr = load_examples(task, "translate_train", "fr", tmp_path)
    assert (de[2].text_a, de[2].text_b, de[2].label) == ("Prämisse 2", "Hypothese 2", "contradiction")
    assert (fr[0].text_a, fr[0].text_b, fr[0].label) == ("prémisse 0", "hypothèse 0", "entailment")
    assert len(de) == len(fr) == 12


def test_the_xtreme_layout_is_declared_for_every_translated_task():
    paths = {
        name: get_task(name).splits["translate_train"].paths("de")[0]
        for name in ("xnli", "pawsx", "squad", "tydiqa")
        if "de" in get_task(name).splits["translate_train"].languages
    }
    assert paths == {
        "xnli": XNLI_TT.format(lang="de"),
        "pawsx": "xtreme/pawsx/translated/en-de-translated.tsv",
        "squad": "xtreme/squad/translate-train/squad.translate.train.en-de.json",
    }
    assert get_task("tydiqa").splits["translate_train"].paths("sw") == (
        "xtreme/tydiqa/translate-train/tydiqa.translate.train.en-sw.json",
    )
    assert "en" not in get_task("xnli").languages("translate_train")
    assert get_task("xquad").train_task == "squad"  # XQuAD and MLQA train on SQuAD's translations


def test_translated_squad_drops_questions_whose_answer_was_lost(tmp_path: Path):
    context = "Der Dom steht in Köln."
    qas = [
        {"id": "kept", "question": "Wo?", "answers": [{"text": "in Köln", "answer_start": context.index("in Köln")}]},
        {"id": "lost", "question": "Was?", "answers": [{"text": "cathedral", "answer_start": -1}]},
    ]
    path = tmp_path / "xtreme/squad/translate-train/squad.translate.train.en-de.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"data": [{"paragraphs": [{"context": context, "qas": qas}]}]}), encoding="utf-8")
    [kept] = load_examples(get_task("squad"), "translate_train", "de", tmp_path)
    assert kept.id == "kept"
    # Anywhere else a misplaced answer is a broken file, not a translation artefact.
    with pytest.raises(DataError, match="'lost': answer 'cathedral' is not at offset -1"):
        read_squad_json(path, "train")


def _spec(root: Path, model: Path) -> dict:
    return {
        "name": "tt",
        "data_dir": str(root),
        "model": str(model),
        "train": {"batch_size": 8, "max_length": 32, "precision": "fp32"},
        "intermediate": {
            "none": [],
            "translated": [{"task": "xnli", "split": "translate_train", "languages": ["de", "fr"]}],
        },
        "targets": [
            {
                "task": "xnli",
                "train_split": "translate_train",
                "train_languages": ["de"],
                "eval_languages": ["de"],
                "max_eval_examples": 8,
            }
        ],
    }


def test_missing_translations_are_named_before_anything_runs(tmp_path: Path, tiny_model_dir: Path):
    with pytest.raises(DataError, match=r"XNLI-Translated/en-de-translated\.tsv: file not found .*'translate_train'"):
        build_plan(parse_spec(_spec(tmp_path, tiny_model_dir)), tmp_path)


def test_stages_train_on_translate_train_files(tmp_path: Path, data: Path, tiny_model_dir: Path):
    root = tmp_path / "data"
    write_xnli_translations(root)
    (root / "xtreme/xnli/dev-de.tsv").symlink_to(data / "xtreme/xnli/dev-de.tsv")  # real German dev to evaluate
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(_spec(root, tiny_model_dir)))
    out = tmp_path / "run"
    assert main(["run", str(spec_path), "--out", str(out)]) == 0

    with sqlite3.connect(out / "results.sqlite") as db:
        stages = [json.loads(config) for (config,) in db.execute("SELECT config FROM stages WHERE kind = 'train'")]
        evaluated = set(
            db.execute("SELECT r.condition, s.language FROM runs r JOIN results s ON s.stage_key = r.eval_key")
        )
    parts = sorted((p["split"], tuple(p["languages"])) for stage in stages for p in stage["parts"])
    # The intermediate stage mixes German and French; both targets (after none, after it) train on German.
    assert parts == [("translate_train", ("de",)), ("translate_train", ("de",)), ("translate_train", ("de", "fr"))]
    assert {("none", "de"), ("translated", "de")} <= evaluated
