"""Extractive question answering (XQuAD, MLQA, TyDiQA-GoldP; SQuAD as an intermediate task).

Contexts longer than max_length are cut into overlapping windows (doc_stride tokens of overlap, as in
XTREME's run_squad); a window that does not contain the answer is trained to point at <s>. At prediction
time every window proposes its best valid span (start <= end, at most max_answer_length tokens, inside the
context, chosen from the n_best start and n_best end logits) and the example keeps the highest-scoring one.

SQuAD v2.0 (`allow_no_answer`): an unanswerable question is trained to point at <s> in every window, and the
example answers "" when its null score (start + end logit at <s>, the lowest over its windows) beats its best
span's score by more than `null_score_diff_threshold`, as the SQuAD v2 baselines of Devlin et al. (2019) and
transformers' run_qa post-processing decide it."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from xstilts.formats.base import Feature, FormatBase, encode_hidden, pad_rows
from xstilts.formats.scoring import SpanQAScoring
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import SpanQAExample


class SpanQAOptions(BaseModel):
    """XTREME's settings for every QA task are the defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    doc_stride: int = Field(128, ge=1)
    max_answer_length: int = Field(30, ge=1)
    n_best: int = Field(20, ge=1)
    allow_no_answer: bool = False  # SQuAD v2.0: predict "" when the null score wins
    null_score_diff_threshold: float = 0.0  # how much the null score must beat the best span by


@dataclass(frozen=True, slots=True)
class Proposal:
    """What one window predicts: its best valid span (score, start char, end char), if any, and its null score."""

    example: int
    span: tuple[float, int, int] | None
    null_score: float


@dataclass(frozen=True, slots=True)
class Window:
    example: int  # index of the example this window came from
    start: int  # token positions of the answer; 0 (<s>) when the answer is outside this window
    end: int
    offsets: tuple[tuple[int, int] | None, ...]  # character span of each context token; None elsewhere


