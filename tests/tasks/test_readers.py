"""Readers: exact counts on the real benchmark data (see its README) and error cases on small files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from xstilts.errors import DataError
from xstilts.tasks.examples import ClassificationExample, MultipleChoiceExample, TaggingExample
from xstilts.tasks.readers import READERS

NLI = ("entailment", "neutral", "contradiction")
UPOS = tuple("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split())
PANX = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
COPA_QUESTIONS = {"cause": "What was the cause?", "effect": "What happened as a result?"}


def read(name: str, path: Path, split: str = "dev", labels: tuple[str, ...] | None = None):
    return READERS[name](path, split, labels)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


# --- real data ----------------------------------------------------------------------------------------------


def test_registry_names():
    assert set(READERS) == {
        "pair_tsv",
        "conll",
        "conllu",
        "conllu_xpos",
        "conllu_feats",
        "sick",
        "snli_jsonl",
        "siqa_jsonl",
        "copa_jsonl",
        "cosmosqa_csv",
        "squad_json",
        "tatoeba",
        "conll_text",
        "classification_jsonl",
        "multiple_choice_jsonl",
        "csqa_jsonl",
        "bucc",
        "xglue_tsv",
        "xglue_conll",
        "lareqa_json",
        "mewslix_jsonl",
    }


def test_xnli_dev_en(data: Path):
    examples = read("pair_tsv", data / "xtreme/xnli/dev-en.tsv", labels=NLI)
    assert len(examples) == 2490
    assert Counter(e.label for e in examples) == {label: 830 for label in NLI}
    assert all(isinstance(e, ClassificationExample) and e.text_b for e in examples)
    assert not any(e.label.endswith("\r") for e in examples)  # CRLF file


def test_pawsx_quoted_fields_round_trip(data: Path):
    examples = read("pair_tsv", data / "xtreme/pawsx/test-es.tsv", "test", labels=("0", "1"))
    assert len(examples) == 2000
    assert Counter(e.label for e in examples) == {"0": 1105, "1": 895}
    # File line 6: the second field is written "Black Adam ... ""Billy Batson"", ..." by csv.writer.
    assert examples[5].text_b == (
        'Black Adam apareció en las primeras cuatro emisiones de "Billy Batson", '
        "publicado entre fines del 2008 y principios del 2009."
    )
    assert examples[12].text_a.startswith('El "Fallbeil" se usó')


def test_pawsx_control_character_does_not_split_a_row(data: Path):
    examples = read("pair_tsv", data / "xtreme/pawsx/dev-ko.tsv")
    assert len(examples) == 2000
    assert "\x1c" in examples[823].text_a + examples[823].text_b  # README: U+001C in row 824


def test_panx_train_en(data: Path):
    examples = read("conll", data / "xtreme/panx/train-en.tsv", "train", labels=PANX)
    assert len(examples) == 20000
    assert sum(len(e.words) for e in examples) == 160394
    assert all(isinstance(e, TaggingExample) and len(e.words) == len(e.tags) for e in examples)


def test_udpos_dev_mr(data: Path):
    examples = read("conll", data / "xtreme/udpos/dev-mr.tsv", labels=UPOS)
    assert len(examples) == 46
    assert sum(len(e.tags) for e in examples) == 400


@pytest.mark.parametrize(("split", "count"), [("train", 4439), ("dev", 495), ("test", 4906)])
def test_sick_splits(data: Path, split: str, count: int):
    examples = read("sick", data / "english/sick/SICK.txt", split, labels=NLI)
    assert len(examples) == count
    assert examples[0].text_b  # pair (sentence_A, sentence_B)


def test_sick_all_splits_cover_the_file(data: Path):
    path = data / "english/sick/SICK.txt"
    labels = Counter(e.label for split in ("train", "dev", "test") for e in read("sick", path, split))
    assert labels == {"neutral": 5595, "entailment": 2821, "contradiction": 1424}


def test_snli_dev_drops_no_consensus_rows(data: Path):
    examples = read("snli_jsonl", data / "english/snli/snli_1.0_dev.jsonl", labels=NLI)
    assert len(examples) == 1289 - 16
    assert Counter(e.label for e in examples) == {"entailment": 433, "neutral": 421, "contradiction": 419}


def test_siqa_dev(data: Path):
    examples = read("siqa_jsonl", data / "english/siqa/socialIQa_v1.4_dev.jsonl")
    assert len(examples) == 1954
    assert Counter(e.label for e in examples) == {0: 643, 1: 654, 2: 657}
    assert all(isinstance(e, MultipleChoiceExample) and len(e.choices) == 3 for e in examples)


def test_cosmosqa_valid(data: Path):
    examples = read("cosmosqa_csv", data / "english/cosmosqa/valid.csv")
    assert len(examples) == 2985
    assert Counter(e.label for e in examples) == {0: 744, 1: 729, 2: 761, 3: 751}
    assert all(len(e.choices) == 4 and e.context and e.question for e in examples)


def test_csqa_dev(data: Path):
    examples = read("csqa_jsonl", data / "english/commonsenseqa/dev_rand_split.jsonl")
    assert len(examples) == 1221
    assert all(len(e.choices) == 5 and e.context == "" and e.question for e in examples)
    assert Counter(e.label for e in examples) == {0: 239, 1: 255, 2: 241, 3: 251, 4: 235}


def test_copa_train_en(data: Path):
    examples = read("copa_jsonl", data / "xtreme/xcopa/train-en.jsonl", "train", labels=("0", "1"))
    assert len(examples) == 400
    assert Counter(e.label for e in examples) == {0: 195, 1: 205}
    assert {e.question for e in examples} == set(COPA_QUESTIONS.values())


def test_xcopa_th_val_question_taken_from_english(data: Path):
    path = data / "xtreme/xcopa/th/val.th.jsonl"
    examples = read("copa_jsonl", path, "val")
    english = [json.loads(line) for line in (data / "xtreme/xcopa/val-en.jsonl").read_text("utf-8").splitlines()]
    own = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert len(examples) == 100
    assert [row["idx"] for row in own] == [row["idx"] for row in english] == list(range(100))
    assert [e.question for e in examples] == [COPA_QUESTIONS[row["question"]] for row in english]
    assert sum(row["question"] != en["question"] for row, en in zip(own, english, strict=True)) == 52
    assert Counter(e.label for e in examples) == {0: 55, 1: 45}


# --- small files: format handling ---------------------------------------------------------------------------


def test_bom_and_crlf_pair_tsv(tmp_path: Path):
    path = write(tmp_path / "dev-xx.tsv", '\ufeffa b\t"say ""hi"""\tneutral\r\nc\td\tentailment\r\n')
    assert read("pair_tsv", path, labels=NLI) == [
        ClassificationExample("a b", 'say "hi"', "neutral"),
        ClassificationExample("c", "d", "entailment"),
    ]


