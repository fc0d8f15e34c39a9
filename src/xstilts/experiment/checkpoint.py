"""Stage checkpoints: safetensors files in stages/<key>/, written to a temporary folder and renamed into
place, so a stage folder either is complete or does not exist."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from xstilts.encoders.loading import load_checked
from xstilts.errors import ModelError

ENCODER, HEADS, INFO = "encoder.safetensors", "heads.safetensors", "stage.json"
# In a stage's INFO: the encoder tensors it did not train, so did not write (frozen word embeddings, 96M weights
# of me5-small), each with where it lives: the stage whose encoder file holds it, or PRETRAINED.
FROZEN, PRETRAINED = "frozen_tensors", "pretrained"


def stage_dir(experiment_dir: Path, key: str) -> Path:
    return experiment_dir / "stages" / key


def save(
    experiment_dir: Path, key: str, encoder: torch.nn.Module, heads: dict[str, torch.nn.Module], info: dict
) -> Path:
    """The encoder, and every task's head under the key prefix "<task>." in one file. The encoder tensors that
    info[FROZEN] names ({name: source}) are not written: they are the source's, unchanged."""
    final = stage_dir(experiment_dir, key)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    frozen = info.get(FROZEN, {})
    try:
        trained = {name: t for name, t in encoder.state_dict().items() if name not in frozen}
        save_file(_contiguous(trained), tmp / ENCODER)
        head_tensors = {f"{task}.{name}": t for task, head in heads.items() for name, t in head.state_dict().items()}
        save_file(_contiguous(head_tensors), tmp / HEADS)
        (tmp / INFO).write_text(json.dumps(info, indent=2, default=str))
        if final.exists():  # a stale folder from a run whose store row never landed
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def lock_path(experiment_dir: Path, key: str) -> Path:
    return experiment_dir / "stages" / f".{key}.lock"


def has_checkpoint(experiment_dir: Path, key: str) -> bool:
    folder = stage_dir(experiment_dir, key)
    return (folder / ENCODER).is_file() and (folder / HEADS).is_file()


def read(experiment_dir: Path, key: str, part: str) -> dict[str, torch.Tensor]:
    """One file (ENCODER or HEADS) of a stage's checkpoint; only safetensors, never pickle."""
    path = stage_dir(experiment_dir, key) / part
    try:
        return load_file(path)
    except (FileNotFoundError, SafetensorError, OSError) as err:
        raise ModelError(f"{path}: cannot read checkpoint ({err}); delete {path.parent} to retrain it") from None


def frozen_sources(experiment_dir: Path, parent: str | None, names: list[str]) -> dict[str, str]:
    """Where each of `names` (encoder tensors a stage left as it got them) lives: where its parent's lives."""
    if parent is None:
        return dict.fromkeys(names, PRETRAINED)
    theirs = _frozen(experiment_dir, parent)
    return {name: theirs.get(name, parent) for name in names}


def _frozen(experiment_dir: Path, key: str) -> dict[str, str]:
    path = stage_dir(experiment_dir, key) / INFO
    try:
        return json.loads(path.read_text()).get(FROZEN, {})
    except (FileNotFoundError, json.JSONDecodeError) as err:
        raise ModelError(f"{path}: cannot read the stage record ({err}); delete {path.parent} to retrain it") from None


def encoder_state(experiment_dir: Path, key: str) -> tuple[dict[str, torch.Tensor], set[str]]:
    """Stage `key`'s encoder tensors (its own file, and the frozen tensors it points at in other stages), and
    the names of those it points at in the pretrained weights, which the caller reads from the model."""
    state = read(experiment_dir, key, ENCODER)
    pretrained = set()
    for name, holder in _frozen(experiment_dir, key).items():
        if holder == PRETRAINED:
            pretrained.add(name)
        else:
            state[name] = _one_tensor(experiment_dir, holder, name, key)
    return state, pretrained


def load_encoder_into(experiment_dir: Path, key: str, encoder: torch.nn.Module, source: str) -> int:
    """Load stage `key`'s encoder into `encoder`, which must hold the pretrained weights if the stage points at
    any (a stage trained from the pretrained model with frozen embeddings). Returns the tensor count."""
    state, pretrained = encoder_state(experiment_dir, key)
    load_checked(encoder, state, pretrained, source)
    return len(state) + len(pretrained)


def _one_tensor(experiment_dir: Path, holder: str, name: str, reader: str) -> torch.Tensor:
    path = stage_dir(experiment_dir, holder) / ENCODER
    try:
        with safe_open(str(path), framework="pt") as file:
            return file.get_tensor(name)
    except (FileNotFoundError, SafetensorError, OSError) as err:
        raise ModelError(
            f"{path}: stage {reader} takes its frozen tensor {name} from here, but cannot read it ({err}); "
            f"delete {stage_dir(experiment_dir, reader)} to retrain it"
        ) from None


def load_into(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> int:
    """Load `state` into `module`, naming `source` if they do not fit; returns the tensor count."""
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise ModelError(f"{source}: checkpoint does not fit the model ({first})") from None
    return len(state)


def heads_of(state: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """Split a HEADS file into one state dict per task."""
    out: dict[str, dict[str, torch.Tensor]] = {}
    for name, tensor in state.items():
        task, _, param = name.partition(".")
        out.setdefault(task, {})[param] = tensor
    return out


def _contiguous(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # safetensors refuses shared or non-contiguous storage; clone what needs it.
    return {k: v.detach().contiguous().clone() if not v.is_contiguous() else v.detach() for k, v in state.items()}
