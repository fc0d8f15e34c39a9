"""bf16 weight casts: evaluation casts the Linear weights once per call and gives autocast's exact logits;
training with gradient accumulation casts them once per optimizer step, not once per micro-batch."""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from tests.training.test_training import CONFIG, synthetic_pairs, tiny
from xstilts.training.evaluate import linear_weights_in_bf16, predict
from xstilts.training.train import train


class CastCounter(TorchDispatchMode):
    """Counts fp32 -> bf16 copies of tensors shaped like one of `shapes` (the Linear weights and biases)."""

    def __init__(self, shapes: set[tuple[int, ...]]):
        super().__init__()
        self.shapes, self.casts = shapes, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        # autocast's casts arrive as aten.to.dtype(tensor, dtype); Tensor.to(dtype) as aten._to_copy(dtype=)
        to_bf16 = (func is torch.ops.aten.to.dtype and args[1] == torch.bfloat16) or (
            func is torch.ops.aten._to_copy.default and kwargs.get("dtype") == torch.bfloat16
        )
        if to_bf16 and args[0].dtype == torch.float32 and tuple(args[0].shape) in self.shapes:
            self.casts += 1
        return func(*args, **kwargs)


def _linear_shapes(model: torch.nn.Module) -> tuple[set[tuple[int, ...]], int]:
    params = [p for m in model.modules() if isinstance(m, torch.nn.Linear) for p in m.parameters(recurse=False)]
    return {tuple(p.shape) for p in params}, len(params)


def test_evaluation_in_bf16_gives_autocasts_logits_exactly(tiny_model_dir):
    model, tokenizer, task = tiny(tiny_model_dir)
    model.eval()
    features = model.fmt.encode(synthetic_pairs(24, 3), tokenizer, task, 64)
    batch = model.batch(features, tokenizer.pad_token_id)
    before = {name: p for name, p in model.named_parameters()}
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected = model(batch)
        with linear_weights_in_bf16(model) as swapped:
            linear = model.head.out_proj.weight
            assert swapped > 0 and linear.dtype == torch.bfloat16
            assert model.encoder.get_input_embeddings().weight.dtype == torch.float32  # not Linear: stays fp32
            got = model(batch)
    assert torch.equal(expected, got)
    after = dict(model.named_parameters())
    assert all(after[name] is param for name, param in before.items())  # the fp32 tensors themselves, back


@pytest.mark.parametrize("once", [True, False], ids=["gpu-choice", "cpu-choice"])
def test_evaluation_casts_each_linear_weight_once_where_the_device_asks(tiny_model_dir, monkeypatch, once):
    from xstilts.training import evaluate

    monkeypatch.setattr(evaluate, "casts_weights_once", lambda device: once)  # the choice a GPU makes, on CPU
    model, tokenizer, task = tiny(tiny_model_dir)
    features = model.fmt.encode(synthetic_pairs(40, 4), tokenizer, task, 64)
    shapes, n_linear = _linear_shapes(model)
    with CastCounter(shapes) as counter:
        predictions = predict(model, task, features, 8, tokenizer.pad_token_id, bf16=True)  # 5 batches
    assert counter.casts == (n_linear if once else 5 * n_linear)
    assert len(predictions) == 40 and all(p.dtype == torch.float32 for p in model.parameters())


def test_a_tied_linear_weight_is_left_to_autocast(tiny_model_dir):
    model, _, _ = tiny(tiny_model_dir)
    linear = model.head.out_proj
    model.head.tied = torch.nn.Linear(linear.in_features, linear.out_features)
    model.head.tied.weight = linear.weight  # one tensor under two names
    with linear_weights_in_bf16(model):
        assert model.head.out_proj.weight.dtype == torch.float32 and model.head.out_proj.bias.dtype == torch.bfloat16


def test_gradient_accumulation_casts_the_weights_once_per_optimizer_step(tiny_model_dir):
    model, tokenizer, task = tiny(tiny_model_dir)
    features = model.fmt.encode(synthetic_pairs(64, 1), tokenizer, task, 64)
    shapes, n_linear = _linear_shapes(model)
    config = CONFIG.model_copy(update={"batch_size": 4, "grad_accum_steps": 4, "max_steps": 3})
    with CastCounter(shapes) as counter:
        report = train(model, features, config, 0, tokenizer.pad_token_id, bf16=True)
    assert (report.steps, report.batches["task"]) == (3, 12)
    assert counter.casts == 3 * n_linear  # 12 micro-batches, 3 steps
