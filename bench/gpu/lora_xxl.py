"""A LoRA stage on a random encoder of XLM-R XXL's shape (10.7B parameters), through xstilts' own training loop.

    python bench/gpu/lora_xxl.py --out lora_xxl.json        # on one GPU (bash bench/gpu/run.sh lora_xxl)
    python bench/gpu/lora_xxl.py --shape tiny --device cpu --steps 3 --batch-size 8 --out tiny.json   # the same path

The encoder has XLM-R XXL's architecture and shape as facebook/xlm-roberta-xxl's config gives them (Goyal et al.
2021, "Larger-Scale Transformers for Multilingual Masked Language Modeling"): XLMRobertaXL (pre-LayerNorm), 48
layers, hidden 4096, 32 heads, intermediate 16384, 250,880 vocabulary rows, 514 positions: 10.7B parameters. It is
built on the meta device and materialised on the target device with random weights (no 43 GB fp32 copy on the
host; the weights change neither speed nor memory). A classification head is added by xstilts'
`new_task_models`, and `xstilts.training.train.train` trains it with `TrainConfig.adapter` = LoRA r=16, alpha=32 on
[query, value], as an `adapter:` stage does: only the adapters and the head train, and the adapter is merged into
the encoder when the stage ends. Precision: the frozen encoder's weights in bf16 (--frozen-dtype; 21 GB, not
fp32's 43 GB), the adapters and the head fp32, bf16 autocast. Each run reports its first step, compile time,
steady-state seconds per step after --warmup steps (bench/gpu/steps.py) and the inductor counters.

Data: real SICK training pairs tokenised with me5-small's tokenizer (XLM-R's vocabulary), by default only those of
33-64 tokens, so that every batch falls in one static length bucket (xstilts.training.buckets) and the compiled
path captures one shape instead of compiling the 48 layers once per bucket.

Runs, one after another on the same encoder (each with a fresh adapter):
- `eager`: XSTILTS_COMPILE=0, the loop's switch that leaves compilation out. Its figures come first, so a run
  stopped at its time limit still reports steps, seconds per step and peak memory.
- `auto`: the loop as the device chooses it (on a GPU: the encoder compiled into CUDA graphs); its first steps
  include compilation and capture. Skipped on a CPU, where `auto` is eager.
The loss is read from the device after every step (train.LOG_EVERY = 1, instead of every 25), so each step's time is
the wall time between two reads. The JSON (--out) is rewritten after every phase.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))  # common.py: the encoder built on the meta device

SHAPES = {  # XLMRobertaXLConfig fields; "tiny" is the same architecture for a CPU check
    "xxl": {"hidden_size": 4096, "num_hidden_layers": 48, "num_attention_heads": 32, "intermediate_size": 16384},
    "tiny": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128},
}
VOCAB, POSITIONS = 250_880, 514  # facebook/xlm-roberta-xxl's config (the tokenizer's 250,002 ids fit)
ADAPTER = {"r": 16, "alpha": 32.0, "target": ("query", "value")}
SEED = 1


def build_encoder(shape: str, device: Any, frozen_dtype: str = "bf16") -> Any:
    """The random encoder, built on the meta device (no memory) and materialised on `device` only; with
    frozen_dtype bf16 its weights (all frozen in a LoRA stage: only the adapters and the head train) are held in
    bf16, 21 GB instead of fp32's 43 GB, which autocast reads as they are. The adapters peft adds and the head
    stay fp32."""
    import torch
    from common import random_encoder_on
    from transformers import XLMRobertaXLConfig, XLMRobertaXLModel

    config = XLMRobertaXLConfig(
        vocab_size=VOCAB, max_position_embeddings=POSITIONS, type_vocab_size=1, pad_token_id=1,
        attn_implementation="sdpa", **SHAPES[shape],
    )  # fmt: skip
    encoder = random_encoder_on(XLMRobertaXLModel, config, device)
    return encoder.to(torch.bfloat16) if frozen_dtype == "bf16" else encoder


def sick_features(model: Any, tokenizer: Any, data: Path, max_length: int, one_bucket: bool) -> list:
    """Real SICK training pairs as features; with one_bucket, those of 33-64 tokens (one 32-token bucket)."""
    from xstilts.tasks import REGISTRY
    from xstilts.tasks.loading import load_examples

    task = REGISTRY["sick"]
    features = model.fmt.encode(load_examples(task, "train", "en", data), tokenizer, task, max_length)
    return [f for f in features if 32 < f.length <= 64] if one_bucket else features


def sampled_weights(model: Any) -> dict[str, Any]:
    """A few rows of the weights the checks compare before and after a run (the whole matrices of the XXL shape
    are 64 MB each): the first and last layer's query, key, value and LayerNorm, the word embeddings, the head."""
    last = model.encoder.config.num_hidden_layers - 1
    names = [
        f"encoder.encoder.layer.{i}.attention.self.{p}.weight" for i in (0, last) for p in ("query", "key", "value")
    ]
    names += [f"encoder.encoder.layer.{last}.LayerNorm.weight", "encoder.embeddings.word_embeddings.weight"]
    params = dict(model.named_parameters())
    sample = {name: params[name][:64].detach().float().cpu().clone() for name in names}
    sample.update({name: p.detach().float().cpu().clone() for name, p in params.items() if name.startswith("head.")})
    return sample


