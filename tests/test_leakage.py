"""The leakage guard (xstilts.experiment.leakage): each kind of overlap between training and evaluation data (same
file, same content, parallel id), on hand-made example sets and on plans of real specs; a refused run exits 2 with
one line naming the stage, target, language and count; allow_overlap lets it run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from xstilts.cli import main
from xstilts.experiment.leakage import ExampleSet, condition_material, content_key, find_overlaps, plan_overlaps
from xstilts.experiment.plan import TrainStage, build_plan, stage_record
from xstilts.spec import parse_spec
from xstilts.tasks.examples import ClassificationExample, SpanQAExample, TaggingExample


def _set(owner, task, lang, examples, rows=None, split="dev", files=("f",), parallel=None, allow=False):
    return ExampleSet(
        owner=owner,
        task=task,
        split=split,
        language=lang,
        files=frozenset(files),
        rows=tuple(rows if rows is not None else range(len(examples))),
        keys=tuple(content_key(e) for e in examples),
        ids=tuple(e.id for e in examples if hasattr(e, "id")),
        parallel=parallel,
        allow=allow,
    )


def test_content_key_ignores_labels_case_and_spacing() -> None:
    a = ClassificationExample("A man  plays guitar", "Someone plays", "entailment")
    b = ClassificationExample("a man plays guitar", "someone plays ", "neutral")
    assert content_key(a) == content_key(b)
    assert content_key(TaggingExample(("Jan", "lives"), ("B-PER", "O"))) == content_key(
        TaggingExample(("jan", "lives"), ("O", "O"))
    )


def test_same_content_in_another_task_and_file_is_found_and_short_inputs_are_not() -> None:
    trained = [ClassificationExample(f"the premise number {i}", "a hypothesis", "neutral") for i in range(10)]
    trained.append(ClassificationExample("Yes", None, "neutral"))  # one word: identifies nothing
    evaluated = trained[:4] + [ClassificationExample("Yes", None, "x"), ClassificationExample("new one here", "h", "x")]
    found = find_overlaps(
        [_set("intermediate.mine[0]", "mine", "en", trained, split="train", files=("a",))],
        [_set("targets[0] (xnli)", "xnli", "en", evaluated, files=("b",))],
    )
    assert [(o.kind, o.count, o.of, o.language) for o in found] == [("content", 4, 6, "en")]
    assert found[0].line() == (
        "leakage: intermediate.mine[0] trains on 4 of the 6 evaluation examples of targets[0] (xnli) in en "
        "(content); set allow_overlap: true on the stage or target to run it anyway"
    )


def test_two_splits_of_one_task_may_repeat_inputs_but_one_split_may_not() -> None:
    sentences = [TaggingExample(("Paris", "is", "big"), ("B-LOC", "O", "O"))]
    train = _set("targets[0] (panx training)", "panx", "en", sentences, split="train", files=("train",))
    dev = _set("targets[0] (panx)", "panx", "en", sentences, split="dev", files=("dev",))
    assert find_overlaps([train], [dev]) == []  # the benchmark's own split is the reference
    trained_on_dev = _set("intermediate.x[0]", "panx", "en", sentences, split="dev", files=("dev",))
    assert [o.kind for o in find_overlaps([trained_on_dev], [dev])] == ["same file"]


def test_parallel_rows_and_ids_across_languages() -> None:
    pairs = [ClassificationExample(f"p {i} de", f"h {i}", "neutral") for i in range(10)]
    french = [ClassificationExample(f"p {i} fr", f"h {i}", "neutral") for i in range(10)]
    de = _set("intermediate.xnli_de[0]", "xnli", "de", pairs[:6], rows=range(6), files=("de",), parallel="row")
    fr = _set("targets[0] (xnli)", "xnli", "fr", french[4:], rows=range(4, 10), files=("fr",), parallel="row")
    assert [(o.kind, o.count, o.of) for o in find_overlaps([de], [fr])] == [("parallel id", 2, 6)]  # rows 4 and 5

    def qa(i: int, lang: str) -> SpanQAExample:
        return SpanQAExample(f"q{i}", f"question {i} {lang}", f"context {i} {lang}", ("a",), (0,))

    train = _set("intermediate.x[0]", "xquad", "de", [qa(i, "de") for i in (1, 2, 3)], parallel="id", files=("d",))
    test = _set("targets[0] (xquad)", "xquad", "es", [qa(i, "es") for i in (3, 4)], parallel="id", files=("e",))
    assert [(o.kind, o.count) for o in find_overlaps([train], [test])] == [("parallel id", 1)]


def _leaky_spec(data: Path, allow_stage: bool = False, allow_target: bool = False) -> dict:
    return {
        "name": "leaky",
        "data_dir": str(data),
        "intermediate": {
            "none": [],
            "xnli_de": [{"task": "xnli", "split": "dev", "languages": ["de"], "allow_overlap": allow_stage}],
        },
        "targets": [
            {
                "task": "xnli",
                "train_task": "sick",  # XNLI's own training data (MultiNLI) is not offline
                "eval_languages": ["de", "fr"],
                "max_eval_examples": 40,
                "allow_overlap": allow_target,
            }
        ],
    }


def test_the_issues_example_is_refused_in_one_line(data: Path, tmp_path: Path, capsys) -> None:
    # trained on XNLI dev in German, evaluated on XNLI dev in German and French
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(_leaky_spec(data)))
    assert main(["plan", str(tmp_path / "spec.yaml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1
        and "intermediate.xnli_de[0] trains on 40 of the 40 evaluation examples of targets[0] (xnli)" in err[0]
    )
    assert " in de (same file)" in err[0]
    spec = parse_spec(_leaky_spec(data))
    found = {(o.language, o.kind): o.count for o in plan_overlaps(build_plan(spec, data), spec, data)}
    assert found == {("de", "same file"): 40, ("fr", "parallel id"): 40}  # French: translations of trained rows


@pytest.mark.parametrize("where", ["stage", "target"])
def test_allow_overlap_on_the_stage_or_target_lets_it_plan(data: Path, tmp_path: Path, where: str) -> None:
    spec = _leaky_spec(data, allow_stage=where == "stage", allow_target=where == "target")
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["plan", str(tmp_path / "spec.yaml")]) == 0
    parsed = parse_spec(spec)
    assert all(o.allowed for o in plan_overlaps(build_plan(parsed, data), parsed, data))


def test_your_own_task_training_and_evaluating_on_one_file_is_caught(data: Path, tmp_path: Path, capsys) -> None:
    rows = [{"text_a": f"my sentence number {i}", "label": "a" if i % 2 else "b"} for i in range(12)]
    mine = tmp_path / "mine.jsonl"
    mine.write_text("".join(json.dumps(r) + "\n" for r in rows))
    own = {
        "name": "mine",
        "format": "classification",
        "description": "trains and evaluates on one file",
        "reader": "classification_jsonl",
        "splits": {"train": {"files": [str(mine)]}, "dev": {"files": [str(mine)]}},
        "eval_split": "dev",
        "labels": ["a", "b"],
        "metric": "accuracy",
    }
    spec = {"name": "own", "data_dir": str(data), "tasks": [own], "intermediate": {"none": []}}
    spec["targets"] = [{"task": "mine", "eval_languages": ["en"]}]
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["plan", str(tmp_path / "spec.yaml")]) == 2
    assert (
        "targets[0] (mine training) trains on 12 of the 12 evaluation examples of targets[0] (mine) in en (same file)"
        in (capsys.readouterr().err)
    )


def test_the_quickstart_recipe_has_no_overlap(data: Path) -> None:
    spec = parse_spec(yaml.safe_load((Path(__file__).parents[1] / "examples" / "quickstart.yaml").read_text()))
    assert plan_overlaps(build_plan(spec, data), spec, data) == []


def test_per_language_subsets_are_keyed_only_when_set(data: Path) -> None:
    # Stages without max_examples_per_language keep the keys they had before the option existed.
    base = {"name": "caps", "data_dir": str(data), "targets": [{"task": "panx", "eval_languages": ["de"]}]}
    plain = parse_spec({**base, "intermediate": {"x": [{"task": "xnli", "split": "dev", "languages": ["de", "fr"]}]}})
    capped = parse_spec(
        {
            **base,
            "intermediate": {
                "x": [
                    {"task": "xnli", "split": "dev", "languages": ["de", "fr"], "max_examples_per_language": {"de": 5}}
                ]
            },
        }
    )

    def first(spec):
        plan = build_plan(spec, data)
        return next(s for s in plan.stages.values() if isinstance(s, TrainStage) and s.task == "xnli"), plan

    (stage, _), (capped_stage, plan) = first(plain), first(capped)
    assert "max_examples_per_language" not in stage_record(stage)["parts"][0]
    assert stage_record(capped_stage)["parts"][0]["max_examples_per_language"] == {"de": 5}
    part = capped_stage.parts[0]
    assert (part.language_cap("de"), part.language_cap("fr")) == (5, None)
    material = condition_material(plan, capped, data)["x"]
    assert sum(n for (_, _, lang, _), n in material.items() if lang == "de") == 5
