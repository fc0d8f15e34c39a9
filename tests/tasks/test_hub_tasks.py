"""The paper's intermediate tasks from the Hugging Face Hub, against a stand-in for `datasets.load_dataset` that
serves rows shaped like the real datasets' (their dataset cards: columns, ClassLabel names, label spellings)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from xstilts.errors import DataError
from xstilts.experiment.plan import build_plan
from xstilts.metrics import METRICS
from xstilts.spec import parse_spec
from xstilts.tasks import get_task
from xstilts.tasks.definition import HubSource, TaskDef
from xstilts.tasks.loading import load_examples


class ClassLabel:
    def __init__(self, names: list[str]):
        self.names = names


class Rows(list):
    features: dict = {}


NLI = ClassLabel(["entailment", "neutral", "contradiction"])


def rows(data: list[dict], **features) -> Rows:
    out = Rows(data)
    out.features = features
    return out


def nli(premise: str, label: int) -> dict:
    return {"premise": premise, "hypothesis": "h", "label": label}


def squad_row(qid: str, texts: list[str], starts: list[int]) -> dict:
    context = "The cat sat on the mat."
    return {
        "id": qid,
        "title": "t",
        "context": context,
        "question": "Where?",
        "answers": {"text": texts, "answer_start": starts},
    }


HUB = {
    ("nyu-mll/glue", "mnli", "train"): rows([nli("mnli", 1)], label=NLI),
    ("nyu-mll/glue", "mnli", "validation_matched"): rows([nli("mnli dev", 0)], label=NLI),
    ("nyu-mll/glue", "qqp", "train"): rows(
        [{"question1": "a?", "question2": "b?", "label": 1, "idx": 0}],
        label=ClassLabel(["not_duplicate", "duplicate"]),
    ),
    **{("facebook/anli", "plain_text", f"train_r{r}"): rows([nli(f"anli r{r}", 2)], label=NLI) for r in (1, 2, 3)},
    # SNLI marks pairs without gold consensus with -1; they must not become "contradiction" (names[-1]).
    ("stanfordnlp/snli", "plain_text", "train"): rows([nli("snli", 0), nli("snli unlabelled", -1)], label=NLI),
    ("pietrolesci/nli_fever", None, "train"): rows(
        [{"cid": 1, "fid": "f", "premise": "fever", "hypothesis": "h", "verifiable": 1, "label": 1}], label=NLI
    ),
    ("rajpurkar/squad", "plain_text", "train"): rows([squad_row("q1", ["the mat"], [15])]),
    ("rajpurkar/squad_v2", "squad_v2", "train"): rows([squad_row("q1", ["the mat"], [15]), squad_row("q2", [], [])]),
    ("Rowan/hellaswag", None, "train"): rows(
        [
            {
                "ind": 4,
                "activity_label": "x",
                "ctx_a": "A man",
                "ctx_b": "is",
                "ctx": "A man is",
                "endings": ["a", "b", "c", "d"],
                "source_id": "s",
                "split": "train",
                "split_type": "indomain",
                "label": "3",
            }
        ]
    ),
    ("allenai/cosmos_qa", None, "train"): rows(
        [
            {
                "id": "c",
                "context": "ctx",
                "question": "q?",
                "answer0": "w",
                "answer1": "x",
                "answer2": "y",
                "answer3": "z",
                "label": 2,
            }
        ]
    ),
    ("tau/commonsense_qa", None, "train"): rows(
        [
            {
                "id": "i",
                "question": "q?",
                "question_concept": "c",
                "choices": {"label": list("ABCDE"), "text": list("vwxyz")},
                "answerKey": "D",
            }
        ]
    ),
    # Older copies of SocialIQA end labels with a newline (huggingface/datasets#1633).
    ("allenai/social_i_qa", None, "train"): rows(
        [{"context": "ctx", "question": "q?", "answerA": "a", "answerB": "b", "answerC": "c", "label": "3\n"}]
    ),
}


@pytest.fixture
def hub(monkeypatch) -> list[tuple]:
    calls: list[tuple] = []

    def load_dataset(path, name=None, *, split, revision, data_files=None):
        assert revision, path  # every source is read at its pinned revision
        if data_files is not None:  # the Parquet export: configuration "default", named by its files
            assert name is None and data_files == {split: f"default/{split}/*.parquet"}, data_files
        calls.append((path, name, split))
        return HUB[(path, name, split)]

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=load_dataset))
    return calls


def load(task: str, split: str = "train") -> list:
    return load_examples(get_task(task), split, "en", Path("/nonexistent"), source="hub")


def test_anli_plus_concatenates_four_datasets_and_drops_unlabelled_snli(hub):
    examples = load("anli_plus")
    assert [(e.text_a, e.label) for e in examples] == [
        ("anli r1", "contradiction"),
        ("anli r2", "contradiction"),
        ("anli r3", "contradiction"),
        ("mnli", "neutral"),
        ("snli", "entailment"),
        ("fever", "neutral"),
    ]
    assert [c[0] for c in hub] == ["facebook/anli"] * 3 + ["nyu-mll/glue", "stanfordnlp/snli", "pietrolesci/nli_fever"]


def test_pair_classification_takes_class_label_names(hub):
    [mnli] = load("mnli", "dev")
    assert (mnli.text_a, mnli.text_b, mnli.label) == ("mnli dev", "h", "entailment")
    [qqp] = load("qqp")
    assert (qqp.text_a, qqp.text_b, qqp.label) == ("a?", "b?", "duplicate")
    assert hub == [("nyu-mll/glue", "mnli", "validation_matched"), ("nyu-mll/glue", "qqp", "train")]


@pytest.mark.parametrize(
    ("task", "context", "question", "choices", "label"),
    [
        ("hellaswag", "A man is", "", ("a", "b", "c", "d"), 3),  # label "3", endings a list
        ("cosmosqa", "ctx", "q?", ("w", "x", "y", "z"), 2),  # answer0..answer3 columns, int label
        ("csqa", "", "q?", tuple("vwxyz"), 3),  # choices.text inside a dict column, answerKey "D"
        ("siqa", "ctx", "q?", ("a", "b", "c"), 2),  # answerA..answerC, label "3\n" is 1-based
    ],
)
def test_multiple_choice_choices_and_labels_wherever_they_live(hub, task, context, question, choices, label):
    [example] = load(task)
    assert (example.context, example.question, example.choices, example.label) == (context, question, choices, label)


def test_squad_v2_keeps_unanswerable_questions_without_answers(hub):
    answered, unanswerable = load("squad_v2")
    assert (answered.answers, answered.answer_starts) == (("the mat",), (15,))
    assert answered.context[15:22] == "the mat"
    assert (unanswerable.id, unanswerable.answers, unanswerable.answer_starts) == ("q2", (), ())
    [v1] = load("squad")
    assert v1.answers == ("the mat",)


def test_a_label_outside_the_declared_map_is_refused(hub):
    HUB[("allenai/social_i_qa", None, "train")][0]["label"] = "4"
    try:
        with pytest.raises(DataError, match="label '4' is not in the declared label_map"):
            load("siqa")
    finally:
        HUB[("allenai/social_i_qa", None, "train")][0]["label"] = "3\n"


def test_every_paper_task_has_a_consistent_hub_source():
    for name in ("mnli", "anli_plus", "qqp", "squad", "squad_v2", "hellaswag", "cosmosqa", "csqa", "siqa"):
        task = get_task(name)
        assert task.hub, name
        assert task.train_split in task.hub[0].splits, name
        assert task.metric in METRICS, name
    assert len(get_task("anli_plus").hub) == 4
    assert get_task("ccg").hub == ()  # CCGbank is licensed


def test_one_source_or_several_and_one_split_or_several_are_accepted():
    declared = {"name": "t", "format": "classification", "description": "d", "reader": "pair_tsv", "labels": ["a"]}
    declared |= {"metric": "accuracy", "splits": {"train": {"files": ["x"]}}}
    source = {
        "dataset": "d",
        "revision": "main",
        "splits": {"train": "train"},
        "columns": {"text_a": "a", "label": "l"},
    }
    one = TaskDef(**declared, hub=source)
    assert one.hub == (
        HubSource(dataset="d", revision="main", splits={"train": ("train",)}, columns=source["columns"]),
    )
    several = TaskDef(**declared, hub=[source, source | {"splits": {"train": ["r1", "r2"]}}])
    assert several.hub[1].splits == {"train": ("r1", "r2")}
    with pytest.raises(ValueError, match=r"hub splits \['dev'\] are not declared splits"):
        TaskDef(**declared, hub=source | {"splits": {"dev": "validation"}})


def _spec(source: str, intermediate: str) -> dict:
    return {
        "name": "hub",
        "data_source": source,
        "intermediate": {"none": [], intermediate: [{"task": intermediate}]},
        "targets": [{"task": "xnli", "eval_languages": ["de"]}],
    }


def test_a_hub_spec_plans_without_files_and_keys_name_the_sources(tmp_path: Path):
    plan = build_plan(parse_spec(_spec("hub", "anli_plus")), tmp_path)  # an empty data directory
    train = next(s for s in plan.stages.values() if s.kind == "train" and s.task == "anli_plus")
    assert train.data.startswith("hub:")
    again = build_plan(parse_spec(_spec("hub", "anli_plus")), tmp_path)
    assert set(again.stages) == set(plan.stages)
    with pytest.raises(DataError, match="train-en.tsv|dev_matched.tsv"):
        build_plan(parse_spec(_spec("files", "mnli")), tmp_path)


def test_a_task_without_a_hub_source_is_refused_when_planned(tmp_path: Path):
    with pytest.raises(DataError, match="no Hub source is declared for split 'train'"):
        build_plan(parse_spec(_spec("hub", "sick")), tmp_path)


def test_a_revision_is_required_and_is_a_commit_or_a_named_branch():
    source = {"dataset": "d", "splits": {"train": "train"}, "columns": {"text_a": "a", "label": "l"}}
    with pytest.raises(ValueError, match="revision"):
        HubSource(**source)
    with pytest.raises(ValueError, match="neither a 40-hex commit"):
        HubSource(**source, revision="v1.0")
    assert HubSource(**source, revision="refs/convert/parquet").parquet_export
    assert not HubSource(**source, revision="a" * 40).parquet_export


def test_the_pinned_revision_enters_the_data_fingerprint_and_so_the_stage_keys(tmp_path: Path):
    from xstilts.tasks.loading import fingerprint

    task = get_task("mnli")
    [source] = task.hub
    moved = task.model_copy(update={"hub": (source.model_copy(update={"revision": "b" * 40}),)})
    assert fingerprint(task, "train", ("en",), tmp_path, "hub") != fingerprint(moved, "train", ("en",), tmp_path, "hub")
    assert fingerprint(task, "train", ("en",), tmp_path, "hub") == fingerprint(task, "train", ("en",), tmp_path, "hub")
    plan = build_plan(parse_spec(_spec("hub", "mnli")), tmp_path)
    train = next(s for s in plan.stages.values() if s.kind == "train" and s.task == "mnli")
    assert train.data == fingerprint(task, "train", ("en",), tmp_path, "hub")
