"""The spec's typed, frozen models (unknown keys are errors) and parse_spec, which validates a parsed YAML
document into them naming the first bad field. An example spec is in the package docstring (xstilts.spec)."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from xstilts.errors import SpecError, UserError, did_you_mean
from xstilts.spec.own_tasks import check_own_task
from xstilts.tasks.definition import TaskDef

DATA_ENV = "XSTILTS_DATA"
DATA_HELP = f"data directory (wins over ${DATA_ENV} and the spec's data_dir)"


class _Strict(BaseModel):
    # No float field of a spec takes inf or nan: `.inf` in YAML is refused naming its field.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# Seeds and sizes are stored in SQLite, whose integers are signed 64-bit.
SQLITE_MAX = 2**63 - 1
Seed = Annotated[int, Field(ge=0, le=SQLITE_MAX)]


# A language subtag of ISO 639-1 (two letters) or 639-3 (three), optionally with BCP 47 subtags (zh-Hans); never a
# path character, since codes become parts of file names ({lang} in a task's file patterns).
_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


def check_language(code: str) -> str:
    """`code` if it is an ISO 639-1/3 language code that langcodes knows (with optional subtags), else ValueError."""
    import langcodes  # here: its registry takes a quarter of a second to import, and most commands never need it

    if not _LANGUAGE_TAG.fullmatch(code) or not langcodes.tag_is_valid(code):
        raise ValueError(f"'{code}' is not an ISO 639-1 or 639-3 language code (e.g. de, bre, zh-Hans)")
    return code


LanguageCode = Annotated[str, AfterValidator(check_language)]
# A list of language codes that may not be empty (an empty list would silently mean nothing, or everything).
Languages = Annotated[tuple[LanguageCode, ...], Field(min_length=1)]


# Marks an option added after experiments were run: while it has its default (the old behaviour), it is left out
# of stage keys, so finished stages keep their keys (xstilts.experiment.plan.stage_record).
KEYED_UNLESS_DEFAULT = {"keyed": "unless_default"}


class AdapterSpec(_Strict):
    """A parameter-efficient stage: only low-rank updates of the `target` projections (and the heads) train,
    through peft's LoRA. When the stage ends, the update is merged into the encoder's weights: the next stage and
    the evaluation read one plain encoder (docs/training.md, "Adapters")."""

    type: Literal["lora"] = "lora"  # LoRA, through peft
    r: int = Field(16, ge=1)  # the rank of each update
    alpha: float = Field(32.0, gt=0)  # the update is scaled by alpha / r
    target: tuple[str, ...] = Field(("query", "value"), min_length=1)  # module names, e.g. query, key, value, dense
    dropout: float = Field(0.0, ge=0, lt=1)  # on the adapter's input


class TrainConfig(_Strict):
    """Everything that decides how one training stage runs. These defaults are the only ones."""

    learning_rate: float = Field(2e-5, gt=0, le=1)  # peak AdamW learning rate
    batch_size: int = Field(32, ge=1)  # examples per optimizer step (the global batch, over every process)
    grad_accum_steps: int = Field(1, ge=1)  # micro-batches per optimizer step
    epochs: float = Field(1.0, gt=0, le=10_000)  # passes over the stage's training set
    max_steps: int | None = Field(None, ge=1, le=SQLITE_MAX)  # overrides epochs when set
    warmup_ratio: float = Field(0.1, ge=0, le=1)  # linear warm-up over this share of the steps, then linear decay
    weight_decay: float = Field(0.01, ge=0, le=1)  # AdamW's, not on biases and LayerNorm weights
    max_grad_norm: float = Field(1.0, gt=0)  # gradients clipped to this global norm
    max_length: int = Field(128, ge=8)  # training tokens per example (longer inputs are cut or windowed)
    eval_max_length: int = Field(512, ge=8)  # evaluation tokens per example
    eval_batch_size: int = Field(64, ge=1)  # examples per evaluation batch
    max_dev_examples: int | None = Field(1000, ge=1)  # English dev examples scored per epoch for best_dev
    selection: Literal["last", "best_dev"] = "last"  # which checkpoint a stage hands on
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto = bf16 autocast where the hardware has it
    freeze_embeddings: bool = False  # freeze the word-embedding matrix (changes the computation)
    # A task trained on several languages: batches mix them (default) or each holds one language.
    language_batches: Literal["mixed", "per_language"] = Field("mixed", json_schema_extra=KEYED_UNLESS_DEFAULT)
    adapter: AdapterSpec | None = Field(None, json_schema_extra=KEYED_UNLESS_DEFAULT)  # None: every weight trains


def _adapter_into_train(data: Any) -> Any:
    # `adapter:` on a stage or target is shorthand for its `train: {adapter: ...}`: one place keys and applies it.
    if isinstance(data, dict) and "adapter" in data:
        data = dict(data)
        data["train"] = {**(data.get("train") or {}), "adapter": data.pop("adapter")}
    return data


def _check_train_overrides(overrides: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(overrides) - set(TrainConfig.model_fields))
    if unknown:
        hint = did_you_mean(unknown[0], TrainConfig.model_fields)
        raise ValueError(f"unknown training option(s) {unknown}{hint}; known: {sorted(TrainConfig.model_fields)}")
    TrainConfig.model_validate(overrides)
    return overrides


class ModelSpec(_Strict):
    name: str = "me5-small"  # a built-in (me5-small), a Hub id or a local directory
    num_layers: int | None = Field(None, ge=1)  # keep only the first k encoder layers
    revision: str | None = None  # for hub models


PerLanguage = Annotated[int, Field(ge=1)] | dict[str, Annotated[int, Field(ge=1)]] | None


class TaskEntry(_Strict):
    """One task of a (multi-task) training stage."""

    task: str  # a declared task (xstilts tasks)
    languages: Languages = ("en",)  # several languages are mixed into one training set
    split: str | None = None  # the split that trains (default: the task's train split), e.g. translate_train
    max_train_examples: int | None = Field(None, ge=1)  # a seeded subset; subsets of one data_seed are nested
    # A seeded subset of each language before the languages are pooled (one number, or {language: number}): the
    # rows drawn for a language are the same in every stage and curriculum, so two curricula that arrange the same
    # languages differently can hold exactly the same examples (the report checks that they do).
    max_examples_per_language: PerLanguage = None
    format_options: dict[str, Any] = {}  # e.g. doc_stride for span QA; each format validates its own


class SamplerSpec(_Strict):
    """Which task each multi-task batch comes from. With n_i training examples in task i:
    proportional p_i ~ n_i; temperature p_i ~ n_i^(1/T); uniform p_i = 1/K; capped p_i ~ min(n_i, cap)."""

    # The rule; see the class docstring above.
    kind: Literal["proportional", "temperature", "uniform", "capped"] = "proportional"
    temperature: float = Field(2.0, gt=0)  # T, for kind: temperature
    cap: int = Field(10_000, ge=1)  # for kind: capped


# Which weights a stage takes from the stage before it: the encoder only, the encoder and every head whose
# task and shape match, or the encoder and the heads named in a {from task: to task} mapping.
Handoff = Literal["encoder", "encoder+heads"] | dict[str, str]


class StageSpec(_Strict):
    """One intermediate training stage: a single task (`task`) or several trained together (`tasks`)."""

    task: str | None = None  # the task trained (or `tasks` for several at once)
    languages: Languages = ("en",)  # languages mixed into one training set
    split: str | None = None  # default: the task's train split; e.g. translate_train (XTREME's translated data)
    max_train_examples: int | None = Field(None, ge=1)  # a seeded subset
    max_examples_per_language: PerLanguage = None  # as TaskEntry's
    format_options: dict[str, Any] = {}  # as TaskEntry's
    tasks: tuple[TaskEntry, ...] = ()  # several tasks trained together: one encoder, a head each
    sampler: SamplerSpec = SamplerSpec()  # which task each multi-task batch comes from
    handoff: Handoff = "encoder"  # the weights taken from the stage before
    train: dict[str, Any] = {}  # training options for this stage only
    allow_overlap: bool = False  # run even if this stage trains on evaluation data (experiment/leakage.py)

    _overrides = field_validator("train")(_check_train_overrides)
    _adapter = model_validator(mode="before")(_adapter_into_train)

    @model_validator(mode="after")
    def _one_or_many(self) -> StageSpec:
        if (self.task is None) == (not self.tasks):
            raise ValueError("give either `task` (one task) or `tasks` (several trained together), not both")
        return self

    def entries(self) -> tuple[TaskEntry, ...]:
        if self.tasks:
            return self.tasks
        return (
            TaskEntry(
                task=self.task,
                languages=self.languages,
                split=self.split,
                max_train_examples=self.max_train_examples,
                max_examples_per_language=self.max_examples_per_language,
                format_options=self.format_options,
            ),
        )  # type: ignore[arg-type]


class TargetSpec(_Strict):
    """A target task: trained on English (by default), then evaluated zero-shot in every language."""

    task: str  # the task evaluated zero-shot
    train_task: str | None = None  # train on another task with the same format and labels (e.g. SICK -> XNLI)
    train_languages: Languages = ("en",)  # the languages it trains on
    train_split: str | None = None  # default: the training task's train split; e.g. translate_train
    eval_languages: Languages | None = None  # default (left out): every language of the task's eval split
    max_train_examples: int | None = Field(None, ge=1)  # a seeded subset of its training data
    max_eval_examples: int | None = Field(None, ge=1)  # a seeded subset of each evaluation language
    train: dict[str, Any] = {}  # training options for this target only
    format_options: dict[str, Any] = {}  # e.g. {layer: 7, pooling: cls} for retrieval
    handoff: Handoff = "encoder"  # the weights taken from the last intermediate stage
    allow_overlap: bool = False  # run even if a training stage trains on this target's evaluation data

    _overrides = field_validator("train")(_check_train_overrides)
    _adapter = model_validator(mode="before")(_adapter_into_train)


class GridSpec(_Strict):
    """Axes crossed with every condition, target and seed. Stages that come out identical are still shared
    (e.g. the baseline across intermediate sizes)."""

    model: tuple[ModelSpec, ...] = ()  # encoders, each a grid point
    intermediate_size: tuple[int, ...] = ()  # max_train_examples of every intermediate task
    train: dict[str, tuple[Any, ...]] = {}  # any training option -> its values, e.g. {learning_rate: [1e-5, 3e-5]}

    @field_validator("model", mode="before")
    @classmethod
    def _model_shorthand(cls, value: Any) -> Any:
        return [{"name": v} if isinstance(v, str) else v for v in value] if isinstance(value, list) else value

    @field_validator("intermediate_size")
    @classmethod
    def _positive(cls, sizes: tuple[int, ...]) -> tuple[int, ...]:
        if any(size < 1 for size in sizes):
            raise ValueError("sizes must be positive")
        return sizes

    @field_validator("train")
    @classmethod
    def _options(cls, axes: dict[str, tuple[Any, ...]]) -> dict[str, tuple[Any, ...]]:
        for option, values in axes.items():
            if not values:
                raise ValueError(f"training option '{option}' has no values")
            for value in values:
                _check_train_overrides({option: value})
        return axes


class LauncherSpec(_Strict):
    """Runs every training stage under `accelerate launch` (DDP, or FSDP / DeepSpeed from an accelerate config
    file; docs/distributed.md). It decides only where a stage runs, never what it computes, so it is not part
    of any stage key; precision stays the stage's `train.precision`. Unset fields come from the config file."""

    num_processes: int | None = Field(None, ge=1)  # in total, over every machine
    num_machines: int | None = Field(None, ge=1)  # default: one
    main_process_ip: str | None = None  # needed with several machines
    main_process_port: int | None = Field(None, ge=1, le=65535)  # default: a free port (one machine)
    config_file: Path | None = None  # an accelerate config file; relative to the spec file
    prefix: tuple[str, ...] = ()  # a command that starts the launch on every machine, e.g. [srun, --ntasks-per-node=1]

    @model_validator(mode="after")
    def _complete(self) -> LauncherSpec:
        if self.num_processes is None and self.config_file is None:
            raise ValueError("give num_processes, or a config_file that sets it")
        if (self.num_machines or 1) > 1 and not self.main_process_ip:
            raise ValueError("several machines need main_process_ip (the address of machine 0)")
        return self


