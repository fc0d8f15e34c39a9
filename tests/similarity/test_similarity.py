"""Task similarity: ranking measures and linear CKA on hand-made cases with known answers, the diagonal Fisher on a
tiny model against gradients taken by hand, and `xstilts similarity` end to end on a small finished experiment run
with a tiny random encoder on real data subsets."""

from __future__ import annotations

import argparse
import json
import math
import sqlite3
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from xstilts.cli import main
from xstilts.errors import UserError
from xstilts.similarity.cka import linear_cka
from xstilts.similarity.ranking import ndcg_at_k, quality, ranked, regret_at_k, spearman
from xstilts.similarity_command import layers_arg, methods_arg

# -- ranking measures --------------------------------------------------------------------------------------------


def test_spearman_on_hand_made_rankings() -> None:
    assert spearman([0.1, 0.2, 0.3], [1.0, 5.0, 9.0]) == pytest.approx(1.0)
    assert spearman([0.3, 0.2, 0.1], [1.0, 5.0, 9.0]) == pytest.approx(-1.0)
    # ranks (1, 2, 3) against (2, 1, 3): 1 - 6 * (1 + 1 + 0) / (3 * 8) = 0.5
    assert spearman([1.0, 2.0, 3.0], [20.0, 10.0, 30.0]) == pytest.approx(0.5)
    assert spearman([0.5, 0.5, 0.5], [1.0, 2.0, 3.0]) is None  # a constant ranking says nothing
    assert spearman([0.5], [1.0]) is None


def test_ndcg_at_k_by_hand() -> None:
    # linear gain: predicted order puts relevance 1 before 2: DCG = 1 / log2(2) + 2 / log2(3) = 2.26186,
    # ideal = 2 + 1 / 1.58496 = 2.63093
    assert ndcg_at_k([1.0, 2.0], 2) == pytest.approx(2.2618595 / 2.6309298, abs=1e-6)
    assert ndcg_at_k([1.0, 2.0], 1) == pytest.approx(0.5)
    assert ndcg_at_k([2.0, 1.0, 0.0], 3) == pytest.approx(1.0)  # the ideal order
    assert ndcg_at_k([0.0, 2.0, 1.0], 1) == 0.0  # the worst condition first
    assert ndcg_at_k([0.0, 0.0], 2) is None


def test_regret_at_k_by_hand() -> None:
    assert regret_at_k([60.0, 80.0, 70.0], 1) == pytest.approx(25.0)  # (80 - 60) / 80, in percent
    assert regret_at_k([60.0, 80.0, 70.0], 2) == 0.0  # the best is in the top 2
    assert regret_at_k([70.0, 60.0, 80.0], 2) == pytest.approx(12.5)
    assert regret_at_k([0.0, 0.0], 1) is None


def test_rankings_break_ties_by_name() -> None:
    assert ranked(["b", "a", "c"], [0.5, 0.5, 0.9]) == ["c", "a", "b"]


def test_method_and_layer_arguments() -> None:
    assert methods_arg("cka, TextEmb,cka") == ("cka", "textemb")  # order kept, case folded, repeats dropped
    assert layers_arg("-1") == (-1,) and layers_arg("10,11") == (10, 11)
    for bad, parse in (("semb,fisher", methods_arg), ("", methods_arg), ("last", layers_arg)):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(bad)


def test_quality_ranks_by_similarity_and_compares_with_gains() -> None:
    q = quality(["a", "b", "c"], [0.9, 0.1, 0.5], [1.0, -1.0, 0.0], [51.0, 49.0, 50.0], k=2)
    assert (q.top, q.best, q.n, q.k) == ("a", "a", 3, 2)
    assert q.spearman == pytest.approx(1.0) and q.ndcg == pytest.approx(1.0) and q.regret == 0.0
    worst = quality(["a", "b", "c"], [0.1, 0.9, 0.5], [1.0, -1.0, 0.0], [51.0, 49.0, 50.0], k=1)
    assert worst.top == "b" and worst.spearman == pytest.approx(-1.0)
    assert worst.regret == pytest.approx((51 - 49) / 51 * 100) and worst.ndcg < 1


