"""Readers for the on-disk task formats: one function per format, registered in READERS.

Every reader has the signature ``read_x(path, split, labels=None) -> list[Example]``. ``split`` only matters
where one file holds several splits (SICK) or names a sibling file (XCOPA). ``labels``, when given, is the
allowed label set: class labels for classification, tags for tagging, and for multiple choice the 0-based
answer index as a string (e.g. ``("0", "1")``). Any problem with a file raises DataError naming the file and,
where there is one, the 1-based line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from xstilts.tasks.examples import Example
from xstilts.tasks.readers.classification import (
    read_classification_jsonl,
    read_pair_tsv,
    read_sick,
    read_snli_jsonl,
    read_xglue_tsv,
)
from xstilts.tasks.readers.conllu import read_conllu, read_conllu_feats, read_conllu_xpos
from xstilts.tasks.readers.mewslix import read_mewslix_jsonl
from xstilts.tasks.readers.multiple_choice import (
    read_copa_jsonl,
    read_cosmosqa_csv,
    read_csqa_jsonl,
    read_multiple_choice_jsonl,
    read_siqa_jsonl,
)
from xstilts.tasks.readers.qa import read_squad_json
from xstilts.tasks.readers.retrieval import read_bucc, read_lareqa_json, read_tatoeba
from xstilts.tasks.readers.tagging import read_conll, read_xglue_conll
from xstilts.tasks.readers.text import read_conll_text

Reader = Callable[[Path, str, tuple[str, ...] | None], list[Example]]

READERS: dict[str, Reader] = {
    "pair_tsv": read_pair_tsv,
    "conll": read_conll,
    "conllu": read_conllu,
    "conllu_xpos": read_conllu_xpos,
    "conllu_feats": read_conllu_feats,
    "sick": read_sick,
    "snli_jsonl": read_snli_jsonl,
    "siqa_jsonl": read_siqa_jsonl,
    "copa_jsonl": read_copa_jsonl,
    "cosmosqa_csv": read_cosmosqa_csv,
    "csqa_jsonl": read_csqa_jsonl,
    "squad_json": read_squad_json,
    "conll_text": read_conll_text,
    "classification_jsonl": read_classification_jsonl,
    "multiple_choice_jsonl": read_multiple_choice_jsonl,
    "tatoeba": read_tatoeba,
    "bucc": read_bucc,
    "xglue_tsv": read_xglue_tsv,
    "xglue_conll": read_xglue_conll,
    "lareqa_json": read_lareqa_json,
    "mewslix_jsonl": read_mewslix_jsonl,
}
