"""Stage I/O: a stage writes only the encoder tensors it trained (frozen ones point at where they live), and a
child stage takes the encoder its parent left in memory when the same process just trained it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import torch
import yaml
from safetensors import safe_open

from xstilts.cli import main
from xstilts.encoders.loading import load_encoder
from xstilts.experiment import checkpoint
from xstilts.spec import ModelSpec

WORDS = "embeddings.word_embeddings.weight"
MODEL = {"name": "me5-small", "num_layers": 1}


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory, data: Path, me5_dir: Path) -> Path:
    tmp = tmp_path_factory.mktemp("stage-io")
    spec = {
        "name": "stage-io",
        "data_dir": str(data),
        "model": MODEL,
        "train": {"batch_size": 8, "max_length": 32, "max_steps": 2, "freeze_embeddings": True},
        "intermediate": {"sick": [{"task": "sick", "max_train_examples": 16}]},
        "targets": [
            {"task": "panx", "max_train_examples": 16, "eval_languages": ["en"], "max_eval_examples": 8},
            {"task": "xnli", "train_task": "sick", "max_train_examples": 16, "eval_languages": ["en"],
             "max_eval_examples": 8, "train": {"freeze_embeddings": False}},
        ],
    }  # fmt: skip
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["run", str(tmp / "spec.yaml"), "--out", str(tmp / "run")]) == 0
    return tmp / "run"


def _stages(experiment: Path) -> list[tuple[str, str, dict]]:
    with sqlite3.connect(experiment / "results.sqlite") as db:
        found = db.execute("SELECT key, task, log FROM stages WHERE kind = 'train'").fetchall()
    return [(key, task, json.loads(log)) for key, task, log in found]


def _tensor_names(experiment: Path, key: str) -> set[str]:
    with safe_open(str(checkpoint.stage_dir(experiment, key) / checkpoint.ENCODER), framework="pt") as file:
        return set(file.keys())


def test_frozen_embeddings_are_not_saved_again_but_point_at_their_source(experiment: Path) -> None:
    stages = _stages(experiment)
    sick = next(key for key, task, log in stages if task == "sick" and "pretrained" in log["init"]["encoder"])
    panx = next(key for key, task, _ in stages if task == "panx")
    trained = next(key for key, task, log in stages if task == "sick" and key != sick)  # embeddings trained
    for key in (sick, panx):
        assert WORDS not in _tensor_names(experiment, key)
        info = json.loads((checkpoint.stage_dir(experiment, key) / checkpoint.INFO).read_text())
        assert info[checkpoint.FROZEN] == {WORDS: checkpoint.PRETRAINED}  # through the chain, to the source
    assert WORDS in _tensor_names(experiment, trained)
    pretrained = load_encoder(ModelSpec(**MODEL))
    encoder = load_encoder(ModelSpec(**MODEL))
    n = checkpoint.load_encoder_into(experiment, panx, encoder, "test")
    assert n == len(encoder.state_dict())
    assert torch.equal(encoder.get_input_embeddings().weight, pretrained.get_input_embeddings().weight)
    layer = "encoder.layer.0.attention.self.query.weight"
    assert not torch.equal(encoder.state_dict()[layer], pretrained.state_dict()[layer])  # the trained tensors


def test_a_child_takes_the_encoder_its_parent_just_left_in_memory(experiment: Path) -> None:
    stages = _stages(experiment)
    sick = next(key for key, task, log in stages if task == "sick" and "pretrained" in log["init"]["encoder"])
    children = [log["init"]["encoder"] for _, _, log in stages if f"from stage {sick}" in log["init"]["encoder"]]
    assert len(children) == 2 and any(e.endswith(", in memory") for e in children)


def test_a_stage_pointing_at_a_missing_tensor_says_which(experiment: Path, tmp_path: Path) -> None:
    import shutil

    from xstilts.errors import ModelError

    stages = _stages(experiment)
    panx = next(key for key, task, _ in stages if task == "panx")
    shutil.copytree(checkpoint.stage_dir(experiment, panx), checkpoint.stage_dir(tmp_path, panx))
    info_path = checkpoint.stage_dir(tmp_path, panx) / checkpoint.INFO
    info = json.loads(info_path.read_text())
    info[checkpoint.FROZEN] = {WORDS: "0123456789abcdef"}
    info_path.write_text(json.dumps(info))
    with pytest.raises(ModelError, match="frozen tensor embeddings.word_embeddings.weight"):
        checkpoint.load_encoder_into(tmp_path, panx, load_encoder(ModelSpec(**MODEL)), "test")