def test_bom_jsonl(tmp_path: Path):
    row = {"premise": "p", "choice1": "a", "choice2": "b", "question": "cause", "label": 1, "idx": 0}
    path = write(tmp_path / "train-en.jsonl", "\ufeff" + json.dumps(row) + "\r\n\r\n")
    assert read("copa_jsonl", path, "train") == [MultipleChoiceExample("p", "What was the cause?", ("a", "b"), 1)]


def test_conll_crlf_and_trailing_blank_lines(tmp_path: Path):
    path = write(tmp_path / "dev-xx.tsv", "\ufeffA\tDET\r\ncat\tNOUN\r\n\r\n!\tPUNCT\r\n\r\n\r\n")
    assert read("conll", path, labels=UPOS) == [
        TaggingExample(("A", "cat"), ("DET", "NOUN")),
        TaggingExample(("!",), ("PUNCT",)),
    ]


def test_snli_jsonl_drops_dash(tmp_path: Path):
    rows = [
        {"gold_label": "-", "sentence1": "a", "sentence2": "b"},
        {"gold_label": "neutral", "sentence1": "c", "sentence2": "d"},
    ]
    path = write(tmp_path / "snli.jsonl", "\n".join(json.dumps(r) for r in rows))
    assert read("snli_jsonl", path) == [ClassificationExample("c", "d", "neutral")]


