"""The training loop on a tiny random encoder: it learns, it is deterministic, and it selects by dev."""

from __future__ import annotations

import random

import pytest
import torch

from xstilts.formats import make_format
from xstilts.spec import ModelSpec, TrainConfig
from xstilts.tasks import get_task
from xstilts.tasks.examples import ClassificationExample
from xstilts.training.evaluate import predict
from xstilts.training.task_model import TaskModel
from xstilts.training.train import TrainingDiverged, length_grouped_batches, optimizer_steps, train


def synthetic_pairs(n: int, seed: int) -> list[ClassificationExample]:
    """A pair task a tiny model can learn: the label is decided by one keyword in the hypothesis."""
    rng = random.Random(seed)
    words = {"entailment": "yes", "neutral": "maybe", "contradiction": "never"}
    out = []
    for _ in range(n):
        label = rng.choice(list(words))
        filler = " ".join(rng.choice(["the", "a", "cat", "dog", "runs", "sits"]) for _ in range(rng.randint(2, 8)))
        out.append(ClassificationExample(filler, f"{filler} {words[label]}", label))
    return out


def tiny(tiny_model_dir, seed: int = 0):
    from xstilts.encoders.loading import load_encoder, load_tokenizer

    spec = ModelSpec(name=str(tiny_model_dir))
    task, fmt = get_task("sick"), make_format("classification")
    torch.manual_seed(seed)
    encoder = load_encoder(spec)
    return (
        TaskModel(encoder, fmt.make_head(encoder.config, task), fmt),
        load_tokenizer(spec),
        task,
    )


def fit(tiny_model_dir, config: TrainConfig, seed: int = 0):
    model, tokenizer, task = tiny(tiny_model_dir, seed)
    train_set, test_set = synthetic_pairs(384, 1), synthetic_pairs(90, 2)
    fmt = model.fmt
    features = fmt.encode(train_set, tokenizer, task, 64)
    report = train(model, features, config, seed, tokenizer.pad_token_id, bf16=False)
    preds = predict(model, task, fmt.encode(test_set, tokenizer, task, 64), 32, tokenizer.pad_token_id, False)
    return report, fmt.score(preds, test_set, task, "en")["accuracy"]


CONFIG = TrainConfig(learning_rate=3e-3, batch_size=16, epochs=4, warmup_ratio=0.1, freeze_embeddings=False)


def test_learns_a_learnable_task_and_is_deterministic(tiny_model_dir):
    report, acc = fit(tiny_model_dir, CONFIG)
    assert acc > 80.0  # chance is 33%
    assert report.steps == optimizer_steps(384, CONFIG) == 4 * 24
    again, acc_again = fit(tiny_model_dir, CONFIG)
    assert (again.final_loss, acc_again) == (report.final_loss, acc)


def test_gradient_accumulation_counts_optimizer_steps(tiny_model_dir):
    config = CONFIG.model_copy(update={"batch_size": 8, "grad_accum_steps": 2, "max_steps": 5})
    report, _ = fit(tiny_model_dir, config)
    assert (report.steps, report.examples) == (5, 5 * 16)


def test_frozen_embeddings_do_not_move(tiny_model_dir):
    model, tokenizer, task = tiny(tiny_model_dir)
    before = model.encoder.get_input_embeddings().weight.clone()
    config = CONFIG.model_copy(update={"freeze_embeddings": True, "max_steps": 3})
    train(model, model.fmt.encode(synthetic_pairs(48, 1), tokenizer, task, 64), config, 0, 1, bf16=False)
    assert torch.equal(before, model.encoder.get_input_embeddings().weight)


def test_cpu_training_uses_plain_attention_and_gives_the_encoder_back_as_it_was(tiny_model_dir):
    model, tokenizer, task = tiny(tiny_model_dir)
    assert model.encoder.config._attn_implementation == "sdpa"
    seen = []
    model.encoder.register_forward_pre_hook(lambda module, args: seen.append(module.config._attn_implementation))
    config = CONFIG.model_copy(update={"max_steps": 2})
    report = train(model, model.fmt.encode(synthetic_pairs(32, 1), tokenizer, task, 64), config, 0, 1, bf16=False)
    assert report.attention == "eager" and set(seen) == {"eager"}
    assert model.encoder.config._attn_implementation == "sdpa"  # evaluation keeps the fused kernel


def test_diverging_loss_stops_the_stage(tiny_model_dir):
    model, tokenizer, task = tiny(tiny_model_dir)
    with torch.no_grad():
        model.head.out_proj.weight.fill_(float("nan"))
    with pytest.raises(TrainingDiverged, match="loss became nan"):
        train(model, model.fmt.encode(synthetic_pairs(16, 1), tokenizer, task, 64), CONFIG, 0, 1, bf16=False)


def test_best_dev_selection_restores_the_best_epoch(tiny_model_dir):
    model, tokenizer, task = tiny(tiny_model_dir)
    scores = iter([50.0, 90.0, 10.0, 20.0])
    snapshots = []

    def dev_score() -> float:
        snapshots.append(model.head.out_proj.weight.detach().clone())
        return next(scores)

    features = model.fmt.encode(synthetic_pairs(32, 1), tokenizer, task, 64)
    report = train(model, features, CONFIG, 0, 1, bf16=False, dev_score=dev_score)
    assert report.dev_scores == [50.0, 90.0, 10.0, 20.0]
    assert report.selected.startswith("best_dev (epoch 2 of 4)")
    assert torch.equal(model.head.out_proj.weight, snapshots[1])


def test_length_grouped_batches_cover_every_example_once():
    lengths = [random.Random(i).randint(1, 100) for i in range(1000)]
    batches = length_grouped_batches(lengths, 32, random.Random(0))
    assert sorted(i for b in batches for i in b) == list(range(1000))
    # within a window, batches are sorted by length, so padding is small
    waste = sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)
    random_waste = sum(
        max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b)
        for b in [list(range(s, min(s + 32, 1000))) for s in range(0, 1000, 32)]
    )
    assert waste < random_waste / 5


def test_store_uses_wal_and_clipping_is_applied(tiny_model_dir, tmp_path, monkeypatch):
    from xstilts.experiment.store import Store

    store = Store(tmp_path)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()

    from xstilts.training import distributed

    calls = []
    original = distributed.clip_grad_norm  # torch's, or with the embeddings' sparse gradient (training.clipping)

    def recording(parameters, max_norm):
        parameters = list(parameters)
        calls.append((len([p for p in parameters if p.grad is not None]), max_norm))
        return original(parameters, max_norm)

    monkeypatch.setattr(distributed, "clip_grad_norm", recording)
    model, tokenizer, task = tiny(tiny_model_dir)
    config = CONFIG.model_copy(update={"max_steps": 3, "max_grad_norm": 0.25})
    train(model, model.fmt.encode(synthetic_pairs(48, 1), tokenizer, task, 64), config, 0, 1, bf16=False)
    trainable = sum(1 for p in model.parameters() if p.requires_grad)
    assert calls == [(trainable, 0.25)] * 3
