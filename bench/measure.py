"""One benchmark measurement per process (so peak memory and thread state never mix); bench/run.py calls it.

    python bench/measure.py KIND --params '{"task": "sick", ...}' --out result.json

KIND is one of: peak, featurise, train, predict, optim, steps, tatoeba (peak, optim and steps: bench/measure_steps.py). Each prints nothing of interest and
writes one JSON object to --out. Times are wall-clock seconds of the measured block only (model loading and
featurisation are timed separately); `cpu_cores` = process CPU seconds / wall seconds of that block, i.e. how
many of the cores the measurement actually got while other work shared the machine.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402
from measure_steps import optim, peak, steps  # noqa: E402


def _threads(params: dict[str, Any]) -> int:
    return int(params.get("threads", 2))


# --- featurisation --------------------------------------------------------------------------------------


def featurise(params: dict[str, Any]) -> dict[str, Any]:
    """Reading the data files and xstilts' `Format.encode` (tokenisation + targets), per task and split."""
    from xstilts.formats import make_format
    from xstilts.tasks import REGISTRY
    from xstilts.tasks.loading import load_examples

    with common.Clock() as c:
        tok = common.tokenizer()
    out: dict[str, Any] = {"tokenizer_load_s": c.wall, "sets": []}
    for task_name, split, lang in params["sets"]:
        task = REGISTRY[task_name]
        fmt = make_format(task.format)
        with common.Clock() as read:
            examples = load_examples(task, split, lang, common.data_root())
        with common.Clock() as enc:
            features = fmt.encode(examples, tok, task, params.get("max_length", 128))
        out["sets"].append(
            {
                "task": task_name,
                "split": split,
                "lang": lang,
                "examples": len(examples),
                "tokens": sum(f.length for f in features),
                "read_s": read.wall,
                "encode_s": enc.wall,
                "examples_per_s": len(examples) / enc.wall,
            }
        )
    return out


# --- training -------------------------------------------------------------------------------------------


class TokenCounter:
    """Counts real and padded tokens the encoder sees, whatever loop drives it (a forward pre-hook)."""

    def __init__(self, encoder: Any):
        self.real = self.padded = self.batches = 0
        self.active = True
        encoder.register_forward_pre_hook(self._hook, with_kwargs=True)

    def _hook(self, module: Any, args: Any, kwargs: Any) -> None:
        if self.active:
            mask = kwargs["attention_mask"]
            self.real += int(mask.sum())
            self.padded += mask.numel()
            self.batches += 1


