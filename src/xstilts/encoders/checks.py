"""Checks on a local model directory that run before transformers opens it, so that a bad directory is refused
with one line naming the file, before an experiment directory exists, and no code from it ever runs.

- custom code: a config.json or tokenizer_config.json with `auto_map` asks transformers to import a .py file
  from the directory (it prompts "Do you wish to run the custom code?" on a terminal). xstilts refuses the
  directory outright; `trust_remote_code=False` is passed as well, so a hub model with custom code is refused
  by transformers without a prompt.
- JSON files: the small ones (configs, index) parse and config.json / tokenizer_config.json are objects;
  tokenizer.json (megabytes) is left to the tokenizer's own load.
- weights: each safetensors file (and every shard an index names) is present, readable and has a complete
  header; the tensors the config implies have the shapes the header declares. Only headers are read
  (safetensors.safe_open), never the weights themselves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xstilts.errors import ModelError

# The files transformers reads an `auto_map` (a pointer to the directory's own Python code) from.
CODE_POINTERS = ("config.json", "tokenizer_config.json", "preprocessor_config.json", "processor_config.json")
INDEX = "model.safetensors.index.json"


def read_json_file(path: Path, name: str) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ModelError(f"{path}:{err.lineno}: model '{name}': invalid JSON: {err.msg}") from None
    except UnicodeDecodeError:
        raise ModelError(f"{path}: model '{name}': not UTF-8 text") from None
    except OSError as err:
        raise ModelError(f"{path}: model '{name}': cannot read: {err.strerror or err}") from None


def check_directory(directory: Path, name: str) -> None:
    """Refuse a directory that asks for custom code or holds a malformed JSON file. Runs before transformers
    sees the directory, so no question is ever asked and nothing from it is imported."""
    for path in sorted(directory.glob("*.json")):
        if path.name == "tokenizer.json":
            continue
        content = read_json_file(path, name)
        if path.name in CODE_POINTERS:
            if not isinstance(content, dict):
                raise ModelError(f"{path}: model '{name}': must be a JSON object, got {type(content).__name__}")
            if "auto_map" in content or content.get("trust_remote_code"):
                raise ModelError(
                    f"{path}: model '{name}' asks to run its own code (auto_map); xstilts never runs code from "
                    "a model directory: use a model that transformers supports natively"
                )


def weight_files(directory: Path, name: str) -> list[Path]:
    """The safetensors files of a directory: those an index names (each must exist), else every *.safetensors."""
    index = directory / INDEX
    if index.is_file():
        content = read_json_file(index, name)
        weight_map = content.get("weight_map") if isinstance(content, dict) else None
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise ModelError(f"{index}: model '{name}': no weight_map of tensor -> shard file")
        shards = [directory / shard for shard in sorted(set(weight_map.values()))]
        for shard in shards:
            if shard.parent != directory or not shard.is_file():
                raise ModelError(f"{index}: model '{name}': shard '{shard.name}' is missing from {directory}")
        return shards
    return sorted(directory.glob("*.safetensors"))


def header_shapes(files: list[Path], name: str) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape, from each file's header alone. A truncated or unreadable file is refused here."""
    from safetensors import SafetensorError, safe_open

    shapes: dict[str, tuple[int, ...]] = {}
    for path in files:
        try:
            with path.open("rb"):  # an unreadable file fails here with a plain OSError
                pass
            with safe_open(str(path), framework="pt") as f:
                for key in f.keys():  # noqa: SIM118 (safe_open is not a mapping)
                    shapes[key] = tuple(f.get_slice(key).get_shape())
        except SafetensorError as err:
            raise ModelError(
                f"{path}: model '{name}': not a complete safetensors file ({err}); download or convert it again"
            ) from None
        except OSError as err:
            raise ModelError(f"{path}: model '{name}': cannot read: {err.strerror or err}") from None
    return shapes


def check_shapes(config: Any, shapes: dict[str, tuple[int, ...]], name: str, directory: Path) -> None:
    """Build the encoder the config describes on the meta device (no memory, no weights) and compare each of
    its tensors with the same tensor in the weights' headers: a config whose hidden_size or vocab_size
    disagrees with the weights is refused before anything is loaded."""
    import torch
    from transformers import AutoModel

    try:
        with torch.device("meta"):
            model = AutoModel.from_config(config, trust_remote_code=False)
    except (TypeError, ValueError, KeyError, AttributeError):
        return  # a config transformers cannot build is reported by the load itself, with its own message
    prefix = f"{model.base_model_prefix}." if getattr(model, "base_model_prefix", "") else ""
    stored = {key.removeprefix(prefix): shape for key, shape in shapes.items()}
    for key, tensor in model.state_dict().items():
        if key in stored and tuple(tensor.shape) != stored[key]:
            raise ModelError(
                f"{directory / 'config.json'}: model '{name}': the config gives {key} the shape "
                f"{list(tensor.shape)}, the weights have {list(stored[key])}; the config does not belong to "
                "these weights"
            )


def position_limit(config: Any, tokenizer: Any) -> int | None:
    """The longest input the model takes: the tokenizer's model_max_length where it is set, never more than the
    position table (XLM-R's 514 positions hold 512 tokens: two are offset by the padding index)."""
    positions = getattr(config, "max_position_embeddings", None)
    if positions is not None and getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        positions -= (config.pad_token_id or 0) + 1
    declared = getattr(tokenizer, "model_max_length", None)
    if isinstance(declared, int) and declared < 1_000_000:  # transformers' "unset" is a huge sentinel
        return min(declared, positions) if positions else declared
    return positions
