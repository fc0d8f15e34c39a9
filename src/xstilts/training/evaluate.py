"""The evaluation loop, one for every task format: batches sorted by length, under inference mode (no autograd
records at all), on a GPU with the Linear layers' weights cast to bf16 once per call instead of once per batch by
autocast (the predictions are bit-identical). Evaluation runs the plain (uncompiled) encoder, also the best-dev
checks inside a training stage (xstilts.training.graphs.compiled's `outside`), so its batches are padded only to
their own longest feature: sorted by length, they need no static buckets (those padded PAN-X's dev set to about
twice its tokens)."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from xstilts.formats import Feature
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import Example
from xstilts.training import feature_cache
from xstilts.training.device import casts_weights_once
from xstilts.training.task_model import TaskModel


@torch.inference_mode()
def predict(
    model: TaskModel, task: TaskDef, features: Sequence[Feature], batch_size: int, pad_id: int, bf16: bool
) -> list[Any]:
    """One prediction per feature, in the order of `features`. Sorting by length keeps padding small."""
    was_training = model.training
    model.eval()
    device = next(model.encoder.parameters()).device
    order = sorted(range(len(features)), key=lambda i: features[i].length)
    predictions: list[Any] = [None] * len(features)
    once = bf16 and casts_weights_once(device)
    with linear_weights_in_bf16(model) if once else contextlib.nullcontext():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = model.batch([features[i] for i in chunk], pad_id)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                logits = model(batch)
            for i, prediction in zip(chunk, model.fmt.decode(logits.float(), batch, task), strict=True):
                predictions[i] = prediction
    model.train(was_training)
    return predictions


@contextlib.contextmanager
def linear_weights_in_bf16(model: nn.Module) -> Iterator[int]:
    """Within the block, `model`'s Linear layers hold bf16 copies of their fp32 weights and biases: exactly what
    autocast would cast for each Linear call of every batch (XLM-R Large: 300M weights in ~300 cast kernels a
    batch), cast once. The fp32 tensors are put back after, unchanged. Embeddings and LayerNorm are not Linear
    and stay fp32, as autocast keeps them; so do tensors shared under several names (a decoder tied to the
    embeddings), which ops that autocast does not cast may read. Yields the number of tensors swapped."""
    uses = Counter(id(p) for _, p in model.named_parameters(remove_duplicate=False))
    swapped: list[tuple[nn.Module, str, nn.Parameter]] = []
    try:
        for module in model.modules():
            if isinstance(module, nn.Linear):
                for name, param in list(module.named_parameters(recurse=False)):
                    if uses[id(param)] == 1 and param.dtype == torch.float32:
                        swapped.append((module, name, param))
                        setattr(module, name, nn.Parameter(param.detach().to(torch.bfloat16), requires_grad=False))
        yield len(swapped)
    finally:
        for module, name, param in swapped:
            setattr(module, name, param)


def evaluate(
    model: TaskModel,
    task: TaskDef,
    examples: Sequence[Example],
    lang: str,
    tokenizer: Any,
    max_length: int,
    batch_size: int,
    bf16: bool,
) -> tuple[list[Any], dict[str, float]]:
    """Per-example predictions and the task's metrics for one language."""
    fmt = model.fmt
    features = feature_cache.encode(fmt, examples, tokenizer, task, max_length)
    predictions = fmt.aggregate(
        predict(model, task, features, batch_size, tokenizer.pad_token_id, bf16), features, examples
    )
    return predictions, fmt.score(predictions, examples, task, lang)
