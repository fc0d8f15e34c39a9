"""What a task is: one validated declaration from which loading, featurisation, heads and metrics follow."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

FormatName = Literal[
    "classification",
    "multiple_choice",
    "tagging",
    "span_qa",
    "retrieval",
    "bitext_mining",
    "candidate_ranking",
    "ranking",
    "mlm",
]
# Formats evaluated without training on the task (formats/*.py `trains = False`).
EVALUATED_ONLY = ("retrieval", "bitext_mining", "candidate_ranking")


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


# The Hub's own Parquet conversion of a repository (the dataset viewer's export): the one copy of a script-only dataset
# that `datasets` >= 4 still loads. It has no dataset card; configuration C's split S lies in C/S/*.parquet.
PARQUET_EXPORT = "refs/convert/parquet"
# A commit, or where none could be confirmed a branch: the Parquet export, or a repository's main branch.
_REVISION = re.compile(rf"[0-9a-f]{{40}}|{re.escape(PARQUET_EXPORT)}|main")


class HubSource(_Frozen):
    """The same data on the Hugging Face Hub, for users with internet (never used offline). Datasets differ in
    where multiple-choice answers live and how labels are written; these fields declare it, so no task needs
    its own loading code. tests/fixtures/hub/ holds each dataset's schema as its card gives it at `revision`."""

    dataset: str
    # What is read: pinned, so a study's data cannot change under it. It enters the data fingerprint, so a new
    # revision means new stage keys. A branch (see _REVISION) only where no commit could be confirmed.
    revision: str
    config: str | None = None  # may contain {lang}; None for a dataset with a single configuration
    # our split name -> the hub's split, or several whose rows are concatenated (ANLI's train_r1..train_r3)
    splits: dict[str, tuple[str, ...]]
    # example field -> hub column; "a.b" is field b of the dict column a (CommonsenseQA's choices.text); "a+b" joins
    # the text columns a and b with a space (XGLUE WPR's web_page_title+web_page_snippet). Split names may hold {lang}.
    columns: dict[str, str]
    # The languages the Hub copy has, where it has fewer than the task's split declares (XTREME's 40 PAN-X languages
    # against the offline copy's WikiANN ones); () means every language of the split.
    languages: tuple[str, ...] = ()
    choice_columns: tuple[str, ...] = ()  # one column per answer (SocialIQA answerA..answerC) instead of a list
    # hub label as text -> ours: SocialIQA's "1".."3" and CommonsenseQA's "A".."E" to 0-based answer indices
    label_map: dict[str, int | str] = {}

    @field_validator("revision")
    @classmethod
    def _commit_or_known_branch(cls, value: str) -> str:
        if not _REVISION.fullmatch(value):
            raise ValueError(f"revision {value!r} is neither a 40-hex commit nor '{PARQUET_EXPORT}' or 'main'")
        return value

    @property
    def parquet_export(self) -> bool:
        return self.revision == PARQUET_EXPORT

    @field_validator("splits", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return {k: (v,) if isinstance(v, str) else v for k, v in value.items()} if isinstance(value, dict) else value


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
    # "train": the label set is every label of the training split, sorted (an open tag set such as CCG's
    # ~1,300 supertags); xstilts.tasks.labels fills `labels` in when a plan uses the task.
    labels_from: Literal["declaration", "train"] = "declaration"
    metric: str  # a key of xstilts.metrics.METRICS
    version: int = 1  # bump when the declaration changes what a stage computes
    citation: str = ""
    notes: str = ""  # deviations from the official benchmark, shown by `xstilts tasks`
    # Translations of one item across languages (experiment/leakage.py): "row" when row i of every language's file
    # is the same item (XNLI, PAWS-X), "id" when examples share their id (XQuAD, MLQA); None when not parallel.
    parallel: Literal["row", "id"] | None = None
    # Splits that translate another task's split, sharing its example ids (experiment/leakage.py): split ->
    # "task/split". XQuAD's test is SQuAD v1.1 dev translated, so training on SQuAD dev leaks every XQuAD language.
    parallel_to: dict[str, str] = {}
    # The Hub copy: one source, or several whose rows are concatenated (ANLI+ = ANLI + MNLI + SNLI + FEVER-NLI)
    hub: tuple[HubSource, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _evaluated_only_formats_train_on_nothing(cls, data: Any) -> Any:
        # Retrieval is scored straight from an encoder: such a task has no training split unless it names one.
        if isinstance(data, dict) and data.get("format") in EVALUATED_ONLY and "train_split" not in data:
            return {**data, "train_split": None}
        return data

    @field_validator("hub", mode="before")
    @classmethod
    def _one_or_several(cls, value: Any) -> Any:
        return () if value is None else (value,) if isinstance(value, HubSource | dict) else value

    @model_validator(mode="after")
    def _consistent(self) -> TaskDef:
        for role in ("train_split", "dev_split", "eval_split"):
            split = getattr(self, role)
            if split is not None and split not in self.splits:
                raise ValueError(f"{self.name}: {role} '{split}' is not one of the declared splits")
        if self.format in ("classification", "tagging") and not self.labels and self.labels_from == "declaration":
            raise ValueError(f"{self.name}: a {self.format} task needs a label set (or labels_from: train)")
        if self.labels_from == "train" and (self.labels or self.format not in ("classification", "tagging")):
            raise ValueError(f"{self.name}: labels_from: train is for classification and tagging tasks without labels")
        if self.labels_from == "train" and self.train_split is None:
            raise ValueError(f"{self.name}: labels_from: train needs a training split")
        unknown = sorted({split for source in self.hub for split in source.splits} - set(self.splits))
        if unknown:
            raise ValueError(f"{self.name}: hub splits {unknown} are not declared splits")
        return self

    def languages(self, split: str) -> tuple[str, ...]:
        return self.splits[split].languages

    @property
    def eval_languages(self) -> tuple[str, ...]:
        return self.languages(self.eval_split) if self.eval_split else ()
