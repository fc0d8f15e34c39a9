"""Stage checkpoints: safetensors files in stages/<key>/, written to a temporary folder and renamed into
place, so a stage folder either is complete or does not exist."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from xstilts.errors import ModelError

ENCODER, HEADS, INFO = "encoder.safetensors", "heads.safetensors", "stage.json"


def stage_dir(experiment_dir: Path, key: str) -> Path:
    return experiment_dir / "stages" / key


def save(
    experiment_dir: Path, key: str, encoder: torch.nn.Module, heads: dict[str, torch.nn.Module], info: dict
) -> Path:
    """The encoder, and every task's head under the key prefix "<task>." in one file."""
    final = stage_dir(experiment_dir, key)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    try:
        save_file(_contiguous(encoder.state_dict()), tmp / ENCODER)
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
