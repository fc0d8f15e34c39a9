"""Like with like: xstilts' training loop against transformers.Trainer (default and tuned) on identical batches.

    python bench/run.py --device cpu      # me5-small's shape; reduced sizes that fit ~10 minutes on 2 cores
    python bench/run.py --device cuda     # XLM-R Base and Large shapes, random init; fits 8 minutes on one GPU

Every encoder is built from a config with random weights (the weights do not change the speed; no download) and
the built-in me5-small tokenizer. For each task, one list of batches (xstilts' length-grouped batches of its
training features, drawn with the stage seed) is given to all three loops: xstilts draws exactly these itself,
and Trainer gets them through its dataloader's batch sampler. The same attention kernel (xstilts' choice for the
device, set on the encoder for Trainer too), the same AdamW (fused; xstilts' CPU loop steps the trained word
embeddings lazily, which gives the same weights), the same linear schedule and clipping. Repetitions are
interleaved (xstilts, Trainer default, Trainer tuned, then again), each from a freshly built model, and each
figure is the median with its range. Throughput is per real token (what the model reads) and per padded token
(what it computes); MFU is model FLOPs (bench/common.train_flops) over the matmul peak measured in the same run.
Evaluation: xstilts.training.evaluate.predict against Trainer.predict with its defaults (fp32, data order) and
tuned (bf16, length-sorted data).

Same quality: with dev_steps, each loop trains again on the full training set for that many steps (at most one
epoch) with each of dev_seeds seeds, and the model is scored on the whole English dev set (SICK 495 pairs, PAN-X
10,000 sentences) by xstilts' evaluator, so that only the loop differs. A seed sets the batches (the same for
every loop), the head's initial weights and the dropout; the run is as good as Trainer's when xstilts' mean score
lies within the range of Trainer tuned's seeds.
On a CPU the encoder starts from the pretrained me5-small (dev_start "pretrained"), so that the scores mean
something; on a GPU from the random encoder of the shape (no weights travel to the device). With reps 0 only the
dev scores are measured.
"""

from __future__ import annotations

import functools
import random
import statistics
import time
from typing import Any

import common
import engine
from engine import LOOPS

SHAPES = {  # encoder configs (random init); the vocabulary is the me5-small tokenizer's, XLM-R's own size
    "me5-small": {"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 1536},
    "xlmr-base": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12, "intermediate_size": 3072},
    "xlmr-large": {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096},
    "tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64},  # checks
}
SIZES = {  # per device: shapes, tasks, training examples per timed run, repetitions, eval examples, dev steps,
    # seeds and starting weights
    "cpu": {"shapes": ["me5-small"], "tasks": ["sick", "panx"], "n_train": 128, "reps": 5, "n_eval": 128,
            "dev_steps": 0, "dev_seeds": 3, "dev_start": "pretrained", "freeze": [True, False]},
    "cuda": {"shapes": ["xlmr-base", "xlmr-large"], "tasks": ["sick", "panx"], "n_train": 1600, "reps": 5,
             "n_eval": 4000, "dev_steps": 139, "dev_seeds": 1, "dev_start": "random", "freeze": [False]},
}  # fmt: skip
BATCH, MAX_LENGTH, LR, SEED = 32, 128, 3e-5, 1


@functools.cache
def _tokenizer() -> Any:
    return common.tokenizer()


def run(device_name: str, sizes: dict[str, Any] | None = None) -> dict[str, Any]:
    import torch

    sizes = {**SIZES[device_name], **(sizes or {})}
    device = torch.device(device_name)
    peak = _matmul_peak(device) if sizes["reps"] else {}  # dev scores only (reps 0): no MFU to divide by it
    out: dict[str, Any] = {"device": _device_words(device), "sizes": sizes, "peak": peak}
    out["runs"] = []
    for shape in sizes["shapes"]:
        for task_name in sizes["tasks"]:
            for freeze in sizes["freeze"]:
                out["runs"].append(_compare(device, shape, task_name, freeze, sizes))
    return out


def _device_words(device: Any) -> str:
    import platform

    import torch

    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def _matmul_peak(device: Any) -> dict[str, float]:
    """Best-of-5 square matmul rate, fp32 and bf16, in TFLOP/s: the ceiling MFU is measured against."""
    import torch

    n = 8192 if device.type == "cuda" else 2048
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
        best = float("inf")
        for _ in range(6):
            _sync(device)
            started = time.perf_counter()
            torch.mm(a, b)
            _sync(device)
            best = min(best, time.perf_counter() - started)
        out[name] = 2 * n**3 / best / 1e12
    return out


