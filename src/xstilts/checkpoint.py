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

ENCODER, HEAD, INFO = "encoder.safetensors", "head.safetensors", "stage.json"


def stage_dir(experiment_dir: Path, key: str) -> Path:
    return experiment_dir / "stages" / key


def save(experiment_dir: Path, key: str, encoder: torch.nn.Module, head: torch.nn.Module, info: dict) -> Path:
    final = stage_dir(experiment_dir, key)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
    try:
        save_file(_contiguous(encoder.state_dict()), tmp / ENCODER)
        save_file(_contiguous(head.state_dict()), tmp / HEAD)
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
    return (folder / ENCODER).is_file() and (folder / HEAD).is_file()


def load_weights(experiment_dir: Path, key: str, part: str, module: torch.nn.Module) -> int:
    """Load one part (ENCODER or HEAD) of a stage's checkpoint into `module`; returns the tensor count."""
    path = stage_dir(experiment_dir, key) / part
    try:
        state = load_file(path)
    except (FileNotFoundError, SafetensorError, OSError) as err:
        raise ModelError(f"{path}: cannot read checkpoint ({err}); delete {path.parent} to retrain it") from None
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise ModelError(f"{path}: checkpoint does not fit the model ({first})") from None
    return len(state)


def _contiguous(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # safetensors refuses shared or non-contiguous storage; clone what needs it.
    return {k: v.detach().contiguous().clone() if not v.is_contiguous() else v.detach() for k, v in state.items()}
