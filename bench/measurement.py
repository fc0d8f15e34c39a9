"""The typed measurement every timed case comes down to, as saved under `measurements` in bench/results/*.json.

One Measurement is one configuration (a loop on a task and shape, one evaluation way, ...) timed over its
repetitions: where and with what it ran (device, versions, command, date), the seconds of each repetition, and
the real (attention-mask) and padded tokens one repetition processed, from which the rates follow. The renderers
read the figures of a run; these are what a reader or a later tool compares across runs.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Measurement:
    case: str  # registry name and configuration, e.g. "fair/me5-small/sick/trained/Trainer tuned"
    topic: str  # the PERFORMANCE.md topic: training, evaluation, ...
    device: str
    versions: dict[str, str]  # python, torch, transformers
    command: str
    date: str  # when it was measured (UTC, ISO 8601)
    seconds: tuple[float, ...]  # one per repetition
    real_tokens: int  # per repetition
    padded_tokens: int  # per repetition
    summary: dict[str, float] = field(default_factory=dict)  # median/min/max when older results kept no repetitions

    def __post_init__(self) -> None:
        if not self.seconds and not self.summary:
            raise ValueError(f"{self.case}: a measurement needs its repetitions' seconds")

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds) if self.seconds else self.summary["median_s"]

    @property
    def range_s(self) -> tuple[float, float]:
        if self.seconds:
            return min(self.seconds), max(self.seconds)
        return self.summary["min_s"], self.summary["max_s"]

    @property
    def real_tokens_per_s(self) -> float:
        return self.real_tokens / self.median_s

    @property
    def padded_tokens_per_s(self) -> float:
        return self.padded_tokens / self.median_s

    def to_json(self) -> dict[str, Any]:
        rates = {"median_s": self.median_s, "real_tokens_per_s": self.real_tokens_per_s}
        return {**asdict(self), **rates, "padded_tokens_per_s": self.padded_tokens_per_s}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Measurement:
        names = cls.__dataclass_fields__
        return cls(**{k: tuple(v) if k == "seconds" else v for k, v in data.items() if k in names})


def versions(machine: dict[str, Any]) -> dict[str, str]:
    return {k: machine[k] for k in ("python", "torch", "transformers") if k in machine}


def from_fair(result: dict[str, Any], date: str) -> list[Measurement]:
    """The training runs of a like-with-like result (bench/fair.py), one Measurement per loop and run."""
    out = []
    for run in result["runs"]:
        for loop, timing in (run.get("train") or {}).items():
            summary = {k: timing[k] for k in ("median_s", "min_s", "max_s") if k in timing}
            out.append(
                Measurement(
                    case=f"fair/{run['shape']}/{run['task']}/{run['embeddings']}/{loop}",
                    topic="training",
                    device=result["device"],
                    versions=versions(result.get("machine", {})),
                    command=result["command"],
                    date=date,
                    seconds=tuple(timing.get("seconds", ())),
                    real_tokens=run["real_tokens"],
                    padded_tokens=run["padded_tokens_dynamic"],
                    summary={} if timing.get("seconds") else summary,
                )
            )
    return out


def from_harness(run: dict[str, Any]) -> list[Measurement]:
    """The timed train and predict records of a CPU harness run (bench/run.py --quick|--full): one repetition each."""
    machine = run["machine"]
    topics = {"train": ("training", "train_s"), "predict": ("evaluation", "predict_s")}
    out = []
    for record in run["records"]:
        if record.get("kind") not in topics or "error" in record:
            continue
        topic, seconds = topics[record["kind"]]
        out.append(
            Measurement(
                case=f"{run['mode']}/{record['name']}",
                topic=topic,
                device=f"{machine['cpu']}, {run['threads']} threads",
                versions=versions(machine),
                command=run["command"],
                date=run["started"],
                seconds=(record[seconds],),
                real_tokens=record["real_tokens"],
                padded_tokens=record["padded_tokens"],
            )
        )
    return out