def train(params: dict[str, Any]) -> dict[str, Any]:
    """Train one configuration for `steps` optimizer steps, then score English dev with xstilts' evaluator.

    impl: xstilts (xstilts.training.train.train) | trainer (transformers.Trainer on the same TaskModel, wrapped to
    return xstilts' loss). trainer_config: default (fp32, random sampler, default dataloader) | tuned (bf16,
    group_by_length sampler, no pin_memory)."""
    import torch

    from xstilts.spec import TrainConfig
    from xstilts.tasks import REGISTRY
    from xstilts.training.evaluate import evaluate

    task_name, impl, seed = params["task"], params["impl"], params.get("seed", 1)
    task = REGISTRY[task_name]
    with common.Clock() as load:
        tok = common.tokenizer()
        model = common.build_model(task_name, seed)
    train_examples = common.examples(task_name, "train", params["n_train"])
    dev_examples = common.examples(task_name, common.DEV_SPLIT[task_name], params.get("n_dev"))
    config = TrainConfig(
        learning_rate=params.get("lr", 5e-5),
        batch_size=params.get("batch_size", 32),
        max_length=params.get("max_length", 128),
        epochs=1,
        freeze_embeddings=params.get("freeze", False),
    )
    with common.Clock() as enc:
        features = model.fmt.encode(train_examples, tok, task, config.max_length)
    shape = common.encoder_shape(model)
    counter = TokenCounter(model.encoder)
    from xstilts.training.train import optimizer_steps

    steps = optimizer_steps(len(features), config)
    result: dict[str, Any] = {"load_s": load.wall, "encode_s": enc.wall, "shape": shape, "steps": steps}

    if impl == "xstilts":
        from xstilts.training.train import train as xtrain

        bf16 = common.bf16_default() if params.get("precision", "auto") == "auto" else params["precision"] == "bf16"
        if params.get("what_if") == "fused_adamw":
            _use_fused_adamw()
        with common.Clock() as clock:
            report = xtrain(model, features, config, seed, tok.pad_token_id, bf16)
        result.update(final_loss=report.final_loss, bf16=bf16, loop_s=report.seconds, steps=report.steps)
    else:
        import engine

        from xstilts.training.device import device

        loop = "Trainer tuned" if params["trainer_config"] == "tuned" else "Trainer default"
        tuned = loop == "Trainer tuned"
        trainer = engine.trainer_for(loop, model, features, config, tok, device(), tuned, seed, steps)
        args = trainer.args
        with common.Clock() as clock:
            output = trainer.train()
        result.update(
            final_loss=output.training_loss,
            bf16=tuned,
            optimizer=type(
                trainer.optimizer.optimizer if hasattr(trainer.optimizer, "optimizer") else trainer.optimizer
            ).__name__,
            optim_setting=str(args.optim),
            steps=output.global_step,
            trainer_runtime_s=output.metrics.get("train_runtime"),
        )
    counter.active = False
    flops = common.train_flops(shape, [f.length for f in features], per_token_head=task.format == "tagging")
    result.update(
        examples=len(features),
        real_tokens=counter.real,
        padded_tokens=counter.padded,
        train_s=clock.wall,
        cpu_cores=clock.cpu / clock.wall,
        examples_per_s=len(features) / clock.wall,
        tokens_per_s=counter.real / clock.wall,
        s_per_step=clock.wall / max(1, result["steps"]),
        model_flops=flops,
        model_gflops_per_s=flops["total"] / clock.wall / 1e9,
    )
    # Score with xstilts' own evaluator whichever loop trained the model, so only training differs.
    with common.Clock() as ev:
        predictions, scores = evaluate(
            model, task, dev_examples, "en", tok, config.eval_max_length, config.eval_batch_size, common.bf16_default()
        )
    golds = [e.label for e in dev_examples] if task.format == "classification" else [list(e.tags) for e in dev_examples]
    result.update(
        dev_metric=task.metric,
        dev_score=next(iter(scores.values())),
        dev_examples=len(dev_examples),
        dev_eval_s=ev.wall,
        dev_counts=common.per_example_counts(task.format, predictions, golds),
    )
    del torch
    return result


def _use_fused_adamw() -> None:
    """What-if (not xstilts' current code): every torch.optim.AdamW built from here on is the fused one, which
    updates each parameter tensor in one pass; the same algorithm and defaults otherwise (Trainer's default
    optimizer, `adamw_torch_fused`, is this one)."""
    import torch

    base = torch.optim.AdamW

    class FusedAdamW(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any):
            kwargs.setdefault("fused", True)
            super().__init__(*args, **kwargs)

    torch.optim.AdamW = FusedAdamW  # type: ignore[misc]


# --- evaluation -----------------------------------------------------------------------------------------


