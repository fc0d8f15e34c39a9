"""The task formats, keyed by the `format` field of a task declaration. A format is built with the options
a spec gives it (e.g. the retrieval layer); each format validates its own options."""

from __future__ import annotations

from typing import Any

from xstilts.formats.base import Format, FormatBase
from xstilts.formats.classification import Classification
from xstilts.formats.corpus_retrieval import BitextMining, CandidateRanking
from xstilts.formats.mlm import MaskedLM
from xstilts.formats.multiple_choice import MultipleChoice
from xstilts.formats.ranking import Ranking
from xstilts.formats.retrieval import Retrieval
from xstilts.formats.span_qa import SpanQA
from xstilts.formats.tagging import Tagging

FORMATS: dict[str, type[FormatBase]] = {
    f.name: f
    for f in (
        Classification,
        MultipleChoice,
        Tagging,
        SpanQA,
        Retrieval,
        BitextMining,
        CandidateRanking,
        Ranking,
        MaskedLM,
    )
}


def make_format(name: str, options: dict[str, Any] | None = None) -> Format:
    """The format `name` with its options; pydantic's ValidationError names a bad option."""
    return FORMATS[name](**(options or {}))  # type: ignore[return-value]
