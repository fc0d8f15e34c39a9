"""The experiment spec: a YAML file validated into typed, frozen models (unknown keys are errors).

name: quickstart
data_dir: data                     # optional: fetched data, else the package's; --data and $XSTILTS_DATA win
model: me5-small                   # or {name: ..., num_layers: 2}; any HF id or local directory
seeds: [1]
train: {learning_rate: 3e-5, batch_size: 32, epochs: 1}     # defaults for every training stage
intermediate:                      # conditions: an ordered list of stages each (empty = baseline)
  none: []
  sick: [{task: sick, max_train_examples: 2000}]
targets:
  - {task: panx, max_train_examples: 2000, eval_languages: [en, de, sw], train: {epochs: 2}}
"""

from xstilts.spec.files import find_data_root, load_spec, read_yaml, resolve_data_root
from xstilts.spec.model import (
    DATA_ENV,
    DATA_HELP,
    KEYED_UNLESS_DEFAULT,
    AdapterSpec,
    GridSpec,
    Handoff,
    LauncherSpec,
    ModelSpec,
    SamplerSpec,
    Spec,
    StageSpec,
    TargetSpec,
    TaskEntry,
    TrainConfig,
    check_language,
    parse_spec,
)
from xstilts.spec.own_tasks import check_own_task

__all__ = [
    "DATA_ENV",
    "DATA_HELP",
    "KEYED_UNLESS_DEFAULT",
    "AdapterSpec",
    "GridSpec",
    "Handoff",
    "LauncherSpec",
    "ModelSpec",
    "SamplerSpec",
    "Spec",
    "StageSpec",
    "TargetSpec",
    "TaskEntry",
    "TrainConfig",
    "check_language",
    "check_own_task",
    "find_data_root",
    "load_spec",
    "parse_spec",
    "read_yaml",
    "resolve_data_root",
]