def predict(params: dict[str, Any]) -> dict[str, Any]:
    """Inference over dev examples: xstilts.training.evaluate.predict (its defaults: length-sorted batches, bf16 autocast
    where native) against Trainer.predict with default arguments (fp32, sequential order) at the same batch
    size. Pretrained encoder, new seeded head: the weights do not change the speed."""
    import numpy as np

    from xstilts.spec import TrainConfig
    from xstilts.tasks import REGISTRY
    from xstilts.training.evaluate import predict as xpredict

    task_name, impl, seed = params["task"], params["impl"], params.get("seed", 1)
    task = REGISTRY[task_name]
    defaults = TrainConfig()
    batch_size, max_length = (
        params.get("batch_size", defaults.eval_batch_size),
        params.get("max_length", defaults.eval_max_length),
    )
    with common.Clock() as load:
        tok = common.tokenizer()
        model = common.build_model(task_name, seed)
    dev_examples = common.examples(task_name, common.DEV_SPLIT[task_name], params.get("n"))
    with common.Clock() as enc:
        features = model.fmt.encode(dev_examples, tok, task, max_length)
    counter = TokenCounter(model.encoder)
    result: dict[str, Any] = {"load_s": load.wall, "encode_s": enc.wall, "batch_size": batch_size}
    if impl == "xstilts":
        bf16 = common.bf16_default()
        with common.Clock() as clock:
            predictions = xpredict(model, task, features, batch_size, tok.pad_token_id, bf16)
        result["bf16"] = bf16
    else:
        import engine

        from xstilts.training.device import device

        trainer = engine.predictor(model, tok, device(), batch_size)
        with common.Clock() as clock:
            output = trainer.predict(engine.hf_dataset(features))
        logits = np.asarray(output.predictions)
        if task.format == "tagging":
            keep = np.asarray(output.label_ids) != -100
            predictions = [[task.labels[j] for j in row.argmax(-1)[k]] for row, k in zip(logits, keep, strict=True)]
        else:
            predictions = [task.labels[j] for j in logits.argmax(-1)]
        result["bf16"] = False
    counter.active = False
    result.update(
        examples=len(features),
        real_tokens=counter.real,
        padded_tokens=counter.padded,
        predict_s=clock.wall,
        cpu_cores=clock.cpu / clock.wall,
        examples_per_s=len(features) / clock.wall,
        tokens_per_s=counter.real / clock.wall,
        predictions=predictions,
    )
    return result


def tatoeba(params: dict[str, Any]) -> dict[str, Any]:
    """Tatoeba retrieval for one language through the format's own steps (what the runner's eval stage does):
    encode, predict (embed), aggregate + score (nearest neighbours), export (nearest neighbours again, for the
    predictions file). num_layers cuts the encoder at the retrieval layer (a possible optimisation)."""
    from xstilts.spec import TrainConfig
    from xstilts.tasks import REGISTRY
    from xstilts.training.evaluate import predict as xpredict

    lang, num_layers = params.get("lang", "de"), params.get("num_layers")
    task = REGISTRY["tatoeba"]
    defaults = TrainConfig()
    with common.Clock() as load:
        tok = common.tokenizer()
        model = common.build_model("tatoeba", 1, num_layers=num_layers)
    if num_layers is not None:
        model.head.layer = num_layers  # the cut encoder's last layer is the full encoder's retrieval layer
    from xstilts.tasks.loading import load_examples

    with common.Clock() as read:
        examples = load_examples(task, "test", lang, common.data_root())
    fmt = model.fmt
    with common.Clock() as enc:
        features = fmt.encode(examples, tok, task, defaults.eval_max_length)
    counter = TokenCounter(model.encoder)
    with common.Clock() as pred:
        raw = xpredict(model, task, features, defaults.eval_batch_size, tok.pad_token_id, common.bf16_default())
    with common.Clock() as score:
        predictions = fmt.aggregate(raw, features, examples)
        scores = fmt.score(predictions, examples, task, lang)
    with common.Clock() as export:
        fmt.export(predictions)
    return {
        "lang": lang,
        "num_layers": num_layers or model.encoder.config.num_hidden_layers,
        "retrieval_layer": model.head.layer,
        "pairs": len(examples),
        "sentences": len(features),
        "real_tokens": counter.real,
        "padded_tokens": counter.padded,
        "load_s": load.wall,
        "read_s": read.wall,
        "encode_s": enc.wall,
        "embed_s": pred.wall,
        "embed_cpu_cores": pred.cpu / pred.wall,
        "score_s": score.wall,
        "export_s": export.wall,
        "total_s": read.wall + enc.wall + pred.wall + score.wall + export.wall,
        "accuracy": scores["accuracy"],
    }


KINDS = {f.__name__: f for f in (peak, featurise, train, predict, optim, steps, tatoeba)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=sorted(KINDS))
    ap.add_argument("--params", default="{}")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    params = json.loads(args.params)
    common.setup_env(_threads(params))
    import resource

    import torch

    started = time.perf_counter()
    result = KINDS[args.kind](params)
    result.update(
        kind=args.kind,
        params=params,
        process_s=time.perf_counter() - started,
        torch_threads=torch.get_num_threads(),
        peak_rss_mb_self=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    args.out.write_text(
        json.dumps(result, default=lambda o: o if not isinstance(o, float) or math.isfinite(o) else None)
    )


if __name__ == "__main__":
    main()
