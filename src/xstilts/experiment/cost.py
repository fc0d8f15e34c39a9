"""What a plan costs: examples, tokens, FLOPs and estimated seconds per stage and in total (`xstilts plan`).

Work is counted in FLOPs as Kaplan et al. (2020, "Scaling laws for neural language models", sec. 2.1) count it
for transformers: about 6 x N x tokens to train (forward and backward) and 2 x N x tokens to evaluate, with N the
encoder's non-embedding parameters (an embedding lookup costs next to nothing; attention over at most 512
tokens adds a few percent and is left out, and so is the dev scoring of `selection: best_dev`). A stage's tokens
are its examples times their mean length, measured by featurising a sample of each data set with the model's
tokenizer and the stage's format (a plan never trains, so this is what the data costs); data sets that are not
fetched yet are counted from their published sizes at max_length tokens per example (data_sizes.py).

A stage's seconds are a fixed start-up (loading the encoder, its tokenizer and the data, featurising, saving the
checkpoint: the same for a 200-example and a 20,000-example stage) plus FLOPs over a rate in FLOP/s. Both come
from measurement: from the stages of the same model and kind that the experiment's store has finished (a least-
squares line through their (FLOPs, seconds) when they differ enough in size, else their rate with the default
start-up), else the device's defaults (DEFAULT_STARTUP, measured by bench/plan_estimate.py; DEFAULT_RATES, fitted
by bench/cost_calibration.py). A run adds PROCESS_STARTUP once (imports and planning, before the first stage). The
defaults are for a CPU the run has to itself; on a shared one (1-minute load average above the core count) they are
multiplied by load / cores, the share of the cores a CPU-bound process then gets. Priced on a named GPU (`plan
--gpu`, gpus.py), the default rate is that GPU's dense peak times an assumed utilisation. Each stage's estimate
says which it used, and PlanCost.notes what was assumed."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xstilts.errors import ModelError
from xstilts.experiment.data_sizes import DataSizes
from xstilts.experiment.gpus import GPU, assumed_rate, describe
from xstilts.experiment.plan import EvalStage, Plan, Stage, TrainStage
from xstilts.experiment.store import Store
from xstilts.spec import ModelSpec
from xstilts.tasks.loading import Source

FLOPS_PER_TOKEN = {"train": 6.0, "evaluate": 2.0}  # x N non-embedding parameters (Kaplan et al. 2020)
# Effective FLOP/s of whole stages (loading, featurising, saving included) by the count above, after the start-up
# below. cpu: fitted by `python bench/cost_calibration.py runs/quickstart:323 runs/mini_xstilts:1261` to the 77
# stages of the README quickstart and the mini study (docs/mini-xstilts.md), run on 2026-12-04 on a nearly idle
# machine (me5-small, 2 cores of an AMD EPYC with AVX512-BF16, bf16 autocast; bench/results/cost-calibration.json).
# Their totals come out at 0.74x (quickstart: 239 s estimated, 323 s measured) and 1.26x (mini study: 26 min, 21);
# single stages spread more, estimate / measured 0.3-2.2 (median 1.7, quartiles 1.4-1.9): the start-up overstates
# the 10-15 s stages, and tasks differ in speed per FLOP (udpos trained at ~4.5e11 FLOP/s, cosmosqa at ~2e11).
# The rates before (1.3e11, 9.4e10, 2026-11-22) predate a faster training loop. cuda: an assumption, a third of an
# A100's 312 TFLOP/s bf16 peak for training; replace it by a measurement (a finished stage of the same model in the
# store is used instead).
DEFAULT_RATES = {"cpu": {"train": 2.9e11, "evaluate": 2.3e11}, "cuda": {"train": 1e14, "evaluate": 1e14}}
# Seconds of a stage that do not grow with its work, and of a run before its first stage; cpu: measured by
# `python bench/plan_estimate.py` (2-layer me5-small grid, see PERFORMANCE.md); cuda: assumed equal.
# bench/plan_estimate.py on 2026-12-04 measured a 2-layer grid at load 8.8 on 2 cores: 30-53 s per small training
# stage, 8-13 s per evaluation, 37 s before the first stage; divided by that load's slowdown (4.4) these are the
# idle figures below (PERFORMANCE.md's idle run of a tiny spec: 6.9 s before and after its stages).
DEFAULT_STARTUP = {"cpu": {"train": 9.0, "evaluate": 2.3}}
PROCESS_STARTUP = 8.0


@dataclass(frozen=True)
class StageCost:
    passes: float  # training example-passes (0 for an evaluation)
    examples: float  # evaluated examples (0 for training)
    tokens: float
    flops: float
    seconds: float
    source: str  # "rate measured on ...", "default <device> rate (...)"; "no config for <model>": seconds are nan


@dataclass
class PlanCost:
    stages: dict[str, StageCost]
    naive: list[StageCost] = field(default_factory=list)  # every run's chain and evaluation, nothing shared

    startup: float = 0.0  # once per run, before the first stage (imports, planning)
    notes: list[str] = field(default_factory=list)  # what the estimate assumed: absent data, known configs, GPU
    gpu: GPU | None = None  # the GPU it was priced on (`plan --gpu`)

    @property
    def seconds(self) -> float:
        """The stages' seconds (what `status` counts down); `total_seconds` adds the run's start-up."""
        return sum(c.seconds for c in self.stages.values())

    @property
    def total_seconds(self) -> float:
        return self.startup + self.seconds

    @property
    def naive_seconds(self) -> float:
        return sum(c.seconds for c in self.naive)


def stage_work(stage: Stage, sizes: DataSizes) -> tuple[float, float]:
    """(training example-passes, evaluated examples) of one stage."""
    if isinstance(stage, TrainStage):
        config, n = stage.config, 0
        for part in stage.parts:
            counts = [(sizes.count(part.task, part.split, lang), part.language_cap(lang)) for lang in part.languages]
            available = sum(min(count, cap or count) for count, cap in counts)
            n += min(available, part.max_train_examples or available)
        if config.max_steps:
            return float(config.max_steps * config.batch_size * config.grad_accum_steps), 0.0
        return n * config.epochs, 0.0
    counts = [sizes.count(stage.task, stage.split, lang) for lang in stage.languages]
    return 0.0, float(sum(min(n, stage.max_eval_examples or n) for n in counts))


def non_embedding_parameters(config: Any) -> int:
    """Per layer: attention's four h x h projections and the two h x ffn feed-forward matrices (BERT, XLM-R)."""
    hidden, layers = config.hidden_size, config.num_hidden_layers
    ffn = getattr(config, "intermediate_size", 4 * hidden)
    return layers * (4 * hidden * hidden + 2 * hidden * ffn)


