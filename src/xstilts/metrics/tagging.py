"""Chunk F1 for sequence tagging: PAN-X through the seqeval library, UD-POS as seqeval 0.0.12 computed it.

XTREME scores both tasks with seqeval's `f1_score` (google-research/xtreme evaluate.py `f1`): micro F1 over *chunks*,
not tokens, for POS tags too. The two seqeval releases disagree on bare tags such as POS tags, because each cuts a
tag into a one-character prefix and a type in its own way (docs/metric-facts.md):

    tag        seqeval 0.0.12 (prefix, type)    seqeval 1.2.x (prefix, type)
    B-PER      B, PER                           B, PER
    NOUN       N, NOUN                          N, OUN
    SCONJ      S, SCONJ  (S = single chunk)     S, CONJ  (same type as CCONJ -> C, CONJ)
    X          X, X                             X, _     (a sentence-final X never closes, so it is lost)

XTREME's published UD-POS numbers (and its test value 70.2175 on its mock files) exist only under 0.0.12, hence
`udpos_f1`, written out here so the project does not depend on a 2019 release. PAN-X tags are all `B-`/`I-`/`O`,
on which both releases agree, so `seqeval_f1` uses the installed library.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence


def seqeval_f1(predictions: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]) -> dict[str, float]:
    """Chunk F1 x100 with the installed seqeval 1.2.x in its default (conlleval-style) mode, as XTREME scores PAN-X:
    runs of `I-` tags of one type form a chunk and an `I-` tag with no `B-` before it starts one. Use `udpos_f1`
    for UD-POS, whose tags this release parses differently from the one XTREME used.

    >>> seqeval_f1([["B-PER", "I-PER", "O"]], [["B-PER", "I-PER", "O"]])
    {'f1': 100.0}
    """
    from seqeval.metrics import f1_score  # imports scikit-learn (1.4 s): only when scoring

    with warnings.catch_warnings():  # seqeval warns that POS tags "seem not to be NE tags"
        warnings.simplefilter("ignore", UserWarning)
        return {"f1": 100.0 * float(f1_score([list(g) for g in golds], [list(p) for p in predictions]))}


# seqeval 0.0.12's boundary rules (seqeval/metrics/sequence_labeling.py, `end_of_chunk` and `start_of_chunk`), on the
# one-character prefix of a tag. "O" and "." are outside any chunk; B/I/E/S are the IOBES roles; any other first
# letter (the N of NOUN, the V of VERB) only takes part through the type-change rule, so a run of identical POS tags
# is one chunk. Tags whose first letter is S (SCONJ, SYM) or I (INTJ) fall under the S and I rules: an SCONJ is
# always a chunk of its own, as the old release did it.
_OUTSIDE = frozenset("O.")
_ENDS_AFTER_ANY = frozenset("ES")  # an E or S tag always closes its chunk
_ENDS_BEFORE = {"B": frozenset("BSO"), "I": frozenset("BSO")}  # prefix pairs (previous, current) closing a chunk
_STARTS_ALWAYS = frozenset("BS")
_STARTS_AFTER = {"E": frozenset("EI"), "S": frozenset("EI"), "O": frozenset("EI")}  # pairs opening a chunk


def _prefix_and_type(tag: str) -> tuple[str, str]:
    """seqeval 0.0.12 reads the first character as the prefix and the text after the last '-' as the type."""
    if not tag:
        raise ValueError("an empty tag has no prefix")
    return tag[0], tag.split("-")[-1]


def _chunks_0_0_12(sentences: Sequence[Sequence[str]]) -> set[tuple[str, int, int]]:
    """The chunks (type, first, last) seqeval 0.0.12's `get_entities` finds in a list of sentences.

    It joins the sentences with an "O" after each, and adds one more "O", so offsets run over the whole corpus and
    no chunk spans two sentences. The start offset is only moved when a chunk starts; a chunk that closes without
    having started (an E tag straight after another chunk's E, say) reuses the old offset, exactly as there.
    """
    flat = [tag for sentence in sentences for tag in (*sentence, "O")] + ["O"]
    chunks = set()
    prev_prefix, prev_type, begin = "O", "", 0
    for i, tag in enumerate(flat):
        prefix, type_ = _prefix_and_type(tag)
        type_changed = prev_type != type_
        if (
            prev_prefix in _ENDS_AFTER_ANY
            or prefix in _ENDS_BEFORE.get(prev_prefix, ())
            or (prev_prefix not in _OUTSIDE and type_changed)
        ):
            chunks.add((prev_type, begin, i - 1))
        if (
            prefix in _STARTS_ALWAYS
            or prefix in _STARTS_AFTER.get(prev_prefix, ())
            or (prefix not in _OUTSIDE and type_changed)
        ):
            begin = i
        prev_prefix, prev_type = prefix, type_
    return chunks


def udpos_f1(predictions: Sequence[Sequence[str]], golds: Sequence[Sequence[str]]) -> dict[str, float]:
    """Chunk F1 x100 exactly as seqeval 0.0.12's `f1_score` computes it, the release behind XTREME's UD-POS numbers.

    Chunks are (type, start, end) over the corpus (see `_chunks_0_0_12`); precision = correct / predicted chunks,
    recall = correct / gold chunks, F1 their harmonic mean, 0 when nothing is correct. Unlike the old release,
    a prediction whose length differs from its gold sentence raises instead of shifting every later offset.

    >>> udpos_f1([["NOUN", "NOUN", "VERB"]], [["NOUN", "NOUN", "VERB"]])
    {'f1': 100.0}
    >>> udpos_f1([["PRON", "VERB", "SCONJ", "X"]], [["PRON", "VERB", "CCONJ", "X"]])["f1"]
    75.0
    """
    if len(predictions) != len(golds):
        raise ValueError(f"udpos_f1 needs one prediction per sentence ({len(predictions)} vs {len(golds)})")
    for i, (prediction, gold) in enumerate(zip(predictions, golds, strict=True)):
        if len(prediction) != len(gold):
            raise ValueError(f"sentence {i}: {len(prediction)} predicted tags for {len(gold)} gold tags")
    predicted, true = _chunks_0_0_12(predictions), _chunks_0_0_12(golds)
    correct = len(predicted & true)
    if correct == 0:
        return {"f1": 0.0}
    precision, recall = correct / len(predicted), correct / len(true)
    return {"f1": 100.0 * (2 * precision * recall / (precision + recall))}