class Spec(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")  # the experiment; runs/<name> by default
    data_dir: Path | None = None  # relative to the spec file; --data and $XSTILTS_DATA win over it
    data_source: Literal["files", "hub"] = "files"  # hub: load from the Hugging Face Hub (needs internet)
    model: ModelSpec = ModelSpec()  # the pretrained encoder every condition starts from
    seeds: tuple[Seed, ...] = Field((0,), min_length=1)  # training seeds: every run is repeated once per seed
    data_seed: Seed = 0  # which subset max_*_examples draws; fixed across training seeds
    train: TrainConfig = TrainConfig()  # the default training options of every stage and target
    # Condition -> its ordered stages; the empty one is the baseline.
    intermediate: dict[str, tuple[StageSpec, ...]] = Field(default_factory=lambda: {"none": ()}, min_length=1)
    targets: tuple[TargetSpec, ...] = Field(min_length=1)  # trained on English, evaluated zero-shot
    tasks: tuple[TaskDef, ...] = ()  # your own tasks, declared like the built-in ones (docs/tasks.md)
    grid: GridSpec = GridSpec()  # axes crossed with everything else
    launcher: LauncherSpec | None = None  # None: training stages run inside the runner's own process
    # Trackers that log every stage as a run (experiment/tracking.py); optional extras. Not part of stage keys.
    track: tuple[Literal["tensorboard", "mlflow"], ...] = ()

    @field_validator("model", mode="before")
    @classmethod
    def _model_shorthand(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("intermediate")
    @classmethod
    def _condition_names(cls, conditions: dict[str, Any]) -> dict[str, Any]:
        for name in conditions:
            if not name or "/" in name or name.startswith("."):
                raise ValueError(f"condition name '{name}' must be a plain name")
        return conditions

    @field_validator("tasks")
    @classmethod
    def _own_tasks(cls, tasks: tuple[TaskDef, ...]) -> tuple[TaskDef, ...]:
        for i, task in enumerate(tasks):
            check_own_task(task)
            for name, split in task.splits.items():
                for code in (*split.languages, *split.per_language):
                    try:
                        check_language(code)
                    except ValueError as err:
                        raise ValueError(f"tasks[{i}] ({task.name}) split {name}: {err}") from None
        return tasks

    @field_validator("seeds")
    @classmethod
    def _unique_seeds(cls, seeds: tuple[int, ...]) -> tuple[int, ...]:
        if len(set(seeds)) != len(seeds):
            raise ValueError("seeds must be distinct")
        return seeds

    @property
    def baseline(self) -> str | None:
        """The condition with no intermediate stage, against which gains are measured."""
        return next((name for name, stages in self.intermediate.items() if not stages), None)

    def variants(self) -> list[tuple[str, Spec]]:
        """(label, spec) for each point of the grid; one unlabelled point when there is no grid."""
        axes: list[list[tuple[str, dict[str, Any]]]] = []
        if self.grid.model:
            axes.append([(f"model={_model_label(m)}", {"model": m}) for m in self.grid.model])
        if self.grid.intermediate_size:
            axes.append([(f"intermediate_size={n}", {"size": n}) for n in self.grid.intermediate_size])
        for option, values in self.grid.train.items():
            axes.append([(f"{option}={v}", {"train": {option: v}}) for v in values])
        return [(", ".join(label for label, _ in point), self._at(point)) for point in itertools.product(*axes)]

    def _at(self, point: tuple[tuple[str, dict[str, Any]], ...]) -> Spec:
        update: dict[str, Any] = {}
        for _, change in point:
            if "model" in change:
                update["model"] = change["model"]
            if "train" in change:
                # validated, as a spec's own `train:` is: an adapter value becomes an AdapterSpec here, once
                base = update.get("train") or self.train
                update["train"] = TrainConfig.model_validate({**base.model_dump(), **change["train"]})
            if "size" in change:
                update["intermediate"] = {
                    name: tuple(_sized(stage, change["size"]) for stage in stages)
                    for name, stages in self.intermediate.items()
                }
        return self.model_copy(update=update)

    def train_config(self, overrides: dict[str, Any]) -> TrainConfig:
        given = TrainConfig.model_validate(overrides)  # typed values (an adapter stays an AdapterSpec)
        return self.train.model_copy(update={name: getattr(given, name) for name in given.model_fields_set})


# What the built-in declarations pair: each reader's formats, and each format's metrics (a metric scores the
# predictions of one format: accuracy takes labels, seqeval_f1 tag lists, squad_em_f1 answer texts).
def _model_label(model: ModelSpec) -> str:
    return model.name + (f"/L{model.num_layers}" if model.num_layers else "")


def _sized(stage: StageSpec, size: int) -> StageSpec:
    if stage.tasks:
        return stage.model_copy(
            update={"tasks": tuple(t.model_copy(update={"max_train_examples": size}) for t in stage.tasks)}
        )
    return stage.model_copy(update={"max_train_examples": size})


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def parse_spec(raw: Any, source: str = "spec") -> Spec:
    """Validate a parsed YAML document; the first error names its field."""
    if not isinstance(raw, dict):
        raise UserError(f"{source}: a spec must be a mapping of fields, got {type(raw).__name__}")
    try:
        return Spec.model_validate(raw)
    except ValidationError as err:
        # Only the first error: a bad nested field also fails its parents, which would only add noise.
        errors = err.errors()
        # A misspelt key is also a missing one: name the misspelling, which carries the suggestion.
        first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        message = first["msg"]
        if first["type"] == "extra_forbidden":
            message += did_you_mean(str(first["loc"][-1]), _fields_at(first["loc"][:-1]))
        raise SpecError(_field_path(first["loc"]) or "<root>", message) from None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model a field holds, itself or inside tuple[...], dict[..., ...], X | None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys allowed where `loc` points (for a "did you mean"): Spec's fields, walked down the path; list
    indices and free keys (condition names) keep the model they are in."""
    model: type[BaseModel] | None = Spec
    for part in loc:
        field = model.model_fields.get(part) if model is not None and isinstance(part, str) else None
        if field is not None:
            model = _model_in(field.annotation)
    return list(model.model_fields) if model is not None else []