class SpanQA(SpanQAScoring, FormatBase):
    Options = SpanQAOptions

    def encode(
        self, examples: Sequence[SpanQAExample], tokenizer: Any, task: TaskDef, max_length: int
    ) -> list[Feature]:
        stride = min(self.options.doc_stride, max_length // 2)  # the tokenizer refuses a stride near the length
        encoded = tokenizer(
            [e.question for e in examples],
            [e.context for e in examples],
            truncation="only_second",
            max_length=max_length,
            stride=stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
        )
        features = []
        for i, ids in enumerate(encoded["input_ids"]):
            index = encoded["overflow_to_sample_mapping"][i]
            sequence = encoded.sequence_ids(i)
            offsets = tuple(
                tuple(o) if s == 1 else None for o, s in zip(encoded["offset_mapping"][i], sequence, strict=True)
            )
            start, end = _answer_tokens(examples[index], offsets)
            features.append(Feature(ids, Window(index, start, end, offsets), len(ids)))
        return features

    def length_problem(self, examples: Sequence[SpanQAExample], tokenizer: Any, max_length: int) -> str | None:
        """Each window holds the whole question, the special tokens and more context than the stride (which the
        tokenizer requires, or it fails, even with a panic), so max_length must exceed all three."""
        questions = sorted({e.question for e in examples})
        if not questions:
            return None
        longest = max(len(ids) for ids in tokenizer(questions, add_special_tokens=False)["input_ids"])
        specials = tokenizer.num_special_tokens_to_add(pair=True)

        def fits(length: int) -> bool:
            return longest + specials + min(self.options.doc_stride, length // 2) < length

        if fits(max_length):
            return None
        least = next(length for length in itertools.count(max_length + 1) if fits(length))
        return (
            f"{max_length} leaves no context after the longest question ({longest} tokens), {specials} special "
            f"tokens and the window overlap (doc_stride); span QA needs at least {least}"
        )

    def collate(self, features: Sequence[Feature], pad_id: int) -> dict[str, Any]:
        ids, mask = pad_rows([f.input_ids for f in features], pad_id)
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "start": torch.tensor([f.target.start for f in features]),
            "end": torch.tensor([f.target.end for f in features]),
            "windows": [f.target for f in features],
        }

    def make_head(self, encoder_config: Any, task: TaskDef) -> nn.Module:
        return nn.Linear(encoder_config.hidden_size, 2)  # start and end logits per token

    def logits(self, encoder: nn.Module, head: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        return head(encode_hidden(encoder, batch["input_ids"], batch["attention_mask"]))

    def loss(self, logits: torch.Tensor, batch: dict[str, Any]) -> torch.Tensor:
        start, end = logits.float().unbind(-1)
        start = start.masked_fill(batch["attention_mask"] == 0, -1e4)
        end = end.masked_fill(batch["attention_mask"] == 0, -1e4)
        return (F.cross_entropy(start, batch["start"]) + F.cross_entropy(end, batch["end"])) / 2

    def decode(self, logits: torch.Tensor, batch: dict[str, Any], task: TaskDef) -> list[Proposal]:
        """Per window: its best valid span and its null score."""
        return [
            Proposal(w.example, self._best_span(s, e, w), s[0] + e[0])
            for (s, e), w in zip(_split(logits), batch["windows"], strict=True)
        ]

    def _best_span(self, start: list[float], end: list[float], window: Window) -> tuple[float, int, int] | None:
        width = len(window.offsets)  # the rest of the row is batch padding
        start, end = start[:width], end[:width]
        n = min(self.options.n_best, width)
        starts = sorted(range(len(start)), key=start.__getitem__, reverse=True)[:n]
        ends = sorted(range(len(end)), key=end.__getitem__, reverse=True)[:n]
        best = None
        for s in starts:
            for e in ends:
                if window.offsets[s] is None or window.offsets[e] is None or e < s:
                    continue
                if e - s + 1 > self.options.max_answer_length:
                    continue
                score = start[s] + end[e]
                if best is None or score > best[0]:
                    best = (score, window.offsets[s][0], window.offsets[e][1])
        return best

    def aggregate(
        self, predictions: Sequence[Proposal], features: Sequence[Feature], examples: Sequence[SpanQAExample]
    ) -> list[str]:
        """The answer text of each example: its best span over all its windows ("" if none is valid, or, with
        allow_no_answer, if its lowest null score beats that span by more than the threshold)."""
        best: dict[int, tuple[float, int, int]] = {}
        null: dict[int, float] = {}
        for p in predictions:
            null[p.example] = min(null.get(p.example, p.null_score), p.null_score)
            if p.span is not None and (p.example not in best or p.span[0] > best[p.example][0]):
                best[p.example] = p.span
        answers = []
        for i, example in enumerate(examples):
            span = best.get(i)
            null_wins = span is not None and null[i] - span[0] > self.options.null_score_diff_threshold
            unanswered = span is None or (self.options.allow_no_answer and null_wins)
            answers.append("" if unanswered else example.context[span[1] : span[2]])
        return answers


def _split(logits: torch.Tensor) -> list[tuple[list[float], list[float]]]:
    return [(row[:, 0].tolist(), row[:, 1].tolist()) for row in logits.float().cpu()]


def _answer_tokens(example: SpanQAExample, offsets: tuple[tuple[int, int] | None, ...]) -> tuple[int, int]:
    """Token positions of the first gold answer in this window, or (0, 0) if it is not inside it."""
    if not example.answers:
        return 0, 0
    first = example.answer_starts[0]
    last = first + len(example.answers[0])
    inside = [k for k, o in enumerate(offsets) if o is not None]
    if not inside or offsets[inside[0]][0] > first or offsets[inside[-1]][1] < last:
        return 0, 0
    start = next(k for k in inside if offsets[k][1] > first)
    end = next(k for k in reversed(inside) if offsets[k][0] < last)
    return start, end
