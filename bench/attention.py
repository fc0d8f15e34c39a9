"""Training-step time of me5-small with PyTorch's fused attention kernel (sdpa) against the plain matmul-softmax
attention (eager), on real batches of real tasks, the two alternating so that a busy neighbour hits both alike.
This measurement is why xstilts trains with eager attention on CPU (train.py, `_training_attention`).

    python bench/attention.py                 # sick, panx, siqa; prints seconds per step and the ratio
    python bench/attention.py --tasks sick --rounds 6

A step is what xstilts' loop does: collate, bf16 autocast forward and loss, backward, clip, fused AdamW, with
the word embeddings frozen (their update would dominate and is the same for both)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from xstilts.encoders.loading import load_encoder, load_tokenizer
from xstilts.formats import make_format
from xstilts.spec import ModelSpec
from xstilts.tasks import get_task
from xstilts.tasks.loading import load_examples
from xstilts.training.task_model import new_task_models

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def seconds_per_step(task_name: str, batches: int, rounds: int, batch_size: int) -> dict[str, float]:
    spec = ModelSpec()
    tokenizer, encoder = load_tokenizer(spec), load_encoder(spec)
    task = get_task(task_name)
    fmt = make_format(task.format)
    examples = load_examples(task, "train", "en", DATA)[: batch_size * (batches + 1)]
    features = fmt.encode(examples, tokenizer, task, 128)
    model = new_task_models(encoder, [(task, {})], 0, torch.device("cpu"))[task.name]
    encoder.get_input_embeddings().weight.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=5e-5, fused=True)
    chunks = [features[i : i + batch_size] for i in range(0, len(features), batch_size)]
    model.train()

    def step(chunk: list) -> None:
        batch = model.batch(chunk, tokenizer.pad_token_id)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = fmt.loss(model(batch), batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    best = {"sdpa": float("inf"), "eager": float("inf")}
    for _ in range(rounds):
        for impl in best:
            encoder.set_attn_implementation(impl)
            step(chunks[0])  # warm-up of this implementation's kernels
            started = time.perf_counter()
            for chunk in chunks[1:]:
                step(chunk)
            best[impl] = min(best[impl], (time.perf_counter() - started) / (len(chunks) - 1))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default="sick,panx,siqa")
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads; best of {args.rounds} rounds of {args.batches} steps")
    print("| task | sdpa s/step | eager s/step | sdpa / eager |\n|---|---|---|---|")
    for task in args.tasks.split(","):
        best = seconds_per_step(task, args.batches, args.rounds, args.batch_size)
        print(f"| {task} | {best['sdpa']:.3f} | {best['eager']:.3f} | {best['sdpa'] / best['eager']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
