"""The compiled (CUDA-graph) training path's invariants, as far as a CPU shows them: the compiler's backend is
"aot_eager" (dynamo's tracing, guards and autograd as on a GPU, no graphs recorded), so what is checked here is
what the loop does around the graphs: gradient buffers the parameters own, counted skips and re-recordings,
evaluation outside the compiled region and without bucket padding, best-dev weights copied off the device, one
working encoder per process, and clipping folded into the fused step."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

import xstilts.training.evaluate as evaluate_module
import xstilts.training.graphs as graphs
import xstilts.training.train as loop
from tests.training.test_training import synthetic_pairs, tiny
from xstilts.spec import TrainConfig
from xstilts.training.clipping import clip_in_step
from xstilts.training.lazy_adamw import LazyAdamW
from xstilts.training.reuse import EncoderSlots


@pytest.fixture
def compiled_on_cpu(monkeypatch):
    """The loop's GPU path (buckets, the encoder compiled, stable gradients, lazy rows told by the loop) on the CPU."""
    import torch._dynamo

    torch._dynamo.reset()
    monkeypatch.setattr(loop, "captures_graphs", lambda device: True)
    monkeypatch.setattr(graphs, "COMPILE_OPTIONS", {"backend": "aot_eager"})
    yield
    torch._dynamo.reset()


def _no_dropout(model) -> None:  # dropout draws depend on the padded shape: compare without it
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    model.encoder.config.attention_probs_dropout_prob = 0.0


def _run(tiny_model_dir, config: TrainConfig, seen: list | None = None, **kwargs):
    model, tokenizer, task = tiny(tiny_model_dir)
    _no_dropout(model)
    features = model.fmt.encode(synthetic_pairs(64, 1), tokenizer, task, 64)
    if seen is not None:  # each micro-batch, before its forward reaches the head: the encoder's gradient buffers
        params = [p for p in model.encoder.parameters() if p.requires_grad]

        def look(module, args) -> None:  # noqa: ANN001
            if torch.is_grad_enabled():
                seen.append([(p.grad is not None, p.grad.data_ptr() if p.grad is not None else 0) for p in params])

        model.head.register_forward_pre_hook(look)
    report = loop.train(model, features, config, 0, tokenizer.pad_token_id, bf16=False, **kwargs)
    return report, model


ACCUMULATE = TrainConfig(learning_rate=3e-3, batch_size=8, grad_accum_steps=2, max_steps=4)


def test_gradient_buffers_are_owned_and_kept_across_micro_batches_and_steps(tiny_model_dir, compiled_on_cpu) -> None:
    # Under CUDA graphs a parameter without .grad adopts the backward's graph-owned output, which the next replay
    # overwrites (pytorch issue 169545): every micro-batch must add into the same buffer the parameter owns.
    # Fails on the loop that zeroed with set_to_none=True: the first micro-batch of every step found no buffer.
    seen: list = []
    report, model = _run(tiny_model_dir, ACCUMULATE, seen)
    assert report.steps == 4 and len(seen) == 8  # 4 steps x 2 micro-batches
    assert all(present for micro in seen for present, _ in micro)
    assert len({tuple(ptr for _, ptr in micro) for micro in seen}) == 1  # the same buffers throughout
    assert all(p.grad is None for p in model.parameters())  # given back after the stage


def test_the_compiled_path_accumulates_and_steps_lazy_rows_like_eager(tiny_model_dir, monkeypatch) -> None:
    # Trained word embeddings: eager, the CPU's lazy rows with sparse lookups; compiled, the same lazy rows told by
    # the loop from each batch's ids, with a dense gradient in the stable buffer.
    eager_report, eager = _run(tiny_model_dir, ACCUMULATE)
    with monkeypatch.context() as patch:
        import torch._dynamo

        torch._dynamo.reset()
        patch.setattr(loop, "captures_graphs", lambda device: True)
        patch.setattr(graphs, "COMPILE_OPTIONS", {"backend": "aot_eager"})
        graph_report, compiled = _run(tiny_model_dir, ACCUMULATE)
    assert graph_report.final_loss == pytest.approx(eager_report.final_loss, rel=1e-4)
    weights = compiled.state_dict()
    for name, tensor in eager.state_dict().items():
        torch.testing.assert_close(weights[name], tensor, rtol=1e-3, atol=1e-5, msg=name)


