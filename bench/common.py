"""Shared pieces of the benchmark harness: environment, data, the model as the runner builds it, FLOP counts.

Nothing here is timed; bench/measure.py times one configuration per process and bench/run.py drives it.
"""

from __future__ import annotations

import os
import random
import statistics
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def setup_env(threads: int) -> None:
    """Offline, the repository's converted me5-small, `threads` compute threads. Call before importing torch."""
    os.environ.setdefault("XSTILTS_CACHE", str(REPO / ".cache"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["MKL_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


def data_root() -> Path:
    env = os.environ.get("XSTILTS_DATA")
    for candidate in (Path(env) if env else None, REPO.parent / "shared" / "data"):
        if candidate is not None and candidate.is_dir():
            return candidate
    raise SystemExit("no data directory: set XSTILTS_DATA")


# The two training tasks measured: a sentence-pair task and a tagging task.
TASKS = {"pair": "sick", "tagging": "panx"}
DEV_SPLIT = {"sick": "dev", "panx": "dev"}  # SICK: SemEval TRIAL (495 pairs); PAN-X: dev-en


def examples(task_name: str, split: str, limit: int | None, seed: int = 0) -> list:
    from xstilts.tasks import REGISTRY
    from xstilts.tasks.loading import load_examples, subsample

    return subsample(load_examples(REGISTRY[task_name], split, "en", data_root()), limit, seed)


def model_spec(num_layers: int | None = None) -> Any:
    from xstilts.spec import ModelSpec

    return ModelSpec(name="me5-small", num_layers=num_layers)


def build_model(task_name: str, seed: int, num_layers: int | None = None) -> Any:
    """The TaskModel as a stage trained from the pretrained model builds it: the pretrained encoder and a new
    head of the task's format, through the same public function (training.task_model.new_task_models)."""
    from xstilts.encoders.loading import load_encoder
    from xstilts.tasks import REGISTRY
    from xstilts.training.device import device
    from xstilts.training.task_model import new_task_models

    task = REGISTRY[task_name]
    return new_task_models(load_encoder(model_spec(num_layers)), [(task, {})], seed, device())[task_name]


def tokenizer() -> Any:
    from xstilts.encoders.loading import load_tokenizer

    return load_tokenizer(model_spec())


def bf16_default() -> bool:
    """What xstilts' `precision: auto` picks on this machine."""
    from xstilts.training.device import device, use_bf16

    return use_bf16("auto", device())


# --- random encoders, built where they run ---------------------------------------------------------------


def random_encoder_on(model_class: Any, config: Any, device: Any, seed: int = 0) -> Any:
    """A random-init encoder of `config`, built on the meta device (no memory, no host-side initialisation: a
    560M-parameter model took minutes to initialise on a CPU) and materialised on `device` only, with BERT's
    initialisation drawn there (`initialise`)."""
    import torch

    with torch.device("meta"):
        encoder = model_class(config, add_pooling_layer=False)
    encoder.to_empty(device=device)
    torch.manual_seed(seed)
    initialise(encoder, config.initializer_range)
    return encoder


def initialise(encoder: Any, std: float) -> None:
    """BERT's initialisation (normal(0, std) matrices, zero biases, unit LayerNorm) in place, on the device the
    weights are on. Every parameter and buffer must be covered: to_empty leaves them holding whatever the memory
    held; the only buffers (XLM-R's and BERT's) are the position ids and the token type ids."""
    import torch
    from torch import nn

    done: set[int] = set()
    with torch.no_grad():
        for module in encoder.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                module.weight.normal_(0.0, std)
                if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                    module.weight[module.padding_idx].zero_()
            elif isinstance(module, nn.LayerNorm):
                module.weight.fill_(1.0)
            else:
                continue
            if getattr(module, "bias", None) is not None:
                module.bias.zero_()
            done.update(id(p) for p in module.parameters(recurse=False))
        missed = [name for name, p in encoder.named_parameters() if id(p) not in done]
        buffers = dict(encoder.named_buffers())
        known = {"embeddings.position_ids", "embeddings.token_type_ids"}
        if missed or not set(buffers) <= known:
            raise SystemExit(f"cannot initialise parameters {missed} / buffers {sorted(set(buffers) - known)}")
        positions = buffers.get("embeddings.position_ids")
        if positions is not None:
            positions.copy_(torch.arange(positions.shape[-1], device=positions.device).expand_as(positions))
        if "embeddings.token_type_ids" in buffers:
            buffers["embeddings.token_type_ids"].zero_()


# --- model FLOPs ------------------------------------------------------------------------------------------


def encoder_shape(model: Any) -> dict[str, int]:
    import torch

    cfg = model.encoder.config
    layers = model.encoder.encoder.layer
    linear = sum(m.weight.numel() for m in layers.modules() if isinstance(m, torch.nn.Linear))
    head_linear = sum(m.weight.numel() for m in model.head.modules() if isinstance(m, torch.nn.Linear))
    emb = model.encoder.get_input_embeddings().weight.numel()
    total = sum(p.numel() for p in model.parameters())
    return {
        "layers": cfg.num_hidden_layers,
        "hidden": cfg.hidden_size,
        "encoder_linear_weights": linear,
        "head_linear_weights": head_linear,
        "word_embedding_params": emb,
        "total_params": total,
    }


def train_flops(shape: dict[str, int], lengths: list[int], per_token_head: bool) -> dict[str, float]:
    """Model FLOPs of one training pass over examples of the given real (unpadded) lengths.

    * matmuls: 6 x (Linear weights of the encoder layers) x real tokens -- 2 forward, 4 backward per weight
      and token (Kaplan et al. 2020). Biases, LayerNorm, GELU, softmax and the embedding lookup are not counted.
    * attention: QK^T and AV cost 2*L*d each per token and layer in the forward pass, so 4*L^2*d per
      example and layer, x3 for training: 12 * layers * d * sum(L_i^2) over examples, with L_i the real length
      (padding is waste, not model work).
    * head: 6 x head Linear weights x tokens (tagging: every token) or x examples (classification: <s> only).
    The word-embedding matrix does no matmul; its gradient/optimizer work is memory traffic and is reported
    separately (see `embedding_update_bytes`).
    """
    tokens = sum(lengths)
    matmul = 6.0 * shape["encoder_linear_weights"] * tokens
    attention = 12.0 * shape["layers"] * shape["hidden"] * sum(n * n for n in lengths)
    head = 6.0 * shape["head_linear_weights"] * (tokens if per_token_head else len(lengths))
    return {"matmul": matmul, "attention": attention, "head": head, "total": matmul + attention + head}


def embedding_update_bytes(shape: dict[str, int]) -> int:
    """Lower bound on the memory traffic the trained word-embedding matrix adds per optimizer step, fp32:
    write the dense gradient (zeros + scatter), read it for the norm clip, and one fused AdamW pass that reads
    param, grad, exp_avg, exp_avg_sq and writes param, exp_avg, exp_avg_sq: 1 + 1 + 7 = 9 passes of 4 bytes."""
    return 9 * 4 * shape["word_embedding_params"]


def median_lines(times: dict[str, list[float]], base: str, tokens: dict[str, float], per: str = "s") -> list[str]:
    """One line per way of `times` (seconds per repetition): median and range (in ms when `per` is a step),
    `tokens` per second for each kind of token counted per repetition, and the speed-up over the way `base`."""
    scale, unit, digits = (1e3, f"ms/{per}", 1) if per != "s" else (1.0, "s", 2)
    reference = statistics.median(times[base])
    lines = []
    for name, values in times.items():
        median = statistics.median(values)
        rates = ", ".join(f"{count / median:7.0f} {kind} tok/s" for kind, count in tokens.items())
        lines.append(
            f"  {name:20s} median {scale * median:7.{digits}f} {unit} (range {scale * min(values):.{digits}f}-"
            f"{scale * max(values):.{digits}f}), {rates}, {reference / median:.2f}x"
        )
    return lines


# --- dev-set noise: paired bootstrap ------------------------------------------------------------------------


def per_example_counts(task_format: str, predictions: list, golds: list) -> list[tuple[int, int, int]]:
    """(correct, predicted, gold) per example: accuracy uses correct/gold with predicted = gold = 1; chunk F1
    sums the three over examples (seqeval's conlleval-style chunks)."""
    if task_format == "classification":
        return [(int(p == g), 1, 1) for p, g in zip(predictions, golds, strict=True)]
    from seqeval.metrics.sequence_labeling import get_entities

    counts = []
    for p, g in zip(predictions, golds, strict=True):
        pe, ge = set(get_entities(list(p))), set(get_entities(list(g)))
        counts.append((len(pe & ge), len(pe), len(ge)))
    return counts


def metric_from_counts(task_format: str, counts: Any) -> float:
    correct, predicted, gold = (float(x) for x in counts)
    if task_format == "classification":
        return 100.0 * correct / gold
    if correct == 0:
        return 0.0
    p, r = correct / predicted, correct / gold
    return 100.0 * 2 * p * r / (p + r)


def paired_bootstrap(task_format: str, a: list, b: list, rounds: int = 1000, seed: int = 0) -> dict[str, float]:
    """Difference a - b of the metric with a 95% paired-bootstrap interval over dev examples."""
    import numpy as np

    ca, cb = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(rounds):
        idx = rng.integers(0, len(ca), len(ca))
        diffs.append(metric_from_counts(task_format, ca[idx].sum(0)) - metric_from_counts(task_format, cb[idx].sum(0)))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    delta = metric_from_counts(task_format, ca.sum(0)) - metric_from_counts(task_format, cb.sum(0))
    return {"delta": delta, "ci_low": float(lo), "ci_high": float(hi)}


class Clock:
    """Wall and process CPU time of a block: cpu/wall tells how many cores the measurement really got."""

    def __enter__(self) -> Clock:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self.wall0
        self.cpu = time.process_time() - self.cpu0


def seed_all(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
