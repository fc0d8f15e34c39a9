"""bench/measure.py's kinds that time the machine and single training steps rather than whole loops: the matmul
peak (and at me5-small's own layer shapes), one optimizer step per AdamW implementation, one training step by
phase. Each runs in its own child process like every kind (bench/runner.py)."""

from __future__ import annotations

import time
from typing import Any

import common

# --- peak matmul ----------------------------------------------------------------------------------------


def peak(params: dict[str, Any]) -> dict[str, Any]:
    """Best-of-k torch.mm rate for square fp32 and bf16 matrices: the machine's practical matmul ceiling."""
    import torch

    out: dict[str, Any] = {"runs": []}
    for n in params.get("sizes", [2048, 4096]):
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
            torch.mm(a, b)  # warm-up: oneDNN kernel selection and page faults
            times = []
            repeats = params.get("repeats", 5) if n <= 2048 else max(2, params.get("repeats", 5) - 2)
            for _ in range(repeats):
                t = time.perf_counter()
                torch.mm(a, b)
                times.append(time.perf_counter() - t)
            flop = 2.0 * n**3
            out["runs"].append(
                {
                    "n": n,
                    "dtype": name,
                    "best_gflops": flop / min(times) / 1e9,
                    "median_gflops": flop / sorted(times)[len(times) // 2] / 1e9,
                }
            )
    for name in ("fp32", "bf16"):
        out[f"{name}_peak_gflops"] = max(r["best_gflops"] for r in out["runs"] if r["dtype"] == name)
    out["layer_shapes"] = _layer_shapes(params.get("tokens", [512, 1024]))
    return out


def _layer_shapes(token_counts: list[int]) -> list[dict[str, Any]]:
    """The matmul rate at me5-small's own shapes: a batch of M tokens through one encoder layer's Linear layers
    (query, key, value, attention output: M x 384 @ 384 x 384; FFN in: 384 x 1536; FFN out: 1536 x 384),
    timed with torch.mm and summed. This is the ceiling the layer's matmuls can reach at that batch size, well
    below the large-square peak because the matrices are narrow."""
    import torch

    shapes = [(384, 384)] * 4 + [(384, 1536), (1536, 384)]
    rows = []
    for m in token_counts:
        for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            pairs = [(torch.randn(m, k).to(dtype), torch.randn(k, n).to(dtype)) for k, n in shapes]
            flop = sum(2.0 * m * k * n for k, n in shapes)
            best = float("inf")
            for _ in range(5):
                t = time.perf_counter()
                for _ in range(10):
                    for a, b in pairs:
                        torch.mm(a, b)
                best = min(best, (time.perf_counter() - t) / 10)
            rows.append({"tokens": m, "dtype": name, "gflops": flop / best / 1e9})
    return rows


# --- optimizer step and per-phase step timing ------------------------------------------------------------


def optim(params: dict[str, Any]) -> dict[str, Any]:
    """One optimizer step of the real parameter set, per AdamW implementation, with and without the trained
    word-embedding matrix; plus gradient clipping. Best of `repeats` after one warm-up step."""
    import torch

    from xstilts.training.optimizer import param_groups

    model = common.build_model("sick", 1)
    emb = model.encoder.get_input_embeddings().weight
    out: dict[str, Any] = {"runs": []}
    for frozen in (False, True):
        emb.requires_grad_(not frozen)
        for p in model.parameters():
            p.grad = torch.randn_like(p) * 1e-3 if p.requires_grad else None
        for name, kwargs in (
            ("for-loop (xstilts default)", {}),
            ("foreach", {"foreach": True}),
            ("fused", {"fused": True}),
        ):
            opt = torch.optim.AdamW(param_groups(model, 0.01), lr=1e-5, **kwargs)
            opt.step()
            times = []
            for _ in range(params.get("repeats", 3)):
                t = time.perf_counter()
                opt.step()
                times.append(time.perf_counter() - t)
            out["runs"].append(
                {"what": f"AdamW {name}", "embeddings": "frozen" if frozen else "trained", "best_s": min(times)}
            )
            del opt
        times = []
        for _ in range(params.get("repeats", 3)):
            t = time.perf_counter()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            times.append(time.perf_counter() - t)
        out["runs"].append(
            {"what": "clip_grad_norm_", "embeddings": "frozen" if frozen else "trained", "best_s": min(times)}
        )
    out["word_embedding_params"] = emb.numel()
    return out


def steps(params: dict[str, Any]) -> dict[str, Any]:
    """Where one xstilts training step goes: forward, backward, clip, AdamW step, zero_grad, timed separately
    on real batches (length-grouped, as xstilts draws them), for bf16 autocast and fp32, trained and frozen
    embeddings. The same operations as xstilts.training.train.train, in the same order."""
    import random

    import torch

    from xstilts.spec import TrainConfig
    from xstilts.tasks import REGISTRY
    from xstilts.training.optimizer import param_groups
    from xstilts.training.train import length_grouped_batches

    task_name = params["task"]
    task = REGISTRY[task_name]
    tok = common.tokenizer()
    features = None
    out: dict[str, Any] = {"runs": []}
    for frozen in params.get("frozen", [False, True]):
        for bf16 in params.get("bf16", [True, False]):
            model = common.build_model(task_name, 1)
            if features is None:
                features = model.fmt.encode(
                    common.examples(task_name, "train", params.get("n_train", 640)), tok, task, 128
                )
            if frozen:
                model.encoder.get_input_embeddings().weight.requires_grad_(False)
            opt = torch.optim.AdamW(param_groups(model, 0.01), lr=1e-5)
            batches = length_grouped_batches([f.length for f in features], TrainConfig().batch_size, random.Random(1))
            phases: dict[str, list[float]] = {
                k: [] for k in ("collate", "forward", "backward", "clip", "optimizer", "zero_grad")
            }
            tokens = 0
            model.train()
            for i, idx in enumerate(batches[: params.get("n_steps", 6) + 1]):
                t0 = time.perf_counter()
                batch = model.batch([features[j] for j in idx], tok.pad_token_id)
                t1 = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    loss = model.fmt.loss(model(batch), batch)
                t2 = time.perf_counter()
                loss.backward()
                t3 = time.perf_counter()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                t4 = time.perf_counter()
                opt.step()
                t5 = time.perf_counter()
                opt.zero_grad(set_to_none=True)
                t6 = time.perf_counter()
                if i == 0:
                    continue  # warm-up step: optimizer state allocation, oneDNN kernel selection
                tokens += int(batch["attention_mask"].sum())
                for k, a, b in (
                    ("collate", t0, t1),
                    ("forward", t1, t2),
                    ("backward", t2, t3),
                    ("clip", t3, t4),
                    ("optimizer", t4, t5),
                    ("zero_grad", t5, t6),
                ):
                    phases[k].append(b - a)
            out["runs"].append(
                {
                    "embeddings": "frozen" if frozen else "trained",
                    "precision": "bf16" if bf16 else "fp32",
                    "steps": len(phases["forward"]),
                    "tokens_per_step": tokens / len(phases["forward"]),
                    **{f"{k}_s": sum(v) / len(v) for k, v in phases.items()},
                }
            )
            del model, opt
    return out