def test_graph_counters_are_recorded_with_the_stage_and_a_skip_warns(tiny_model_dir, compiled_on_cpu) -> None:
    from torch._dynamo.utils import counters

    counters["inductor"]["cudagraph_skips"] += 5  # an earlier stage's skips are not this one's

    def skip() -> float:  # a graph skipped during the stage, as inductor counts it
        counters["inductor"]["cudagraph_skips"] += 1
        return 0.0

    config = TrainConfig(learning_rate=1e-3, batch_size=16, max_steps=2, selection="best_dev", epochs=1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report, _ = _run(tiny_model_dir, config, dev_score=skip, label="sick [abc]")
    keys = {"compiled_graphs", "graph_breaks", "cudagraph_skips", "cudagraph_recordings", "cudagraph_rerecords"}
    assert set(report.graphs) == keys
    assert report.graphs["cudagraph_skips"] == 1 and report.graphs["compiled_graphs"] >= 1
    # Trained embeddings: the lazy rows are told by the loop, no hook inside the compiled encoder to break it
    # (the CPU's lookup hook broke the graph at its nonzero before).
    assert report.graphs["graph_breaks"] == 0
    lines = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(lines) == 1 and lines[0].startswith("sick [abc]: CUDA graphs: 1 skipped") and "\n" not in lines[0]


def test_the_eager_path_records_no_graph_counters(tiny_model_dir) -> None:
    report, _ = _run(tiny_model_dir, TrainConfig(learning_rate=1e-3, batch_size=16, max_steps=1))
    assert report.graphs == {}


def test_dev_evaluation_runs_outside_the_compiled_encoder_without_bucket_padding(
    tiny_model_dir, compiled_on_cpu, monkeypatch
) -> None:
    # Fails on the loop that evaluated inside the compiled region (a second compile, graphs per width) and on
    # the evaluation that padded its batches to 32-token buckets on a GPU.
    monkeypatch.setattr(evaluate_module, "captures_graphs", lambda device: True, raising=False)
    model, tokenizer, task = tiny(tiny_model_dir)
    features = model.fmt.encode(synthetic_pairs(32, 1), tokenizer, task, 64)  # 2 steps an epoch
    dev = model.fmt.encode(synthetic_pairs(24, 2), tokenizer, task, 64)
    states, widths = [], []
    batch = type(model).batch

    def spy(self, items, pad_id, limit=None):  # noqa: ANN001, ANN202
        out = batch(self, items, pad_id, limit)
        widths.append((out["input_ids"].shape[-1], max(f.length for f in items)))
        return out

    def score() -> float:
        states.append(model.encoder._compiled_call_impl)
        evaluate_module.predict(model, task, dev, 8, tokenizer.pad_token_id, False)
        return 1.0

    monkeypatch.setattr(type(model), "batch", spy)
    config = TrainConfig(learning_rate=1e-3, batch_size=16, max_steps=4, selection="best_dev", epochs=2.0)
    loop.train(model, features, config, 0, tokenizer.pad_token_id, bf16=False, dev_score=score)
    assert states == [None, None]  # both epochs' checks ran the plain forward
    assert widths and all(width == longest for width, longest in widths)  # padded to its own longest only
    lengths = [w for _, w in widths]
    calls = [lengths[i : i + 3] for i in range(0, len(lengths), 3)]  # 24 dev features in batches of 8, per check
    assert len(calls) == 2 and all(call == sorted(call) for call in calls)  # length-sorted


def test_best_dev_keeps_only_the_trained_tensors_off_the_device(tiny_model_dir, monkeypatch) -> None:
    # Fails on the selection that deep-copied the whole state where it lives (+43 GB on a GPU for a 10.7B stage).
    kept: list[dict] = []
    keep = loop._keep_best

    def spy(best, score, model, report):  # noqa: ANN001, ANN202
        best = keep(best, score, model, report)
        kept.append(best[1])
        return best

    monkeypatch.setattr(loop, "_keep_best", spy)
    scores = iter([2.0, 1.0])  # the first epoch is the best
    model, tokenizer, task = tiny(tiny_model_dir)
    features = model.fmt.encode(synthetic_pairs(64, 1), tokenizer, task, 64)
    first: dict[str, torch.Tensor] = {}

    def score() -> float:
        if not first:
            first.update({k: v.clone() for k, v in model.state_dict().items()})
        return next(scores)

    config = TrainConfig(
        learning_rate=3e-3, batch_size=16, max_steps=8, selection="best_dev", epochs=2.0, freeze_embeddings=True
    )
    report = loop.train(model, features, config, 0, tokenizer.pad_token_id, bf16=False, dev_score=score)
    trainable = {name for name, p in model.named_parameters() if p.requires_grad and "word_embeddings" not in name}
    assert {name.removeprefix("task.") for name in kept[0]} == trainable  # not the frozen word embeddings
    assert all(t.device.type == "cpu" for t in kept[0].values())
    assert report.selected.startswith("best_dev (epoch 1")
    for name, tensor in model.state_dict().items():  # the best epoch's weights, every one of them
        torch.testing.assert_close(tensor, first[name], rtol=0, atol=0, msg=name)


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))


