"""Static length buckets (the GPU path, tested here on CPU) and LoRA adapter stages on a tiny encoder."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from tests.training.test_training import synthetic_pairs, tiny
from xstilts.spec import AdapterSpec, TrainConfig, parse_spec
from xstilts.training.buckets import bucket_width, pad_to_bucket
from xstilts.training.evaluate import predict
from xstilts.training.train import train


def test_bucket_width_rounds_up_to_a_multiple_within_the_limit() -> None:
    assert [bucket_width(w, 128) for w in (1, 32, 33, 64, 100, 128)] == [32, 32, 64, 64, 128, 128]
    assert bucket_width(100, 110) == 110  # never past the limit ...
    assert bucket_width(140, 128) == 140  # ... and never narrower than the batch
    assert len({bucket_width(w, 128) for w in range(1, 129)}) == 4


def test_padding_to_a_bucket_keeps_masks_and_ignored_labels() -> None:
    batch = {
        "input_ids": torch.tensor([[5, 6, 7], [5, 6, 1]]),
        "attention_mask": torch.tensor([[1, 1, 1], [1, 1, 0]]),
        "labels": torch.tensor([[0, 2, -100], [1, -100, -100]]),
        "start": torch.tensor([0, 1]),
    }
    padded = pad_to_bucket(batch, pad_id=1, limit=64, bucket=8)
    assert padded["input_ids"].shape == (2, 8)
    assert padded["input_ids"][0].tolist() == [5, 6, 7, 1, 1, 1, 1, 1]
    assert padded["attention_mask"].sum().item() == 5
    assert padded["labels"][1].tolist() == [1] + [-100] * 7
    assert padded["start"] is batch["start"]
    unknown = {**batch, "other": torch.zeros(2, 3)}  # a per-token tensor whose padding is not known: left as is
    assert pad_to_bucket(unknown, 1, 64, 8) is unknown


@pytest.mark.parametrize("fmt_name", ["classification", "tagging"])
def test_bucketed_batches_give_the_same_outputs(tiny_model_dir, fmt_name: str) -> None:
    from xstilts.formats import Feature

    model, tokenizer, task = tiny(tiny_model_dir)
    model.eval()
    if fmt_name == "classification":
        features = model.fmt.encode(synthetic_pairs(8, 3), tokenizer, task, 64)
    else:
        from xstilts.formats import make_format
        from xstilts.formats.tagging import WordLabels
        from xstilts.tasks import get_task

        task, fmt = get_task("panx"), make_format("tagging")
        model = type(model)(model.encoder, fmt.make_head(model.encoder.config, task), fmt).eval()
        features = [
            Feature([0, 10 + i, 20, 30, 2][: 3 + i % 3], WordLabels((0, 1, -100, 2)[: 2 + i % 2], 2), 3 + i % 3)
            for i in range(6)
        ]
    plain = model.batch(features, tokenizer.pad_token_id)
    bucketed = model.batch(features, tokenizer.pad_token_id, bucket_limit=64)
    assert bucketed["input_ids"].shape[-1] == 32 != plain["input_ids"].shape[-1]
    with torch.no_grad():
        a, b = model(plain), model(bucketed)
        torch.testing.assert_close(b[..., : a.shape[1], :] if a.ndim == 3 else b, a, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(model.fmt.loss(b, bucketed), model.fmt.loss(a, plain), rtol=1e-4, atol=1e-5)


LORA = TrainConfig(learning_rate=3e-3, batch_size=16, max_steps=6, adapter=AdapterSpec(r=4, alpha=8))


def test_a_lora_stage_trains_only_adapter_and_head_and_merges(tiny_model_dir) -> None:
    model, tokenizer, task = tiny(tiny_model_dir)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    merged: dict[str, torch.Tensor] = {}

    def capture() -> float:  # runs inside the stage, while the adapter is in place
        for name, module in model.encoder.named_modules():
            if hasattr(module, "lora_A"):
                delta = module.lora_B["default"].weight @ module.lora_A["default"].weight
                merged[name] = module.base_layer.weight + delta * module.scaling["default"]
        return 0.0

    config = LORA.model_copy(update={"selection": "best_dev", "epochs": 1.0, "max_steps": 6})
    features = model.fmt.encode(synthetic_pairs(96, 1), tokenizer, task, 64)
    report = train(model, features, config, 0, tokenizer.pad_token_id, bf16=False, dev_score=capture)
    after = model.state_dict()
    assert after.keys() == before.keys()  # the peft layers are gone: a plain encoder again
    changed = {k for k in after if not torch.equal(after[k], before[k])}
    targets = {f"{name}.weight" for name in merged}
    assert targets and {k.removeprefix("encoder.") for k in changed if k.startswith("encoder.")} == targets
    assert any(k.startswith("head.") for k in changed)
    for name, weight in merged.items():  # W + (alpha / r) B A, as it was at the end of training
        torch.testing.assert_close(after[f"encoder.{name}.weight"], weight)
    assert all(p.requires_grad for p in model.parameters())  # given back trainable, as it came
    assert report.steps == 6
    predict(model, task, features[:4], 4, tokenizer.pad_token_id, False)  # the merged model evaluates


def test_adapter_is_keyed_only_when_set_and_with_its_rank(data) -> None:
    from xstilts.experiment.plan import build_plan

    def keys(**stage) -> set[str]:
        raw = {"name": "x", "model": "me5-small", "intermediate": {"a": [{"task": "sick", **stage}]}}
        plan = build_plan(parse_spec({**raw, "targets": [{"task": "panx", "eval_languages": ["en"]}]}), data)
        return {k for k, s in plan.stages.items() if s.kind == "train" and s.parent is None}

    plain, r8, r16 = keys(), keys(adapter={"r": 8}), keys(adapter={"type": "lora", "r": 16})
    assert len(plain | r8 | r16) == 3
    assert keys(train={"adapter": {"r": 8}}) == r8  # `adapter:` is shorthand for train.adapter
    from xstilts.experiment.plan import stage_record

    plan = build_plan(parse_spec({"name": "x", "targets": [{"task": "panx", "eval_languages": ["en"]}]}), data)
    assert all("adapter" not in stage_record(s).get("config", {}) for s in plan.stages.values())


def _compiled_on_cpu(patch: pytest.MonkeyPatch) -> None:
    """The CUDA path (static buckets, the encoder compiled, graph steps begun) on the CPU: the compiler's backend
    is "aot_eager", the same tracing, guards and autograd as on the GPU without generating code."""
    import torch._dynamo

    import xstilts.training.graphs as graphs
    import xstilts.training.train as loop

    torch._dynamo.reset()
    patch.setattr(loop, "captures_graphs", lambda device: True)
    patch.setattr(graphs, "COMPILE_OPTIONS", {"backend": "aot_eager"})


def test_the_gpu_loop_path_with_buckets_trains_to_the_same_weights(tiny_model_dir, monkeypatch) -> None:
    import xstilts.training.train as loop

    # Frozen word embeddings: the GPU steps them with dense AdamW, and the CPU's lazy AdamW (sparse lookups) never
    # runs compiled, so the compiled path is compared on what it really runs.
    config = TrainConfig(learning_rate=3e-3, batch_size=16, max_steps=4, freeze_embeddings=True)

    def run(graphs: bool) -> tuple[float, dict]:
        model, tokenizer, task = tiny(tiny_model_dir)
        for module in model.modules():  # dropout draws depend on the padded shape: compare without it
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        model.encoder.config.attention_probs_dropout_prob = 0.0
        features = model.fmt.encode(synthetic_pairs(64, 1), tokenizer, task, 64)
        with monkeypatch.context() as patch:
            if graphs:
                _compiled_on_cpu(patch)
            report = loop.train(model, features, config, 0, tokenizer.pad_token_id, bf16=False)
        assert model.encoder._compiled_call_impl is None  # the plain forward is back after the stage
        return report, model.state_dict()

    (plain, plain_weights), (bucketed, bucketed_weights) = run(False), run(True)
    assert bucketed.tokens == plain.tokens  # real tokens: bucket padding is not counted
    assert bucketed.final_loss == pytest.approx(plain.final_loss, rel=1e-4)
    assert len(plain.loss_curve) == 4 and plain.loss_curve[-1] == plain.final_loss  # read from the device in one go
    assert bucketed.loss_curve == pytest.approx(plain.loss_curve, rel=1e-4)
    for name, tensor in plain_weights.items():
        torch.testing.assert_close(bucketed_weights[name], tensor, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("lora_bf16", [False, True], ids=["plain", "lora-bf16"])
def test_the_compiled_encoder_compiles_once_for_every_width_and_the_short_batch(
    tiny_model_dir, monkeypatch, lora_bf16: bool
) -> None:
    # Static shapes compiled the whole encoder again for each bucket width and for the short last batch of an
    # epoch, past dynamo's limit of 8 at long max lengths (then silently eager). One compile must serve them all.
    from torch._dynamo.utils import counters

    import xstilts.training.train as loop

    model, tokenizer, task = tiny(tiny_model_dir)
    pairs = synthetic_pairs(100, 2)  # premises of 1 to 6 times their length: widths from 32 to 128 tokens
    long_pairs = [dataclasses.replace(e, text_a=" ".join([e.text_a] * (1 + i % 6))) for i, e in enumerate(pairs)]
    features = model.fmt.encode(long_pairs, tokenizer, task, 256)
    adapter = {"adapter": AdapterSpec(r=4, alpha=8)} if lora_bf16 else {}
    config = TrainConfig(
        learning_rate=1e-3, batch_size=16, max_length=256, max_steps=14, freeze_embeddings=True, **adapter
    )
    widths = set()
    collate = type(model).collate

    def spy(self, items, pad_id, limit=None):  # noqa: ANN001, ANN202
        batch = collate(self, items, pad_id, limit)
        widths.add(tuple(batch["input_ids"].shape))
        return batch

    with monkeypatch.context() as patch:
        _compiled_on_cpu(patch)
        patch.setattr(type(model), "collate", spy)
        counters.clear()
        report = loop.train(model, features, config, 0, tokenizer.pad_token_id, bf16=lora_bf16)
        assert report.steps == 14 and math.isfinite(report.final_loss)
        assert len({w for _, w in widths}) >= 3 and len({b for b, _ in widths}) == 2  # several widths, a short batch
        assert counters["stats"]["unique_graphs"] == 1  # one compiled program for every shape
        assert not counters["graph_break"]  # the whole encoder in that one graph
        # The next stage of the process, on a new encoder of the same shape, reuses it: only the first stage
        # pays for compiling.
        second, _, _ = tiny(tiny_model_dir, seed=1)
        loop.train(second, features, config, 1, tokenizer.pad_token_id, bf16=lora_bf16)
        assert counters["stats"]["unique_graphs"] == 1
