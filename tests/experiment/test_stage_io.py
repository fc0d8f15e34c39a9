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


def test_a_child_from_disk_reads_only_the_pretrained_tensors_its_parent_points_at(
    experiment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import safetensors

    from xstilts.encoders import loading

    panx = next(key for key, task, _ in _stages(experiment) if task == "panx")
    expected = load_encoder(ModelSpec(**MODEL))
    checkpoint.load_encoder_into(experiment, panx, expected, "test")  # the pretrained model, overwritten
    pretrained_dir = Path(loading.model_path(ModelSpec(**MODEL)))
    read: list[str] = []
    real_open = safetensors.safe_open

    class Spy:
        def __init__(self, path: str, **kwargs: object):
            self.file, self.pretrained = real_open(path, **kwargs), Path(path).parent == pretrained_dir

        def __enter__(self) -> Spy:
            self.file.__enter__()
            return self

        def __exit__(self, *exc: object) -> None:
            self.file.__exit__(*exc)

        def keys(self) -> list[str]:
            return list(self.file.keys())

        def get_slice(self, name: str) -> object:  # headers only (the config check reads shapes)
            return self.file.get_slice(name)

        def get_tensor(self, name: str) -> torch.Tensor:
            if self.pretrained:
                read.append(name)
            return self.file.get_tensor(name)

    def no_whole_model(spec: ModelSpec) -> None:
        raise AssertionError("the pretrained model was loaded whole")

    monkeypatch.setattr(safetensors, "safe_open", Spy)
    monkeypatch.setattr(loading, "load_encoder", no_whole_model)
    state, pretrained = checkpoint.encoder_state(experiment, panx)
    encoder = loading.encoder_with_weights(ModelSpec(**MODEL), state, pretrained, "test")
    assert read == [WORDS] and pretrained == {WORDS}
    got, want = encoder.state_dict(), expected.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    assert dict(encoder.named_buffers()).keys() == dict(expected.named_buffers()).keys()
    assert all(torch.equal(b, dict(expected.named_buffers())[n]) for n, b in encoder.named_buffers())


def test_a_checkpoint_that_does_not_fit_is_refused_naming_it(experiment: Path) -> None:
    from xstilts.encoders.loading import encoder_with_weights
    from xstilts.errors import ModelError

    panx = next(key for key, task, _ in _stages(experiment) if task == "panx")
    state, pretrained = checkpoint.encoder_state(experiment, panx)
    layer = "encoder.layer.0.attention.self.query.weight"
    with pytest.raises(ModelError, match="stage x: checkpoint does not fit the model"):
        encoder_with_weights(ModelSpec(**MODEL), {**state, layer: torch.zeros(3, 3)}, pretrained, "stage x")
    del state[layer]
    with pytest.raises(ModelError, match=f"stage x: checkpoint does not fit the model.*{layer}"):
        encoder_with_weights(ModelSpec(**MODEL), state, pretrained, "stage x")
