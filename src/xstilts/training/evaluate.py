"""The evaluation loop, one for every task format: batches sorted by length, under inference mode (no autograd
records at all), with the Linear layers' weights cast to bf16 once per call instead of once per batch (the
predictions are bit-identical to autocast's), and on a GPU padded to static length buckets
(xstilts.training.buckets) so that a compiled encoder replays a few captured shapes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from xstilts.formats import Feature
from xstilts.tasks.definition import TaskDef
from xstilts.tasks.examples import Example
from xstilts.training import feature_cache
from xstilts.training.device import captures_graphs
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
    limit = max((f.length for f in features), default=0) if captures_graphs(device) else None
    predictions: list[Any] = [None] * len(features)
    weights = linear_weights_in_bf16(model) if bf16 else {}
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = model.batch([features[i] for i in chunk], pad_id, limit)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = functional_call(model, weights, (batch,)) if weights else model(batch)
        for i, prediction in zip(chunk, model.fmt.decode(logits.float(), batch, task), strict=True):
            predictions[i] = prediction
    model.train(was_training)
    return predictions


def linear_weights_in_bf16(model: nn.Module) -> dict[str, torch.Tensor]:
    """The fp32 weights and biases of `model`'s Linear layers in bf16, by name: exactly what autocast casts for
    each Linear call of every batch (XLM-R Large: 300M weights and ~150 cast kernels a batch), done once.
    Embeddings and LayerNorm are not Linear and stay fp32, as autocast keeps them; so do tensors shared under
    several names (a decoder tied to the embeddings), which may be read by ops that autocast does not cast."""
    uses = Counter(id(p) for _, p in model.named_parameters(remove_duplicate=False))
    weights = {}
    for prefix, module in model.named_modules():
        if isinstance(module, nn.Linear):
            for name, param in module.named_parameters(recurse=False):
                if uses[id(param)] == 1 and param.dtype == torch.float32:
                    weights[f"{prefix}.{name}" if prefix else name] = param.detach().to(torch.bfloat16)
    return weights


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
