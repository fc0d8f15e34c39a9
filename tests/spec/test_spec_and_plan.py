"""Spec validation and planning: field-named errors, shared stages, keys that change only when they should."""

from __future__ import annotations

from pathlib import Path

import pytest

from xstilts.errors import DataError, SpecError, UserError
from xstilts.experiment.plan import build_plan
from xstilts.spec import load_spec, parse_spec


def spec(**fields):
    base = {"name": "t", "targets": [{"task": "panx", "eval_languages": ["en", "de"]}]}
    return parse_spec({**base, **fields})


def test_train_overrides_merge_over_spec_defaults():
    s = spec(train={"batch_size": 8}, targets=[{"task": "panx", "train": {"epochs": 2}}])
    config = s.train_config(s.targets[0].train)
    assert (config.batch_size, config.epochs, config.learning_rate) == (8, 2.0, 2e-5)


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"bogus": 1}, "bogus", "Extra inputs"),
        ({"seeds": [1, "x"]}, "seeds[1]", "integer"),
        ({"seeds": []}, "seeds", "at least 1"),
        ({"targets": []}, "targets", "at least 1"),
        (
            {"targets": [{"task": "panx", "train": {"epoch": 2}}]},
            "targets[0].train",
            "unknown training option",
        ),
        (
            {"targets": [{"task": "panx", "max_train_examples": -5}]},
            "targets[0].max_train_examples",
            "greater",
        ),
        ({"train": {"learning_rate": 0}}, "train.learning_rate", "greater than 0"),
        ({"name": "../escape"}, "name", "pattern"),
        ({"intermediate": {"a/b": []}}, "intermediate", "plain name"),
        ({"model": {"name": "me5-small", "num_layers": 0}}, "model.num_layers", "greater"),
    ],
)
def test_malformed_spec_names_the_field(fields, field, words):
    with pytest.raises(SpecError) as err:
        spec(**fields)
    assert err.value.field == field
    assert words in str(err.value)


def test_yaml_error_names_the_line(tmp_path: Path):
    path = tmp_path / "s.yaml"
    path.write_text("name: x\ntargets:\n  - task: panx\n   bad: [\n")
    with pytest.raises(UserError, match=r"s\.yaml:\d+: invalid YAML"):
        load_spec(path)


def test_relative_data_dir_is_resolved_against_the_spec_file(tmp_path: Path):
    path = tmp_path / "sub" / "s.yaml"
    path.parent.mkdir()
    path.write_text("name: x\ndata_dir: ../data\ntargets: [{task: panx}]\n")
    assert load_spec(path).data_dir == (tmp_path / "data").resolve()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"targets": [{"task": "nope"}]}, "targets[0].task"),
        ({"targets": [{"task": "panx", "eval_languages": ["en", "abc"]}]}, "targets[0].eval_languages"),  # ISO, no data
        ({"intermediate": {"a": [{"task": "panx", "languages": ["kk"]}]}}, "intermediate.a[0].languages"),
        ({"targets": [{"task": "sick"}]}, "targets[0].task"),  # SICK has no zero-shot evaluation split
        ({"targets": [{"task": "xnli", "train_task": "siqa"}]}, "targets[0].train_task"),
        ({"targets": [{"task": "pawsx", "train": {"selection": "best_dev"}}]}, "targets[0].train.selection"),
    ],
)
def test_semantic_errors_name_the_field(data: Path, fields, field):
    with pytest.raises(SpecError) as err:
        build_plan(spec(**fields), data)
    assert err.value.field == field


def test_missing_data_file_names_the_file(tmp_path: Path):
    with pytest.raises(DataError, match="train-en.tsv: file not found"):
        build_plan(spec(), tmp_path)


def grid(**fields):
    return spec(
        seeds=[1, 2],
        intermediate={
            "none": [],
            "sick": [{"task": "sick"}],
            "sick_siqa": [{"task": "sick"}, {"task": "siqa"}],
        },
        targets=[{"task": "panx"}, {"task": "xcopa"}],
        **fields,
    )


def test_grid_shares_intermediate_stages(data: Path):
    plan = build_plan(grid(), data)
    kinds = [s.kind for s in plan.stages.values()]
    # per seed: sick, sick->siqa (its sick is shared), 3 conditions x 2 targets trained and evaluated
    assert kinds.count("train") == 2 * (2 + 3 * 2)
    assert kinds.count("evaluate") == 2 * 3 * 2
    assert len(plan.runs) == 12
    assert plan.naive_stage_count == 2 * 2 * (2 + 3 + 4)  # chain + evaluation per run
    sick_chain = {r.chain[0] for r in plan.runs if r.condition == "sick" and r.seed == 1}
    assert len(sick_chain) == 1
    assert sick_chain == {r.chain[0] for r in plan.runs if r.condition == "sick_siqa" and r.seed == 1}


def test_parents_come_before_children(data: Path):
    seen: set[str] = set()
    for stage in build_plan(grid(), data).stages.values():
        assert stage.parent is None or stage.parent in seen
        seen.add(stage.key)


def test_keys_change_only_with_what_determines_the_stage(data: Path):
    base = {r.eval_key for r in build_plan(grid(), data).runs}
    assert base == {r.eval_key for r in build_plan(grid(), data).runs}
    # a cosmetic change: renaming the experiment keeps every key
    renamed = parse_spec({**grid().model_dump(mode="json"), "name": "other"})
    assert base == {r.eval_key for r in build_plan(renamed, data).runs}
    # a real change to the shared intermediate stage changes every key downstream of it
    changed = build_plan(grid(train={"learning_rate": 1e-5}), data)
    assert base.isdisjoint({r.eval_key for r in changed.runs})
