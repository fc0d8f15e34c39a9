"""Grids: axes crossed with conditions, targets and seeds; stages shared across the whole grid."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from xstilts.cli import main
from xstilts.errors import SpecError
from xstilts.experiment.plan import build_plan
from xstilts.spec import parse_spec

BASE = {
    "name": "grid",
    "seeds": [1, 2],
    "intermediate": {"none": [], "sick": [{"task": "sick"}], "siqa": [{"task": "siqa"}]},
    "targets": [{"task": "panx", "eval_languages": ["de"]}, {"task": "xcopa", "eval_languages": ["et"]}],
}


def test_unique_stage_counts_of_a_3x2x2_grid(data: Path):
    plan = build_plan(parse_spec(BASE), data)
    # per seed: 2 intermediate stages + 3 conditions x 2 targets x (train + evaluate)
    assert len(plan.stages) == 2 * (2 + 3 * 2 * 2)
    assert plan.naive_stage_count == 2 * 2 * (2 + 3 + 3)
    assert len(plan.runs) == 3 * 2 * 2


def test_size_axis_shares_the_baseline(data: Path):
    plan = build_plan(parse_spec({**BASE, "grid": {"intermediate_size": [100, 400]}}), data)
    assert len(plan.runs) == 2 * 3 * 2 * 2
    assert {r.variant for r in plan.runs} == {"intermediate_size=100", "intermediate_size=400"}
    # per seed: 2 sizes x 2 intermediate stages; the baseline's 2 targets x 2 stages once; 2 sizes x 2 conditions
    # x 2 targets x 2 stages
    assert len(plan.stages) == 2 * (2 * 2 + 2 * 2 + 2 * 2 * 2 * 2)
    sizes = {
        s.parts[0].max_train_examples
        for s in plan.stages.values()
        if s.kind == "train" and s.parent is None and s.parts[0].task in ("sick", "siqa")
    }
    assert sizes == {100, 400}


def test_model_and_hyper_parameter_axes(data: Path):
    spec = parse_spec(
        {
            **BASE,
            "seeds": [1],
            "grid": {
                "model": ["me5-small", {"name": "me5-small", "num_layers": 6}],
                "train": {"learning_rate": [1e-5, 3e-5]},
            },
        }
    )
    plan = build_plan(spec, data)
    assert {r.variant for r in plan.runs} == {
        f"model={m}, learning_rate={lr}" for m in ("me5-small", "me5-small/L6") for lr in (1e-5, 3e-5)
    }
    assert len(plan.stages) == 4 * (2 + 3 * 2 * 2)  # nothing is shared across models or learning rates


@pytest.mark.parametrize(
    ("grid", "field"),
    [
        ({"intermediate_size": [0]}, "grid.intermediate_size"),
        ({"train": {"learning_rat": [1]}}, "grid.train"),
        ({"train": {"learning_rate": []}}, "grid.train"),
        ({"model": [{"name": "me5-small", "num_layers": 0}]}, "grid.model[0].num_layers"),
    ],
)
def test_bad_grid_names_the_field(grid, field):
    with pytest.raises(SpecError) as err:
        parse_spec({**BASE, "grid": grid})
    assert err.value.field == field


@pytest.mark.integration
def test_a_small_grid_runs_and_prints_one_table_per_point(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    spec = {
        "name": "grid-run",
        "data_dir": str(data),
        "model": str(tiny_model_dir),
        "train": {"batch_size": 8, "max_length": 32, "precision": "fp32"},
        "intermediate": {"none": [], "sick": [{"task": "sick"}]},
        "targets": [{"task": "panx", "max_train_examples": 8, "eval_languages": ["de"], "max_eval_examples": 4}],
        "grid": {"intermediate_size": [8, 16]},
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "run")]) == 0
    printed = " ".join(capsys.readouterr().out.split())  # the tables wrap at the terminal width
    assert "8 unique stages (10 without sharing)" in printed  # the baseline is shared by both sizes
    assert "panx: f1 [intermediate_size=8], delta vs 'none [intermediate_size=8]'" in printed
    assert "panx: f1 [intermediate_size=16], delta vs 'none [intermediate_size=16]'" in printed


def test_a_grid_point_is_validated_like_a_spec_s_own_train_block():
    """A grid's training values become typed fields (an adapter an AdapterSpec), not raw mappings copied in."""
    from xstilts.spec import AdapterSpec

    spec = parse_spec(
        {
            "name": "g",
            "targets": [{"task": "panx"}],
            "grid": {"train": {"adapter": [None, {"r": 4}], "learning_rate": [1e-5]}},
        }
    )
    adapters = [point.train.adapter for _, point in spec.variants()]
    assert adapters[0] is None and isinstance(adapters[1], AdapterSpec) and adapters[1].r == 4
    assert {point.train.learning_rate for _, point in spec.variants()} == {1e-5}
