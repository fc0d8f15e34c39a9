"""`similarity(DIR)`: for each target and each intermediate condition, a similarity score by every method, the
ranking of the conditions per target, and the ranking's quality against the gains measured in the store.

Methods (a target's side and a condition's side are described in xstilts.similarity.sources):

* textemb (Vu et al. 2020): the pretrained encoder's last layer, mean-pooled over each input's tokens, averaged
  over a sample of the task's training text; cosine between the two task vectors.
* taskemb (after Vu et al. 2020, simplified): the diagonal empirical Fisher information of the task loss w.r.t. the
  encoder *parameters* of the chosen layers, computed with the model fine-tuned on that task on a sample of its
  training data; cosine between the two Fisher vectors (cosine ignores each vector's scale, so normalising a vector
  changes nothing). `fisher_layers` chooses the transformer layers, by default the last one (the layer that
  fine-tuning changes most, and a vector of 1.8M numbers rather than 21M for me5-small), so by default it is the
  last layer's parameters only. Vu et al.'s TaskEmb also takes Fisher information with respect to layer outputs
  (activations) and the CLS output; that is not computed here, so these scores are not their TaskEmb.
* semb (Poth et al. 2021): sentence embeddings of each dataset from a sentence encoder, averaged; cosine. The
  experiment's own model is the sentence encoder (multilingual-e5 is one): each input gets e5's "query: " prefix
  (`semb_prefix`), is mean-pooled and L2-normalised, as e5 embeds text.
* cka (Kornblith et al. 2019): linear CKA between the representations of the target's sample under the encoder the
  condition's last intermediate stage left and under a reference encoder: by default the baseline's encoder after
  target training (`cka_reference: target`), so a high score says the intermediate stage already represents the
  target's inputs the way training on the target does; with `cka_reference: pretrained` a high score says it left
  them as the pretrained model had them. Either way the ranking puts the highest CKA first.

Per target the candidates are the conditions whose baseline (xstilts.experiment.readback.Experiment.baseline: the
condition without intermediate stages at the same grid point) is the same. A condition's measured gain is the
report's paired difference: the mean over the seeds both finished of the mean over the languages both have."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from statistics import fmean
from typing import Any

import numpy as np

from xstilts import __version__
from xstilts.analysis.compare import Comparisons, ResamplingSettings
from xstilts.encoders.loading import load_encoder, load_tokenizer
from xstilts.errors import UserError
from xstilts.experiment import checkpoint
from xstilts.experiment.plan import draw_examples
from xstilts.experiment.readback import Experiment, Unavailable, model_label
from xstilts.experiment.store import AVERAGE
from xstilts.formats import make_format
from xstilts.similarity.cka import linear_cka
from xstilts.similarity.model_size import across_models, grid_label, model_quality
from xstilts.similarity.ranking import quality, ranked
from xstilts.similarity.represent import (
    cosine,
    diagonal_fisher,
    layer_prefixes,
    loss_and_metric,
    mean_pooled,
    token_rows,
    with_prefix,
)
from xstilts.similarity.settings import Settings
from xstilts.similarity.sources import Sample, Side, Sources, Trained
from xstilts.spec import ModelSpec
from xstilts.tasks.loading import ExampleCache, subsample
from xstilts.training.task_model import TaskModel

ENCODERS_IN_MEMORY = 3  # about 0.5 GB each for me5-small in fp32
DESCRIPTOR_MAX_LENGTH = 512  # input lengths are counted up to the encoder's usual limit, not the sample's cut


class Similarity:
    """Computes each piece once: a trained model is loaded once per use, representations and Fisher vectors are
    cached by (checkpoint, sample)."""

    def __init__(self, exp: Experiment, settings: Settings):
        self.exp, self.st = exp, settings
        try:
            self.root = exp.data_root()
        except Unavailable as why:
            raise UserError(f"{exp.dir}: {why}") from None
        self.sources = Sources(exp)
        self.comparisons = Comparisons(exp, ResamplingSettings())
        self.read = ExampleCache(exp.tasks, self.root)  # each data file read once, for every sample drawn from it
        self._examples: dict[Sample, tuple[list, int]] = {}
        self._cache: dict[tuple, Any] = {}
        self._loaded: OrderedDict[str, Any] = OrderedDict()
        self.descriptors: dict[str, dict[str, Any]] = {}
        self._methods: dict[str, Callable[[Side, Side], float]] = {
            "textemb": self.textemb,
            "taskemb": self.taskemb,
            "semb": self.semb,
            "cka": self.cka,
        }

    # -- data and models ---------------------------------------------------------------------------------------
    def examples(self, sample: Sample) -> list:
        """The similarity sample: drawn (seeded) from the same subset the stage trained on, which is drawn again as
        the stage drew it (plan.draw_examples: each language's max_examples_per_language, pooled, then
        max_train_examples)."""
        if sample not in self._examples:
            drawn = draw_examples(
                sample.languages,
                lambda lang: self.read(sample.task, sample.split, lang),
                sample.language_caps(),
                sample.limit,
                sample.data_seed,
            )
            subset = [e for _, e in drawn]
            self._examples[sample] = (subsample(subset, self.st.examples, self.st.seed), len(subset))
        return self._examples[sample][0]

    def subset_size(self, sample: Sample) -> int:
        """How many examples the stage trained on (the subset the similarity sample is drawn from)."""
        self.examples(sample)
        return self._examples[sample][1]

    def tokenizer(self, model: dict[str, Any]) -> Any:
        return self._once(("tokenizer", _model_key(model)), lambda: load_tokenizer(_model_spec(model)))

    def features(self, sample: Sample, model: dict[str, Any], max_length: int | None = None) -> list:
        task = self.exp.tasks[sample.task]
        fmt = make_format(task.format, sample.format_options)
        length = max_length or self.st.max_length
        return fmt.encode(self.examples(sample), self.tokenizer(model), task, length)

    def encoder(self, model: dict[str, Any], trained: Trained | None) -> Any:
        """The pretrained encoder (trained None) or a stage's, loaded into the pretrained architecture. The last
        ENCODERS_IN_MEMORY stay loaded: the pretrained and the target's encoder serve every candidate in turn."""
        key = trained.key if trained else f"pretrained {_model_key(model)}"
        if key in self._loaded:
            self._loaded.move_to_end(key)
            return self._loaded[key]
        while len(self._loaded) >= ENCODERS_IN_MEMORY:
            self._loaded.popitem(last=False)  # free the least recently used before loading the next
        encoder = load_encoder(_model_spec(model))
        if trained is not None:
            checkpoint.load_encoder_into(self.exp.dir, trained.key, encoder, f"stage {trained.key}")
        self._loaded[key] = encoder.eval()
        return self._loaded[key]

    def task_model(self, trained: Trained, sample: Sample) -> TaskModel:
        task = self.exp.tasks[sample.task]
        fmt = make_format(task.format, sample.format_options)
        encoder = self.encoder(trained.model, trained)
        head = fmt.make_head(encoder.config, task)
        heads = checkpoint.heads_of(checkpoint.read(self.exp.dir, trained.key, checkpoint.HEADS))
        checkpoint.load_into(head, heads.get(sample.task, {}), f"stage {trained.key} head '{sample.task}'")
        return TaskModel(encoder, head, fmt).eval()

    def _once(self, key: tuple, compute: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    # -- the methods -------------------------------------------------------------------------------------------
    def _text_vector(self, side: Side, sentence: bool) -> np.ndarray:
        vectors = [
            self._once(("text", sentence, _model_key(side.model), s), lambda s=s: self._embed(side.model, s, sentence))
            for s in side.samples
        ]
        return np.mean(vectors, axis=0)  # each task of a curriculum counts once

    def _embed(self, model: dict[str, Any], sample: Sample, sentence: bool) -> np.ndarray:
        rows = token_rows(self.features(sample, model))
        tokenizer = self.tokenizer(model)
        if sentence and self.st.semb_prefix:
            prefix = tokenizer(self.st.semb_prefix, add_special_tokens=False)["input_ids"]
            rows = with_prefix(rows, prefix, self.st.max_length)
        pooled = mean_pooled(self.encoder(model, None), rows, tokenizer.pad_token_id, self.st.batch_size, sentence)
        return pooled.mean(axis=0)

    def textemb(self, condition: Side, target: Side) -> float:
        return cosine(self._text_vector(condition, False), self._text_vector(target, False))

    def semb(self, condition: Side, target: Side) -> float:
        return cosine(self._text_vector(condition, True), self._text_vector(target, True))

    def _fisher(self, side: Side) -> np.ndarray:
        if side.trained is None:
            raise Unavailable(side.why_untrained)
        trained = side.trained
        vectors = [
            self._once(("fisher", trained.key, s), lambda s=s: self._fisher_of(trained, s)) for s in trained.samples
        ]
        return np.mean(vectors, axis=0)  # a multi-task stage: the mean over its tasks, each with its own head

    def _fisher_of(self, trained: Trained, sample: Sample) -> np.ndarray:
        model = self.task_model(trained, sample)
        prefixes = layer_prefixes(model.encoder, self.st.fisher_layers)
        return diagonal_fisher(
            model, self.features(sample, trained.model), self.tokenizer(trained.model).pad_token_id, prefixes
        )

    def taskemb(self, condition: Side, target: Side) -> float:
        return cosine(self._fisher(condition), self._fisher(target))

    def _representations(self, trained: Trained | None, model: dict[str, Any], sample: Sample) -> np.ndarray:
        def compute() -> np.ndarray:
            rows = token_rows(self.features(sample, model))
            encoder = self.encoder(model, trained)
            return mean_pooled(encoder, rows, self.tokenizer(model).pad_token_id, self.st.batch_size)

        return self._once(("reps", trained.key if trained else None, _model_key(model), sample), compute)

    def cka(self, condition: Side, target: Side) -> float:
        if condition.trained is None:
            raise Unavailable(condition.why_untrained)
        reference = target.trained if self.st.cka_reference == "target" else None
        if self.st.cka_reference == "target" and reference is None:
            raise Unavailable(f"no target-trained reference encoder: {target.why_untrained}")
        probe = target.samples[0]
        x = self._representations(condition.trained, condition.model, probe)
        y = self._representations(reference, target.model, probe)
        return linear_cka(x, y)

    # -- descriptors -------------------------------------------------------------------------------------------
    def describe(self, side: Side) -> list[str]:
        """Descriptors of every task a side reads (format, labels, input length, training size, and the fine-tuned
        model's loss and metric on its sample); returns their names. The loss and metric come from a side whose
        checkpoint trained exactly its tasks (a one-stage condition, or a target): in a longer curriculum a task
        was trained on top of others, so that model says less about the task itself."""
        names = [self._descriptor_name(s, side) for s in side.samples]
        for name, sample in zip(names, side.samples, strict=True):
            if name not in self.descriptors:
                self.descriptors[name] = self._descriptor(sample, side.model)
            own = side.trained is not None and side.samples == side.trained.samples
            if own and "checkpoint" not in self.descriptors[name]:
                self.descriptors[name].update(self._fit(sample, side.trained))
        return names

    def _descriptor_name(self, sample: Sample, side: Side) -> str:
        # Under a model grid the same data is a different input (tokenizer) to a different model: name the model.
        several = len({self.exp.model(c) for c in self.exp.conditions}) > 1
        return f"{sample.name} [{model_label(side.model)}]" if several else sample.name

    def _descriptor(self, sample: Sample, model: dict[str, Any]) -> dict[str, Any]:
        task = self.exp.tasks[sample.task]
        lengths = [len(row) for row in token_rows(self.features(sample, model, DESCRIPTOR_MAX_LENGTH))]
        return {
            "task": sample.task,
            "format": task.format,
            "labels": len(task.labels) or None,
            "mean_input_tokens": float(np.mean(lengths)) if lengths else None,
            "train_examples": self.subset_size(sample),
            "sample": len(self.examples(sample)),
        }

    def _fit(self, sample: Sample, trained: Trained) -> dict[str, Any]:
        """How well the model fine-tuned on the task fits the sample, and the last loss its stage logged."""
        task = self.exp.tasks[sample.task]
        model, tokenizer = self.task_model(trained, sample), self.tokenizer(trained.model)
        features = self.features(sample, trained.model)
        loss, metrics = loss_and_metric(
            model,
            task,
            self.examples(sample),
            features,
            tokenizer,
            sample.languages[0],
            self.st.max_length,
            self.st.batch_size,
        )
        report = self.exp.stages[trained.key].log.get("report") or {}
        return {
            "checkpoint": trained.key,
            "loss": _finite(loss),
            "metrics": metrics,
            "final_training_loss": _finite(report.get("final_loss")),
        }

    # -- per target --------------------------------------------------------------------------------------------
    def rank(self, target: str, baseline: str) -> dict[str, Any]:
        candidates = [c for c, stages in self.exp.conditions.items() if stages and self.exp.baseline(c) == baseline]
        entry: dict[str, Any] = {"target": target, "baseline": baseline, "metric": self.exp.metrics.get(target)}
        entry["grid_point"] = grid_label(self.exp, baseline)  # which model / grid point every table names
        side_t = self.sources.target(baseline, target)
        if side_t is None or not candidates:
            why = "no intermediate conditions" if side_t else f"'{baseline}' has not finished training on {target}"
            return {**entry, "note": why, "candidates": [], "quality": {}}
        seeds = self.exp.seeds_of(baseline, target)
        base_score = fmean(self.exp.value(baseline, target, s, AVERAGE) for s in seeds) if seeds else None
        entry.update(seed=side_t.seed, tasks=self.describe(side_t), baseline_score=base_score)
        rows = [self._candidate(condition, target, baseline, side_t) for condition in candidates]
        entry["candidates"] = rows
        entry["rankings"] = {
            m: ranked([r["condition"] for r in scored], [r["similarity"][m] for r in scored])
            for m in self.st.methods
            if (scored := [r for r in rows if r["similarity"].get(m) is not None])
        }
        entry["quality"] = self._quality(rows)
        # per method, intervals over the seeds the gains were measured on (the similarity scores fixed)
        entry["quality_intervals"] = {m: model_quality([entry], m, self.st.k) for m in self.st.methods}
        return entry

    def _candidate(self, condition: str, target: str, baseline: str, side_t: Side) -> dict[str, Any]:
        comp = self.comparisons.difference(condition, baseline, target)
        row: dict[str, Any] = {"condition": condition, "gain": None, "score": None, "seeds": []}
        if comp is not None:
            own = [self.exp.value(condition, target, s, lang) for s in comp.seeds for lang in comp.languages]
            row.update(gain=comp.average, score=fmean(own), seeds=list(comp.seeds))
            # the gain of each seed, which the cross-scale bootstrap resamples (similarity/model_size.py)
            row["per_seed"] = {str(s): g for s, g in zip(comp.seeds, comp.per_seed, strict=True)}
        side = self.sources.condition(condition, target, prefer=side_t.seed)
        if side is None:
            row.update(similarity=dict.fromkeys(self.st.methods), notes={"all": "intermediate training not finished"})
            return row
        checkpoint_key = side.trained.key if side.trained else None
        row.update(
            checkpoint=checkpoint_key, checkpoint_seed=side.seed, tasks=self.describe(side), similarity={}, notes={}
        )
        for method in self.st.methods:
            try:
                row["similarity"][method] = self._methods[method](side, side_t)
            except Unavailable as why:
                row["similarity"][method], row["notes"][method] = None, str(why)
        return row

    def _quality(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        out = {}
        for method in self.st.methods:
            usable = [r for r in rows if r["gain"] is not None and r["similarity"].get(method) is not None]
            if not usable:
                out[method] = None
                continue
            result = quality(
                [r["condition"] for r in usable],
                [r["similarity"][method] for r in usable],
                [r["gain"] for r in usable],
                [r["score"] for r in usable],
                self.st.k,
            )
            out[method] = asdict(result)
        return out


def similarity(exp: Experiment, settings: Settings, targets: tuple[str, ...] = ()) -> dict[str, Any]:
    """Everything `xstilts similarity` writes to similarity.json, as plain JSON data."""
    unknown = [t for t in targets if t not in exp.targets]
    if unknown:
        raise UserError(
            f"--target: {unknown[0]!r} is not a target of this experiment (its targets: {', '.join(exp.targets)})"
        )
    job = Similarity(exp, settings)
    baselines = list(dict.fromkeys(b for c in exp.conditions if (b := exp.baseline(c)) is not None))
    ranked = [job.rank(t, b) for t in (targets or exp.targets) for b in baselines]
    return {
        "experiment": str(exp.dir.resolve()),
        "xstilts": __version__,
        "written": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "settings": {**asdict(settings), "methods": list(settings.methods)},
        "targets": ranked,
        "descriptors": job.descriptors,
        "scale": across_models(exp, ranked, settings.methods, settings.k),
    }


def _model_spec(model: dict[str, Any]) -> ModelSpec:
    return ModelSpec.model_validate(model)


def _model_key(model: dict[str, Any]) -> str:
    return repr(sorted(model.items()))


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
