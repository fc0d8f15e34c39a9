"""The complexity measures (report/complexity.py) of each intermediate task of an experiment: the data its stage
trained on (the same languages, split, subset size and data seed), a fixed sample of it, the pretrained encoder's
representations of that sample, and the stage's logged loss curve."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import fmean
from typing import Any

import numpy as np
import torch

from xstilts.encoders.loading import load_encoder, load_tokenizer
from xstilts.errors import UserError
from xstilts.experiment.plan import draw_examples
from xstilts.experiment.readback import Experiment, Unavailable
from xstilts.report.complexity import (
    STRUCTURE,
    OnlineCode,
    choice_probe,
    curve_area,
    entropy_bits,
    input_words,
    logistic_probe,
    online_code_length,
    output_labels,
)
from xstilts.tasks.examples import ClassificationExample, MultipleChoiceExample, TaggingExample
from xstilts.tasks.loading import subsample

SAMPLE = 256  # examples in the fixed sample the code length is measured on
SAMPLE_SEED = 0
MAX_LENGTH = 128
BATCH = 32


@dataclass(frozen=True)
class TaskComplexity:
    name: str  # the task and its training data, e.g. "sick (en, 2,000)"
    task: str
    structure: str  # class, choice, sequence, span, ...
    outputs: int | None  # labels or choices
    entropy: float | None  # bits, of the labels of the data the stage trained on
    mean_words: float  # mean input length in whitespace words
    train_examples: int
    code: OnlineCode | None
    area: float | None  # normalised area under the stage's training-loss curve (mean over seeds)
    note: str = ""  # why a measure is missing


def stage_name(stage: dict[str, Any]) -> str:
    langs = ",".join(stage.get("languages") or ["en"])
    size = stage.get("max_train_examples")
    return f"{stage['task']} ({langs}, {f'{size:,}' if size else 'all'})"


def one_task_stages(exp: Experiment) -> dict[str, tuple[dict[str, Any], list[tuple[str, int]]]]:
    """name -> (the stage, [(condition, position)] of every one-task stage that trains exactly that)."""
    found: dict[str, tuple[dict[str, Any], list[tuple[str, int]]]] = {}
    for condition, stages in exp.conditions.items():
        for position, stage in enumerate(stages):
            if stage.get("task") and not stage.get("tasks"):
                found.setdefault(stage_name(stage), (stage, []))[1].append((condition, position))
    return found


class Measurer:
    """Measures each stage's task once; the encoder is loaded on first use and shared."""

    def __init__(self, exp: Experiment, sample: int = SAMPLE):
        self.exp, self.sample = exp, sample
        self._encoder: tuple[Any, Any] | None = None

    def measure(self, stage: dict[str, Any], positions: Sequence[tuple[str, int]]) -> TaskComplexity:
        task = self.exp.tasks.get(stage["task"])
        name = stage_name(stage)
        area = self._area(positions)
        if task is None:
            return TaskComplexity(name, stage["task"], "?", None, None, 0.0, 0, None, area, "task not declared")
        try:
            trained = self._training_data(task, stage)
        except (Unavailable, UserError) as why:
            return TaskComplexity(
                name, task.name, STRUCTURE.get(task.format, task.format), None, None, 0.0, 0, None, area, str(why)
            )
        outputs, labels = output_labels(task, trained)
        common = dict(
            name=name,
            task=task.name,
            structure=STRUCTURE.get(task.format, task.format),
            outputs=outputs,
            entropy=entropy_bits(labels) if labels else None,
            mean_words=fmean(input_words(e) for e in trained),
            train_examples=len(trained),
            area=area,
        )
        try:
            code = self._code(task, trained)
        except (UserError, ValueError) as why:
            return TaskComplexity(**common, code=None, note=f"no code length: {why}")
        why = "switched off (sample 0)" if self.sample <= 0 else f"{task.format} has no fixed label set"
        note = "" if code else f"no code length: {why}"
        return TaskComplexity(**common, code=code, note=note)

    def _training_data(self, task, stage: dict[str, Any]) -> list:
        split = stage.get("split") or task.train_split
        if split is None or split not in task.splits:
            raise Unavailable(f"{task.name} has no split {split!r}")
        drawn = draw_examples(  # as the stage drew them: each language's subset, pooled, then the stage's subset
            stage.get("languages") or ["en"],
            lambda lang: self.exp.examples(task.name, split, lang),
            stage.get("max_examples_per_language"),
            stage.get("max_train_examples"),
            self.exp.spec.data_seed,
        )
        return [e for _, e in drawn]

    def _area(self, positions: Sequence[tuple[str, int]]) -> float | None:
        areas = []
        for (condition, _, _), run in self.exp.runs.items():
            for c, position in positions:
                if c == condition and position < len(run.chain) and run.chain[position] in self.exp.stages:
                    log = self.exp.stages[run.chain[position]].log
                    areas.append(curve_area((log.get("report") or {}).get("loss_curve") or []))
        areas = [a for a in areas if a is not None]
        return fmean(areas) if areas else None

    # -- the online code length on a fixed sample ----------------------------------------------------------------
    def _code(self, task, trained: list) -> OnlineCode | None:
        if task.format not in ("classification", "ranking", "tagging", "multiple_choice") or self.sample <= 0:
            return None
        sample = subsample(trained, self.sample, SAMPLE_SEED)
        random.Random(SAMPLE_SEED).shuffle(sample)  # files are often sorted by label: code them in random order
        features, labels, classes = self._units(task, sample)
        probe = choice_probe if task.format == "multiple_choice" else logistic_probe
        return online_code_length(features, labels, classes, probe=probe)

    def _units(self, task, sample: list) -> tuple[np.ndarray, np.ndarray, int]:
        """(features, labels, K) of the sample's coded units: one row per example or word, and for multiple choice
        one (K, d) block of choice states per question, its label the gold choice."""
        if task.format == "tagging":
            pairs = [(list(e.words), None) for e in sample if isinstance(e, TaggingExample)]
            states = self._states(pairs, words=True)
            units = [
                (s[i], task.labels.index(t))
                for s, e in zip(states, sample, strict=True)
                for i, t in enumerate(e.tags)
                if i < len(s)
            ]
            return np.stack([u for u, _ in units]), np.asarray([y for _, y in units]), len(task.labels)
        if task.format == "multiple_choice":
            mc = [e for e in sample if isinstance(e, MultipleChoiceExample)]
            counts = sorted({len(e.choices) for e in mc})
            if len(counts) != 1:  # one code over K choices needs the same K for every question
                raise ValueError(f"its questions have {counts[0]} to {counts[-1]} choices, not one number")
            pairs = [(f"{e.context} {e.question}".strip(), choice) for e in mc for choice in e.choices]
            states = np.stack(self._states(pairs)).reshape(len(mc), counts[0], -1)
            return states, np.asarray([e.label for e in mc]), counts[0]
        cls = [e for e in sample if isinstance(e, ClassificationExample)]
        states = self._states([(e.text_a, e.text_b) for e in cls])
        return np.stack(states), np.asarray([task.labels.index(e.label) for e in cls]), len(task.labels)

    @torch.no_grad()
    def _states(self, pairs: list[tuple[Any, str | None]], words: bool = False) -> list[np.ndarray]:
        """Mean-pooled last-layer state of each (text, pair text); with `words`, each word's first sub-token state
        (one row per word that fits in MAX_LENGTH)."""
        encoder, tokenizer = self._model()
        out: list[np.ndarray] = []
        for start in range(0, len(pairs), BATCH):
            batch = pairs[start : start + BATCH]
            first, second = [a for a, _ in batch], [b for _, b in batch]
            kwargs = dict(truncation=True, max_length=MAX_LENGTH, padding=True, return_tensors="pt")
            if words:
                encoded = tokenizer(first, is_split_into_words=True, **kwargs)
            else:
                encoded = tokenizer(first, second if any(second) else None, **kwargs)
            hidden = encoder(input_ids=encoded["input_ids"], attention_mask=encoded["attention_mask"]).last_hidden_state
            hidden = hidden.double()
            for row in range(len(batch)):
                if words:
                    ids = encoded.word_ids(row)
                    firsts = [i for i, w in enumerate(ids) if w is not None and (i == 0 or ids[i - 1] != w)]
                    out.append(hidden[row, firsts].numpy())
                else:
                    mask = encoded["attention_mask"][row].bool()
                    out.append(hidden[row, mask].mean(0).numpy())
        return out

    def _model(self) -> tuple[Any, Any]:
        if self._encoder is None:
            spec = self.exp.spec.model  # the pretrained encoder the experiment started from
            encoder = load_encoder(spec)
            encoder.eval()
            self._encoder = (encoder, load_tokenizer(spec))
        return self._encoder
