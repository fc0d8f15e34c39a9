"""`xstilts plan` on the paper's study (examples/paper/phang2020.yaml) with none of its data and no Hub: stages
and GPU-hours from published sizes, known encoder shapes and a GPU's data-sheet peak; `run` still refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from xstilts.cli import main
from xstilts.encoders import loading as model_loading
from xstilts.encoders.hub_access import HubUnreachable
from xstilts.encoders.known_configs import KNOWN_CONFIGS, known_config
from xstilts.errors import UserError
from xstilts.experiment.cost import DEFAULT_STARTUP, cost_model, non_embedding_parameters
from xstilts.experiment.data_sizes import DataSizes
from xstilts.experiment.gpus import ASSUMED_MFU, GPUS, find_gpu
from xstilts.experiment.plan import ABSENT, build_plan
from xstilts.spec import ModelSpec, load_spec, parse_spec
from xstilts.tasks import REGISTRY
from xstilts.tasks.sizes import SIZES

REPO = Path(__file__).resolve().parents[2]
PAPER = REPO / "examples" / "paper" / "phang2020.yaml"
XLMR_LARGE = 24 * (4 * 1024 * 1024 + 2 * 1024 * 4096)  # 302M of its 560M: the rest is the 250k-token embedding


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def test_paper_spec_plans_offline_with_no_data(empty: Path, tmp_path: Path, capsys):
    assert main(["plan", str(PAPER), "--data", str(empty), "--gpu", "h100", "--out", str(tmp_path / "x")]) == 0
    out = capsys.readouterr().out
    plan = build_plan(load_spec(PAPER), empty, allow_absent=True)
    # Every intermediate task, alone and mixed, then every target, for 12 conditions x 3 seeds.
    conditions = {run.condition for run in plan.runs}
    assert len(conditions) == 12 and {"none", "multitask", "ccg", "anli_plus"} <= conditions
    assert {run.target for run in plan.runs} == {
        "xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc2018", "tatoeba",
    }  # fmt: skip
    assert all(key in out for key in plan.stages)  # every stage printed, each with its time
    assert f"{len(plan.stages)} unique stages" in out and "~?" not in out
    flat = " ".join(out.split())
    hours = float(flat.split("GPU-hours: ")[1].split()[0].replace(",", ""))
    assert 10 < hours < 1000  # XLM-R Large over ~90M example-passes: tens of H100-hours, not seconds or years
    assert "on one NVIDIA H100 SXM" in flat and f"assumed {ASSUMED_MFU:.0%} model-FLOPs utilisation" in flat
    assert "counted from their published sizes" in flat
    assert "not checked without the data: overlap of training and evaluation data" in flat
    assert "the label sets of ccg" in flat


def test_absent_data_is_recorded_not_refused_only_when_planning(empty: Path):
    spec = load_spec(PAPER)
    plan = build_plan(spec, empty, allow_absent=True)
    assert ("mnli", "train", "en") in plan.absent and ("xnli", "dev", "sw") in plan.absent
    assert all(stage.data.startswith(ABSENT) for stage in plan.stages.values())
    assert plan.tasks["ccg"].labels == ()  # an open label set stays unknown without its training data
    with pytest.raises(UserError, match="file not found"):
        build_plan(spec, empty)


def test_run_still_refuses_missing_data_in_one_line(empty: Path, tmp_path: Path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"name": "missing", "targets": [{"task": "panx"}]}))
    assert main(["run", str(path), "--data", str(empty), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "file not found" in err and "panx" in err
    assert not (tmp_path / "out").exists()


def test_absent_data_counts_published_sizes(empty: Path):
    sizes = DataSizes(empty)
    assert sizes.count("mnli", "train", "en") == 392_702
    assert sizes.count("tydiqa", "dev", "bn") == 113 and sizes.count("tydiqa", "dev", "en") == 440
    assert sizes.count("panx", "dev", "ta") == 1_000 and sizes.count("panx", "dev", "de") == 10_000
    # Multiple choice: one row of max_length tokens per answer.
    assert sizes.tokens_per_example("csqa", "train_official", "en", {}, 128, None) == 5 * 128
    assert sizes.count("siqa", "train_official", "en") == 33_410  # the official train file, absent: published
    assert sizes.tokens_per_example("mnli", "train", "en", {}, 256, None) == 256
    assert "published sizes" in " ".join(sizes.notes()) and "upper bounds" not in " ".join(sizes.notes())
    assert sizes.count("udpos", "test", "de") == 20_436  # the top of XTREME's range: the plan says it is a bound
    assert "upper bounds for udpos" in " ".join(sizes.notes())


def test_own_task_without_data_or_published_size_is_named(empty: Path):
    sizes = DataSizes(empty)
    assert sizes.count("snli", "train", "en") == 0
    assert "no files and no published size for snli train" in " ".join(sizes.notes())


def test_present_data_is_counted_from_its_files(data: Path):
    sizes = DataSizes(data)
    assert sizes.count("siqa", "train", "en") == 4_178  # the offline stand-in (dev + tst), not the published 33,410
    assert not sizes.published and not sizes.notes()


# Offline stand-ins for the official training sets (the curated copy's README): smaller than what is published.
STAND_INS = {("pawsx", "train")}


def test_published_sizes_match_the_curated_files_where_both_exist(data: Path):
    sizes, compared = DataSizes(data), 0
    for (task, split), size in SIZES.items():
        if (task, split) in STAND_INS:
            continue
        for lang in REGISTRY[task].languages(split):
            if sizes.present(task, split, lang):
                assert sizes.count(task, split, lang) == size.of(lang), (task, split, lang)
                compared += 1
    assert compared > 200  # PAN-X, UD-POS, XNLI, PAWS-X, XQuAD, MLQA, Tatoeba, SICK, English TyDiQA


def test_published_sizes_agree_with_their_totals_and_the_catalogue():
    tydiqa = REGISTRY["tydiqa"]
    for split, total in (("train", 49_881), ("dev", 5_077)):  # the Hub card's totals of the per-language counts
        assert sum(SIZES[("tydiqa", split)].of(lang) for lang in tydiqa.languages(split)) == total
    for (task, split), size in SIZES.items():
        assert task in REGISTRY and split in REGISTRY[task].splits, (task, split)
        assert set(size.per_language) <= set(REGISTRY[task].languages(split)), (task, split)
        assert size.count > 0 and size.source


def test_known_config_counts_parameters_when_the_hub_is_unreachable(empty: Path, monkeypatch):
    def unreachable(model):
        raise HubUnreachable(f"model '{model.name}': not in the local Hugging Face cache")

    monkeypatch.setattr(model_loading, "encoder_config", unreachable)
    monkeypatch.setattr(model_loading, "load_tokenizer", unreachable)
    spec = load_spec(PAPER)
    plan = build_plan(spec, empty, allow_absent=True)
    model = cost_model(plan, empty, gpu=find_gpu("h100"))
    assert model.parameters(spec.model) == XLMR_LARGE == non_embedding_parameters(KNOWN_CONFIGS["xlm-roberta-large"])
    cost = model.plan(plan)
    assert any("known shape (24 layers, hidden 1024" in note for note in cost.notes)
    assert known_config(ModelSpec(name="xlm-roberta-large", num_layers=12)).num_hidden_layers == 12
    # A model with no known shape is still refused, as `run` refuses it.
    other = build_plan(
        parse_spec({"name": "o", "model": "someone/own-model", "targets": [{"task": "panx"}]}), empty, True
    )
    with pytest.raises(HubUnreachable):
        cost_model(other, empty).plan(other)


def test_gpu_rate_is_its_peak_times_the_assumed_utilisation(empty: Path, monkeypatch):
    monkeypatch.setattr(model_loading, "encoder_config", lambda model: KNOWN_CONFIGS["xlm-roberta-large"])
    plan = build_plan(load_spec(PAPER), empty, allow_absent=True)
    h100, v100 = find_gpu("H100"), find_gpu("v100")
    assert (h100.peak, h100.precision, v100.precision) == (989e12, "bf16", "fp16")
    stage = next(s for s in plan.stages.values() if s.kind == "train" and s.task == "mnli")
    fast, slow = cost_model(plan, empty, gpu=h100).stage(stage), cost_model(plan, empty, gpu=v100).stage(stage)
    startup = DEFAULT_STARTUP["cpu"]["train"]
    assert fast.seconds == pytest.approx(startup + fast.flops / (989e12 * ASSUMED_MFU))
    assert (slow.seconds - startup) / (fast.seconds - startup) == pytest.approx(989 / 125)
    assert "assumed NVIDIA H100 SXM" in fast.source
    assert all(g.peak > 1e13 and "data sheet" in g.source for g in GPUS.values())


def test_unknown_gpu_is_one_line_with_a_suggestion(empty: Path, capsys):
    assert main(["plan", str(PAPER), "--data", str(empty), "--gpu", "h10"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown GPU 'h10'" in err and "did you mean 'h100'" in err
