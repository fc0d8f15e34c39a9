"""The time estimate of `xstilts plan`: FLOPs from examples and tokens, over a default or a measured rate."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from xstilts.cli import main
from xstilts.experiment.cost import (
    DEFAULT_RATES,
    DEFAULT_STARTUP,
    PROCESS_STARTUP,
    CostModel,
    DataSizes,
    non_embedding_parameters,
)
from xstilts.experiment.data_sizes import _rows
from xstilts.experiment.plan import build_plan, stage_record
from xstilts.experiment.plan_view import cost_lines
from xstilts.experiment.store import Store
from xstilts.spec import parse_spec
from xstilts.tasks import loading

PARAMETERS = 10**6
PANX = {"task": "panx", "max_train_examples": 50, "eval_languages": ["de"], "max_eval_examples": 20}
UDPOS = {"task": "udpos", "max_train_examples": 40, "eval_languages": ["fr"], "max_eval_examples": 20}


def spec(**changes):
    base = {
        "name": "cost",
        "seeds": [1],
        "train": {"max_length": 64, "eval_max_length": 128},
        "intermediate": {"none": [], "sick": [{"task": "sick", "max_train_examples": 100}]},
        "targets": [PANX],
    }
    return parse_spec({**base, **changes})


def cost_model(data: Path) -> CostModel:
    # No tokenizer: every example counts max_length tokens, so the numbers below are exact.
    return CostModel(DataSizes(data), lambda model: PARAMETERS, lambda model: None)


def test_flops_and_seconds_of_one_stage_from_the_default_rate(data: Path):
    plan = build_plan(spec(), data)
    sick = next(s for s in plan.stages.values() if s.task == "sick")
    cost = cost_model(data).stage(sick)
    assert (cost.passes, cost.tokens) == (100, 100 * 64)
    assert cost.flops == 6 * PARAMETERS * 100 * 64
    startup = DEFAULT_STARTUP["cpu"]["train"]
    assert cost.seconds == pytest.approx(startup + cost.flops / DEFAULT_RATES["cpu"]["train"])
    assert cost.source.startswith("default cpu start-up")
    evaluation = cost_model(data).stage(next(s for s in plan.stages.values() if s.kind == "evaluate"))
    assert (evaluation.examples, evaluation.flops) == (20, 2 * PARAMETERS * 20 * 128)


def test_the_estimate_grows_with_unique_stages_not_with_naive_runs(data: Path):
    one, two = build_plan(spec(), data), build_plan(spec(targets=[PANX, UDPOS]), data)
    model = cost_model(data)
    small, large = model.plan(one), model.plan(two)
    new = set(two.stages) - set(one.stages)
    assert len(new) == 4  # udpos's training and evaluation after each condition; sick is shared
    assert large.seconds == pytest.approx(small.seconds + sum(large.stages[k].seconds for k in new))
    sick = next(k for k, s in two.stages.items() if s.task == "sick")
    # Without sharing, sick would be trained once per target: the naive count pays for it twice.
    assert large.naive_seconds == pytest.approx(large.seconds + large.stages[sick].seconds)
    seeds = model.plan(build_plan(spec(targets=[PANX, UDPOS], seeds=[1, 2]), data))
    assert seeds.seconds == pytest.approx(2 * large.seconds)  # nothing is shared across seeds


def test_a_size_grid_pays_for_the_shared_baseline_once(data: Path):
    grid = build_plan(spec(grid={"intermediate_size": [50, 100]}), data)
    cost = cost_model(data).plan(grid)
    assert len(grid.stages) == 2 + 3 * 2  # 2 sick sizes; baseline, sick@50 and sick@100 each train and evaluate
    assert cost.seconds == pytest.approx(sum(c.seconds for c in cost.stages.values()))
    assert cost.naive_seconds > cost.seconds  # the baseline is counted once per size when nothing is shared


def test_finished_stages_of_the_same_model_set_the_rate(tmp_path: Path, data: Path):
    plan = build_plan(spec(targets=[PANX, UDPOS]), data)
    sick = next(s for s in plan.stages.values() if s.task == "sick")
    store = Store(tmp_path)
    store.finish_stage(sick.key, sick.kind, sick.task, stage_record(sick), 10.0, {})
    store.close()
    model = cost_model(data)
    model.learn(plan, tmp_path)
    cost = model.plan(plan)
    assert cost.stages[sick.key].seconds == pytest.approx(10.0)  # its own measurement, exactly
    startup = DEFAULT_STARTUP["cpu"]["train"]
    for key, stage in plan.stages.items():
        if stage.kind == "train":  # the default start-up, and the work scaled at the measured rate
            expected = startup + (10.0 - startup) * cost.stages[key].flops / cost.stages[sick.key].flops
            assert cost.stages[key].seconds == pytest.approx(expected)
            assert cost.stages[key].source.startswith(f"default start-up {startup:.0f}s, rate measured on 1 finished")
        else:  # no evaluation has finished: they keep the defaults
            assert cost.stages[key].source.startswith("default cpu start-up")


def test_stages_of_different_sizes_fit_start_up_and_rate(tmp_path: Path, data: Path):
    """seconds = start-up + FLOPs / rate, fitted by least squares once the finished stages differ in size."""
    plan = build_plan(spec(grid={"intermediate_size": [20, 100]}), data)
    model = cost_model(data)
    trained = [s for s in plan.stages.values() if s.kind == "train"]
    store = Store(tmp_path)
    for stage in trained:  # a machine with 12 s of start-up per stage and 4e9 FLOP/s
        store.finish_stage(stage.key, stage.kind, stage.task, stage_record(stage), 12.0 + model.flops(stage) / 4e9, {})
    store.close()
    model.learn(plan, tmp_path)
    startup, rate, source = model.calibration(trained[0])
    assert (startup, rate) == (pytest.approx(12.0), pytest.approx(4e9))
    assert source.startswith(f"start-up and rate fitted on {len(trained)} finished train stages")


def test_a_loaded_machine_slows_the_defaults_not_the_measurements(tmp_path: Path, data: Path):
    plan = build_plan(spec(), data)
    idle = cost_model(data).plan(plan)
    busy_model = CostModel(DataSizes(data), lambda model: PARAMETERS, lambda model: None, slowdown=3.0)
    busy = busy_model.plan(plan)
    assert busy.total_seconds == pytest.approx(3 * idle.total_seconds)
    assert all(c.source.endswith("x3.0 for the machine's load") for c in busy.stages.values())
    sick = next(s for s in plan.stages.values() if s.task == "sick")
    store = Store(tmp_path)
    store.finish_stage(sick.key, sick.kind, sick.task, stage_record(sick), 10.0, {})
    store.close()
    busy_model.learn(plan, tmp_path)
    assert busy_model.stage(sick).seconds == pytest.approx(10.0)  # measured under its own load: taken as it is


def test_a_run_adds_its_start_up_once(data: Path):
    cost = cost_model(data).plan(build_plan(spec(), data))
    assert cost.total_seconds == pytest.approx(PROCESS_STARTUP + cost.seconds)
    assert "start-up included" in " ".join(cost_lines(cost))


def test_token_counts_and_parameters():
    assert _rows([5, 6, 7]) == 3 and _rows([[5, 6], [7]]) == 3  # one row, or one row per choice
    me5 = SimpleNamespace(hidden_size=384, num_hidden_layers=12, intermediate_size=1536)
    assert non_embedding_parameters(me5) == 12 * (4 * 384 * 384 + 2 * 384 * 1536)  # 21.2M of me5-small's 117M


def test_plan_command_prints_measured_token_lengths_and_times(
    tmp_path: Path, data: Path, tiny_model_dir: Path, capsys, monkeypatch
):
    path = tmp_path / "spec.yaml"
    raw = {"name": "c", "data_dir": str(data), "model": str(tiny_model_dir), "targets": [PANX]}
    path.write_text(yaml.safe_dump(raw))
    reads = []
    original = loading.load_examples
    monkeypatch.setattr(
        loading, "load_examples", lambda task, *rest: reads.append((task.name, *rest[:2])) or original(task, *rest)
    )
    assert main(["plan", str(path), "--out", str(tmp_path / "none")]) == 0
    # The leakage check and the cost model share one example cache: each data file is read once.
    assert sorted(reads) == [("panx", "dev", "de"), ("panx", "train", "en")]
    printed = " ".join(capsys.readouterr().out.split())
    assert "2 unique stages" in printed and "time: about" in printed and "1 stage: default cpu start-up" in printed
    sizes = DataSizes(data)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokens = sizes.tokens_per_example("panx", "train", "en", {}, 128, tokenizer)
    assert 3 < tokens < 64  # PAN-X sentences are short: far below the max_length upper bound


def test_status_time_left_is_the_estimate_of_the_stages_not_done(tmp_path: Path, data: Path):
    from xstilts.experiment.progress import stage_states

    plan = build_plan(spec(), data)
    sick = next(s for s in plan.stages.values() if s.task == "sick")
    failed = next(s for s in plan.stages.values() if s.kind == "evaluate")
    store = Store(tmp_path)
    store.finish_stage(sick.key, sick.kind, sick.task, stage_record(sick), 10.0, {})
    store.mark(failed.key, failed.kind, failed.task, stage_record(failed), "failed")
    store.close()
    model = cost_model(data)
    model.learn(plan, tmp_path)
    cost = model.plan(plan)
    state = stage_states(plan, tmp_path, cost)
    assert state.done == [sick.key] and state.failed == [failed.key]
    assert state.seconds_left == pytest.approx(cost.seconds - 10.0)
    assert stage_states(plan, tmp_path).seconds_left is None  # no estimate given, none claimed


def test_a_model_without_a_readable_config_gets_no_time(data: Path):
    model = CostModel(DataSizes(data), lambda model: None, lambda model: None)
    cost = model.plan(build_plan(spec(), data))
    assert all(c.source == "no config for me5-small" for c in cost.stages.values())
    assert math.isnan(cost.seconds) and cost.stages  # unknown, never a made-up zero