def _sync(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _build(device: Any, shape: str, task_name: str, seed: int = SEED, start: str = "random") -> Any:
    """A TaskModel on a random encoder of `shape` (or, with start "pretrained", me5-small's pretrained weights),
    built the same way for every loop: same encoder weights, and a head drawn with `seed`."""
    from transformers import XLMRobertaConfig, XLMRobertaModel

    from xstilts.tasks import REGISTRY
    from xstilts.training.task_model import new_task_models

    if start == "pretrained":
        if shape != "me5-small":
            raise SystemExit(f"dev_start pretrained: only me5-small has pretrained weights here, not {shape}")
        from xstilts.encoders.loading import load_encoder

        encoder = load_encoder(common.model_spec()).to(device)
        encoder.set_attn_implementation("sdpa")
        return new_task_models(encoder, [(REGISTRY[task_name], {})], seed, device)[task_name]
    tok = _tokenizer()
    config = XLMRobertaConfig(
        vocab_size=len(tok), max_position_embeddings=514, type_vocab_size=1, pad_token_id=tok.pad_token_id,
        attn_implementation="sdpa", **SHAPES[shape],
    )  # fmt: skip
    encoder = common.random_encoder_on(XLMRobertaModel, config, device)  # on the meta device, drawn where it runs
    return new_task_models(encoder, [(REGISTRY[task_name], {})], seed, device)[task_name]


def _compare(device: Any, shape: str, task_name: str, freeze: bool, sizes: dict[str, Any]) -> dict[str, Any]:
    from xstilts.tasks import REGISTRY
    from xstilts.training.train import length_grouped_batches

    task = REGISTRY[task_name]
    tok = _tokenizer()
    model = _build(device, shape, task_name)
    train_features = model.fmt.encode(common.examples(task_name, "train", sizes["n_train"]), tok, task, MAX_LENGTH)
    eval_examples = common.examples(task_name, common.DEV_SPLIT[task_name], sizes["n_eval"])
    eval_features = model.fmt.encode(eval_examples, tok, task, 512)
    lengths = [f.length for f in train_features]
    batches = length_grouped_batches(lengths, BATCH, random.Random(SEED))  # what xstilts' loop draws first
    real = sum(lengths)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    shape_info = common.encoder_shape(model)
    flops = common.train_flops(shape_info, lengths, per_token_head=task.format == "tagging")["total"]
    del model
    times: dict[str, list[float]] = {loop: [] for loop in LOOPS}
    memory: dict[str, float] = {}
    for rep in range(sizes["reps"]):
        for loop in LOOPS:
            model = _build(device, shape, task_name)
            seconds, peak = _train_once(loop, model, train_features, batches, freeze, device, len(batches))
            _note(f"{shape} {task_name} train {loop} rep {rep + 1}/{sizes['reps']}: {seconds:.2f} s")
            times[loop].append(seconds)
            memory[loop] = max(memory.get(loop, 0.0), peak)
            del model
    record = {
        "shape": shape,
        "task": task_name,
        "embeddings": "frozen" if freeze else "trained",
        "steps": len(batches),
        "real_tokens": real,
        "padded_tokens_dynamic": padded,
        "model_tflop": flops / 1e12,
    }
    if sizes["reps"]:
        record["train"] = {loop: _summary(t) for loop, t in times.items()}
        record["peak_memory_gib"] = memory if device.type == "cuda" else None
        record["eval"] = _evaluate(device, shape, task_name, eval_features, sizes["reps"])
    if sizes["dev_steps"]:
        dev_examples = common.examples(task_name, common.DEV_SPLIT[task_name], None)  # all: n_eval is a timing size
        record["dev"] = _dev_scores(device, shape, task_name, freeze, sizes, dev_examples)
    return record


def _note(line: str) -> None:
    """Progress, one line per timed run: a run stopped at its time limit still shows where the time went."""
    print(f"[fair] {line}", flush=True)


def _summary(values: list[float]) -> dict[str, float]:
    return {"median_s": statistics.median(values), "min_s": min(values), "max_s": max(values), "n": len(values),
            "seconds": list(values)}  # fmt: skip


def _train_once(
    loop: str,
    model: Any,
    features: list,
    batches: list[list[int]],
    freeze: bool,
    device: Any,
    steps: int,
    seed: int = SEED,
) -> tuple[float, float]:
    """Seconds of one training run over `batches` (steps of them), and the peak GPU memory in GiB."""
    import torch

    from xstilts.spec import TrainConfig
    from xstilts.training.device import use_bf16

    bf16 = use_bf16("auto", device)
    config = TrainConfig(learning_rate=LR, batch_size=BATCH, max_length=MAX_LENGTH, max_steps=steps,
                         freeze_embeddings=freeze)  # fmt: skip
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    _sync(device)
    started = time.perf_counter()
    if loop == "xstilts":
        from xstilts.training.train import train

        train(model, features, config, seed, _tokenizer().pad_token_id, bf16)
    else:
        engine.trainer_for(loop, model, features, config, _tokenizer(), device, bf16, seed, steps, batches).train()
    _sync(device)
    seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    return seconds, peak


def _evaluate(device: Any, shape: str, task_name: str, features: list, reps: int) -> dict[str, Any]:
    """Seconds to predict `features`: xstilts' predict, Trainer.predict default and tuned, interleaved."""
    from xstilts.tasks import REGISTRY
    from xstilts.training.device import use_bf16
    from xstilts.training.evaluate import predict

    task, tok = REGISTRY[task_name], _tokenizer()
    bf16 = use_bf16("auto", device)
    model = _build(device, shape, task_name)
    by_length = sorted(features, key=lambda f: f.length)
    times: dict[str, list[float]] = {"xstilts": [], "Trainer.predict default": [], "Trainer.predict tuned": []}
    for _ in range(reps):
        for name in times:
            _sync(device)
            started = time.perf_counter()
            if name == "xstilts":
                predict(model, task, features, 64, tok.pad_token_id, bf16)
            else:
                tuned = name.endswith("tuned")
                trainer = engine.predictor(model, tok, device, 64, tuned, bf16)
                trainer.predict(engine.hf_dataset(by_length if tuned else features, with_labels=False))
            _sync(device)
            times[name].append(time.perf_counter() - started)
            _note(f"{shape} {task_name} evaluate {name}: {times[name][-1]:.2f} s")
            model.float()  # bf16_full_eval casts the model: give the next run fp32 weights again
    return {name: _summary(t) for name, t in times.items()}


def _dev_scores(device: Any, shape: str, task_name: str, freeze: bool, sizes: dict[str, Any], examples: list) -> dict:
    """English dev scores after dev_steps steps (at most one epoch of the full training set) of each loop, for
    each of dev_seeds seeds: the same batches for every loop within a seed, scored by xstilts' evaluator."""
    from xstilts.formats import make_format
    from xstilts.tasks import REGISTRY
    from xstilts.training.device import use_bf16
    from xstilts.training.evaluate import evaluate
    from xstilts.training.train import length_grouped_batches

    task, tok, start = REGISTRY[task_name], _tokenizer(), sizes["dev_start"]
    fmt = make_format(task.format, {})  # the format new_task_models gives the head (no options in this bench)
    features = fmt.encode(common.examples(task_name, "train", None), tok, task, MAX_LENGTH)
    seeds = [SEED + i for i in range(sizes["dev_seeds"])]
    scores: dict[str, list[float]] = {loop: [] for loop in LOOPS}
    for seed in seeds:
        batches = length_grouped_batches([f.length for f in features], BATCH, random.Random(seed))
        batches = batches[: sizes["dev_steps"]]
        for loop in LOOPS:
            model = _build(device, shape, task_name, seed, start)
            _train_once(loop, model, features, batches, freeze, device, len(batches), seed)
            _, metrics = evaluate(model, task, examples, "en", tok, 512, 64, use_bf16("auto", device))
            scores[loop].append(next(iter(metrics.values())))
            _note(f"{shape} {task_name} dev {loop} seed {seed} after {len(batches)} steps: {scores[loop][-1]:.2f}")
            del model
    steps = min(sizes["dev_steps"], len(batches))
    return {"steps": steps, "metric": task.metric, "start": start, "seeds": seeds, "examples": len(examples),
            "scores": scores}  # fmt: skip


def seed_scores(dev: dict[str, Any]) -> dict[str, list[float]]:
    """Per loop, its dev score for each seed (older results hold one score per loop)."""
    return {loop: v if isinstance(v, list) else [v] for loop, v in dev["scores"].items()}


def dev_verdict(dev: dict[str, Any]) -> tuple[float, float, float, bool | None]:
    """xstilts' mean dev score, Trainer tuned's lowest and highest seed, and whether the mean lies between them
    (the target: the same quality, within Trainer's seed-to-seed spread); None with fewer than 2 seeds, which
    have no spread."""
    scores = seed_scores(dev)
    mean = statistics.fmean(scores["xstilts"])
    low, high = min(scores["Trainer tuned"]), max(scores["Trainer tuned"])
    return mean, low, high, (low <= mean <= high) if len(scores["Trainer tuned"]) > 1 else None


def render(result: dict[str, Any], command: str) -> str:
    """The Markdown section of PERFORMANCE.md for one device run."""
    peak = result["peak"]
    measured = ""
    if peak:  # a dev-scores-only run measures none
        measured = (
            f" Matmul peak measured in this run: {peak['fp32']:.2f} TFLOP/s fp32, {peak['bf16']:.2f} TFLOP/s bf16."
        )
    lines = [f"Device: {result['device']}. Command: `{command}`.{measured}"]
    timed = [r for r in result["runs"] if r.get("train")]
    if timed:
        lines += _training_table(timed, peak) + _evaluation_table(timed)
    memory = [r for r in timed if r.get("peak_memory_gib")]
    if memory:
        lines += ["", "Peak GPU memory (GiB): " + "; ".join(
            f"{r['shape']} {r['task']}: " + ", ".join(f"{k} {v:.1f}" for k, v in r["peak_memory_gib"].items())
            for r in memory)]  # fmt: skip
    dev = [r for r in result["runs"] if r.get("dev")]
    if dev:
        lines += _dev_table(dev)
    return "\n".join(lines) + "\n"


def _training_table(runs: list[dict[str, Any]], peak: dict[str, float]) -> list[str]:
    lines = [
        "",
        "| shape | task | embeddings | steps | loop | train s (median, range) | real tok/s | padded tok/s | MFU |"
        " vs Trainer default | vs Trainer tuned |",
        "| --- | --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run_ in runs:
        train = run_["train"]
        for loop in LOOPS:
            t = train[loop]
            seconds = t["median_s"]
            mfu = run_["model_tflop"] / seconds / max(peak.values())
            lines.append(
                f"| {run_['shape']} | {run_['task']} | {run_['embeddings']} | {run_['steps']} | {loop} | "
                f"{seconds:.2f} ({t['min_s']:.2f}-{t['max_s']:.2f}) | {run_['real_tokens'] / seconds:,.0f} | "
                f"{run_['padded_tokens_dynamic'] / seconds:,.0f} | {100 * mfu:.1f}% | "
                f"{train['Trainer default']['median_s'] / seconds:.2f}x | "
                f"{train['Trainer tuned']['median_s'] / seconds:.2f}x |"
            )
    return lines


def _evaluation_table(runs: list[dict[str, Any]]) -> list[str]:
    lines = ["", "| shape | task | evaluation | seconds (median, range) | vs Trainer.predict tuned |",
             "| --- | --- | --- | --- | ---: |"]  # fmt: skip
    shown = set()
    for run_ in runs:
        if (run_["shape"], run_["task"]) in shown:  # measured again with the other embedding setting: the same work
            continue
        shown.add((run_["shape"], run_["task"]))
        evals = run_["eval"]
        for name, t in evals.items():
            ratio = evals["Trainer.predict tuned"]["median_s"] / t["median_s"]
            lines.append(
                f"| {run_['shape']} | {run_['task']} | {name} | {t['median_s']:.2f} ({t['min_s']:.2f}-"
                f"{t['max_s']:.2f}) | {ratio:.2f}x |"
            )
    return lines


def _dev_table(runs: list[dict[str, Any]]) -> list[str]:
    """English dev scores per loop over the seeds, and the same-quality verdict against Trainer tuned's seeds."""
    lines = [
        "",
        "English dev scores after training on the same batches (per loop: mean of the seeds, lowest-highest):",
        "",
        "| shape | task | embeddings | start | steps | metric | dev examples | seeds | xstilts | Trainer default |"
        " Trainer tuned | same quality |",
        "| --- | --- | --- | --- | ---: | --- | ---: | ---: | --- | --- | --- | --- |",
    ]
    for run_ in runs:
        dev = run_["dev"]
        scores = seed_scores(dev)
        cells = []
        for loop in LOOPS:
            values = scores[loop]
            spread = f" ({min(values):.1f}-{max(values):.1f})" if len(values) > 1 else ""
            cells.append(f"{statistics.fmean(values):.1f}{spread}")
        mean, low, high, within = dev_verdict(dev)
        verdict = f"{'met' if within else 'missed'}: {mean:.1f} {'in' if within else 'outside'} {low:.1f}-{high:.1f}"
        if within is None:
            verdict = "not decided: one seed has no spread"
        lines.append(
            f"| {run_['shape']} | {run_['task']} | {run_['embeddings']} | {dev.get('start', 'random')} | "
            f"{dev['steps']} | {dev['metric']} | {dev.get('examples', '?')} | {len(dev.get('seeds', [SEED]))} | "
            f"{' | '.join(cells)} | {verdict} |"
        )
    return lines


def render_result(result: dict[str, Any], raw: str) -> str:
    """The generated section of one like-with-like run (bench/fair.py), from its results JSON."""
    machine_ = result.get("machine", {})
    versions = ", ".join(f"{k} {machine_[k]}" for k in ("python", "torch", "transformers") if k in machine_)
    when = f"Measured {result['date']}" if "date" in result else "Measured on an unrecorded date"
    provenance = f"{when}; {versions or 'versions not recorded'}.\n\n"
    body = render(result, result["command"])
    return provenance + body + f"\nTotal {result['total_s'] / 60:.1f} min; raw results: {raw}.\n"