def run_stage(model: Any, features: list, pad_id: int, args: argparse.Namespace, mode: str) -> dict[str, Any]:
    """One LoRA stage through xstilts' loop, each step timed between two reads of its loss."""
    import torch
    from steps import StepClock, compile_seconds

    import xstilts.training.train as loop
    from xstilts.spec import AdapterSpec, TrainConfig
    from xstilts.training.device import captures_graphs, use_bf16

    os.environ["XSTILTS_COMPILE"] = "0" if mode == "eager" else "1"
    clock = StepClock(args.warmup, 1)  # every step read: a 10.7B step is long beside one wait for the device
    device = next(model.parameters()).device
    config = TrainConfig(
        learning_rate=1e-4, batch_size=args.batch_size, max_length=args.max_length, max_steps=args.steps,
        adapter=AdapterSpec(**ADAPTER),
    )  # fmt: skip
    before = sampled_weights(model)
    marks: list[float] = []
    losses: list[float] = []
    trainable: dict[str, int] = {}

    def log(metrics: dict[str, float], step: int) -> None:
        if "train/loss" not in metrics:
            return
        clock.log(metrics, step)
        marks.append(time.perf_counter())
        losses.append(metrics["train/loss"])
        if not trainable:  # inside the stage, with the adapter in place
            for name, p in model.named_parameters():
                if p.requires_grad:
                    kind = "lora" if "lora_" in name else "head" if name.startswith("head.") else "other"
                    trainable[kind] = trainable.get(kind, 0) + p.numel()

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    # bf16 frozen weights need autocast (the fp32 head reads their bf16 output), also on a CPU check
    bf16 = use_bf16("auto", device) or args.frozen_dtype == "bf16"
    compiled_before = compile_seconds()
    clock.start()
    started = clock.started
    try:
        report = loop.train(model, features, config, SEED, pad_id, bf16, log=log)
    finally:
        loop.LOG_EVERY = 25
    total = time.perf_counter() - started
    compiled = compile_seconds()
    steps = [b - a for a, b in zip([started, *marks], marks, strict=False)]
    steady = steps[args.warmup :] if len(steps) > args.warmup + 1 else steps[1:] or steps
    after = sampled_weights(model)
    changed = {name: not torch.equal(before[name], after[name]) for name in before}
    expected = {name: any(f".{t}." in name for t in ADAPTER["target"]) or name.startswith("head.") for name in before}
    return {
        "mode": mode,
        "graphs": captures_graphs(device),
        "bf16": bf16,
        "steps": report.steps,
        "examples": report.examples,
        "real_tokens": report.tokens,
        "seconds": total,
        "loop_seconds": report.seconds,
        "step_s": steps,
        "first_step_s": steps[0] if steps else None,
        "compile_s": compiled.get("_compile.compile_inner", 0.0) - compiled_before.get("_compile.compile_inner", 0.0),
        "steady_s_per_step": clock.summary()["steady_s_per_step"],  # from the timestamps after the warm-up
        "warmup_steps": args.warmup,
        "steady_step_s": statistics.median(steady) if steady else None,
        "graph_counters": report.graphs,
        "frozen_dtype": args.frozen_dtype,
        "real_tokens_per_s": report.tokens / report.steps / statistics.median(steady) if steady else None,
        "peak_memory_gib": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
        "losses": losses,
        "finite_loss": bool(losses) and all(math.isfinite(x) for x in losses),
        "trainable_params": trainable,
        "attention": report.attention,
        "checks": {
            "only_lora_and_head_trained": trainable.get("other", 0) == 0 and trainable.get("lora", 0) > 0,
            "adapter_merged_and_removed": not any("lora_" in name for name, _ in model.named_parameters()),
            "changed_as_expected": changed == expected,
            "changed": sorted(name for name, c in changed.items() if c),
            "requires_grad_restored": all(p.requires_grad for p in model.encoder.parameters()),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="xxl")
    ap.add_argument("--device", default=None, help="default: cuda when there is one, else cpu")
    ap.add_argument("--steps", type=int, default=10, help="optimizer steps per run")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--warmup", type=int, default=3, help="steps before the steady state is timed")
    ap.add_argument("--frozen-dtype", choices=["bf16", "fp32"], default="bf16", help="the frozen encoder's weights")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--all-lengths", action="store_true", help="every SICK pair, not only one length bucket's")
    ap.add_argument("--modes", default="eager,auto", help="runs, in order: eager and/or auto (see the docstring)")
    ap.add_argument("--data", type=Path, default=None, help="default: $XSTILTS_DATA, else ../shared/data")
    ap.add_argument("--out", type=Path, required=True, help="the JSON, rewritten after every phase")
    args = ap.parse_args()

    import torch

    from xstilts.encoders.loading import load_tokenizer
    from xstilts.spec import ModelSpec
    from xstilts.tasks import REGISTRY
    from xstilts.training.task_model import new_task_models

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    data = args.data or Path(os.environ.get("XSTILTS_DATA") or REPO.parent / "shared" / "data")
    result: dict[str, Any] = {"shape": args.shape, "config": SHAPES[args.shape], "adapter": ADAPTER,
                              "batch_size": args.batch_size, "device": str(device), "torch": torch.__version__}  # fmt: skip
    if device.type == "cuda":
        result["device"] = torch.cuda.get_device_name(device)

    def save() -> None:
        args.out.write_text(json.dumps(result, indent=1, default=str))
        print(json.dumps({k: v for k, v in result.items() if k != "runs"}, default=str), flush=True)

    started = time.perf_counter()
    encoder = build_encoder(args.shape, device, args.frozen_dtype)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    model = new_task_models(encoder, [(REGISTRY["sick"], {})], SEED, device)["sick"]
    result["build_s"] = time.perf_counter() - started
    result["params"] = sum(p.numel() for p in encoder.parameters())
    if device.type == "cuda":
        result["weights_gib"] = torch.cuda.memory_allocated(device) / 2**30
    tokenizer = load_tokenizer(ModelSpec(name="me5-small"))
    features = sick_features(model, tokenizer, data, args.max_length, not args.all_lengths)
    result["features"] = len(features)
    result["runs"] = []
    save()
    for mode in args.modes.split(","):
        if mode == "auto" and device.type != "cuda":
            continue  # `auto` is eager off a GPU: the same run again
        result["runs"].append({"mode": mode, "status": "started"})
        save()
        try:
            result["runs"][-1] = {"status": "done", **run_stage(model, features, tokenizer.pad_token_id, args, mode)}
        except Exception as err:  # the next mode still runs: an eager figure is worth having without the compiled
            traceback.print_exc()
            result["runs"][-1] = {"mode": mode, "status": "failed", "error": f"{type(err).__name__}: {err}"[:4000]}
        save()
    done = [r for r in result["runs"] if r["status"] == "done"]
    ok = len(done) == len(result["runs"]) > 0 and all(
        r["finite_loss"] and r["checks"]["changed_as_expected"] for r in done
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
