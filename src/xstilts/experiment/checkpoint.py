"""Stage checkpoints: safetensors files in stages/<key>/, written to a temporary folder and renamed into
place, so a stage folder either is complete or does not exist. The size and SHA-256 of each file are recorded
in its stage.json when it is written, and checked before the stage is reused (`problem`): a file truncated,
replaced or deleted since is never read as the stage's weights."""

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
from xstilts.errors import ModelError, os_error_in
from xstilts.tasks.loading import file_digest

ENCODER, HEADS, INFO = "encoder.safetensors", "heads.safetensors", "stage.json"
# In a stage's INFO: the encoder tensors it did not train, so did not write (frozen word embeddings, 96M weights
# of me5-small), each with where it lives: the stage whose encoder file holds it, or PRETRAINED.
FROZEN, PRETRAINED = "frozen_tensors", "pretrained"
# In a stage's INFO: {file name: {"size": bytes, "sha256": hex digest}} of the tensor files, as written.
FILES = "files"


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
        _save_tensors(_contiguous(trained), tmp / ENCODER)
        head_tensors = {f"{task}.{name}": t for task, head in heads.items() for name, t in head.state_dict().items()}
        _save_tensors(_contiguous(head_tensors), tmp / HEADS)
        files = {part: _measure(tmp / part) for part in (ENCODER, HEADS)}
        (tmp / INFO).write_text(json.dumps({**info, FILES: files}, indent=2, default=str))
        if final.exists():  # a stale folder from a run whose store row never landed
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """save_file, whose OS errors (a full disk, a read-only folder) come as an OSError naming the file: the CLI
    then says what and where in one line (errors.one_line) instead of reporting a SafetensorError as a bug."""
    try:
        save_file(tensors, path)
    except SafetensorError as err:
        os_error = os_error_in(err, path)
        if os_error is None:
            raise
        raise os_error from None


def _measure(path: Path) -> dict[str, int | str]:
    stat = path.stat()
    return {"size": stat.st_size, "sha256": file_digest(path, stat.st_size, stat.st_mtime_ns)}


def problem(experiment_dir: Path, key: str, hashes: bool = True) -> str | None:
    """Why stage `key`'s checkpoint cannot be reused, or None when it can: a file missing, or no longer of the
    size (with `hashes`, also the SHA-256) recorded when it was written; the same for the stages whose encoder
    files hold the tensors it did not train (frozen), which it reads too. Checkpoints written before sizes were
    recorded are checked for their files only."""
    folder = stage_dir(experiment_dir, key)
    if not ((folder / ENCODER).is_file() and (folder / HEADS).is_file()):
        return f"{folder}: checkpoint files missing"
    try:
        info = json.loads((folder / INFO).read_text())
    except (OSError, json.JSONDecodeError) as err:
        return f"{folder / INFO}: cannot read the stage record ({err})"
    for part, recorded in info.get(FILES, {}).items():
        found = _file_problem(folder / part, recorded, hashes)
        if found:
            return found
    for holder in sorted(set(info.get(FROZEN, {}).values()) - {PRETRAINED}):
        found = problem(experiment_dir, holder, hashes)
        if found:
            return f"{found} (stage {key} reads its frozen tensors there)"
    return None


def _file_problem(path: Path, recorded: dict, hashes: bool) -> str | None:
    try:
        stat = path.stat()
    except OSError as err:
        return f"{path}: {err.strerror}"
    if stat.st_size != recorded.get("size"):
        return f"{path}: {stat.st_size} bytes, {recorded.get('size')} when it was written"
    if hashes and file_digest(path, stat.st_size, stat.st_mtime_ns) != recorded.get("sha256"):
        return f"{path}: its content changed since it was written (SHA-256 differs)"
    return None


def lock_path(experiment_dir: Path, key: str) -> Path:
    return experiment_dir / "stages" / f".{key}.lock"


def has_checkpoint(experiment_dir: Path, key: str) -> bool:
    folder = stage_dir(experiment_dir, key)
    return (folder / ENCODER).is_file() and (folder / HEADS).is_file()


def read(experiment_dir: Path, key: str, part: str) -> dict[str, torch.Tensor]:
    """One file (ENCODER or HEADS) of a stage's checkpoint, checked against its recorded size and hash; only
    safetensors, never pickle."""
    path = stage_dir(experiment_dir, key) / part
    recorded = _recorded(experiment_dir, key).get(part)
    found = _file_problem(path, recorded, hashes=True) if recorded else None
    if found:
        raise ModelError(f"{found}; delete {path.parent} to retrain it")
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
    return _info(experiment_dir, key).get(FROZEN, {})


def _recorded(experiment_dir: Path, key: str) -> dict[str, dict]:
    """The sizes and hashes recorded for a stage's files; none for a stage folder without a readable record
    (written before records, or by a test), whose files are then only parsed."""
    try:
        return _info(experiment_dir, key).get(FILES, {})
    except ModelError:
        return {}


def _info(experiment_dir: Path, key: str) -> dict:
    path = stage_dir(experiment_dir, key) / INFO
    try:
        return json.loads(path.read_text())
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
    recorded = _recorded(experiment_dir, holder).get(ENCODER)
    try:
        found = _file_problem(path, recorded, hashes=True) if recorded else None
        if found:
            raise OSError(found)
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
