"""Where each similarity method gets its inputs in an experiment directory: the data a stage trained on (to draw a
sample of it again), and the checkpoints of the stages that trained each task.

For an intermediate condition, the text methods read every task of its curriculum, and TaskEmb and CKA use the
checkpoint of its last intermediate stage (the encoder the target's training starts from). For a target, every
method reads the data its baseline run trained on (the target's English training data, or its `train_task`'s),
with the baseline's target-training checkpoint; a target that is not trained (retrieval) is read from its
evaluation data, and has no checkpoint of its own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xstilts.experiment import checkpoint
from xstilts.experiment.readback import Experiment


@dataclass(frozen=True)
class Sample:
    """The example set one training stage read for one task (before the similarity sample is drawn from it)."""

    task: str
    split: str
    languages: tuple[str, ...]
    limit: int | None  # the stage's max_train_examples (or the evaluation's max_eval_examples)
    data_seed: int
    format_options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # The stage's max_examples_per_language: one number, or (language, number) pairs in order (a dict, frozen)
    per_language: int | tuple[tuple[str, int], ...] | None = None

    @property
    def name(self) -> str:
        """E.g. "sick (en, train, 2000)": two stages that read different subsets of a task get different names."""
        caps = self.per_language
        if isinstance(caps, tuple):
            caps = " ".join(f"{lang}={n}" for lang, n in caps)
        per_language = f", {caps} per language" if caps is not None else ""
        return f"{self.task} ({'+'.join(self.languages)}, {self.split}, {self.limit or 'all'}{per_language})"

    def language_caps(self) -> int | dict[str, int] | None:
        """max_examples_per_language as the stage had it (plan.draw_examples takes it so)."""
        return dict(self.per_language) if isinstance(self.per_language, tuple) else self.per_language


@dataclass(frozen=True)
class Trained:
    """A finished training stage with a checkpoint: its key, the model it was built from and what it trained on."""

    key: str
    model: dict[str, Any]
    samples: tuple[Sample, ...]


@dataclass(frozen=True)
class Side:
    """One side of a comparison: the samples its text methods read and the checkpoint TaskEmb and CKA use."""

    samples: tuple[Sample, ...]
    trained: Trained | None
    seed: int
    model: dict[str, Any]  # the pretrained model at this grid point
    why_untrained: str = ""  # when trained is None


def _samples(config: dict[str, Any]) -> tuple[Sample, ...]:
    seed = config.get("data_seed", 0)
    if "parts" in config:  # a training stage: one part per task it trained on
        return tuple(
            Sample(
                p["task"],
                p["split"],
                tuple(p["languages"]),
                p.get("max_train_examples"),
                seed,
                p.get("format_options") or {},
                _frozen(p.get("max_examples_per_language")),
            )
            for p in config["parts"]
        )
    # An evaluation stage (a target that is not trained): its first language stands for its text.
    return (
        Sample(
            config["task"],
            config["split"],
            tuple(config["languages"][:1]),
            config.get("max_eval_examples"),
            seed,
            config.get("format_options") or {},
        ),
    )


def _frozen(caps: int | dict[str, int] | None) -> int | tuple[tuple[str, int], ...] | None:
    return tuple(sorted(caps.items())) if isinstance(caps, dict) else caps


class Sources:
    def __init__(self, exp: Experiment):
        self.exp = exp

    def _done(self, key: str) -> bool:
        stage = self.exp.stages.get(key)
        return stage is not None and stage.status == "done"

    def _trained(self, key: str) -> Trained | None:
        if not self._done(key) or not checkpoint.has_checkpoint(self.exp.dir, key):
            return None
        config = self.exp.stages[key].config
        return Trained(key, config.get("model") or {}, _samples(config))

    def _seeds(self, condition: str, target: str, prefer: int | None) -> list[int]:
        seeds = [s for s in self.exp.seeds if (condition, target, s) in self.exp.runs]
        return sorted(seeds, key=lambda s: s != prefer)  # the preferred seed first, then the spec's order

    def condition(self, condition: str, target: str, prefer: int | None = None) -> Side | None:
        """An intermediate condition's side, from the first seed whose intermediate stages have all finished."""
        depth = len(self.exp.conditions[condition])
        for seed in self._seeds(condition, target, prefer):
            chain = self.exp.runs[(condition, target, seed)].chain[:depth]
            if len(chain) == depth and all(self._done(k) for k in chain):
                samples = tuple(s for key in chain for s in _samples(self.exp.stages[key].config))
                last = self._trained(chain[-1])
                why = "" if last else f"no checkpoint of stage {chain[-1]} (deleted?)"
                return Side(samples, last, seed, self.exp.stages[chain[-1]].config.get("model") or {}, why)
        return None

    def target(self, baseline: str, target: str) -> Side | None:
        """A target's side, from the first seed whose baseline run has finished its target training."""
        for seed in self._seeds(baseline, target, None):
            run = self.exp.runs[(baseline, target, seed)]
            if run.chain and self._done(run.chain[-1]):
                trained = self._trained(run.chain[-1])
                config = self.exp.stages[run.chain[-1]].config
                why = "" if trained else f"no checkpoint of stage {run.chain[-1]} (deleted?)"
                return Side(_samples(config), trained, seed, config.get("model") or {}, why)
            if not run.chain and self._done(run.eval_key):  # a format that is not trained: no checkpoint
                config = self.exp.stages[run.eval_key].config
                why = "the target is evaluated without training (no task loss to take a Fisher of)"
                return Side(_samples(config), None, seed, config.get("model") or {}, why)
        return None