class CostModel:
    """Estimates for the stages of one plan. `tokenizer` and `parameters` are looked up per model; tests pass
    stand-ins, the CLI the real loaders."""

    def __init__(
        self,
        sizes: DataSizes,
        parameters: Callable[[ModelSpec], int | None],
        tokenizer: Callable[[ModelSpec], Any | None],
        device_type: str = "cpu",
        slowdown: float = 1.0,
        gpu: GPU | None = None,
    ):
        self.sizes, self.parameters, self.tokenizer = sizes, parameters, tokenizer
        self.slowdown = slowdown  # applied to the defaults only: measured stages ran under their own load
        self.gpu = gpu  # priced on a named GPU: its assumed rate replaces the device's defaults
        if gpu is not None:
            device_type = "cuda"
            self.default_rates = {"train": assumed_rate(gpu), "evaluate": assumed_rate(gpu)}
        else:
            self.default_rates = DEFAULT_RATES.get(device_type, DEFAULT_RATES["cpu"])
        self.default_startup = DEFAULT_STARTUP.get(device_type, DEFAULT_STARTUP["cpu"])
        self.device_type = device_type
        self.finished: dict[tuple[str, str], list[tuple[float, float]]] = {}  # (model, kind) -> [(flops, seconds)]
        self.notes: list[str] = []  # what the caller's loaders assumed (cost_model: known configs)

    def tokens(self, stage: Stage) -> float:
        # The tokenizer only measures data that is here: a plan before the fetch needs neither.
        readable = any(self.sizes.present(task, split, lang) for task, split, lang in stage.reads())
        tokenizer = self.tokenizer(stage.model) if readable else None
        if isinstance(stage, EvalStage):
            per_lang = [
                min(self.sizes.count(stage.task, stage.split, lang), stage.max_eval_examples or 10**12)
                * self.sizes.tokens_per_example(
                    stage.task, stage.split, lang, stage.format_options, stage.eval_max_length, tokenizer
                )
                for lang in stage.languages
            ]
            return float(sum(per_lang))
        # A multi-task stage's passes are shared by its parts in proportion to their sizes (the default sampler);
        # a mixed-language part is measured on its first language.
        weights = [sum(self.sizes.count(p.task, p.split, lang) for lang in p.languages) or 1 for p in stage.parts]
        lengths = [
            self.sizes.tokens_per_example(
                p.task, p.split, p.languages[0], p.format_options, stage.config.max_length, tokenizer
            )
            for p in stage.parts
        ]
        mean_tokens = sum(w * n for w, n in zip(weights, lengths, strict=True)) / sum(weights)
        return stage_work(stage, self.sizes)[0] * mean_tokens

    def flops(self, stage: Stage) -> float | None:
        parameters = self.parameters(stage.model)
        return None if parameters is None else FLOPS_PER_TOKEN[stage.kind] * parameters * self.tokens(stage)

    def learn(self, plan: Plan, experiment_dir: Path | None) -> None:
        """Rates from the stages of this plan that the store at experiment_dir has finished."""
        if experiment_dir is None or not (experiment_dir / Store.FILE).is_file():
            return
        store = Store(experiment_dir)
        try:
            states = store.statuses()
        finally:
            store.close()
        for key, (status, seconds, _, _) in states.items():
            stage = plan.stages.get(key)
            work = self.flops(stage) if status == "done" and stage is not None and seconds else None
            if work is not None:
                self.finished.setdefault(_rate_key(stage), []).append((work, seconds))

    def calibration(self, stage: Stage) -> tuple[float, float, str]:
        """(start-up seconds, FLOP/s, where they came from) for `stage`'s model and kind."""
        startup = self.default_startup[stage.kind]
        points = self.finished.get(_rate_key(stage), [])
        if not points:
            rate = self.default_rates[stage.kind]
            device = f"assumed {self.gpu.name}" if self.gpu else f"default {self.device_type}"
            source = f"{device} start-up {startup:.0f}s + rate {rate:.2g} FLOP/s"
            if self.slowdown > 1:
                source += f", x{self.slowdown:.1f} for the machine's load"
            return startup * self.slowdown, rate / self.slowdown, source
        fitted = fit_startup_and_rate(points)
        if fitted is not None:
            startup, rate = fitted
            how = "start-up and rate fitted"
        else:
            work, took = sum(f for f, _ in points), sum(s for _, s in points)
            # Stages shorter than the default start-up (a faster machine): their work takes at least a tenth.
            rate = work / max(took - startup * len(points), 0.1 * took)
            how = f"default start-up {startup:.0f}s, rate measured"
        where = f"{len(points)} finished {stage.kind} stages of {stage.model.name}"
        return startup, rate, f"{how} on {where} ({startup:.0f}s + {rate:.2g} FLOP/s)"

    def stage(self, stage: Stage) -> StageCost:
        passes, evaluated = stage_work(stage, self.sizes)
        tokens, flops = self.tokens(stage), self.flops(stage)
        if flops is None:
            return StageCost(passes, evaluated, tokens, math.nan, math.nan, f"no config for {stage.model.name}")
        startup, rate, source = self.calibration(stage)
        return StageCost(passes, evaluated, tokens, flops, startup + flops / rate, source)

    def plan(self, plan: Plan) -> PlanCost:
        costs = {key: self.stage(stage) for key, stage in plan.stages.items()}
        naive = [costs[key] for run in plan.runs for key in (*run.chain, run.eval_key)]
        notes = [*self.sizes.notes(), *self.notes] + ([f"gpu: {describe(self.gpu)}"] if self.gpu else [])
        return PlanCost(costs, naive, startup=PROCESS_STARTUP * self.slowdown, notes=notes, gpu=self.gpu)