# -- linear CKA ----------------------------------------------------------------------------------------------------


def _orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    return q * np.sign(np.diag(r))


def test_linear_cka_properties() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 8)), rng.normal(size=(60, 5))
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert linear_cka(x, 3.0 * x @ _orthogonal(8, rng)) == pytest.approx(1.0)  # rotation and isotropic scaling
    base = linear_cka(x, y)
    assert 0.0 <= base < 0.9
    assert linear_cka(0.2 * x @ _orthogonal(8, rng), 7.0 * y @ _orthogonal(5, rng)) == pytest.approx(base)
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x))  # symmetric
    assert linear_cka(x + 5.0, y - 2.0) == pytest.approx(base)  # features are centred
    # not invariant to an anisotropic scaling (an arbitrary invertible map), so it is not trivially 1
    assert linear_cka(x, x * np.array([100.0, 1, 1, 1, 1, 1, 1, 1])) < 0.9
    with pytest.raises(ValueError, match="same inputs"):
        linear_cka(x, y[:10])


# -- the diagonal Fisher -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_task_model(tiny_model_dir: Path, data: Path):
    from xstilts.encoders.loading import load_encoder, load_tokenizer
    from xstilts.formats import make_format
    from xstilts.spec import ModelSpec
    from xstilts.tasks import REGISTRY
    from xstilts.tasks.loading import load_examples
    from xstilts.training.task_model import TaskModel

    spec = ModelSpec(name=str(tiny_model_dir))
    task = REGISTRY["sick"]
    fmt = make_format(task.format)
    torch.manual_seed(0)
    encoder = load_encoder(spec)
    model = TaskModel(encoder, fmt.make_head(encoder.config, task), fmt)
    tokenizer = load_tokenizer(spec)
    examples = load_examples(task, task.train_split, "en", data)[:3]
    return model, fmt.encode(examples, tokenizer, task, 32), tokenizer.pad_token_id


def _grad_squared(model, feature, pad_id: int, names: list[str]) -> np.ndarray:
    model.zero_grad()
    batch = model.batch([feature], pad_id)
    model.fmt.loss(model(batch), batch).backward()
    params = dict(model.encoder.named_parameters())
    return np.concatenate([params[n].grad.double().flatten().numpy() ** 2 for n in names])


def test_diagonal_fisher_is_the_mean_of_per_example_squared_gradients(tiny_task_model) -> None:
    from xstilts.similarity.represent import diagonal_fisher, layer_prefixes

    model, features, pad_id = tiny_task_model
    model.eval()
    prefixes = layer_prefixes(model.encoder, None)
    assert prefixes == ("encoder.layer.1.",)  # the last of the tiny model's two layers
    names = [n for n, _ in model.encoder.named_parameters() if n.startswith(prefixes)]
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    fisher = diagonal_fisher(model, features, pad_id, prefixes)
    expected = np.mean([_grad_squared(model, f, pad_id, names) for f in features], axis=0)
    assert fisher.shape == (sum(p.numel() for n, p in model.encoder.named_parameters() if n in names),)
    assert np.all(fisher >= 0) and fisher.sum() > 0
    np.testing.assert_allclose(fisher, expected, rtol=1e-5, atol=1e-12)
    # not the square of the mean gradient: that is what one batch's backward pass would give
    assert not np.allclose(fisher, np.mean([np.sqrt(_grad_squared(model, f, pad_id, names)) for f in features], 0) ** 2)
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags  # left as it was found
    assert layer_prefixes(model.encoder, (0, -1)) == ("encoder.layer.0.", "encoder.layer.1.")
    with pytest.raises(UserError, match="--fisher-layers: the model has layers 0..1"):
        layer_prefixes(model.encoder, (2,))


