"""What keeps a CPU run's memory small changes no result: recomputed layers give the same weights, lazily
resident optimizer moments are zeros."""

from __future__ import annotations

import pytest
import torch

from tests.training.test_training import synthetic_pairs, tiny
from xstilts.spec import TrainConfig
from xstilts.training import recompute
from xstilts.training.lazy_adamw import untouched_zeros
from xstilts.training.train import train

CONFIG = TrainConfig(learning_rate=3e-3, batch_size=16, max_steps=4, freeze_embeddings=False)


def _trained(tiny_model_dir, monkeypatch, budget: int, bf16: bool) -> tuple[dict[str, torch.Tensor], list[bool]]:
    model, tokenizer, task = tiny(tiny_model_dir)
    features = model.fmt.encode(synthetic_pairs(64, 1), tokenizer, task, 64)
    used: list[bool] = []
    inner = recompute.recomputed

    def spy(encoder, input_ids, budget_=None):  # noqa: ANN001, ANN202
        context = inner(encoder, input_ids, budget)

        class Recorded:
            def __enter__(self):  # noqa: ANN204
                used.append(context.__enter__())
                return used[-1]

            def __exit__(self, *exc):  # noqa: ANN002, ANN204
                return context.__exit__(*exc)

        return Recorded()

    monkeypatch.setattr("xstilts.training.train.recomputed", spy)
    train(model, features, CONFIG, 0, tokenizer.pad_token_id, bf16=bf16)
    return {k: v.clone() for k, v in model.state_dict().items()}, used


@pytest.mark.parametrize("bf16", [False, True], ids=["fp32", "bf16-autocast"])
def test_recomputed_layers_train_bit_identical_weights(tiny_model_dir, monkeypatch, bf16):
    plain, used_plain = _trained(tiny_model_dir, monkeypatch, 2**62, bf16)
    again, used_again = _trained(tiny_model_dir, monkeypatch, 0, bf16)
    assert used_plain == [False] * 4 and used_again == [True] * 4
    assert plain.keys() == again.keys()
    changed = [k for k in plain if not torch.equal(plain[k], again[k])]
    assert changed == []


def test_recompute_restores_the_layers_forward(tiny_model_dir):
    model, _, _ = tiny(tiny_model_dir)
    layers = recompute.encoder_layers(model.encoder)
    assert layers is not None and len(layers) == 2
    ids = torch.ones(4, 8, dtype=torch.long)
    with recompute.recomputed(model.encoder, ids, budget=0) as used:
        assert used and all("forward" in layer.__dict__ for layer in layers)
    assert not any("forward" in layer.__dict__ for layer in layers)
    with torch.no_grad(), recompute.recomputed(model.encoder, ids, budget=0) as used:
        assert not used  # nothing to recompute without a backward pass


def test_the_budget_grows_with_batch_and_length(tiny_model_dir):
    config = tiny(tiny_model_dir)[0].encoder.config
    assert recompute.activation_bytes(config, 32, 128) > 2 * recompute.activation_bytes(config, 32, 64)
    assert recompute.activation_bytes(config, 64, 64) == 2 * recompute.activation_bytes(config, 32, 64)


def test_untouched_zeros_are_writable_zeros():
    param = torch.randn(1000, 16)
    zeros = untouched_zeros(param)
    assert zeros.shape == param.shape and zeros.dtype == param.dtype and not zeros.any()
    zeros.index_copy_(0, torch.tensor([3, 999]), torch.ones(2, 16))
    assert zeros.sum() == 32 and zeros[3].eq(1).all()
