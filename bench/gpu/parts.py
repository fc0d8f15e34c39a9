"""Steady-state training steps of xstilts' loop on random XLM-R shapes: the Base and Large parts of the GPU kit.

    python bench/gpu/parts.py --shape xlmr-base --out base.json                  # bench/gpu/run.sh base
    python bench/gpu/parts.py --shape xlmr-large --out large.json                # bench/gpu/run.sh large
    python bench/gpu/parts.py --shape tiny --device cpu --steps 6 --warmup 2 --read-every 2 --out tiny.json

Per task (SICK, then PAN-X: real English training features, me5-small's tokenizer, max length 128), the encoder is
built once on the meta device and materialised on the device (bench/common.random_encoder_on); every run after
the first re-draws its weights in place and gets a new head, as a later stage of one process trains in the same
module (xstilts.training.reuse): the first run holds the compile, the later ones show whether the graphs replay.
Runs (--runs, in order; `BATCH:EMBEDDINGS`): batch 32 and 128; the word embeddings' rows stepped lazily (the
default on one GPU), densely (XSTILTS_LAZY_ROWS=0) or frozen. Each run's figures are bench/gpu/steps.py's:
first step, compile time, steady-state seconds per step after the warm-up, real tokens per second, model FLOP
utilisation against the bf16 matmul peak measured in the same process, peak memory and the inductor counters.
The JSON (--out) is rewritten after every run, so a run stopped at its time limit keeps the runs before it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # bench/: common.py, fair.py
sys.path.insert(0, str(HERE))  # steps.py

SHAPES = {
    "tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},
    "xlmr-base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    "xlmr-large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096},
}
RUNS = "32:lazy,32:dense,32:frozen,128:lazy"
MAX_LENGTH, LR = 128, 3e-5


def encoder_for(shape: str, device: Any) -> Any:
    import common
    from transformers import XLMRobertaConfig, XLMRobertaModel

    tok = common.tokenizer()
    config = XLMRobertaConfig(
        vocab_size=len(tok), max_position_embeddings=514, type_vocab_size=1, pad_token_id=tok.pad_token_id,
        attn_implementation="sdpa", **SHAPES[shape],
    )  # fmt: skip
    return common.random_encoder_on(XLMRobertaModel, config, device)


def one_run(encoder: Any, task_name: str, features: list, batch: int, embeddings: str, args: Any) -> dict[str, Any]:
    import common
    import steps as clock

    from xstilts.spec import TrainConfig
    from xstilts.tasks import REGISTRY
    from xstilts.training.device import use_bf16
    from xstilts.training.task_model import new_task_models

    device = next(encoder.parameters()).device
    common.initialise(encoder, encoder.config.initializer_range)  # new weights, same tensors (as a later stage)
    for param in encoder.parameters():
        param.requires_grad_(True)
    model = new_task_models(encoder, [(REGISTRY[task_name], {})], 1, device)[task_name]
    os.environ["XSTILTS_LAZY_ROWS"] = "0" if embeddings == "dense" else "1"
    config = TrainConfig(learning_rate=LR, batch_size=batch, max_length=MAX_LENGTH, max_steps=args.steps,
                         freeze_embeddings=embeddings == "frozen")  # fmt: skip
    bf16 = use_bf16("auto", device)
    result = clock.timed_train(model, features, config, common.tokenizer().pad_token_id, bf16, args.warmup,
                               args.read_every)  # fmt: skip
    shape = common.encoder_shape(model)
    lengths = [f.length for f in features]
    per_token = common.train_flops(shape, lengths, per_token_head=REGISTRY[task_name].format == "tagging")["total"]
    flops_per_step = per_token / sum(lengths) * result["real_tokens_per_step"]  # at the features' mean length
    result.update(
        task=task_name, batch_size=batch, embeddings=embeddings, bf16=bf16, model_tflop_per_step=flops_per_step / 1e12
    )
    steady, peak = result["steady_s_per_step"], args.peak.get("bf16" if bf16 else "fp32")
    result["mfu"] = flops_per_step / steady / (peak * 1e12) if steady and peak else None
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), default="xlmr-base")
    ap.add_argument("--tasks", default="sick,panx")
    ap.add_argument("--runs", default=RUNS, help="BATCH:EMBEDDINGS,... with EMBEDDINGS lazy, dense or frozen")
    ap.add_argument("--device", default=None, help="default: cuda when there is one, else cpu")
    ap.add_argument("--steps", type=int, default=60, help="optimizer steps per run")
    ap.add_argument("--warmup", type=int, default=20, help="steps before the steady state is timed")
    ap.add_argument("--read-every", type=int, default=10, help="steps between reads of the loss after the warm-up")
    ap.add_argument("--train-examples", type=int, default=None, help="training examples per task (default all)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if args.steps <= args.warmup:
        raise SystemExit(f"parts.py: --steps ({args.steps}) must exceed --warmup ({args.warmup})")

    import common
    import torch
    from fair import _device_words, _matmul_peak

    from xstilts.tasks import REGISTRY
    from xstilts.training.task_model import new_task_models

    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    args.peak = _matmul_peak(device) if device.type == "cuda" else {}  # a CPU check has no MFU to report
    result: dict[str, Any] = {"shape": args.shape, "config": SHAPES[args.shape], "device": _device_words(device),
                              "peak_tflops": args.peak, "command": " ".join(sys.argv), "runs": []}  # fmt: skip

    def save() -> None:
        args.out.write_text(json.dumps(result, indent=1, default=str))

    save()
    tok = common.tokenizer()
    for task_name in args.tasks.split(","):
        started = time.perf_counter()
        encoder = encoder_for(args.shape, device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        built = time.perf_counter() - started
        task = REGISTRY[task_name]
        fmt = new_task_models(encoder, [(task, {})], 1, device)[task_name].fmt
        features = fmt.encode(common.examples(task_name, "train", args.train_examples), tok, task, MAX_LENGTH)
        for spec in args.runs.split(","):
            batch, embeddings = spec.split(":")
            entry: dict[str, Any] = {"task": task_name, "batch_size": int(batch), "embeddings": embeddings,
                                     "build_s": built, "status": "started"}  # fmt: skip
            result["runs"].append(entry)
            save()
            try:
                entry.update(status="done", **one_run(encoder, task_name, features, int(batch), embeddings, args))
            except Exception as err:  # the next run still runs
                traceback.print_exc()
                entry.update(status="failed", error=f"{type(err).__name__}: {err}"[:4000])
            save()
            steady = entry.get("steady_s_per_step")
            print(f"[parts] {args.shape} {task_name} batch {batch} {embeddings}: {entry['status']}, first step "
                  f"{entry.get('first_step_s')}, compile {entry.get('compile_s')}, steady {steady} s/step, "
                  f"graphs {entry.get('graphs')}", flush=True)  # fmt: skip
        del encoder
    sys.exit(0 if all(r["status"] == "done" for r in result["runs"]) else 1)


if __name__ == "__main__":
    main()
