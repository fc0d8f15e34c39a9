"""Every field that enters a stage key, and how each one added later was let in (docs/stage-keys.md).

A stage key (xstilts.experiment.plan.stage_key) hashes the stage record: the stage's own fields, its TrainConfig,
ModelSpec, TaskParts and sampler. A field added to any of them would change every finished stage's key (their
results would never be found again) unless it is left out of the record while it has its old behaviour. This table
is the memory of that: the fields each part had when keys started to be kept (KEYED_SINCE), and every field added
after (ADDED), each either left out of keys at its default or recorded as a deliberate key change.
tests/experiment/test_stage_keys.py fails for a field found in neither."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Kept since 2026-11-22 (language_batches, the first option added without changing keys): each record part's
# fields then. AdapterSpec's are those it was added with (2026-12-04): only stages with an adapter carry them.
KEYED_SINCE: dict[str, tuple[str, ...]] = {
    "TrainStage": ("parts", "config", "seed", "data_seed", "parent", "model", "data", "sampler", "handoff", "kind"),
    "TaskPart": ("task", "split", "languages", "max_train_examples", "format_options", "task_version", "dev_split"),
    "EvalStage": (
        "task", "split", "languages", "max_eval_examples", "eval_max_length", "eval_batch_size", "precision",
        "seed", "data_seed", "parent", "model", "data", "task_version", "format_options", "kind",
    ),
    "TrainConfig": (
        "learning_rate", "batch_size", "grad_accum_steps", "epochs", "max_steps", "warmup_ratio", "weight_decay",
        "max_grad_norm", "max_length", "eval_max_length", "eval_batch_size", "max_dev_examples", "selection",
        "precision", "freeze_embeddings",
    ),
    "ModelSpec": ("name", "num_layers", "revision"),
    "SamplerSpec": ("kind", "temperature", "cap"),
    "AdapterSpec": ("type", "r", "alpha", "target", "dropout"),
}  # fmt: skip


@dataclass(frozen=True)
class AddedField:
    """A field let into stage records after KEYED_SINCE. `left out at default`: absent from the record while it
    has its default, so every stage that existed before keeps its key. `changes keys`: a deliberate change that
    invalidates the finished stages it touches, with the reason (the pinned keys change with it)."""

    field: str  # "Part.name"
    added: str  # the date it was added, YYYY-MM-DD
    rule: Literal["left out at default", "changes keys"]
    why: str


ADDED: tuple[AddedField, ...] = (
    AddedField(
        "TrainConfig.language_batches",
        "2026-11-22",
        "left out at default",
        "per_language batches are a new way to train; mixed batches are what every older stage did",
    ),
    AddedField(
        "TrainConfig.adapter",
        "2026-12-04",
        "left out at default",
        "None trains every weight, as every older stage did; an adapter stage is new work",
    ),
    AddedField(
        "TaskPart.max_examples_per_language",
        "2026-12-04",
        "left out at default",
        "None draws from the pooled languages alone, as every older stage did",
    ),
)
