"""One optimizer step of me5-small with its word embeddings trained: torch's fused and foreach AdamW over every
weight against xstilts' LazyAdamW (the embedding matrix lazily, the rest fused), on the rows real SICK batches
touch. Gradients are random in the rows a batch of 32 reads (the rows it does not read have zero gradient, as in
training); the lazy optimizer also pays for finding those rows and for catching up rows it reads after a gap.
Steps are interleaved (one of each per round), after `warmup` rounds; median and range per optimizer.

    python bench/lazy_step.py [--rounds 20] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    common.setup_env(args.threads)
    import torch

    from xstilts.training.lazy_adamw import LazyAdamW
    from xstilts.training.optimizer import param_groups
    from xstilts.training.train import length_grouped_batches

    model = common.build_model("sick", 1)
    embedding = model.encoder.get_input_embeddings()
    tok = common.tokenizer()
    pairs = common.examples("sick", "train", 2000)
    ids = tok([e.text_a for e in pairs], [e.text_b for e in pairs], truncation=True, max_length=128)["input_ids"]
    import random

    batches = length_grouped_batches([len(r) for r in ids], 32, random.Random(0))
    rows = [torch.tensor(sorted({t for i in b for t in ids[i]})) for b in batches]
    params = [p for p in model.parameters() if p.requires_grad]
    optimizers = {
        "AdamW fused (dense)": torch.optim.AdamW(param_groups(model, 0.01), lr=2e-5, fused=True),
        "AdamW foreach (dense)": torch.optim.AdamW(param_groups(model, 0.01), lr=2e-5, foreach=True),
        "LazyAdamW (embeddings) + fused": LazyAdamW(param_groups(model, 0.01, embedding.weight), lr=2e-5, fused=True),
    }
    times: dict[str, list[float]] = {name: [] for name in optimizers}
    generator = torch.Generator().manual_seed(0)
    for step in range(args.warmup + args.rounds):
        touched = rows[step % len(rows)]
        for name, optimizer in optimizers.items():
            for p in params:
                p.grad = torch.randn(p.shape, generator=generator) * 1e-3
            grad = torch.zeros_like(embedding.weight)
            grad[touched] = torch.randn(len(touched), grad.shape[1], generator=generator) * 1e-3
            embedding.weight.grad = grad
            if isinstance(optimizer, LazyAdamW):
                started = time.perf_counter()
                optimizer.before_read(embedding.weight, touched)  # what its lookup hook does
            else:
                started = time.perf_counter()
            optimizer.step()
            if step >= args.warmup:
                times[name].append(time.perf_counter() - started)
    out = {
        name: {"median_ms": 1e3 * statistics.median(t), "min_ms": 1e3 * min(t), "max_ms": 1e3 * max(t)}
        for name, t in times.items()
    }
    base = out["AdamW fused (dense)"]["median_ms"]
    for name in out:
        out[name]["speedup_vs_fused"] = base / out[name]["median_ms"]
    print(
        json.dumps(
            {
                "threads": args.threads,
                "rounds": args.rounds,
                "rows_per_batch": statistics.median(len(r) for r in rows),
                "torch": torch.__version__,
                "steps": out,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
