"""Readers for the on-disk task formats: one function per format, registered in READERS.

Every reader has the signature ``read_x(path, split, labels=None) -> list[Example]``. ``split`` only matters
where one file holds several splits (SICK) or names a sibling file (XCOPA). ``labels``, when given, is the
allowed label set: class labels for classification, tags for tagging, and for multiple choice the 0-based
answer index as a string (e.g. ``("0", "1")``). Any problem with a file raises DataError naming the file and,
where there is one, the 1-based line.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from xstilts.errors import DataError
from xstilts.tasks.examples import (
    ClassificationExample,
    Example,
    MultipleChoiceExample,
    RetrievalCorpus,
    SpanQAExample,
    TaggingExample,
    TextExample,
    TranslationPair,
)
from xstilts.tasks.lareqa import Paragraph, lareqa_corpus
from xstilts.tasks.mewslix import read_mewslix_jsonl

Reader = Callable[[Path, str, tuple[str, ...] | None], list[Example]]

_MAX_LABELS_SHOWN = 10


# --- shared helpers ---------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as e:
        raise DataError(path, f"cannot read file: {e.strerror}") from None
    # Same as decoding with "utf-8-sig", but error offsets then stay relative to what we count lines in.
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise DataError(path, f"invalid UTF-8 (byte 0x{data[e.start]:02x})", line=line) from None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its line end); CRLF and LF both accepted."""
    # Split on "\n" only: str.splitlines() would also break at U+001C, U+0085, U+2028 etc., and such control
    # characters do occur inside text in this data (README "Validation and anomalies": U+001C, C1 controls).
    for number, line in enumerate(_read_text(path).split("\n"), start=1):
        yield number, line.removesuffix("\r")


def _csv_rows(path: Path, delimiter: str, quoting: int = csv.QUOTE_MINIMAL) -> Iterator[tuple[int, list[str]]]:
    """(first line of the record, fields) for each non-blank record."""
    # newline="" so the csv module sees CRLF itself and quoted fields come back as the original text (README:
    # XNLI/PAWS-X were written by csv.writer, so CRLF and "" quoting; CosmosQA valid.csv is quoted CSV, CRLF).
    reader = csv.reader(io.StringIO(_read_text(path), newline=""), delimiter=delimiter, quoting=quoting)
    start = 1
    try:
        for fields in reader:
            if fields:
                yield start, fields
            start = reader.line_num + 1
    except csv.Error as e:
        raise DataError(path, f"malformed CSV: {e}", line=start) from None


def _check_columns(path: Path, line: int, fields: list[str], expected: int) -> None:
    if len(fields) != expected:
        raise DataError(path, f"expected {expected} columns, got {len(fields)}", line=line)


class _Row:
    """One record (JSON object or CSV row with a header) that knows where it came from, for error messages."""

    def __init__(self, path: Path, line: int, data: Mapping[str, object]):
        self.path, self.line, self.data = path, line, data

    def error(self, message: str) -> DataError:
        return DataError(self.path, message, line=self.line)

    def get(self, key: str) -> object:
        if key not in self.data:
            raise self.error(f"missing key '{key}'")
        return self.data[key]

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise self.error(f"key '{key}' must be a string, got {type(value).__name__}")
        return value

    def integer(self, key: str) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f"key '{key}' must be an integer, got {value!r}")
        return value

    def mapping(self, key: str) -> Mapping[str, object]:
        value = self.get(key)
        if not isinstance(value, dict):
            raise self.error(f"key '{key}' must be a JSON object, got {type(value).__name__}")
        return value

    def index(self, key: str, options: Mapping[str, int]) -> int:
        """The index of the value of `key` among `options` (e.g. answer letters)."""
        value = self.get(key)
        if value not in options:
            raise self.error(f"key '{key}' is {value!r}, expected one of {', '.join(options)}")
        return options[value]


def _jsonl(path: Path) -> Iterator[_Row]:
    for number, line in _lines(path):
        if not line.strip():
            continue
        yield _Row(path, number, json_object(path, number, line))