def test_one_working_encoder_is_reused_by_every_training_stage(tiny_model_dir) -> None:
    # Fails on the stage execution that gave every stage a new encoder (a deep copy: new weight addresses, so
    # every stage recorded its CUDA graphs again).
    slots = EncoderSlots()
    first, _, _ = tiny(tiny_model_dir, seed=0)
    working = slots.start(first.encoder)
    addresses = [p.data_ptr() for p in working.parameters()]
    with torch.no_grad():
        for p in working.parameters():
            p.add_(0.5)  # "training"
    held = slots.hold(working)
    assert held is not working and _same(held, working)
    second, _, _ = tiny(tiny_model_dir, seed=1)  # a new stage from other weights (a checkpoint, say)
    again = slots.start(second.encoder)
    assert again is working and [p.data_ptr() for p in again.parameters()] == addresses
    for a, b in zip(again.state_dict().values(), second.encoder.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    child = slots.start(held)  # a child of the held stage: its weights, into the same module
    assert child is working and _same(child, held)
    assert slots.hold(child) is held  # held apart again, into the same held module
    other = copy.deepcopy(second.encoder)
    other.config.hidden_act = "relu"  # another architecture: it becomes the working encoder itself
    assert slots.start(other) is other


def test_train_stages_of_one_process_train_in_the_same_module(monkeypatch) -> None:
    import xstilts.experiment.execute as execute

    monkeypatch.setattr(execute, "captures_graphs", lambda device: True)
    ctx = type("Ctx", (), {"parallel": None, "slots": EncoderSlots()})()
    encoder = torch.nn.Linear(3, 3)
    ctx.trained = None
    for stage in range(3):
        starting = torch.nn.Linear(3, 3)
        monkeypatch.setattr(execute, "_starting_encoder", lambda c, s, e=starting: (e, {"encoder": "x", "heads": {}}))
        got, _ = execute._encoder(ctx, object.__new__(execute.TrainStage))
        if stage == 0:
            encoder = got
        assert got is encoder and torch.equal(got.weight, starting.weight)


def test_clipping_folded_into_the_fused_step_gives_the_clipped_step() -> None:
    def model() -> torch.nn.Module:
        torch.manual_seed(0)
        return torch.nn.Sequential(torch.nn.Embedding(50, 8), torch.nn.Linear(8, 4))

    def step(fold: bool, lazy: bool) -> list[torch.Tensor]:
        net = model()
        params = [{"params": [net[1].weight, net[1].bias]}]
        params.append({"params": [net[0].weight], "lazy": True} if lazy else {"params": [net[0].weight]})
        opt = LazyAdamW(params, lr=0.1, fused=True) if lazy else torch.optim.AdamW(params, lr=0.1, fused=True)
        for i in range(3):
            ids = torch.tensor([[1, 2, 3], [3, 4, 5 + i]])
            if lazy:
                opt.before_read(net[0].weight, ids.reshape(-1).unique())
            (net(ids).sum() * 100).backward()  # norms far above max_norm: the clip scales
            if fold:
                clip_in_step(opt, net.parameters(), 1.0)
            else:
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=False)
        if lazy:
            opt.flush()
        return [p.detach().clone() for p in net.parameters()]

    for lazy in (False, True):
        for folded, clipped in zip(step(True, lazy), step(False, lazy), strict=True):
            torch.testing.assert_close(folded, clipped, rtol=1e-5, atol=1e-6)
    assert not torch.equal(step(True, False)[1], model()[1].weight.detach())  # the step moved the weights
