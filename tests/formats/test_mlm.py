"""Masked-language modelling: BERT's masking statistics, and an MLM task mixed into an intermediate stage."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import torch
import yaml

from xstilts.cli import main
from xstilts.formats.mlm import IGNORE, mask_tokens
from xstilts.tasks.readers.text import _detokenise


def test_masking_follows_bert_recipe():
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(10, 1000, (400, 250), generator=generator)
    ids[:, 0], ids[:, -1] = 0, 2  # <s> and </s>
    special = torch.tensor([0, 1, 2, 3])
    inputs, labels = mask_tokens(ids, special, mask_id=4, vocab_size=1000, probability=0.15, generator=generator)
    selected = labels != IGNORE
    candidates = (ids != 0) & (ids != 2)
    assert not selected[~candidates].any()  # specials are never selected
    assert selected.sum() / candidates.sum() == pytest.approx(0.15, abs=0.005)
    assert torch.equal(labels[selected], ids[selected])
    masked = (inputs == 4) & selected
    unchanged = (inputs == ids) & selected
    n = selected.sum().item()
    assert masked.sum().item() / n == pytest.approx(0.8, abs=0.01)
    # "unchanged" also holds the ~0.1% of random replacements that drew the same token
    assert unchanged.sum().item() / n == pytest.approx(0.1, abs=0.01)
    assert torch.equal(inputs[~selected], ids[~selected])


def test_character_split_text_is_joined_as_written():
    assert _detokenise(("2", "0", "0", "9", "年")) == "2009年"
    assert _detokenise(("The", "cat", "sat")) == "The cat sat"
    assert _detokenise(("I", "a", "b")) == "I a b"


@pytest.mark.integration
def test_mlm_as_an_auxiliary_task_in_an_intermediate_stage(tmp_path: Path, data: Path, tiny_model_dir: Path):
    spec = {
        "name": "mlm",
        "data_dir": str(data),
        "model": str(tiny_model_dir),
        "train": {"batch_size": 8, "max_length": 48, "precision": "fp32"},
        "intermediate": {
            "sick+mlm": [
                {
                    "tasks": [
                        {"task": "sick", "max_train_examples": 32},
                        {"task": "mlm_wiki", "languages": ["de", "zh"], "max_train_examples": 32},
                    ],
                    "sampler": {"kind": "uniform"},
                }
            ],
        },
        "targets": [{"task": "panx", "max_train_examples": 16, "eval_languages": ["de"], "max_eval_examples": 8}],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "run")]) == 0
    with sqlite3.connect(tmp_path / "run" / "results.sqlite") as db:
        (log,) = db.execute("SELECT log FROM stages WHERE task = 'sick+mlm_wiki'").fetchone()
    report = json.loads(log)["report"]
    assert report["probabilities"] == {"sick": 0.5, "mlm_wiki": 0.5}
    assert report["batches"]["sick"] > 0 and report["batches"]["mlm_wiki"] > 0
    assert json.loads(log)["examples"] == {"sick": 32, "mlm_wiki": 32}
