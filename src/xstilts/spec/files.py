"""Spec files: YAML read safely (duplicate keys and deep nesting refused, naming the file and line), relative
paths resolved against the spec's folder, and the one rule for where the data is."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from xstilts.data.home import default_root
from xstilts.errors import SpecError, UserError
from xstilts.spec.model import DATA_ENV, Spec, parse_spec


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML keeps the last
    one silently, so a second `targets:` would drop the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue  # unhashable: the base class reports it
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key '{key}' (first given on line {seen[key] + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, what: str = "spec") -> Any:
    """A YAML file, safely parsed; any problem (missing, unreadable, not UTF-8, invalid or duplicated key,
    nested too deeply) is one UserError naming the file and, where there is one, the line."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise UserError(f"{path}: {what} file not found") from None
    except (UnicodeDecodeError, OSError) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else err
        raise UserError(f"{path}: cannot read {what}: {reason}") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise UserError(f"{where}: invalid YAML: {getattr(err, 'problem', None) or err}") from None
    except RecursionError:
        raise UserError(f"{path}: invalid YAML: nested too deeply") from None


def load_spec(path: Path) -> Spec:
    """Read and validate a spec file. A relative data_dir is resolved against the spec's folder."""
    raw = read_yaml(path)
    spec = parse_spec(raw, str(path))
    if spec.data_dir is not None and not spec.data_dir.is_absolute():
        spec = spec.model_copy(update={"data_dir": (path.parent / spec.data_dir).resolve()})
    config = spec.launcher.config_file if spec.launcher else None
    if config is not None:
        config = (path.parent / config).resolve()
        if not config.is_file():
            raise SpecError("launcher.config_file", f"accelerate config file {config} does not exist")
        spec = spec.model_copy(update={"launcher": spec.launcher.model_copy(update={"config_file": config})})
    return spec


def find_data_root(flag: Path | None, data_dir: Path | str | None) -> Path:
    """Where the data is, one rule for every command: the --data flag, then $XSTILTS_DATA, then the spec's
    data_dir (a spec names where its author keeps the data; the flag and the variable say where it is here), then
    the data directory under the cache, then the quickstart pack inside the package (data.home)."""
    env = os.environ.get(DATA_ENV)
    if flag is not None:
        where, root = "--data", Path(flag)
    elif env:
        where, root = f"${DATA_ENV}", Path(env)
    elif data_dir is not None:
        where, root = "spec field 'data_dir'", Path(data_dir)
    else:  # nothing names one: fetched data under the cache, else the quickstart pack inside the package
        where, root = default_root()
    if not root.is_dir():
        raise UserError(f"{where}: data directory {root} does not exist")
    return root


def resolve_data_root(spec: Spec, override: Path | None = None) -> Path:
    """The data directory of `spec` by `find_data_root`'s rule."""
    return find_data_root(override, spec.data_dir)
