"""Where a CPU training step's time goes: xstilts' loop under torch.profiler, its operators grouped by kind.

    python bench/profile_step.py --task sick --embeddings frozen --steps 8 --threads 2

The model and batches are bench/fair.py's (me5-small's shape, random weights, batch 32, max length 128). After
two warm-up steps, `--steps` steps of xstilts.training.train.train are profiled; each operator's own time (not
counting the operators it calls) is put into one group, and the groups are printed with their share of the
profiled operator time. This is what separates the matmuls (the work MFU counts) from what both loops pay besides
them: dropout's random numbers, the bf16 casts, elementwise and normalisation kernels, the optimizer.
"""

from __future__ import annotations

import argparse
import collections
import time

import common

# Operator name -> group. Operators not listed fall in "other" (views, allocation, autograd bookkeeping).
GROUPS = {
    "matmul": ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm"),
    "dropout random numbers": ("aten::bernoulli_",),
    "bf16 casts and copies": ("aten::copy_", "aten::_to_copy"),
    "GELU": ("aten::gelu", "aten::gelu_backward"),
    "LayerNorm": ("aten::native_layer_norm", "aten::native_layer_norm_backward"),
    "softmax": ("aten::_softmax", "aten::_softmax_backward_data"),
    "elementwise (mul, add, div)": ("aten::mul", "aten::mul_", "aten::add", "aten::add_", "aten::div", "aten::div_"),
    "optimizer": ("aten::_fused_adamw_",),
    "gradient clipping": ("aten::linalg_vector_norm", "aten::_foreach_norm", "aten::_foreach_mul_"),
    "reductions (sum)": ("aten::sum",),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="sick", choices=["sick", "panx"])
    ap.add_argument("--embeddings", default="frozen", choices=["frozen", "trained"])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    common.setup_env(args.threads)
    import fair
    import torch
    from torch.profiler import ProfilerActivity, profile

    from xstilts.spec import TrainConfig
    from xstilts.tasks import REGISTRY
    from xstilts.training.device import use_bf16
    from xstilts.training.train import train

    task, tok, device = REGISTRY[args.task], fair._tokenizer(), torch.device("cpu")
    model = fair._build(device, "me5-small", args.task)
    n = args.steps * fair.BATCH
    features = model.fmt.encode(common.examples(args.task, "train", n), tok, task, fair.MAX_LENGTH)
    bf16 = use_bf16("auto", device)

    def steps(count: int) -> float:
        config = TrainConfig(learning_rate=fair.LR, batch_size=fair.BATCH, max_length=fair.MAX_LENGTH,
                             max_steps=count, freeze_embeddings=args.embeddings == "frozen")  # fmt: skip
        started = time.perf_counter()
        train(model, features[: count * fair.BATCH], config, fair.SEED, tok.pad_token_id, bf16)
        return time.perf_counter() - started

    steps(2)  # warm-up: first calls of each kernel, allocator growth
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        seconds = steps(args.steps)
    by_group: dict[str, float] = collections.Counter()
    calls: dict[str, int] = collections.Counter()
    for event in prof.key_averages():
        group = next((g for g, names in GROUPS.items() if event.key in names), "other")
        by_group[group] += event.self_cpu_time_total / 1e3  # ms
        calls[group] += event.count
    total = sum(by_group.values())
    print(f"{args.task}, embeddings {args.embeddings}, bf16 {bf16}, {args.threads} threads, torch {torch.__version__}: "
          f"{args.steps} steps in {seconds:.2f} s under the profiler; {total / args.steps:.0f} ms of operator time "
          "per step")  # fmt: skip
    print("\n| group | ms per step | share | calls per step |\n| --- | ---: | ---: | ---: |")
    for group, ms in sorted(by_group.items(), key=lambda kv: -kv[1]):
        print(f"| {group} | {ms / args.steps:.1f} | {100 * ms / total:.1f}% | {calls[group] / args.steps:.0f} |")


if __name__ == "__main__":
    main()