# -- the similarity sample ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("caps", "size"), [({"de": 30, "fr": 5}, 20), (5, 10)])  # size: after max_train_examples 20
def test_the_sample_is_drawn_per_language_as_the_stage_drew_it(data: Path, tmp_path: Path, caps, size: int) -> None:
    from xstilts.experiment.plan import TrainStage, build_plan, stage_record
    from xstilts.experiment.readback import Experiment
    from xstilts.similarity.compute import Similarity
    from xstilts.similarity.settings import Settings
    from xstilts.similarity.sources import _samples
    from xstilts.spec import parse_spec
    from xstilts.tasks.loading import ExampleCache

    entry = {"task": "xnli", "split": "dev", "languages": ["de", "fr"], "max_train_examples": 20}
    spec = parse_spec(
        {
            "name": "caps",
            "data_dir": str(data),
            "intermediate": {"x": [{**entry, "max_examples_per_language": caps}]},
            "targets": [{"task": "panx", "eval_languages": ["de"]}],
        }
    )
    plan = build_plan(spec, data)
    stage = next(s for s in plan.stages.values() if isinstance(s, TrainStage) and s.task == "xnli")
    [sample] = _samples(json.loads(json.dumps(stage_record(stage))))  # as the store gives the stage back
    assert "per language" in sample.name
    job = Similarity(Experiment(tmp_path, spec, {}, (), ()), Settings(examples=1000))
    read = ExampleCache(plan.tasks, data)
    trained = stage.parts[0].draw(lambda lang: read("xnli", "dev", lang), stage.data_seed)  # as train_stage draws
    assert job.examples(sample) == [e for _, e in trained] and job.subset_size(sample) == size
    french = set(read("xnli", "dev", "fr"))
    assert sum(e in french for e in job.examples(sample)) <= 5  # the French cap holds in the sample


# -- the command, end to end -------------------------------------------------------------------------------------


integration = pytest.mark.integration


@pytest.fixture(scope="module")
def experiment(tmp_path_factory: pytest.TempPathFactory, data: Path, tiny_model_dir: Path) -> Path:
    tmp = tmp_path_factory.mktemp("similarity")
    spec = {
        "name": "similarity",
        "data_dir": str(data),
        "model": str(tiny_model_dir),
        "seeds": [1],
        # a large learning rate so that every stage moves the tiny encoder (CKA and Fisher then tell stages apart)
        "train": {
            "batch_size": 8,
            "max_length": 32,
            "precision": "fp32",
            "freeze_embeddings": True,
            "learning_rate": 1e-3,
        },
        "intermediate": {
            "none": [],
            "sick": [{"task": "sick", "max_train_examples": 16}],
            "siqa": [{"task": "siqa", "max_train_examples": 16}],
            "sick_siqa": [{"task": "sick", "max_train_examples": 16}, {"task": "siqa", "max_train_examples": 16}],
        },
        "targets": [{"task": "panx", "max_train_examples": 16, "eval_languages": ["en", "de"], "max_eval_examples": 8}],
    }
    (tmp / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["run", str(tmp / "spec.yaml"), "--out", str(tmp / "run")]) == 0
    return tmp / "run"


@pytest.fixture(scope="module")
def result(experiment: Path) -> dict:
    assert main(["similarity", str(experiment), "--examples", "5", "--k", "2"]) == 0
    return json.loads((experiment / "similarity.json").read_text())


