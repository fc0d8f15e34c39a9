"""The task formats (registry.py: FORMATS and make_format). The names below are loaded on first use, so that
importing the torch-free scoring half (formats/scoring.py, for `xstilts score-predictions`) never imports torch."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from xstilts.formats.base import Feature, Format
    from xstilts.formats.registry import FORMATS, make_format

_WHERE = {"Feature": "base", "Format": "base", "FORMATS": "registry", "make_format": "registry"}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"xstilts.formats.{_WHERE[name]}"), name)


__all__ = ["FORMATS", "Feature", "Format", "make_format"]
