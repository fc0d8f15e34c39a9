"""LazyAdamW against torch's dense AdamW: the same weights after many steps with random sparse row sets."""

from __future__ import annotations

import pytest
import torch

from xstilts.training.lazy_adamw import LazyAdamW, horizon


def _run(
    lazy: bool, steps: int, weight_decay: float, schedule: bool, idle_from: int | None = None, sparse: bool = False
) -> list:
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(64, 8)
    table = embedding.weight
    table.data = torch.randn(64, 8) * 0.1
    bias = torch.nn.Parameter(torch.zeros(8))
    groups = [
        {"params": [table], "weight_decay": weight_decay, "lazy": lazy},
        {"params": [bias], "weight_decay": 0.0},
    ]
    if lazy:
        optimizer = LazyAdamW(groups, lr=1e-2)
        optimizer.watch(embedding, sparse=sparse)
    else:
        optimizer = torch.optim.AdamW(groups, lr=1e-2, foreach=False)
    lr_at = (lambda s: min(1.0, (s + 1) / 5) * max(0.0, 1 - s / steps)) if schedule else (lambda s: 1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    rows = torch.Generator().manual_seed(1)
    for step in range(steps):
        # A few rows per step; rows 0-3 often, the rest rarely, and after idle_from only rows 0-3.
        count = int(torch.randint(1, 6, (1,), generator=rows))
        touched = torch.randint(0, 4 if idle_from is not None and step >= idle_from else 64, (count,), generator=rows)
        looked_up = embedding(touched)
        loss = (looked_up * torch.randn(count, 8, generator=rows)).sum() + (bias * looked_up.sum(0)).sum()
        loss.backward()
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if lazy and step == steps // 2:
            optimizer.flush()  # a flush midway (evaluation) must not change what follows
    if lazy:
        optimizer.flush()
    return [table.detach().clone(), bias.detach().clone()]


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
@pytest.mark.parametrize("schedule", [False, True])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense-grad", "sparse-grad"])
def test_lazy_adamw_gives_dense_adamw_weights(weight_decay: float, schedule: bool, sparse: bool) -> None:
    dense = _run(False, 150, weight_decay, schedule)
    lazy = _run(True, 150, weight_decay, schedule, sparse=sparse)
    for want, got in zip(dense, lazy, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    start = torch.randn(64, 8, generator=torch.Generator().manual_seed(0)) * 0.1
    assert not torch.allclose(dense[0], start, atol=1e-3)  # it did train


def test_rows_idle_past_the_horizon_stay_within_its_bound() -> None:
    assert horizon(0.9, 0.999) == 199
    dense = _run(False, 600, 0.01, True, idle_from=100)  # most rows idle for 500 steps, > the horizon
    lazy = _run(True, 600, 0.01, True, idle_from=100)
    torch.testing.assert_close(lazy[0], dense[0], rtol=1e-5, atol=1e-6)


def test_untouched_rows_are_not_read_until_flush() -> None:
    table = torch.nn.Parameter(torch.ones(10, 2))
    optimizer = LazyAdamW([{"params": [table], "lazy": True}], lr=0.1, weight_decay=0.5)
    table[:2].sum().backward()
    optimizer.step()
    assert torch.equal(table.data[2:], torch.ones(8, 2))  # weight decay of the other rows is deferred
    optimizer.flush()
    torch.testing.assert_close(table.data[2:], torch.full((8, 2), 0.95))


@pytest.mark.parametrize("sparse", [False, True], ids=["dense-grad", "sparse-grad"])
def test_a_matrix_also_read_outside_its_lookups_stays_exact(sparse: bool) -> None:
    # A tied output layer (the MLM head) reads every row: the optimizer notices and steps the matrix densely
    # (with sparse lookups, autograd sums the lookups' sparse gradient and the layer's dense one into a dense one).
    def run(lazy: bool) -> torch.Tensor:
        torch.manual_seed(0)
        embedding = torch.nn.Embedding(32, 4)
        if lazy:
            optimizer = LazyAdamW([{"params": [embedding.weight], "lazy": True}], lr=1e-2)
            optimizer.watch(embedding, sparse=sparse)
        else:
            optimizer = torch.optim.AdamW([embedding.weight], lr=1e-2, foreach=False)
        for step in range(20):
            ids = torch.tensor([step % 5, 7])
            logits = embedding(ids) @ embedding.weight.T
            torch.nn.functional.cross_entropy(logits, torch.tensor([1, 2])).backward()
            optimizer.step()
            optimizer.zero_grad()
        if lazy:
            assert optimizer.state[embedding.weight]["dense"]
            optimizer.flush()
        return embedding.weight.detach()

    torch.testing.assert_close(run(True), run(False), rtol=1e-5, atol=1e-6)


def test_the_missed_steps_sum_agrees_with_term_by_term_in_both_regimes() -> None:
    from xstilts.training.lazy_adamw import _sum_of_ratios

    generator = torch.Generator().manual_seed(0)
    a = torch.rand(5, 40, generator=generator, dtype=torch.float64) * 1e-3
    b = 0.5 + torch.rand(5, 40, generator=generator, dtype=torch.float64)
    q = 10.0 ** -(4 + 6 * torch.rand(5, 7, generator=generator, dtype=torch.float64))  # sqrt(v): 1e-4 .. 1e-10
    q[0, 0] = 0.0
    eps = 1e-8
    want = (a[:, :, None] / (b[:, :, None] * q[:, None, :] + eps)).sum(1)
    torch.testing.assert_close(_sum_of_ratios(a, b, q, eps), want, rtol=1e-10, atol=0.0)


def test_dense_groups_follow_the_schedule_after_a_state_dict_round_trip() -> None:
    # accelerate's prepare() round-trips the optimizer's state dict, which replaces the group dicts.
    weight = torch.nn.Parameter(torch.ones(3))
    optimizer = LazyAdamW([{"params": [weight]}], lr=1.0, weight_decay=0.0)
    optimizer.load_state_dict(optimizer.state_dict())
    optimizer.param_groups[0]["lr"] = 0.0
    weight.sum().backward()
    optimizer.step()
    assert torch.equal(weight.data, torch.ones(3))  # lr 0: no move


def test_watch_gives_sparse_lookups_until_removed() -> None:
    embedding = torch.nn.Embedding(50, 4)
    optimizer = LazyAdamW([{"params": [embedding.weight], "lazy": True}], lr=1e-2)
    handle = optimizer.watch(embedding, sparse=True)
    embedding(torch.tensor([3, 3, 7])).sum().backward()
    grad = embedding.weight.grad
    assert grad.is_sparse and sorted(grad.coalesce().indices()[0].tolist()) == [3, 7]
    handle.remove()
    assert not embedding.sparse and not embedding._forward_pre_hooks


def test_clipping_a_sparse_gradient_gives_torchs_dense_result() -> None:
    from xstilts.training.clipping import clip_grad_norm

    def grads(sparse: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        torch.manual_seed(0)
        embedding, linear = torch.nn.Embedding(40, 6, sparse=sparse), torch.nn.Linear(6, 3)
        (linear(embedding(torch.tensor([[1, 2, 2], [9, 1, 30]]))) ** 2).sum().backward()
        params = [embedding.weight, linear.weight, linear.bias]
        clip = clip_grad_norm if sparse else torch.nn.utils.clip_grad_norm_
        norm = clip(params, 0.5)
        return norm, [p.grad.to_dense() if p.grad.is_sparse else p.grad for p in params]

    (want_norm, want), (got_norm, got) = grads(False), grads(True)
    torch.testing.assert_close(got_norm, want_norm)
    assert float(want_norm) > 0.5  # the clip did scale
    for w, g in zip(want, got, strict=True):
        torch.testing.assert_close(g, w)


def test_training_with_sparse_lazy_embeddings_gives_dense_adamws_model(tiny_model_dir, monkeypatch) -> None:
    # The whole CPU loop (sparse lookups, clipping the sparse gradient, LazyAdamW, flush at the end) against the
    # same loop with torch's dense AdamW over every weight.
    from tests.training.test_training import CONFIG, synthetic_pairs, tiny
    from xstilts.training import train as train_module
    from xstilts.training.optimizer import param_groups

    def trained(dense: bool) -> dict[str, torch.Tensor]:
        model, tokenizer, task = tiny(tiny_model_dir)
        if dense:

            def adamw(model, weight_decay, lr, device, embedding):  # noqa: ANN001, ANN202
                return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, foreach=False), None

            monkeypatch.setattr(train_module, "build_optimizer", adamw)
        sparse_seen = []
        words = model.encoder.get_input_embeddings()
        words.weight.register_hook(lambda grad: sparse_seen.append(grad.is_sparse))
        config = CONFIG.model_copy(update={"max_steps": 8, "weight_decay": 0.01, "max_grad_norm": 0.05})
        features = model.fmt.encode(synthetic_pairs(96, 1), tokenizer, task, 64)
        train_module.train(model, features, config, 0, tokenizer.pad_token_id, bf16=False)
        assert sparse_seen and set(sparse_seen) == {not dense} and not words.sparse
        return {k: v.clone() for k, v in model.state_dict().items()}

    got = trained(False)
    want = trained(True)  # after: the patched optimizer stays for the rest of the test
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-6, msg=name)