def _copa_row(idx: int, question: str) -> str:
    return json.dumps({"premise": "p", "choice1": "a", "choice2": "b", "question": question, "label": 0, "idx": idx})


def test_xcopa_falls_back_to_own_question_without_english_file(tmp_path: Path):
    path = write(tmp_path / "xcopa/th/test.th.jsonl", _copa_row(0, "effect") + "\n" + _copa_row(1, "effect"))
    assert [e.question for e in read("copa_jsonl", path, "test")] == [COPA_QUESTIONS["effect"]] * 2
    write(tmp_path / "xcopa/test-en.jsonl", _copa_row(1, "effect") + "\n" + _copa_row(0, "cause"))
    assert [e.question for e in read("copa_jsonl", path, "test")] == [
        COPA_QUESTIONS["cause"],
        COPA_QUESTIONS["effect"],
    ]


# --- small files: errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(READERS))
def test_missing_file(tmp_path: Path, name: str):
    with pytest.raises(DataError, match="file not found") as error:
        read(name, tmp_path / "nope.txt")
    assert error.value.line is None and error.value.path == tmp_path / "nope.txt"


@pytest.mark.parametrize("name", sorted(READERS))
def test_empty_file(tmp_path: Path, name: str):
    with pytest.raises(DataError, match="no examples"):
        read(name, write(tmp_path / "empty.txt", "\n"))


@pytest.mark.parametrize("name", sorted(READERS))
def test_invalid_utf8_names_line(tmp_path: Path, name: str):
    path = write(tmp_path / "bad.txt", b"one\r\ntwo\r\nt\xffree\r\n")
    with pytest.raises(DataError, match="invalid UTF-8") as error:
        read(name, path)
    assert error.value.line == 3
    assert str(error.value).startswith(f"{path}:3: ")


def test_invalid_json_names_line(tmp_path: Path):
    row = json.dumps({"context": "c", "question": "q", "answerA": "a", "answerB": "b", "answerC": "c"})
    path = write(tmp_path / "siqa.jsonl", row[:-1] + ', "correct": "A"}\n\n{"context": \n')
    with pytest.raises(DataError, match="invalid JSON") as error:
        read("siqa_jsonl", path)
    assert error.value.line == 3


def test_json_line_must_be_object(tmp_path: Path):
    with pytest.raises(DataError, match="expected a JSON object") as error:
        read("snli_jsonl", write(tmp_path / "x.jsonl", "[1, 2]\n"))
    assert error.value.line == 1


