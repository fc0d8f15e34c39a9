"""What a task is: one validated declaration from which loading, featurisation, heads and metrics follow."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

FormatName = Literal["classification", "multiple_choice", "tagging", "span_qa", "retrieval", "mlm"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Split(_Frozen):
    """Where one split lives under the data root. `{lang}` in a pattern is replaced by the language code."""

    files: tuple[str, ...]
    languages: tuple[str, ...] = ("en",)
    # Some benchmarks keep one language in a different layout (English COPA beside XCOPA's folders).
    per_language: dict[str, tuple[str, ...]] = {}

    def paths(self, lang: str) -> tuple[str, ...]:
        patterns = self.per_language.get(lang, self.files)
        return tuple(p.format(lang=lang) for p in patterns)


class HubSource(_Frozen):
    """The same data on the Hugging Face Hub, for users with internet (never used offline)."""

    dataset: str
    config: str  # may contain {lang}
    splits: dict[str, str]  # our split name -> the hub's split name
    columns: dict[str, str]  # example field -> hub column


class TaskDef(_Frozen):
    """A task, declared once. Everything else (data loading, head, metric) is derived from these fields."""

    name: str
    format: FormatName
    description: str
    reader: str  # a key of xstilts.tasks.readers.READERS
    splits: dict[str, Split]
    train_split: str | None = "train"
    # The task whose training split trains this one when it has none of its own (XQuAD and MLQA train on
    # SQuAD in XTREME); a spec's `train_task` overrides it.
    train_task: str | None = None
    dev_split: str | None = None  # English dev, for model selection
    eval_split: str | None = None  # the split scored zero-shot in every language
    labels: tuple[str, ...] = ()  # classification and tagging label sets
    metric: str  # a key of xstilts.metrics.METRICS
    version: int = 1  # bump when the declaration changes what a stage computes
    citation: str = ""
    notes: str = ""  # deviations from the official benchmark, shown by `xstilts tasks`
    hub: HubSource | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TaskDef:
        for role in ("train_split", "dev_split", "eval_split"):
            split = getattr(self, role)
            if split is not None and split not in self.splits:
                raise ValueError(f"{self.name}: {role} '{split}' is not one of the declared splits")
        if self.format in ("classification", "tagging") and not self.labels:
            raise ValueError(f"{self.name}: a {self.format} task needs a label set")
        return self

    def languages(self, split: str) -> tuple[str, ...]:
        return self.splits[split].languages

    @property
    def eval_languages(self) -> tuple[str, ...]:
        return self.languages(self.eval_split) if self.eval_split else ()
