"""Own data in the field's own formats: CoNLL-U (UD treebanks), LASER's Tatoeba layout, ISO 639 language codes,
and "did you mean" for unknown keys, tasks and languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from xstilts.errors import DataError, SpecError, UserError
from xstilts.experiment.plan import build_plan
from xstilts.formats import FORMATS
from xstilts.spec import parse_spec
from xstilts.tasks.definition import EVALUATED_ONLY, TaskDef
from xstilts.tasks.examples import TaggingExample, TranslationPair
from xstilts.tasks.loading import load_examples
from xstilts.tasks.readers import READERS

REPO = Path(__file__).resolve().parents[2]

# Spanish UD-style: a comment, a multiword token ("del" = "de" + "el"), an empty node (5.1), two sentences.
CONLLU = """# sent_id = 1
# text = Vino del norte.
1\tVino\tvenir\tVERB\tvmis3s0\tMood=Ind|Number=Sing\t0\troot\t_\t_
2-3\tdel\t_\t_\t_\t_\t_\t_\t_\t_
2\tde\tde\tADP\tspcms\t_\t4\tcase\t_\t_
3\tel\tel\tDET\tda0ms0\tDefinite=Def\t4\tdet\t_\t_
4\tnorte\tnorte\tNOUN\tncms000\tGender=Masc\t1\tobl\t_\t_
5\t.\t.\tPUNCT\tfp\t_\t1\tpunct\t_\t_
5.1\tvino\tvenir\tVERB\t_\t_\t_\t_\t1:conj\t_

