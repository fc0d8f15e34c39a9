"""A whole CPU training step of me5-small with its word embeddings trained (forward, backward, clipping, LazyAdamW):
the lookups' gradient sparse (the rows a batch read; xstilts' CPU loop) against dense (a 96M-weight matrix
allocated, filled and clipped each step). Same model, batches, kernels, bf16 autocast and optimizer; the two ways
alternate step by step on two copies of the model after `warmup` steps each; median and range per way.

    python bench/sparse_step.py [--task sick|panx] [--steps 12] [--warmup 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import copy
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", choices=["sick", "panx"], default="sick")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    common.setup_env(args.threads)
    import torch

    from xstilts.tasks import REGISTRY
    from xstilts.training.clipping import clip_grad_norm
    from xstilts.training.optimizer import build_optimizer
    from xstilts.training.train import length_grouped_batches

    task, tok = REGISTRY[args.task], common.tokenizer()
    base = common.build_model(args.task, 1)
    features = base.fmt.encode(common.examples(args.task, "train", 2000), tok, task, 128)
    batches = length_grouped_batches([f.length for f in features], 32, random.Random(1))
    ways = {}
    for name, sparse in (("sparse gradient", True), ("dense gradient", False)):
        model = copy.deepcopy(base)
        model.train()
        model.encoder.set_attn_implementation("eager")  # the CPU loop's training attention
        embedding = model.encoder.get_input_embeddings()
        optimizer, lazy = build_optimizer(model, 0.01, 3e-5, torch.device("cpu"), embedding)
        lazy.watch(embedding, sparse=sparse)
        ways[name] = (model, optimizer)
    times: dict[str, list[float]] = {name: [] for name in ways}
    tokens = []
    for step in range(args.warmup + args.steps):
        chunk = [features[i] for i in batches[step % len(batches)]]
        for name, (model, optimizer) in ways.items():
            batch = model.batch(chunk, tok.pad_token_id)
            started = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss = model.fmt.loss(model(batch), batch)
            loss.backward()
            clip_grad_norm(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if step >= args.warmup:
                times[name].append(time.perf_counter() - started)
        if step >= args.warmup:
            tokens.append(sum(f.length for f in chunk))
    print(
        f"{args.task}, batch 32, {args.steps} steps after {args.warmup}, torch {torch.__version__}, {args.threads} thread(s)"
    )
    tokens_per_step = {"real": statistics.median(tokens)}
    print("\n".join(common.median_lines(times, "dense gradient", tokens_per_step, per="step")))


if __name__ == "__main__":
    main()
