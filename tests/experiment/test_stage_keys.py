"""Stage keys pinned: literal keys of fixed stages, and every field that enters a key accounted for
(xstilts.spec.key_changes, docs/stage-keys.md). A refactor that changes a key fails here before it can orphan
finished experiments or reuse stale ones."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from xstilts.experiment.plan import EvalStage, TaskPart, TrainStage, build_plan, stage_key, stage_record
from xstilts.spec import AdapterSpec, ModelSpec, SamplerSpec, TrainConfig, parse_spec
from xstilts.spec.key_changes import ADDED, KEYED_SINCE

# Small files of the built-in PAWS-X and PAN-X layouts: a key covers a fingerprint of the bytes a stage reads,
# so these are written byte for byte by the test (nothing read from a data directory).
FILES = {
    "xtreme/pawsx/train-en.tsv": "A cat sat .\tThe cat sat .\t1\nA dog ran .\tThe sky is blue .\t0\n",
    "xtreme/panx/train-en.tsv": "Anna\tB-PER\nlives\tO\nin\tO\nParis\tB-LOC\n\nBob\tB-PER\nruns\tO\n",
    "xtreme/panx/dev-en.tsv": "Rome\tB-LOC\nis\tO\nold\tO\n",
    "xtreme/panx/dev-de.tsv": "Berlin\tB-LOC\nist\tO\ngross\tO\n",
}
SPEC = {
    "name": "pinned",
    "model": "me5-small",
    "seeds": [1],
    "intermediate": {
        "none": [],
        "pawsx": [{"task": "pawsx"}],
        "both": [{"tasks": [{"task": "pawsx"}, {"task": "panx", "max_train_examples": 1}]}],
    },
    "targets": [{"task": "panx", "eval_languages": ["en", "de"]}],
}
# (kind, task, parent's key) -> key, as planned on 2026-12-07. Change one only by the rule in docs/stage-keys.md.
PINNED = {
    ("train", "panx", None): "bffa9a2b1f91a988",
    ("evaluate", "panx", "bffa9a2b1f91a988"): "2fd27acbe09e0b32",
    ("train", "pawsx", None): "81f7a89203408019",
    ("train", "panx", "81f7a89203408019"): "e97a75a0fc167cb6",
    ("evaluate", "panx", "e97a75a0fc167cb6"): "479bbb6ecec84a40",
    ("train", "pawsx+panx", None): "b577b33161b33cb2",  # multi-task: two parts, one sampler
    ("train", "panx", "b577b33161b33cb2"): "db6a603abbd234e0",
    ("evaluate", "panx", "db6a603abbd234e0"): "43d6c987d7cf562e",
}
# Each record part, the class that holds its fields now.
PARTS = {
    "TrainStage": TrainStage,
    "TaskPart": TaskPart,
    "EvalStage": EvalStage,
    "TrainConfig": TrainConfig,
    "ModelSpec": ModelSpec,
    "SamplerSpec": SamplerSpec,
    "AdapterSpec": AdapterSpec,
}


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(text.encode())
    return build_plan(parse_spec(SPEC), Path(root))


def _fields(cls: type) -> set[str]:
    if dataclasses.is_dataclass(cls):
        return {f.name for f in dataclasses.fields(cls)} - {"key"}  # the key is not part of what it hashes
    return set(cls.model_fields)


def test_the_fixed_train_eval_and_multitask_stages_keep_their_literal_keys(plan) -> None:
    planned = {(s.kind, s.task, s.parent): key for key, s in plan.stages.items()}
    assert planned == PINNED
    assert all(stage_key(s) == key for key, s in plan.stages.items())  # a key is its stage's hash, not stored


def test_every_field_that_enters_a_key_is_from_the_start_or_recorded() -> None:
    recorded = {added.field for added in ADDED}
    assert len(recorded) == len(ADDED), "a field is recorded twice in xstilts.spec.key_changes.ADDED"
    for part, cls in PARTS.items():
        new = {f"{part}.{name}" for name in _fields(cls) - set(KEYED_SINCE[part])}
        assert new <= recorded, (
            f"{sorted(new - recorded)} enter(s) stage keys but are not in xstilts.spec.key_changes.ADDED: "
            "leave them out of the record at their default, or record a deliberate key change (docs/stage-keys.md)"
        )
        gone = {f"{part}.{name}" for name in set(KEYED_SINCE[part]) - _fields(cls)}
        assert gone <= {a.field for a in ADDED if a.rule == "changes keys"}, (
            f"{sorted(gone)} left the stage record, which changes every key: record it as a key change"
        )


def test_a_field_left_out_at_default_is_absent_from_old_stages_and_keyed_when_set(plan) -> None:
    train = next(s for s in plan.stages.values() if s.kind == "train" and s.parent is None and s.task == "panx")
    record = stage_record(train)
    # A stage at every default holds exactly the fields of the start: a new field at its default would be here.
    assert set(record) - {"key"} == set(KEYED_SINCE["TrainStage"])
    assert set(record["config"]) == set(KEYED_SINCE["TrainConfig"])
    assert set(record["parts"][0]) == set(KEYED_SINCE["TaskPart"])
    assert set(record["model"]) == set(KEYED_SINCE["ModelSpec"])
    evaluation = next(s for s in plan.stages.values() if s.kind == "evaluate")
    assert set(stage_record(evaluation)) - {"key"} == set(KEYED_SINCE["EvalStage"])
    # ... and set to something else, it is keyed: the option is not silently ignored by the key.
    changed = {
        "TrainConfig.language_batches": dataclasses.replace(
            train, config=train.config.model_copy(update={"language_batches": "per_language"})
        ),
        "TrainConfig.adapter": dataclasses.replace(
            train, config=train.config.model_copy(update={"adapter": AdapterSpec()})
        ),
        "TaskPart.max_examples_per_language": dataclasses.replace(
            train, parts=(dataclasses.replace(train.parts[0], max_examples_per_language=5),)
        ),
    }
    assert set(changed) == {a.field for a in ADDED if a.rule == "left out at default"}
    for name, stage in changed.items():
        assert stage_key(stage) != train.key, f"{name} set away from its default does not change the key"