def json_object(path: Path, number: int, line: str) -> dict:
    """One JSONL line, which must hold a JSON object; DataError names the file and line otherwise."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataError(path, f"invalid JSON: {e.msg} (column {e.colno})", line=number) from None
    if not isinstance(obj, dict):
        raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", line=number)
    return obj


def _header_rows(
    path: Path, delimiter: str, required: tuple[str, ...], quoting: int = csv.QUOTE_MINIMAL
) -> Iterator[_Row]:
    rows = _csv_rows(path, delimiter, quoting)
    first = next(rows, None)
    if first is None:
        raise DataError(path, "no examples")
    line, header = first
    missing = [name for name in required if name not in header]
    if missing:
        raise DataError(path, f"missing column(s) {', '.join(map(repr, missing))}", line=line)
    for line, fields in rows:
        _check_columns(path, line, fields, len(header))
        yield _Row(path, line, dict(zip(header, fields, strict=True)))


def _check_label(path: Path, line: int, label: str, labels: tuple[str, ...] | None) -> None:
    if labels is not None and label not in labels:
        shown = ", ".join(labels[:_MAX_LABELS_SHOWN]) + (", ..." if len(labels) > _MAX_LABELS_SHOWN else "")
        raise DataError(path, f"label {label!r} is not one of the allowed labels ({shown})", line=line)


def _nonempty(path: Path, examples: list[Example]) -> list[Example]:
    if not examples:
        raise DataError(path, "no examples")
    return examples


def _multiple_choice(
    row: _Row,
    context: str,
    question: str,
    choices: tuple[str, ...],
    label: int,
    labels: tuple[str, ...] | None,
) -> MultipleChoiceExample:
    if not 0 <= label < len(choices):
        raise row.error(f"answer index {label} out of range for {len(choices)} choices")
    _check_label(row.path, row.line, str(label), labels)
    return MultipleChoiceExample(context, question, choices, label)


# --- sentence-pair classification --------------------------------------------------------------------------


# XNLI-MT's files (XTREME's xnli/train-en.tsv and its translate-train files) spell one label "contradictory";
# XTREME's processors/xnli.py reads it as "contradiction", the spelling of every XNLI dev and test file.
_LABEL_SPELLINGS = {"contradictory": "contradiction"}


def read_pair_tsv(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """XNLI / PAWS-X: `sentence1<TAB>sentence2<TAB>label`, no header. The translate-train files of XTREME's
    translations bucket have five columns, `en1<TAB>en2<TAB>translated1<TAB>translated2<TAB>label`: the
    translated pair is read."""
    examples: list[Example] = []
    for line, fields in _csv_rows(path, "\t"):
        if len(fields) != 5:
            _check_columns(path, line, fields, 3)
        label = _LABEL_SPELLINGS.get(fields[-1], fields[-1])
        _check_label(path, line, label, labels)
        examples.append(ClassificationExample(fields[-3], fields[-2], label))
    return _nonempty(path, examples)


_SICK_SETS = {"train": "TRAIN", "dev": "TRIAL", "test": "TEST"}


def read_xglue_tsv(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """XGLUE's NC, QADSM, WPR and QAM files (xglue_full_dataset/{TASK}/xglue.{task}.{lang}.{split}; Data_Format.txt):
    tab-separated, no header, the first field is text_a (news title, query, question), the last the label, and the
    fields between are joined by a space into text_b (news body; ad title and description; page title and snippet;
    passage). A label written as a 0-based index of the label set is read as that label: WPR's 0..4 grades and
    QAM's 0/1 (the order of the Hub's ClassLabel names). XGLUE's test files have no label column and are refused."""
    examples: list[Example] = []
    width = None
    for line, text in _lines(path):
        if not text.strip():
            continue
        fields = text.split("\t")
        width = width or len(fields)
        if width < 3:
            raise DataError(path, f"expected text, text and label columns, got {width} column(s)", line=line)
        _check_columns(path, line, fields, width)
        label = fields[-1].strip()
        if labels is not None and label not in labels and label.isdigit() and int(label) < len(labels):
            label = labels[int(label)]
        _check_label(path, line, label, labels)
        examples.append(ClassificationExample(fields[0], " ".join(fields[1:-1]), label))
    return _nonempty(path, examples)