# sent_id = 2
1\tSí\tsí\tINTJ\trn\t_\t0\troot\t_\t_
"""


@pytest.fixture
def conllu(tmp_path: Path) -> Path:
    path = tmp_path / "es_test-ud-test.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    return path


def test_conllu_reads_forms_and_upos_skipping_ranges_and_empty_nodes(conllu: Path):
    assert READERS["conllu"](conllu, "test", None) == [
        TaggingExample(("Vino", "de", "el", "norte", "."), ("VERB", "ADP", "DET", "NOUN", "PUNCT")),
        TaggingExample(("Sí",), ("INTJ",)),
    ]


def test_conllu_xpos_and_feats_by_reader_name(conllu: Path):
    assert READERS["conllu_xpos"](conllu, "test", None)[0].tags == ("vmis3s0", "spcms", "da0ms0", "ncms000", "fp")
    feats = READERS["conllu_feats"](conllu, "test", None)[0].tags
    assert feats == ("Mood=Ind|Number=Sing", "_", "Definite=Def", "Gender=Masc", "_")


@pytest.mark.parametrize(
    "line,words",
    [
        ("1\tVino\tvenir\tVERB", "expected 10 columns, got 4"),
        ("x\tVino\tvenir\tVERB\t_\t_\t0\troot\t_\t_", "ID 'x' is not a word index"),
        ("1\tVino\tvenir\t_\t_\t_\t0\troot\t_\t_", "no UPOS (column 4 is '_')"),
    ],
)
def test_a_bad_conllu_line_is_refused_with_its_line(line: str, words: str, tmp_path: Path):
    path = tmp_path / "bad.conllu"
    path.write_text(f"# c\n{line}\n", encoding="utf-8")
    with pytest.raises(DataError) as raised:
        READERS["conllu"](path, "test", None)
    assert str(raised.value).startswith(f"{path}:2: {words}")


def test_a_conllu_tag_outside_the_declared_labels_is_refused(conllu: Path):
    with pytest.raises(DataError, match=r":7: label 'NOUN' is not one of the allowed labels"):
        READERS["conllu"](conllu, "test", ("VERB", "ADP", "DET", "PUNCT", "INTJ"))


def _own_tasks(tmp_path: Path, conllu: Path) -> dict:
    (tmp_path / "tatoeba.bre-eng.bre").write_text("Demat\nKenavo\nTrugarez\n", encoding="utf-8")
    (tmp_path / "tatoeba.bre-eng.eng").write_text("Hello\nGoodbye\nThank you\n", encoding="utf-8")
    return {
        "name": "own",
        "model": "me5-small",
        "tasks": [
            {
                "name": "ud_es",
                "format": "tagging",
                "description": "UD Spanish, UPOS",
                "reader": "conllu",
                "splits": {"test": {"files": [str(conllu)], "languages": ["es"]}},
                "train_split": None,
                "eval_split": "test",
                "labels": ["ADP", "DET", "INTJ", "NOUN", "PUNCT", "VERB"],
                "metric": "udpos_f1",
            },
            {
                "name": "tatoeba_laser",
                "format": "retrieval",
                "description": "Tatoeba in LASER's layout",
                "reader": "tatoeba",
                "splits": {"test": {"files": [str(tmp_path / "tatoeba.{lang}-eng.{lang}")], "languages": ["bre"]}},
                "eval_split": "test",
                "metric": "accuracy",
            },
        ],
        "targets": [{"task": "tatoeba_laser"}],
    }


def test_own_tasks_read_conllu_and_lasers_tatoeba_layout(tmp_path: Path, conllu: Path):
    spec = parse_spec(_own_tasks(tmp_path, conllu))
    ud, tatoeba = spec.tasks
    assert load_examples(ud, "test", "es", tmp_path)[1] == TaggingExample(("Sí",), ("INTJ",))
    assert tatoeba.train_split is None  # a retrieval task trains on nothing, without saying train_split: null
    pairs = load_examples(tatoeba, "test", "bre", tmp_path)
    assert pairs == [
        TranslationPair("Demat", "Hello"),
        TranslationPair("Kenavo", "Goodbye"),
        TranslationPair("Trugarez", "Thank you"),
    ]


def test_a_ud_based_declaration_can_name_the_conllu_reader(conllu: Path, tmp_path: Path):
    task = TaskDef(
        name="udpos_conllu",
        format="tagging",
        description="UD-POS from the treebanks' own files",
        reader="conllu",
        splits={"test": {"files": ["ud/{lang}-ud-test.conllu"], "languages": ["es"]}},
        train_split=None,
        eval_split="test",
        labels=("ADP", "DET", "INTJ", "NOUN", "PUNCT", "VERB"),
        metric="udpos_f1",
    )
    (tmp_path / "ud").mkdir()
    conllu.rename(tmp_path / "ud" / "es-ud-test.conllu")
    assert len(load_examples(task, "test", "es", tmp_path)) == 2


def test_evaluated_only_formats_are_the_ones_that_do_not_train():
    assert set(EVALUATED_ONLY) == {name for name, fmt in FORMATS.items() if not fmt.trains}


@pytest.mark.parametrize("code", ["../de", "xx", "de_DE", "EN", "d e", ""])
def test_language_codes_outside_iso_639_are_refused(code: str, tmp_path: Path, conllu: Path):
    raw = _own_tasks(tmp_path, conllu)
    raw["targets"] = [{"task": "panx", "eval_languages": ["de", code]}]
    with pytest.raises(SpecError, match=r"targets\[0\]\.eval_languages\[1\]': .*is not an ISO 639-1 or 639-3"):
        parse_spec(raw)
    raw["targets"] = [{"task": "tatoeba_laser"}]
    raw["tasks"][1]["splits"]["test"]["languages"] = [code]
    with pytest.raises(SpecError, match=r"tatoeba_laser\) split test: .*is not an ISO 639-1 or 639-3"):
        parse_spec(raw)


@pytest.mark.parametrize("code", ["de", "bre", "zh-Hans", "yue"])
def test_iso_639_codes_pass(code: str):
    parse_spec({"name": "x", "targets": [{"task": "panx", "eval_languages": [code]}]})


PANX = [{"task": "panx"}]
MISSPELT = [
    ({"name": "x", "targets": [{"task": "panx", "max_train_exmples": 3}]}, "did you mean 'max_train_examples'?"),
    ({"name": "x", "trian": {}, "targets": PANX}, "spec field 'trian': Extra inputs are not permitted (did you mean"),
    ({"name": "x", "intermediate": {"a": [{"task": "sick", "langauges": ["de"]}]}, "targets": PANX}, "'languages'?"),
    ({"name": "x", "targets": [{"task": "panx", "train": {"learning_rat": 1e-5}}]}, "did you mean 'learning_rate'?"),
    ({"name": "x", "tasks": [{"name": "t", "formatt": "tagging"}], "targets": PANX}, "did you mean 'format'?"),
    ({"name": "x", "model": {"nam": "me5-small"}, "targets": PANX}, "did you mean 'name'?"),
]


@pytest.mark.parametrize("raw,words", MISSPELT)
def test_an_unknown_key_gets_a_suggestion(raw: dict, words: str):
    with pytest.raises(SpecError) as raised:
        parse_spec(raw)
    assert words in str(raised.value)


@pytest.mark.parametrize(
    "target,words",
    [
        ({"task": "pnax"}, "unknown task 'pnax' (did you mean 'panx'?)"),
        ({"task": "panx", "eval_languages": ["dee", "de"]}, "has no dev data in ['dee'] (did you mean 'de'?)"),
    ],
)
def test_an_unknown_task_or_language_gets_a_suggestion(target: dict, words: str, data: Path):
    spec = parse_spec({"name": "x", "model": "me5-small", "targets": [target]})
    with pytest.raises(UserError) as raised:
        build_plan(spec, data)
    assert words in str(raised.value)


def test_docs_list_every_reader_and_every_declaration_field():
    docs = (REPO / "docs" / "tasks.md").read_text()
    for reader in READERS:
        assert f"`{reader}`" in docs, reader
    for field in TaskDef.model_fields:
        assert f"`{field}`" in docs, field