@integration
def test_every_method_scores_every_condition(result: dict, experiment: Path) -> None:
    assert result["settings"]["methods"] == ["textemb", "taskemb", "semb", "cka"]
    assert result["settings"]["examples"] == 5 and result["settings"]["fisher_layers"] is None
    (entry,) = result["targets"]
    assert (entry["target"], entry["baseline"], entry["metric"], entry["seed"]) == ("panx", "none", "f1", 1)
    assert [c["condition"] for c in entry["candidates"]] == ["sick", "sick_siqa", "siqa"]  # the spec's order
    for row in entry["candidates"]:
        assert row["notes"] == {} and row["seeds"] == [1]
        for method in ("textemb", "taskemb", "semb"):
            assert -1.0 <= row["similarity"][method] <= 1.0 + 1e-9
        assert 0.0 <= row["similarity"]["cka"] <= 1.0 + 1e-9
    # the text methods read every task of a curriculum, and the pretrained encoder: the same for every condition
    tasks = {r["condition"]: r["tasks"] for r in entry["candidates"]}
    assert tasks == {
        "sick": ["sick (en, train, 16)"],
        "siqa": ["siqa (en, train, 16)"],
        "sick_siqa": ["sick (en, train, 16)", "siqa (en, train, 16)"],
    }
    # TaskEmb and CKA of sick_siqa use its last stage, the siqa stage trained after sick, not siqa's own stage
    with sqlite3.connect(experiment / "results.sqlite") as db:
        chains = dict(db.execute("SELECT condition, chain FROM runs").fetchall())
    for row in entry["candidates"]:
        depth = 2 if row["condition"] == "sick_siqa" else 1
        assert row["checkpoint"] == json.loads(chains[row["condition"]])[depth - 1]


@integration
def test_gains_and_ranking_quality_come_from_the_store(result: dict, experiment: Path) -> None:
    with sqlite3.connect(experiment / "results.sqlite") as db:
        avg = dict(
            db.execute(
                "SELECT condition, value FROM runs JOIN results ON stage_key = eval_key WHERE language = 'avg'"
            ).fetchall()
        )
    (entry,) = result["targets"]
    for row in entry["candidates"]:
        assert row["gain"] == pytest.approx(avg[row["condition"]] - avg["none"])
        assert row["score"] == pytest.approx(avg[row["condition"]])
    assert entry["baseline_score"] == pytest.approx(avg["none"])
    for method in ("textemb", "taskemb", "semb", "cka"):
        q = entry["quality"][method]
        ranked = sorted(entry["candidates"], key=lambda r: (-r["similarity"][method], r["condition"]))
        assert entry["rankings"][method] == [r["condition"] for r in ranked]
        assert q["n"] == 3 and q["k"] == 2 and q["top"] == ranked[0]["condition"]
        assert q["best"] == max(entry["candidates"], key=lambda r: r["gain"])["condition"]
        assert q["regret_1"] == pytest.approx(regret_at_k([r["score"] for r in ranked], 1))
        assert q["spearman"] is None or -1.0 <= q["spearman"] <= 1.0


@integration
def test_descriptors_of_every_task(result: dict, experiment: Path) -> None:
    descriptors = result["descriptors"]
    assert set(descriptors) == {"panx (en, train, 16)", "sick (en, train, 16)", "siqa (en, train, 16)"}
    panx, sick, siqa = (
        descriptors[k] for k in ("panx (en, train, 16)", "sick (en, train, 16)", "siqa (en, train, 16)")
    )
    assert (panx["format"], panx["labels"], panx["train_examples"], panx["sample"]) == ("tagging", 7, 16, 5)
    assert (sick["format"], sick["labels"], siqa["format"], siqa["labels"]) == (
        "classification",
        3,
        "multiple_choice",
        None,
    )
    for d in (panx, sick, siqa):
        assert d["mean_input_tokens"] > 3 and math.isfinite(d["loss"]) and d["loss"] > 0
        assert len(d["checkpoint"]) == 16 and d["final_training_loss"] > 0
    assert 0.0 <= sick["metrics"]["accuracy"] <= 100.0 and "f1" in panx["metrics"]
    # each fitted by its own stage: siqa's by the siqa condition's stage, not by the one trained after sick
    with sqlite3.connect(experiment / "results.sqlite") as db:
        chains = {c: json.loads(chain) for c, chain in db.execute("SELECT condition, chain FROM runs")}
    assert (sick["checkpoint"], siqa["checkpoint"]) == (chains["sick"][0], chains["siqa"][0])
    assert panx["checkpoint"] == chains["none"][-1]