def test_missing_key_names_key_and_line(tmp_path: Path):
    good = {"context": "c", "question": "q", "answerA": "a", "answerB": "b", "answerC": "c", "correct": "B"}
    bad = {key: value for key, value in good.items() if key != "answerC"}
    path = write(tmp_path / "siqa.jsonl", json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(DataError, match="missing key 'answerC'") as error:
        read("siqa_jsonl", path)
    assert error.value.line == 2


def test_missing_column_in_header(tmp_path: Path):
    header = "pair_ID\tsentence_A\tsentence_B\tentailment_label\n"
    with pytest.raises(DataError, match="'SemEval_set'") as error:
        read("sick", write(tmp_path / "SICK.txt", header + "1\ta\tb\tNEUTRAL\n"), "train")
    assert error.value.line == 1


def test_sick_unknown_split(tmp_path: Path):
    with pytest.raises(DataError, match="unknown split 'validation'"):
        read("sick", write(tmp_path / "SICK.txt", "x\n"), "validation")


@pytest.mark.parametrize(
    ("name", "content", "line"),
    [
        ("pair_tsv", "a\tb\tneutral\r\na\tneutral\r\n", 2),
        ("conll", "a\tDET\n\nb\tNOUN\textra\n", 3),
        ("cosmosqa_csv", "id,context,question,answer0,answer1,answer2,answer3,label\r\n1,c,q,a,b,c,1\r\n", 2),
        ("sick", "sentence_A\tsentence_B\tentailment_label\tSemEval_set\r\na\tb\tNEUTRAL\r\n", 2),
    ],
)
def test_wrong_column_count(tmp_path: Path, name: str, content: str, line: int):
    with pytest.raises(DataError, match=r"expected \d+ columns, got \d+") as error:
        read(name, write(tmp_path / "f.txt", content), "train")
    assert error.value.line == line


def test_unknown_label_lists_allowed(tmp_path: Path):
    path = write(tmp_path / "dev.tsv", "a\tb\tneutral\nc\td\tmaybe\n")
    with pytest.raises(DataError, match="'maybe'") as error:
        read("pair_tsv", path, labels=NLI)
    assert error.value.line == 2
    assert "entailment, neutral, contradiction" in str(error.value)


def test_unknown_tag_allowed_list_is_truncated(tmp_path: Path):
    labels = tuple(f"T{i}" for i in range(30))
    with pytest.raises(DataError, match="'NOUN'") as error:
        read("conll", write(tmp_path / "x.tsv", "a\tT1\nb\tNOUN\n"), labels=labels)
    assert error.value.line == 2
    assert "T9, ..." in str(error.value) and "T29" not in str(error.value)


def test_multiple_choice_labels_are_answer_indices(tmp_path: Path):
    path = write(tmp_path / "train-en.jsonl", _copa_row(0, "cause").replace('"label": 0', '"label": 1'))
    assert read("copa_jsonl", path, labels=("0", "1"))[0].label == 1
    with pytest.raises(DataError, match="label '1' is not one of the allowed labels"):
        read("copa_jsonl", path, labels=("0",))


def test_csqa_unknown_answer_key(tmp_path: Path):
    row = {"question": "q", "choices": {"label": ["A", "B"], "text": ["x", "y"]}, "answerKey": "F"}
    with pytest.raises(DataError, match="'answerKey' is 'F'") as error:
        read("csqa_jsonl", write(tmp_path / "x.jsonl", json.dumps(row) + "\n"))
    assert error.value.line == 1


def test_copa_bad_question_kind(tmp_path: Path):
    with pytest.raises(DataError, match="'cause' or 'effect'"):
        read("copa_jsonl", write(tmp_path / "train-en.jsonl", _copa_row(0, "why")))


@pytest.mark.parametrize(
    ("path", "count"),
    [
        ("xtreme/xquad/xquad.th.json", 1190),
        ("xtreme/mlqa/MLQA_V1/dev/dev-context-hi-question-hi.json", 507),
        ("xtreme/tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json", 3696),
    ],
)
def test_squad_json_counts_and_answer_offsets(data: Path, path: str, count: int):
    examples = read("squad_json", data / path)
    assert len(examples) == count
    assert all(
        e.context[s : s + len(a)] == a for e in examples for a, s in zip(e.answers, e.answer_starts, strict=True)
    )


def test_squad_json_refuses_an_answer_not_at_its_offset(tmp_path: Path):
    doc = {
        "data": [
            {
                "paragraphs": [
                    {
                        "context": "abc def",
                        "qas": [{"id": "q1", "question": "?", "answers": [{"text": "def", "answer_start": 1}]}],
                    }
                ]
            }
        ]
    }
    with pytest.raises(DataError, match="'q1': answer 'def' is not at offset 1"):
        read("squad_json", write(tmp_path / "q.json", json.dumps(doc)))


def test_tatoeba_pairs_are_line_aligned(data: Path):
    pairs = read("tatoeba", data / "xtreme/tatoeba/sw-en.sw")
    assert len(pairs) == 390
    assert pairs[0].target == (data / "xtreme/tatoeba/sw-en.en").read_text().split("\n")[0]


def test_tatoeba_refuses_an_xtreme_sorted_english_side(tmp_path: Path):
    write(tmp_path / "de-en.en", "Apple.\nBanana.\nCherry.\n")
    with pytest.raises(DataError, match="sorted alphabetically"):
        read("tatoeba", write(tmp_path / "de-en.de", "Kirsche.\nApfel.\nBanane.\n"))
