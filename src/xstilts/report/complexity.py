"""How complex is an intermediate task, as measured quantities rather than proxies: the size of its output space, the
entropy of its labels, its output structure, its mean input length, the online (prequential) code length of its
labels given a frozen encoder's representations (Voita & Titov 2020, "Information-theoretic probing with minimum
description length"), and the area under its own training-loss curve.

Everything here is computed from the data a stage trained on and the stage's log, so it needs neither `xstilts
similarity` nor any checkpoint: the encoder is the pretrained one the experiment started from.

Online code length. The sample's labelled units (one per example; one per word for tagging; one per question for
multiple choice, whose label is the gold choice among its K) are sent in blocks that end at the fractions ONLINE_BLOCKS
of the sample (Voita & Titov's 0.1%, 0.2%, 0.4%, ... 50%, 100%; with at least MIN_FIRST_BLOCK units in the first). The
first block is sent with the uniform code, log2 K bits per unit for K labels; every later block is sent with the
probabilities of a probe trained on all units before it, -log2 p(y | x) bits per unit. The probe is a multinomial
logistic regression (full-batch L-BFGS; its L2 weight, from PROBE_L2, the one that coded the previous block best) over
the encoder's mean-pooled last-layer states (tagging: each word's first sub-token). For multiple choice the probe scores
each choice's state with one weight vector plus a bias per choice position and takes the softmax over the K choices
(`choice_probe`), so the uniform code costs log2 K bits per question, as for a K-way classification; coding each
(question, answer) pair as right/wrong with 1/K positives against log2 2 made SocialIQA (0.949 bits per pair) sit above
its base rate and look simpler than SICK. A task whose labels the representations make easy to predict from few examples
has a short code; compression = uniform code / online code.

Base rate. Every code length is shown beside the empirical entropy of the coded units' labels (for multiple choice:
of the gold positions), the bits per unit that knowing only the label frequencies would cost. An online code above
it learned less from the representations than the frequencies alone give.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import ClassificationExample, MultipleChoiceExample, SpanQAExample, TaggingExample

ONLINE_BLOCKS = (0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.0625, 0.125, 0.25, 0.5, 1.0)
MIN_FIRST_BLOCK = 8
# The probe's L2 weights (on standardised features, added to the mean cross-entropy). No one weight suits every
# task: on 256 SICK examples with me5-small's 384-d states, 1.0 gave 1.19 bits per unit and 0.01 gave 1.68 (weak
# probes trained on the first blocks are confidently wrong), while on 5 features that fix 4 labels 0.01 compressed
# 3.0x and 1.0 only 1.1x. Each block therefore uses the weight that coded the block before it best, which the
# receiver knows too, so the code stays prequential; the first coded block uses the middle weight.
PROBE_L2 = (0.01, 0.1, 1.0)
PROBE_STEPS = 100

# The output structure of each format: what one prediction is.
STRUCTURE = {
    "classification": "class",
    "ranking": "class",
    "multiple_choice": "choice",
    "tagging": "sequence",
    "span_qa": "span",
}

Probe = Callable[[np.ndarray, np.ndarray, int, float], Callable[[np.ndarray], np.ndarray]]


# -- label statistics --------------------------------------------------------------------------------------------


def entropy_bits(labels: Sequence[object]) -> float:
    """Shannon entropy (bits) of the empirical distribution of `labels`.

    >>> entropy_bits(["a", "b", "a", "b"]), entropy_bits(["a", "a"])
    (1.0, 0.0)
    """
    counts = np.asarray(list(Counter(labels).values()), dtype=float)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0: -0.0 for one label reads oddly


def output_labels(task: TaskDef, examples: Sequence[object]) -> tuple[int | None, list[object]]:
    """(number of labels or choices, the labels of the sample's units) for the label statistics; (None, []) for
    span QA, whose output is a span of the input, not one of a fixed set."""
    if task.format in ("classification", "ranking"):
        return len(task.labels), [e.label for e in examples if isinstance(e, ClassificationExample)]
    if task.format == "tagging":
        return len(task.labels), [t for e in examples if isinstance(e, TaggingExample) for t in e.tags]
    if task.format == "multiple_choice":
        mc = [e for e in examples if isinstance(e, MultipleChoiceExample)]
        return max((len(e.choices) for e in mc), default=None), [e.label for e in mc]
    return None, []


def input_words(example: object) -> int:
    """Whitespace words of everything the model reads for one example (model-independent, unlike tokens)."""
    if isinstance(example, ClassificationExample):
        texts = [example.text_a, example.text_b or ""]
    elif isinstance(example, TaggingExample):
        return len(example.words)
    elif isinstance(example, MultipleChoiceExample):
        texts = [example.context, example.question, *example.choices]
    elif isinstance(example, SpanQAExample):
        texts = [example.question, example.context]
    else:
        texts = [str(getattr(example, "text", ""))]
    return sum(len(t.split()) for t in texts)


# -- online code length ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OnlineCode:
    bits: float  # the online code length of the sample's labels
    uniform_bits: float  # n log2 K
    units: int
    block_ends: tuple[int, ...]
    base_rate_bits: float = math.nan  # n x the empirical entropy of the coded labels

    @property
    def base_rate_per_unit(self) -> float:
        return self.base_rate_bits / self.units

    @property
    def compression(self) -> float:
        return self.uniform_bits / self.bits if self.bits > 0 else math.inf

    @property
    def bits_per_unit(self) -> float:
        return self.bits / self.units


def block_ends(units: int, fractions: Sequence[float] = ONLINE_BLOCKS, first: int = MIN_FIRST_BLOCK) -> tuple[int, ...]:
    """Where each block ends (exclusive), from the fractions of the sample; the first holds at least `first` units.

    >>> block_ends(1000)
    (8, 16, 32, 62, 125, 250, 500, 1000)
    """
    ends = sorted({min(units, max(first, round(f * units))) for f in fractions} | {units})
    return tuple(ends)


def _softmax_probe(features: np.ndarray, labels: np.ndarray, weight: torch.Tensor, bias: torch.Tensor, l2: float):
    """Fits `weight` and `bias` by full-batch L-BFGS from zeros (deterministic) on the mean cross-entropy of
    softmax(x @ weight + bias) plus l2 |weight|^2, x the features standardised with the training rows' mean and
    spread (rows: the last axis); returns a function from features to probabilities over the last axis of scores."""
    rows = features.reshape(-1, features.shape[-1])
    mean, scale = rows.mean(axis=0), rows.std(axis=0) + 1e-6
    x = torch.as_tensor((features - mean) / scale, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.long)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=PROBE_STEPS, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ weight + bias, y) + l2 * (weight**2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)

    def probabilities(new: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            scores = torch.as_tensor((new - mean) / scale, dtype=torch.float64) @ weight + bias
            return torch.softmax(scores, dim=-1).numpy()

    return probabilities


def _zeros(*shape: int) -> torch.Tensor:
    return torch.zeros(*shape, dtype=torch.float64, requires_grad=True)


def logistic_probe(
    features: np.ndarray, labels: np.ndarray, classes: int, l2: float
) -> Callable[[np.ndarray], np.ndarray]:
    """A multinomial logistic regression over features (n, d), fitted by full-batch L-BFGS from zeros
    (deterministic); returns a function from features to class probabilities. Features are standardised with the
    training units' mean and spread."""
    return _softmax_probe(features, labels, _zeros(features.shape[-1], classes), _zeros(classes), l2)


def choice_probe(
    features: np.ndarray, labels: np.ndarray, classes: int, l2: float
) -> Callable[[np.ndarray], np.ndarray]:
    """A probe over K choices: features (n, K, d), one state per choice; the score of choice j is w . x_j + b_j (one
    weight vector for every choice, a bias per position, so it can learn where the gold answer tends to sit), and
    p(choice) is the softmax over the K scores; fitted as `logistic_probe` is."""
    return _softmax_probe(features, labels, _zeros(features.shape[-1]), _zeros(classes), l2)


def online_code_length(
    features: np.ndarray,
    labels: np.ndarray,
    classes: int,
    ends: Sequence[int] | None = None,
    probe: Probe = logistic_probe,
    weights: Sequence[float] = PROBE_L2,
) -> OnlineCode:
    """Voita & Titov's online code length (bits) of `labels` (ints in [0, classes)) given `features` (one row per
    unit; for multiple choice one (K, d) block per question, with `choice_probe`), sent in the blocks that end at
    `ends`: the first with the uniform code, log2 `classes` bits per unit, each later one with a probe trained on all
    units before it, with the L2 weight that coded the previous block shortest (the middle one for the first)."""
    n = len(labels)
    ends = tuple(ends) if ends is not None else block_ends(n)
    if not n or ends[-1] != n:
        raise ValueError(f"blocks must end at the sample's {n} units, got {ends}")
    bits, chosen = ends[0] * math.log2(classes), len(weights) // 2
    for start, end in zip(ends[:-1], ends[1:], strict=True):
        block = []
        for l2 in weights:
            predict = probe(features[:start], labels[:start], classes, l2)
            p = predict(features[start:end])[np.arange(end - start), labels[start:end]]
            block.append(float(-np.log2(np.clip(p, 1e-12, 1.0)).sum()))
        bits += block[chosen]
        chosen = int(np.argmin(block))
    return OnlineCode(bits, n * math.log2(classes), n, ends, n * entropy_bits(labels.tolist()))


# -- the learning curve ------------------------------------------------------------------------------------------


def curve_area(loss_curve: Sequence[float]) -> float | None:
    """The normalised area under a stage's training-loss curve: the mean of its points (equal windows of steps)
    over its first point. 1 = the loss never fell; near 0 = it fell at once. None without a curve.

    >>> curve_area([2.0, 1.0, 1.0, 0.0])
    0.5
    """
    if not loss_curve or loss_curve[0] <= 0:
        return None
    return float(np.mean(loss_curve) / loss_curve[0])