def read_sick(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """SICK.txt: one file for all splits, selected by the SemEval_set column."""
    if split not in _SICK_SETS:
        raise DataError(path, f"unknown split {split!r} for SICK, expected one of {', '.join(_SICK_SETS)}")
    columns = ("sentence_A", "sentence_B", "entailment_label", "SemEval_set")
    examples: list[Example] = []
    # QUOTE_NONE: SICK is plain tab-separated; its 126 literal '"' are text, not quoting (README).
    for row in _header_rows(path, "\t", columns, quoting=csv.QUOTE_NONE):
        if row.text("SemEval_set") != _SICK_SETS[split]:
            continue
        label = row.text("entailment_label").lower()  # SICK writes ENTAILMENT/NEUTRAL/CONTRADICTION
        _check_label(path, row.line, label, labels)
        examples.append(ClassificationExample(row.text("sentence_A"), row.text("sentence_B"), label))
    return _nonempty(path, examples)


def read_snli_jsonl(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    examples: list[Example] = []
    for row in _jsonl(path):
        label = row.text("gold_label")
        if label == "-":  # no annotator consensus; SNLI's own convention is to drop these
            continue
        _check_label(path, row.line, label, labels)
        examples.append(ClassificationExample(row.text("sentence1"), row.text("sentence2"), label))
    return _nonempty(path, examples)


# --- tagging ------------------------------------------------------------------------------------------------


def read_conll(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """UD-POS / PAN-X: `token<TAB>tag` per line, a blank line between sentences."""
    examples: list[Example] = []
    words: list[str] = []
    tags: list[str] = []
    for line, text in _lines(path):
        if not text.strip():
            if words:
                examples.append(TaggingExample(tuple(words), tuple(tags)))
                words, tags = [], []
            continue
        fields = text.split("\t")
        _check_columns(path, line, fields, 2)
        _check_label(path, line, fields[1], labels)
        words.append(fields[0])
        tags.append(fields[1])
    if words:  # README: no blank line after the last sentence
        examples.append(TaggingExample(tuple(words), tuple(tags)))
    return _nonempty(path, examples)


# --- multiple choice ----------------------------------------------------------------------------------------


def read_siqa_jsonl(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    examples: list[Example] = []
    for row in _jsonl(path):
        choices = (row.text("answerA"), row.text("answerB"), row.text("answerC"))
        label = row.index("correct", {"A": 0, "B": 1, "C": 2})
        examples.append(_multiple_choice(row, row.text("context"), row.text("question"), choices, label, labels))
    return _nonempty(path, examples)


_COPA_QUESTIONS = {"cause": "What was the cause?", "effect": "What happened as a result?"}
_XCOPA_NAME = re.compile(r"(?P<split>val|test)\.(?P<lang>[^.]+)\.jsonl")


def _english_copa_questions(path: Path) -> dict[int, str]:
    """idx -> question kind from the English COPA file of the same split, or {} if there is none."""
    # The XCOPA `question` field is wrong upstream for th/tr/sw/id/it (th val: 52 of 100; README "XCOPA",
    # allenai/natural-instructions#522). All languages share idx and item order, and the English val/test
    # files match the correct languages exactly, so English is the reference.
    match = _XCOPA_NAME.fullmatch(path.name)
    if match is None or path.parent.name != match["lang"]:
        return {}
    english = path.parent.parent / f"{match['split']}-en.jsonl"
    if not english.is_file():
        return {}
    return {row.integer("idx"): row.text("question") for row in _jsonl(english)}


def read_copa_jsonl(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """COPA / XCOPA. Note: xcopa/test-en.jsonl has placeholder labels (all 0), so it cannot be evaluated."""
    english_questions = _english_copa_questions(path)
    examples: list[Example] = []
    for row in _jsonl(path):
        kind = english_questions.get(row.integer("idx"), row.text("question"))
        if kind not in _COPA_QUESTIONS:
            raise row.error(f"key 'question' is {kind!r}, expected 'cause' or 'effect'")
        choices = (row.text("choice1"), row.text("choice2"))
        question = _COPA_QUESTIONS[kind]
        examples.append(_multiple_choice(row, row.text("premise"), question, choices, row.integer("label"), labels))
    return _nonempty(path, examples)


def read_cosmosqa_csv(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    answers = tuple(f"answer{i}" for i in range(4))
    examples: list[Example] = []
    for row in _header_rows(path, ",", ("context", "question", *answers, "label")):
        label = row.index("label", {str(i): i for i in range(4)})
        choices = tuple(row.text(key) for key in answers)
        examples.append(_multiple_choice(row, row.text("context"), row.text("question"), choices, label, labels))
    return _nonempty(path, examples)


def read_csqa_jsonl(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """CommonsenseQA in the Hugging Face schema (README: not the original nested one)."""
    examples: list[Example] = []
    for row in _jsonl(path):
        choices = _Row(path, row.line, row.mapping("choices"))
        letters, texts = choices.get("label"), choices.get("text")
        if not _str_list(letters) or not _str_list(texts) or len(letters) != len(texts):
            raise row.error("key 'choices' must hold equally long string lists 'label' and 'text'")
        label = row.index("answerKey", {letter: i for i, letter in enumerate(letters)})
        examples.append(_multiple_choice(row, "", row.text("question"), tuple(texts), label, labels))
    return _nonempty(path, examples)


def read_classification_jsonl(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """Your own classification data: one object per line, {"text_a": ..., "text_b": ... (optional), "label": ...}."""
    examples: list[Example] = []
    for row in _jsonl(path):
        label = str(row.get("label"))
        _check_label(path, row.line, label, labels)
        text_b = row.text("text_b") if "text_b" in row.data else None
        examples.append(ClassificationExample(row.text("text_a"), text_b, label))
    return _nonempty(path, examples)


def read_multiple_choice_jsonl(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """Your own multiple-choice data: {"context": ... (optional), "question": ..., "choices": [...], "label": i}."""
    examples: list[Example] = []
    for row in _jsonl(path):
        choices = row.get("choices")
        if not _str_list(choices) or len(choices) < 2:
            raise row.error("key 'choices' must be a list of at least two strings")
        context = row.text("context") if "context" in row.data else ""
        label = row.index("label", dict(zip(range(len(choices)), range(len(choices)), strict=True)))
        examples.append(_multiple_choice(row, context, row.text("question"), tuple(choices), label, labels))
    return _nonempty(path, examples)


def read_conll_text(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """Raw sentences from a token-tag file (tags ignored), for masked-language modelling. Words are joined by
    spaces, except sentences split into single characters with some non-ASCII among them (the character-split
    Chinese and Japanese of PAN-X), which are joined without, as the text was written."""
    return [TextExample(_detokenise(e.words)) for e in read_conll(path, split, None)]  # type: ignore[union-attr]


def _detokenise(words: tuple[str, ...]) -> str:
    if len(words) >= 3 and all(len(w) == 1 for w in words) and not all(w.isascii() for w in words):
        return "".join(words)
    return " ".join(words)


def read_squad_json(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """SQuAD v1.1 JSON (XQuAD, MLQA, TyDiQA-GoldP). Examples keep file order: TyDiQA ids are not unique
    (README), so nothing downstream may key by id alone."""
    text = _read_text(path)
    if not text.strip():
        return _nonempty(path, [])
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(path, f"invalid JSON: {e.msg}", line=e.lineno) from None
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise DataError(path, "expected a SQuAD JSON object with a 'data' list")
    examples: list[Example] = []
    for article in document["data"]:
        for paragraph in article.get("paragraphs", []):
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                answers = qa.get("answers", [])
                if split == "translate_train" and not all(_found(context, answer) for answer in answers):
                    continue  # translation lost the answer (answer_start -1): XTREME's run_squad skips these too
                examples.append(_span_example(path, qa, context, answers))
    return _nonempty(path, examples)


def _found(context: str, answer: dict) -> bool:
    start, text = answer.get("answer_start"), answer.get("text")
    if not isinstance(start, int) or not isinstance(text, str) or start < 0:
        return False
    return context[start : start + len(text)] == text


def _span_example(path: Path, qa: dict, context: str, answers: list[dict]) -> SpanQAExample:
    for answer in answers:
        if not _found(context, answer):
            text, start = answer.get("text"), answer.get("answer_start")
            raise DataError(path, f"question {qa.get('id')!r}: answer {text!r} is not at offset {start} of its context")
    return SpanQAExample(
        str(qa.get("id", "")),
        qa["question"],
        context,
        tuple(a["text"] for a in answers),
        tuple(a["answer_start"] for a in answers),
    )


def read_tatoeba(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """Tatoeba `{xx}-en.{xx}` with its English side `{xx}-en.en` beside it, line i translating line i.
    XTREME's download writes the English side sorted (its gold order is private): such a file is refused,
    since scoring it as aligned would report near-zero accuracy as if it were real."""
    english = path.with_suffix(".en")
    sources = _nonempty(path, [line for _, line in _lines(path) if line])
    targets = [line for _, line in _lines(english) if line]
    if len(sources) != len(targets):
        raise DataError(english, f"{len(targets)} lines, but {path.name} has {len(sources)}")
    if len(targets) > 2 and targets == sorted(targets):
        raise DataError(
            english,
            "lines are sorted alphabetically (an XTREME download): not aligned with "
            f"{path.name}; use the line-aligned English side",
        )
    return [TranslationPair(s, t) for s, t in zip(sources, targets, strict=True)]


def read_bucc(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """BUCC 2018 in XTREME's layout: `{xx}-en.{dev,test}.{xx}` and the English `{xx}-en.{dev,test}.en` beside it,
    `id<TAB>sentence` per line, and `{xx}-en.{dev,test}.gold` with `xx_id<TAB>en_id` per gold pair. The whole file
    pair is one example (mining is scored per corpus). XTREME's download script deletes the test gold
    (`rm $base_dir/*test.gold`); keep it from BUCC's training-gold archive to score test."""
    query_ids, queries = _id_sentences(path)
    candidate_ids, candidates = _id_sentences(path.with_suffix(".en"))
    gold_path = path.with_suffix(".gold")
    if not gold_path.is_file():
        why = "file not found (XTREME's download deletes BUCC test gold: take it from BUCC's training-gold archive)"
        raise DataError(gold_path, why)
    known = (set(query_ids), set(candidate_ids))
    gold = set()
    for line, text in _lines(gold_path):
        if not text.strip():
            continue
        fields = text.split("\t")
        _check_columns(gold_path, line, fields, 2)
        for field, ids, side in zip(fields, known, (path.name, path.with_suffix(".en").name), strict=True):
            if field not in ids:
                raise DataError(gold_path, f"id {field!r} is not in {side}", line=line)
        gold.add((fields[0], fields[1]))
    if not gold:
        raise DataError(gold_path, "no gold pairs")
    return [RetrievalCorpus(path.stem, query_ids, queries, candidate_ids, candidates, tuple(sorted(gold)))]


def read_lareqa_json(path: Path, split: str, labels: tuple[str, ...] | None = None) -> list[Example]:
    """LAReQA: XQuAD-R's `xquad-r/{lang}.json` (SQuAD JSON whose paragraphs also carry `sentences` and
    `sentence_breaks`) asks its questions against the sentences of every `*.json` beside it (tasks/lareqa.py).
    One example: the whole corpus."""
    own = _xquad_r_paragraphs(path)
    if not any(paragraph.questions for paragraph in own):
        raise DataError(path, "no examples")
    siblings = sorted(p for p in path.parent.glob("*.json") if p != path)
    paragraphs = {path.stem: own} | {sibling.stem: _xquad_r_paragraphs(sibling) for sibling in siblings}
    return [lareqa_corpus(paragraphs, path.stem)]


def _xquad_r_paragraphs(path: Path) -> list[Paragraph]:
    text = _read_text(path)
    if not text.strip():
        return []
    try:
        document = json.loads(text)
        return [
            Paragraph(
                tuple(paragraph["sentences"]),
                tuple((start, end) for start, end in paragraph["sentence_breaks"]),
                tuple((qa["id"], qa["question"], qa["answers"][0]["answer_start"]) for qa in paragraph["qas"]),
            )
            for article in document["data"]
            for paragraph in article["paragraphs"]
        ]
    except json.JSONDecodeError as e:
        raise DataError(path, f"invalid JSON: {e.msg}", line=e.lineno) from None
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise DataError(path, f"not XQuAD-R JSON (paragraphs with sentences, sentence_breaks and qas): {e!r}") from None


def _id_sentences(path: Path) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`id<TAB>sentence` lines (BUCC): the ids and the sentences, in file order; ids must be unique."""
    ids: dict[str, None] = {}
    sentences = []
    for line, text in _lines(path):
        if not text.strip():
            continue
        fields = text.split("\t", 1)
        _check_columns(path, line, fields, 2)
        if fields[0] in ids:
            raise DataError(path, f"id {fields[0]!r} occurs twice", line=line)
        ids[fields[0]] = None
        sentences.append(fields[1])
    if not sentences:
        raise DataError(path, "no examples")
    return tuple(ids), tuple(sentences)


def _str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


READERS: dict[str, Reader] = {
    "pair_tsv": read_pair_tsv,
    "conll": read_conll,
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
    "lareqa_json": read_lareqa_json,
    "mewslix_jsonl": read_mewslix_jsonl,
}
