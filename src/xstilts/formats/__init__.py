"""The task formats, keyed by the `format` field of a task declaration."""

from __future__ import annotations

from xstilts.formats.base import Feature, Format
from xstilts.formats.classification import Classification
from xstilts.formats.multiple_choice import MultipleChoice
from xstilts.formats.tagging import Tagging

FORMATS: dict[str, Format] = {f.name: f for f in (Classification(), MultipleChoice(), Tagging())}

__all__ = ["FORMATS", "Feature", "Format"]
