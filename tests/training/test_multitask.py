"""Multi-task intermediate training: sampler formulas and their realised proportions, a shared encoder that
learns two tasks at once, curricula whose order is kept, and weight hand-off between stages."""

from __future__ import annotations

import json
import math
import random
import sqlite3
from pathlib import Path

import pytest
import torch
import yaml

from xstilts.cli import main
from xstilts.experiment.plan import build_plan
from xstilts.formats import make_format
from xstilts.spec import ModelSpec, TrainConfig, parse_spec
from xstilts.tasks import get_task
from xstilts.tasks.examples import ClassificationExample, MultipleChoiceExample
from xstilts.training.sampling import task_probabilities
from xstilts.training.task_model import TaskModel
from xstilts.training.train import train

SIZES = {"a": 100, "b": 400, "c": 1600}


@pytest.mark.parametrize(
    ("sampler", "expected"),
    [
        ({"kind": "proportional"}, {"a": 100 / 2100, "b": 400 / 2100, "c": 1600 / 2100}),
        ({"kind": "uniform"}, {"a": 1 / 3, "b": 1 / 3, "c": 1 / 3}),
        ({"kind": "temperature", "temperature": 2.0}, {"a": 10 / 70, "b": 20 / 70, "c": 40 / 70}),  # sqrt sizes
        ({"kind": "capped", "cap": 400}, {"a": 100 / 900, "b": 400 / 900, "c": 400 / 900}),
    ],
)
def test_sampler_formulas(sampler, expected):
    probabilities = task_probabilities(SIZES, sampler)
    assert probabilities == pytest.approx(expected)


def keyword_pairs(n: int, seed: int) -> list[ClassificationExample]:
    rng = random.Random(seed)
    words = {"entailment": "yes", "neutral": "maybe", "contradiction": "never"}
    out = []
    for _ in range(n):
        label = rng.choice(list(words))
        filler = " ".join(rng.choice(["the", "a", "cat", "dog", "runs"]) for _ in range(rng.randint(2, 6)))
        out.append(ClassificationExample(filler, f"{filler} {words[label]}", label))
    return out


def keyword_choices(n: int, seed: int) -> list[MultipleChoiceExample]:
    """The right answer is the one that repeats the context's colour."""
    rng = random.Random(seed)
    colours = ["red", "blue", "green"]
    out = []
    for _ in range(n):
        colour = rng.choice(colours)
        choices = tuple(rng.sample(colours, 3))
        out.append(MultipleChoiceExample(f"the {colour} car", "which colour?", choices, choices.index(colour)))
    return out


def shared_models(tiny_model_dir: Path):
    from xstilts.encoders.loading import load_encoder, load_tokenizer

    spec = ModelSpec(name=str(tiny_model_dir))
    torch.manual_seed(0)
    encoder = load_encoder(spec)
    models = {}
    for name in ("sick", "siqa"):
        task = get_task(name)
        fmt = make_format(task.format)
        models[name] = TaskModel(encoder, fmt.make_head(encoder.config, task), fmt)
    return models, load_tokenizer(spec)


def test_realised_task_proportions_follow_the_sampler(tiny_model_dir: Path):
    models, tokenizer = shared_models(tiny_model_dir)
    features = {
        "sick": models["sick"].fmt.encode(keyword_pairs(8, 1), tokenizer, get_task("sick"), 32),
        "siqa": models["siqa"].fmt.encode(keyword_choices(8, 1), tokenizer, get_task("siqa"), 32),
    }
    config = TrainConfig(batch_size=2, max_steps=300, learning_rate=1e-4, precision="fp32", freeze_embeddings=True)
    report = train(models, features, config, 0, 1, bf16=False, probabilities={"sick": 0.8, "siqa": 0.2})
    n = sum(report.batches.values())
    assert n == 300
    sd = math.sqrt(n * 0.8 * 0.2)
    assert abs(report.batches["sick"] - 0.8 * n) < 4 * sd
    assert report.probabilities == {"sick": 0.8, "siqa": 0.2}


def test_one_encoder_learns_two_tasks_at_once(tiny_model_dir: Path):
    models, tokenizer = shared_models(tiny_model_dir)
    data = {
        "sick": (keyword_pairs(200, 1), keyword_pairs(90, 2)),
        "siqa": (keyword_choices(200, 1), keyword_choices(90, 2)),
    }
    features = {t: models[t].fmt.encode(train_set, tokenizer, get_task(t), 32) for t, (train_set, _) in data.items()}
    config = TrainConfig(batch_size=16, epochs=4, learning_rate=3e-3, precision="fp32")
    train(models, features, config, 0, 1, bf16=False)
    from xstilts.training.evaluate import evaluate

    for task, (_, test_set) in data.items():
        _, scores = evaluate(models[task], get_task(task), test_set, "en", tokenizer, 32, 32, False)
        chance = 100 / 3
        assert scores["accuracy"] > chance + 25, (task, scores)


def test_curricula_keep_their_order(data: Path):
    spec = parse_spec(
        {
            "name": "order",
            "intermediate": {"ab": [{"task": "sick"}, {"task": "siqa"}], "ba": [{"task": "siqa"}, {"task": "sick"}]},
            "targets": [{"task": "panx", "eval_languages": ["de"]}],
        }
    )
    plan = build_plan(spec, data)
    chains = {run.condition: [plan.stages[k].task for k in run.chain] for run in plan.runs}
    assert chains == {"ab": ["sick", "siqa", "panx"], "ba": ["siqa", "sick", "panx"]}


def test_multitask_stage_spec_and_errors(data: Path):
    spec = parse_spec(
        {
            "name": "mt",
            "intermediate": {
                "mix": [
                    {
                        "tasks": [{"task": "sick"}, {"task": "panx", "languages": ["en", "de"]}],
                        "sampler": {"kind": "temperature", "temperature": 3},
                    }
                ]
            },
            "targets": [{"task": "xcopa"}],
        }
    )
    stage = next(s for s in build_plan(spec, data).stages.values() if s.kind == "train" and len(s.parts) == 2)
    assert stage.task == "sick+panx" and stage.sampler["kind"] == "temperature"
    assert stage.parts[1].languages == ("en", "de")
    with pytest.raises(Exception, match="either `task`"):
        parse_spec(
            {
                "name": "x",
                "intermediate": {"a": [{"task": "sick", "tasks": [{"task": "siqa"}]}]},
                "targets": [{"task": "panx"}],
            }
        )


def test_handoff_of_matching_heads_is_logged(tmp_path: Path, data: Path, tiny_model_dir: Path):
    spec = {
        "name": "handoff",
        "data_dir": str(data),
        "model": str(tiny_model_dir),
        "train": {"batch_size": 8, "max_length": 48, "precision": "fp32"},
        "intermediate": {"de_first": [{"task": "panx", "languages": ["de"], "max_train_examples": 16}]},
        "targets": [
            {
                "task": "panx",
                "max_train_examples": 16,
                "eval_languages": ["fr"],
                "max_eval_examples": 8,
                "handoff": "encoder+heads",
            }
        ],
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert main(["run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "run")]) == 0
    with sqlite3.connect(tmp_path / "run" / "results.sqlite") as db:
        logs = [json.loads(log) for (log,) in db.execute("SELECT log FROM stages WHERE kind = 'train'")]
    heads = sorted(log["init"]["heads"]["panx"] for log in logs)
    assert heads[0].startswith("2 tensors of the 'panx' head from stage ")  # the target took the head
    assert heads[1] == "new tagging head"  # the intermediate stage started from the pretrained encoder
