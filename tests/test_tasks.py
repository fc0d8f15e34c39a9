"""Every declared task: its declaration is consistent, its real files load, and a tiny model runs through
featurisation, forward, decoding and scoring on them. Every example spec is valid."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from xstilts.data import load_examples, split_files
from xstilts.formats import FORMATS
from xstilts.model import TaskModel
from xstilts.plan import build_plan
from xstilts.spec import ModelSpec, load_spec
from xstilts.tasks import REGISTRY

REPO = Path(__file__).resolve().parents[1]
# Splits a real XTREME download has but the offline copy lacks (its README, "Not available").
NOT_OFFLINE = {("xnli", "train")}

CASES = [(t.name, split, s.languages[-1]) for t in REGISTRY.values() for split, s in t.splits.items()]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path):
    from xstilts.models.loading import load_encoder, load_tokenizer

    spec = ModelSpec(name=str(tiny_model_dir))
    return load_encoder(spec), load_tokenizer(spec)


@pytest.mark.parametrize(("task_name", "split", "lang"), CASES, ids=["-".join(c) for c in CASES])
def test_task_split_loads_and_runs_through_a_tiny_model(task_name: str, split: str, lang: str, data: Path, tiny):
    task = REGISTRY[task_name]
    if (task_name, split) in NOT_OFFLINE:
        assert not any(p.exists() for p in split_files(task, split, lang, data))
        pytest.skip(f"{task_name} {split} is not in the offline data")
    examples = load_examples(task, split, lang, data)[:6]
    assert examples
    encoder, tokenizer = tiny
    fmt = FORMATS[task.format]
    torch.manual_seed(0)
    model = TaskModel(encoder, fmt.make_head(encoder.config.hidden_size, task), fmt).eval()
    batch = fmt.collate(fmt.encode(examples, tokenizer, task, 128), tokenizer.pad_token_id)
    with torch.no_grad():
        logits = model(batch)
    assert torch.isfinite(fmt.loss(logits, batch))
    predictions = fmt.decode(logits, batch, task)
    scores = fmt.score(predictions, examples, task)
    assert all(0.0 <= v <= 100.0 for v in scores.values())


def test_every_declared_language_has_its_files(data: Path):
    missing = [
        (t.name, split, lang, str(p))
        for t in REGISTRY.values()
        for split, s in t.splits.items()
        if (t.name, split) not in NOT_OFFLINE
        for lang in s.languages
        for p in split_files(t, split, lang, data)
        if not p.is_file()
    ]
    assert missing == []


@pytest.mark.parametrize("path", sorted((REPO / "examples").glob("*.yaml")), ids=lambda p: p.name)
def test_example_specs_are_valid(path: Path, data: Path):
    spec = load_spec(path)
    plan = build_plan(spec, data)
    assert plan.runs
