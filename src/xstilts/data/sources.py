"""What `xstilts data fetch` knows how to get: one typed declaration per upstream source (its downloads, licence,
size and any manual step) and the converter that turns the downloads into the layout the task declarations'
`Split.files` name. The declarations themselves are in registry.py; this module holds their types and the lookup
of benchmark and task names."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, model_validator

from xstilts.errors import UserError, did_you_mean

# Official hosts are reached through this prefix when it is set: `{mirror}/{host}/{path}` for https://host/path,
# so a local mirror (or the tests' server) stands in for every official URL at once. The Hub is redirected by
# huggingface_hub's own HF_ENDPOINT.
MIRROR_ENV = "XSTILTS_DATA_MIRROR"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubFile(_Frozen):
    """One file of a Hugging Face Hub dataset repository (a Parquet shard), at a revision."""

    repo: str
    path: str
    # The revision the task declarations pin for the dataset (registry._declared_revision). Where that is a branch,
    # which is no pin, the commit served is recorded on fetch (manifest.py).
    revision: str


class Download(_Frozen):
    """One upstream file: an official URL or a Hub file. `name` is what the converter calls it; `lang` marks a
    per-language download that --languages can leave out."""

    name: str
    url: str | None = None
    hub: HubFile | None = None
    lang: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> Download:
        if (self.url is None) == (self.hub is None):
            raise ValueError(f"download {self.name}: give exactly one of url and hub")
        return self

    def address(self) -> str:
        """The URL it is fetched from now: the official URL (through $XSTILTS_DATA_MIRROR when set) or the Hub's
        file URL (through $HF_ENDPOINT when set)."""
        if self.hub is not None:
            from huggingface_hub import hf_hub_url

            return hf_hub_url(
                self.hub.repo,
                self.hub.path,
                repo_type="dataset",
                revision=self.hub.revision,
                endpoint=os.environ.get("HF_ENDPOINT") or None,
            )
        mirror = os.environ.get(MIRROR_ENV)
        if mirror:
            return mirror.rstrip("/") + "/" + self.url.split("://", 1)[1]
        return self.url

    @property
    def key(self) -> str:
        """How the manifest names it: the official URL, or hub:repo@revision/path."""
        return self.url if self.url is not None else f"hub:{self.hub.repo}@{self.hub.revision}/{self.hub.path}"


class Source(_Frozen):
    """One upstream source and what it writes under the data root."""

    name: str
    tasks: tuple[str, ...]  # the declared tasks whose files it writes
    description: str
    licence: str
    size: str  # approximate download size, for --list
    homepage: str = ""
    converter: str  # a key of convert.CONVERTERS
    downloads: tuple[Download, ...] = ()
    # Where a source cannot be downloaded without a person (a licence to accept, an account, a script of its own):
    # what to do, and the file (relative to the data root) that fetch then converts, or the files to put in place.
    manual: str = ""
    manual_file: str | None = None
    # Converter options (which languages, which members of an archive, ...): plain data, read by the converter.
    options: dict[str, str | tuple[str, ...]] = {}

    def wanted(self, languages: frozenset[str] | None) -> tuple[Download, ...]:
        return tuple(d for d in self.downloads if languages is None or d.lang is None or d.lang in languages)


def select(names: list[str], sources: tuple[Source, ...], benchmarks: dict[str, tuple[str, ...]]) -> list[Source]:
    """The sources that fill the named benchmarks and tasks, each once, in declaration order. An unknown name is
    a UserError with a did-you-mean."""
    by_task: dict[str, list[Source]] = {}
    for source in sources:
        for task in source.tasks:
            by_task.setdefault(task, []).append(source)
    chosen: list[str] = []
    for name in names:
        key = name.lower()
        tasks = benchmarks.get(key, (key,) if key in by_task else None)
        if tasks is None:
            known = [*benchmarks, *by_task]
            raise UserError(
                f"unknown benchmark or task '{name}'{did_you_mean(key, known)}; `xstilts data fetch --list` lists them"
            )
        for task in tasks:
            chosen.extend(s.name for s in by_task[task] if s.name not in chosen)
    return [s for s in sources if s.name in chosen]