@integration
def test_the_report_has_a_similarity_section(result: dict, experiment: Path, tmp_path: Path) -> None:
    from xstilts.report import ResamplingSettings, build_report

    settings = ResamplingSettings(n_boot_seeds=100, n_boot_examples=50, n_perm=50, complexity_sample=16)
    report = build_report(experiment, tmp_path / "report", settings)
    markdown = report.markdown.read_text()
    assert "## Task similarity" in markdown and "## Task descriptors" in markdown
    # complexity from the real stages: the loss curve each stage logged gives a curve area, the code length a value
    row = next(line for line in markdown.splitlines() if line.startswith("| sick (en, 16) | class | 3 |"))
    code, area = (float(cell) for cell in row.split("|")[7:11:3])
    assert code > 0 and 0 < area < 2
    assert result["scale"]["rows"][0]["grid_point"].startswith("model=")  # one model: the report draws no scale section
    assert "| textemb |" in markdown and "NDCG@2" in markdown
    assert (tmp_path / "report" / "tables" / "similarity_panx_none.tex").is_file()


@integration
def test_bad_arguments_exit_2_with_one_message(experiment: Path, capsys) -> None:
    assert main(["similarity", str(experiment), "--target", "xnli"]) == 2
    assert "--target: 'xnli' is not a target of this experiment (its targets: panx)" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["similarity", str(experiment), "--methods", "textemb,nope"])
    assert stop.value.code == 2 and "unknown method 'nope'" in capsys.readouterr().err
    assert main(["similarity", str(experiment.parent), "--methods", "textemb"]) == 2
    assert "not an experiment directory" in capsys.readouterr().err


@integration
def test_a_missing_checkpoint_leaves_the_text_methods(experiment: Path, result: dict) -> None:
    with sqlite3.connect(experiment / "results.sqlite") as db:
        (chain,) = db.execute("SELECT chain FROM runs WHERE condition = 'siqa'").fetchone()
        (sick_chain,) = db.execute("SELECT chain FROM runs WHERE condition = 'sick'").fetchone()
    folder = experiment / "stages" / json.loads(chain)[0]
    hidden = folder.with_name("hidden")
    folder.rename(hidden)
    running = "UPDATE stages SET status = ? WHERE key = ?"  # as a runner leaves a stage it is still training
    with sqlite3.connect(experiment / "results.sqlite") as db:
        db.execute(running, ("running", json.loads(sick_chain)[0]))
    try:
        assert main(["similarity", str(experiment), "--examples", "3", "--methods", "textemb,cka"]) == 0
        partial = json.loads((experiment / "similarity.json").read_text())
    finally:
        hidden.rename(folder)
        with sqlite3.connect(experiment / "results.sqlite") as db:
            db.execute(running, ("done", json.loads(sick_chain)[0]))
    sick = next(r for r in partial["targets"][0]["candidates"] if r["condition"] == "sick")
    assert sick["similarity"] == {"textemb": None, "cka": None}
    assert sick["notes"] == {"all": "intermediate training not finished"}
    siqa = next(r for r in partial["targets"][0]["candidates"] if r["condition"] == "siqa")
    assert siqa["similarity"]["cka"] is None and "no checkpoint of stage" in siqa["notes"]["cka"]
    assert siqa["similarity"]["textemb"] is not None
    # sick_siqa's first stage is the very sick stage (shared), so it is unfinished too; only siqa is left to rank
    by_name = {r["condition"]: r for r in partial["targets"][0]["candidates"]}
    assert by_name["sick_siqa"]["notes"] == {"all": "intermediate training not finished"}
    quality = partial["targets"][0]["quality"]
    assert quality["cka"] is None and quality["textemb"]["n"] == 1 and quality["textemb"]["top"] == "siqa"
