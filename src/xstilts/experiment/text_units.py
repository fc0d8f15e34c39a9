"""What an example reads, as the leakage guard compares it: normalised text units, whatever the format.

A unit is one piece of text a model reads: a sentence, a question, a context, one side of a pair, an answer choice,
a tagged sentence's words, a raw-text line. Two readers of one file (a tagging reader and the masked-language
reader of the same PAN-X file) give the same units, so what is compared is what is read, not how a format keys it.

Normalisation: Unicode NFKC, case folded, every punctuation and symbol character (Unicode categories P* and S*)
dropped, whitespace collapsed, and characters of scripts written without spaces (Chinese, Japanese kana, Hangul
syllables) split one per token, so that PAN-X's character-split Chinese and the same text written without spaces
give one unit. "A man, plays guitar!" and "a man plays  guitar" are the same unit.

An example's key is its units sorted: swapping a pair's sides, or the order of a question's choices, keeps it."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, fields, is_dataclass
from functools import lru_cache

# Fields that are answers or bookkeeping, not input: equal inputs with other labels are still the same item.
NOT_INPUT = frozenset({"label", "tags", "answers", "answer_starts", "id", "name", "query_ids", "candidate_ids", "gold"})
# Units shorter than this many tokens ("Paris", "thank you") recur in unrelated data and identify no item.
MIN_TOKENS = 3
# Word bigrams are the shingles of the near-duplicate measure (experiment/leakage.py: NEAR_DUPLICATE).
SHINGLE = 2

_UNSPACED = re.compile(r"([\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af])")


@lru_cache(maxsize=1)
def _drop_table() -> dict[int, str]:
    """Every punctuation or symbol code point -> a space (one table, built once, applied by str.translate in C)."""
    return {cp: " " for cp in range(0x30000) if unicodedata.category(chr(cp))[0] in "PS"}


def tokens(text: str) -> tuple[str, ...]:
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_drop_table())
    return tuple(_UNSPACED.sub(r" \1 ", folded).split())


def unit(text: str) -> str:
    return " ".join(tokens(text))


def raw_units(example: object) -> list[str]:
    """The example's input texts, field by field (a tagged sentence's words are one text)."""
    texts: list[str] = []
    for f in fields(example) if is_dataclass(example) else ():
        if f.name in NOT_INPUT:
            continue
        value = getattr(example, f.name)
        if f.name == "words":  # one sentence, however tokenised
            texts.append(" ".join(value))
        elif isinstance(value, tuple):
            texts += [str(v) for v in value]
        elif value:
            texts.append(str(value))
    return texts


@dataclass(frozen=True, slots=True)
class Read:
    """One example as the guard compares it."""

    key: str  # its normalised units, sorted and joined: equal keys are the same item (content)
    units: frozenset[str]  # its units of MIN_TOKENS tokens or more (shared sentence)
    shingles: frozenset[str]  # word bigrams within each unit, whole short units (near duplicate)


def read(example: object) -> Read:
    parts = [tokens(t) for t in raw_units(example)]
    parts = [p for p in parts if p]
    shingles: set[str] = set()
    for p in parts:
        if len(p) < SHINGLE:
            shingles.add(" ".join(p))
        else:
            shingles.update(" ".join(p[i : i + SHINGLE]) for i in range(len(p) - SHINGLE + 1))
    joined = sorted(" ".join(p) for p in parts)
    return Read(
        key="\x1f".join(joined),
        units=frozenset(u for u, p in zip(joined, sorted(parts, key=" ".join), strict=True) if len(p) >= MIN_TOKENS),
        shingles=frozenset(shingles),
    )


def identifies(read_: Read) -> bool:
    """Whether the example's text is long enough to identify an item (3 tokens or more in all)."""
    return sum(len(u.split()) for u in read_.key.split("\x1f")) >= MIN_TOKENS


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0