def cpu_slowdown(device_type: str) -> float:
    """How much slower than on an idle machine a CPU-bound run goes now: 1-minute load average / cores, at least 1."""
    if device_type != "cpu" or not hasattr(os, "getloadavg"):
        return 1.0
    return max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1))


def fit_startup_and_rate(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """Least-squares seconds = start-up + flops / rate through (flops, seconds), or None when the stages are too
    alike in size to separate the two (the largest under twice the smallest) or the fit is not physical."""
    if len(points) < 2 or max(f for f, _ in points) < 2 * min(f for f, _ in points):
        return None
    n = len(points)
    mean_f, mean_s = sum(f for f, _ in points) / n, sum(s for _, s in points) / n
    var = sum((f - mean_f) ** 2 for f, _ in points)
    slope = sum((f - mean_f) * (s - mean_s) for f, s in points) / var
    intercept = mean_s - slope * mean_f
    if slope <= 0 or intercept < 0:
        return None
    return intercept, 1 / slope


def _rate_key(stage: Stage) -> tuple[str, str]:
    return stage.model.model_dump_json(), stage.kind


def estimate(
    plan: Plan,
    root: Path,
    experiment_dir: Path | None,
    source: Source = "files",
    sizes: DataSizes | None = None,
    gpu: GPU | None = None,
) -> PlanCost:
    """The plan's cost (cost_model), with the rates of the stages experiment_dir's store has finished."""
    model = cost_model(plan, root, source, sizes, gpu)
    model.learn(plan, experiment_dir)
    return model.plan(plan)


def cost_model(
    plan: Plan, root: Path, source: Source = "files", sizes: DataSizes | None = None, gpu: GPU | None = None
) -> CostModel:
    """A CostModel with the real tokenizers and model configs, for this machine and its load, or priced on `gpu`.
    A tokenizer that cannot be loaded leaves max_length tokens per example; without a config, a stage gets no time.
    A hub model that is neither cached nor reachable is counted from its known shape (encoders.known_configs) when
    it has one, the estimate saying so; any other is refused (HubUnreachable), as `run` refuses it."""
    from xstilts.encoders.hub_access import HubUnreachable
    from xstilts.encoders.known_configs import known_config
    from xstilts.encoders.loading import encoder_config, load_tokenizer
    from xstilts.training.device import device

    parameters: dict[str, int | None] = {}
    tokenizers: dict[str, Any] = {}
    notes: list[str] = []

    def count_parameters(model: ModelSpec) -> int | None:
        key = model.model_dump_json()
        if key not in parameters:
            try:
                parameters[key] = non_embedding_parameters(encoder_config(model))
            except HubUnreachable:
                known = known_config(model)
                if known is None:
                    raise
                parameters[key] = non_embedding_parameters(known)
                notes.append(
                    f"model: {model.name} is not cached and the Hub cannot be reached: parameters counted from its "
                    f"known shape ({known.num_hidden_layers} layers, hidden {known.hidden_size}, ffn "
                    f"{known.intermediate_size}; {known.source})"
                )
            except ModelError:  # a config transformers cannot read: its stages get no time, the rest still do
                parameters[key] = None
        return parameters[key]

    def tokenizer(model: ModelSpec) -> Any | None:
        key = model.model_dump_json()
        if key not in tokenizers:
            try:
                tokenizers[key] = load_tokenizer(model)
            except HubUnreachable:
                if known_config(model) is None:
                    raise
                tokenizers[key] = None  # max_length tokens per example, an upper bound
                notes.append(f"model: no tokenizer of {model.name} here: max_length tokens per example")
            except ModelError:
                tokenizers[key] = None
        return tokenizers[key]

    kind = device().type
    sizes = sizes or DataSizes(root, source, plan.tasks)  # a caller's, when it has read the data already
    model = CostModel(sizes, count_parameters, tokenizer, kind, 1.0 if gpu else cpu_slowdown(kind), gpu)
    model.notes = notes  # filled in as the loaders fall back, read when the plan is priced
    return model
