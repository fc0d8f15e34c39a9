"""Mixed-language against one-language batches for a task trained on several languages, and the rule that an
option added later leaves finished stages' keys as they were."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest
import yaml

import xstilts.experiment.execute
from xstilts.cli import main
from xstilts.experiment.plan import build_plan, stage_record
from xstilts.spec import parse_spec
from xstilts.training.train import length_grouped_batches


def test_grouped_batches_never_mix_groups_and_cover_every_index_once():
    rng = random.Random(0)
    lengths = [rng.randint(5, 60) for _ in range(1000)]
    groups = [rng.choice(["de", "fr", "sw"]) for _ in lengths]
    batches = length_grouped_batches(lengths, 16, random.Random(1), groups)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len({groups[i] for i in b}) == 1 for b in batches)
    assert {groups[b[0]] for b in batches} == {"de", "fr", "sw"}  # every group is batched, interleaved
    first_groups = [groups[b[0]] for b in batches[:30]]
    assert len(set(first_groups)) > 1


def test_one_group_is_the_ungrouped_batching():
    lengths = [random.Random(i).randint(5, 60) for i in range(300)]
    ungrouped = length_grouped_batches(lengths, 8, random.Random(3))
    assert length_grouped_batches(lengths, 8, random.Random(3), ["x"] * 300) == ungrouped


def _spec(data: Path, **train) -> dict:
    return {
        "name": "langs",
        "data_dir": str(data),
        "model": {"name": "me5-small", "num_layers": 2},
        "intermediate": {"mixed": [{"task": "panx", "languages": ["de", "fr"], "max_train_examples": 40, **train}]},
        "targets": [{"task": "panx", "max_train_examples": 16, "eval_languages": ["fr"], "max_eval_examples": 8}],
    }


def test_the_default_keeps_old_stage_keys_and_per_language_is_a_new_stage(data: Path):
    default = build_plan(parse_spec(_spec(data)), data)
    explicit = build_plan(parse_spec(_spec(data, train={"language_batches": "mixed"})), data)
    per_language = build_plan(parse_spec(_spec(data, train={"language_batches": "per_language"})), data)
    assert set(default.stages) == set(explicit.stages)
    [stage] = [s for s in default.stages.values() if s.kind == "train" and s.parts[0].languages == ("de", "fr")]
    assert "language_batches" not in stage_record(stage)["config"]  # what the key hashes is what it was before
    [other] = [s for s in per_language.stages.values() if s.kind == "train" and s.parts[0].languages == ("de", "fr")]
    assert other.key != stage.key and stage_record(other)["config"]["language_batches"] == "per_language"


def test_a_stage_trains_one_language_per_batch(tmp_path: Path, data: Path, tiny_model_dir: Path, monkeypatch):
    spec = _spec(data, train={"language_batches": "per_language", "batch_size": 4})
    spec["model"] = str(tiny_model_dir)
    spec["train"] = {"max_length": 32, "precision": "fp32"}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    seen: list[dict] = []
    real_train = xstilts.experiment.execute.train

    def spy(*args, **kwargs):
        seen.append(kwargs["groups"])
        return real_train(*args, **kwargs)

    monkeypatch.setattr(xstilts.experiment.execute, "train", spy)
    assert main(["run", str(tmp_path / "spec.yaml"), "--out", str(tmp_path / "run")]) == 0
    intermediate, target = seen
    assert sorted(set(intermediate["panx"])) == ["de", "fr"] and len(intermediate["panx"]) == 40
    assert set(target["panx"]) == {""}  # the English-only target is one group: nothing to separate
    with sqlite3.connect(tmp_path / "run" / "results.sqlite") as db:
        configs = [json.loads(c) for (c,) in db.execute("SELECT config FROM stages WHERE kind = 'train'")]
    assert sorted(c["config"].get("language_batches", "mixed") for c in configs) == ["mixed", "per_language"]


@pytest.mark.parametrize("value", ["per-language", "by_language"])
def test_unknown_values_are_refused(data: Path, value: str):
    with pytest.raises(Exception, match="language_batches"):
        parse_spec(_spec(data, train={"language_batches": value}))
