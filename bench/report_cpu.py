"""The renderer of a CPU harness run: Markdown from a run's results, with no side effects. The statistics it shows
(bootstrap intervals of dev-score differences) are computed before it, by bench/verdicts.py; the targets it
lists are read from the figures only."""

from __future__ import annotations

from typing import Any

import common
from cases import TRAIN_CONFIGS, WHATIF_CONFIGS, slug


def _by_name(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in records}


def _warn(r: dict[str, Any]) -> str:
    return " ⚠" if r.get("process", {}).get("others_cores", 0) > 0.3 else ""


def _f(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def render(run: dict[str, Any]) -> str:
    """The generated markdown for one run (after verdicts.add_statistics): machine, figures, targets. Each section is its own function; the
    targets that sections measure are collected in `targets` and listed last."""
    recs = _by_name(run["records"])
    bf16_peak = _bf16_peak(run)
    targets: list[tuple[str, str, str]] = []
    lines = _header_lines(run) + _peak_lines(run)
    lines += _training_lines(recs, bf16_peak, targets)
    lines += _predict_lines(recs, targets)
    lines += _featurise_lines(recs) + _tatoeba_lines(recs)
    lines += _rerun_lines(recs, targets)
    lines += _optim_lines(recs) + _steps_lines(recs)
    lines += _target_lines(targets)
    return "\n".join(lines)


def _peak_records(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in run["records"] if r.get("kind") == "peak" and "error" not in r]


def _bf16_peak(run: dict[str, Any]) -> float | None:
    return max((p["bf16_peak_gflops"] for p in _peak_records(run)), default=None)


def _header_lines(run: dict[str, Any]) -> list[str]:
    """Run, machine, load and the settling rule."""
    lines: list[str] = []
    m = run["machine"]
    lines += [
        f"Run {run['started']} ({run['mode']} mode), {run['total_s'] / 60:.1f} min, command `{run['command']}`.",
        "",
        f"Machine: {m['cpu']} ({m['cpu_family_model']}), {m['cores']} cores, {m['memory_gb']} GB; flags "
        f"{' '.join(m['flags'])}; Python {m['python']}, torch {m['torch']}, transformers {m['transformers']}, "
        f"{run['threads']} torch threads.",
        f"Load average (1 min) at start {run['loadavg_start'][0]:.2f}, at end {run['loadavg_end'][0]:.2f}; "
        f"mean load from other processes during the measurements {run['others_mean']:.2f} cores "
        "(per row in the *others* columns).",
        f"Before each measurement the harness waited up to {run.get('settle_max_s', 0):.0f} s for the other load to drop "
        f"below 0.2 cores; a measurement disturbed by more than 0.3 cores was repeated up to {run.get('retries', 0)} "
        "time(s), keeping the least disturbed attempt. Rows marked ⚠ still had > 0.3 cores of other load: their "
        "times are inflated (with 2 threads on 2 cores a busy neighbour can slow a measurement several-fold).",
        "",
    ]
    return lines


def _peak_lines(run: dict[str, Any]) -> list[str]:
    """The peak matmul rates of the start and the end of the run."""
    lines: list[str] = []
    peaks = _peak_records(run)
    bf16_peak = _bf16_peak(run)
    if peaks:
        lines += [
            "**Peak matmul** (torch.mm of two n x n matrices, 2 threads, best and median of several; measured at the "
            "start and at the end of the run):",
            "",
            "| when | n | dtype | best GFLOP/s | median GFLOP/s | others |",
            "|---|---|---|---|---|---|",
        ]
        for p in peaks:
            when = "end" if p["name"] == "peak-end" else "start"
            lines += [
                f"| {when}{_warn(p)} | {r['n']} | {r['dtype']} | {r['best_gflops']:.0f} | {r['median_gflops']:.0f} "
                f"| {p['process']['others_cores']:.2f} |"
                for r in p["runs"]
            ]
        fp32_peak = max(p["fp32_peak_gflops"] for p in peaks)
        lines += [
            "",
            f"Peak used below (the best of all of these): fp32 {fp32_peak:.0f}, bf16 {bf16_peak:.0f} GFLOP/s.",
            "",
        ]
        lines += _layer_shape_lines(peaks, bf16_peak)
        if run["mode"] == "quick":
            lines += [
                "Quick mode trains 8 steps: its dev scores only show that nothing broke (SICK stays at the majority "
                "class, 56.8; PAN-X F1 near 0). Final-accuracy comparisons are in the full run.",
                "",
            ]
    return lines


def _layer_shape_lines(peaks: list[dict[str, Any]], bf16_peak: float) -> list[str]:
    """torch.mm at me5-small's own layer shapes."""
    lines: list[str] = []
    shaped = [r for p in peaks for r in p.get("layer_shapes", [])]
    if shaped:
        best: dict[tuple[int, str], float] = {}
        for r in shaped:
            best[(r["tokens"], r["dtype"])] = max(best.get((r["tokens"], r["dtype"]), 0.0), r["gflops"])
        lines += [
            "The same torch.mm at me5-small's own shapes (one layer's six Linear layers for a batch of M tokens: "
            "M x 384 @ 384 x 384 four times, 384 x 1536, 1536 x 384) — the ceiling for this model's matmuls at "
            "these batch sizes:",
            "",
            "| M tokens | fp32 GFLOP/s | bf16 GFLOP/s | bf16 as % of bf16 peak |",
            "|---|---|---|---|",
        ]
        for m in sorted({k[0] for k in best}):
            lines.append(
                f"| {m} | {best.get((m, 'fp32'), 0):.0f} | {best.get((m, 'bf16'), 0):.0f} "
                f"| {100 * best.get((m, 'bf16'), 0) / bf16_peak:.0f}% |"
            )
        lines.append("")
    return lines


def _training_lines(recs: dict[str, dict[str, Any]], bf16_peak: float | None, targets: list) -> list[str]:
    """One training table per task and embedding setting."""
    lines: list[str] = []
    for task_key, task in common.TASKS.items():
        for freeze in (False, True):
            lines += _training_table(recs, task_key, task, freeze, bf16_peak, targets)
    return lines


def _training_table(
    recs: dict[str, dict[str, Any]], task_key: str, task: str, freeze: bool, bf16_peak: float | None, targets: list
) -> list[str]:
    """The loops on one task, embeddings frozen or trained; adds its targets."""
    lines: list[str] = []
    configs = TRAIN_CONFIGS + ([] if freeze else WHATIF_CONFIGS)
    rows = [recs.get(f"train-{task_key}-{'frozen' if freeze else 'full'}-{slug(label)}") for label, _ in configs]
    rows = [r for r in rows if r is not None]
    if not rows:
        return lines
    emb = "word embeddings frozen" if freeze else "all parameters trained"
    lines += [
        f"**Training, {task_key} task ({task}), {emb}**",
        "",
        "| loop | precision | examples | steps | s/step | examples/s | real tokens/s | real/padded tokens "
        "| model GFLOP/s | % of bf16 peak | dev score | Δ vs xstilts [95% CI] | peak RSS MB | cores used | others |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = rows[0] if rows[0].get("label") == "xstilts" and "error" not in rows[0] else None
    for r in rows:
        if "error" in r:
            lines.append(f"| {r.get('label', r['name'])} | error: {r['error']} |" + " |" * 13)
            return lines
        delta = "–"
        if base is not None and r is not base and "delta_vs_xstilts" in r:  # verdicts.add_statistics
            d = r["delta_vs_xstilts"]
            delta = f"{d['delta']:+.1f} [{d['ci_low']:+.1f}, {d['ci_high']:+.1f}]"
        mfu = 100 * r["model_gflops_per_s"] / bf16_peak if bf16_peak else None
        lines.append(
            f"| {r['label']}{_warn(r)} | {'bf16' if r['bf16'] else 'fp32'} | {r['examples']} | {r['steps']} | {r['s_per_step']:.2f} "
            f"| {r['examples_per_s']:.1f} | {r['tokens_per_s']:.0f} | {r['real_tokens'] / r['padded_tokens']:.2f} "
            f"| {r['model_gflops_per_s']:.1f} | {_f(mfu)} | {r['dev_score']:.1f} ({r['dev_metric']}, n={r['dev_examples']}) "
            f"| {delta} | {r['process']['peak_rss_mb']:.0f} | {r['cpu_cores']:.2f} | {r['process']['others_cores']:.2f} |"
        )
    lines.append("")
    if base is not None:
        for r in rows[1:]:
            if "error" in r or not r.get("label", "").startswith("Trainer"):
                return lines
            want = 2.0 if r["label"] == "Trainer default" else 1.0
            ratio = base["examples_per_s"] / r["examples_per_s"]
            d = r["delta_vs_xstilts"]
            same = d["ci_low"] <= 0 <= d["ci_high"]
            targets.append(
                (
                    f"training {task_key}, {'frozen emb.' if freeze else 'all trained'}: xstilts ≥ {want:.0f}x {r['label']}",
                    f"{ratio:.2f}x; dev Δ {d['delta']:+.1f} [{d['ci_low']:+.1f}, {d['ci_high']:+.1f}]",
                    ("met" if ratio >= want else f"missed ({ratio / want:.0%} of target)")
                    + ("" if same else "; dev score differs"),
                )
            )
        if bf16_peak:
            frac = base["model_gflops_per_s"] / bf16_peak
            targets.append(
                (
                    f"training {task_key}, {'frozen emb.' if freeze else 'all trained'}: ≥ 50% of bf16 peak",
                    f"{frac:.1%}",
                    "met" if frac >= 0.5 else f"missed ({frac / 0.5:.0%} of target)",
                )
            )
    if base is not None and not freeze:
        emb_bytes = common.embedding_update_bytes(base["shape"])
        lines += [
            f"Model FLOPs per xstilts run: matmul {base['model_flops']['matmul'] / 1e9:.0f} G + attention "
            f"{base['model_flops']['attention'] / 1e9:.1f} G + head {base['model_flops']['head'] / 1e9:.2f} G over "
            f"{base['real_tokens']:,} real tokens. With the word embeddings trained, each step also moves at least "
            f"{emb_bytes / 1e9:.1f} GB for the {base['shape']['word_embedding_params'] / 1e6:.0f}M-parameter "
            "embedding gradient and its AdamW update (not counted as model FLOPs).",
            "",
        ]
    return lines


def _predict_lines(recs: dict[str, dict[str, Any]], targets: list) -> list[str]:
    """Evaluation: xstilts predict against Trainer.predict."""
    lines: list[str] = []
    pred = [(k, recs.get(f"predict-{k}-xstilts"), recs.get(f"predict-{k}-trainer")) for k in common.TASKS]
    pred = [p for p in pred if p[1] and p[2]]
    if pred:
        lines += [
            "**Evaluation** (pretrained encoder + new head; xstilts `predict` vs `Trainer.predict` defaults, batch 64):",
            "",
            "| task | loop | precision | examples | seconds | examples/s | real tokens/s | real/padded | same predictions | peak RSS MB | others |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for task_key, x, t in pred:
            agree = None
            if "error" not in x and "error" not in t:
                agree = sum(a == b for a, b in zip(x["predictions"], t["predictions"], strict=True)) / len(
                    x["predictions"]
                )
            for label, r in (("xstilts", x), ("Trainer.predict", t)):
                if "error" in r:
                    lines.append(f"| {task_key} | {label} | error: {r['error']} |" + " |" * 8)
                    continue
                lines.append(
                    f"| {task_key} ({common.TASKS[task_key]}) | {label}{_warn(r)} | {'bf16' if r['bf16'] else 'fp32'} | {r['examples']} "
                    f"| {r['predict_s']:.2f} | {r['examples_per_s']:.0f} | {r['tokens_per_s']:.0f} "
                    f"| {r['real_tokens'] / r['padded_tokens']:.2f} | {_f(None if agree is None else 100 * agree)}% "
                    f"| {r['process']['peak_rss_mb']:.0f} | {r['process']['others_cores']:.2f} |"
                )
            if "error" not in x and "error" not in t:
                ratio = x["examples_per_s"] / t["examples_per_s"]
                targets.append(
                    (
                        f"evaluation {task_key}: xstilts ≥ 3x Trainer.predict",
                        f"{ratio:.2f}x",
                        "met" if ratio >= 3 else f"missed ({ratio / 3:.0%} of target)",
                    )
                )
        lines.append("")
    return lines


def _featurise_lines(recs: dict[str, dict[str, Any]]) -> list[str]:
    """Reading and featurisation."""
    lines: list[str] = []
    feat = recs.get("featurise")
    if feat and "error" not in feat:
        lines += [
            "**Reading and featurisation** (`load_examples` + `Format.encode`, max length 128):",
            "",
            "| task | split | examples | tokens | read s | encode s | examples/s |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {s['task']} | {s['split']}-{s['lang']} | {s['examples']:,} | {s['tokens']:,} | {s['read_s']:.2f} | {s['encode_s']:.2f} "
            f"| {s['examples_per_s']:,.0f} |"
            for s in feat["sets"]
        ]
        lines += ["", f"Tokenizer load: {feat['tokenizer_load_s']:.2f} s.", ""]
    return lines


def _tatoeba_lines(recs: dict[str, dict[str, Any]]) -> list[str]:
    """Tatoeba retrieval, step by step."""
    lines: list[str] = []
    tat = [recs.get(n) for n in ("tatoeba-direct", "tatoeba-direct-cut7")]
    tat = [t for t in tat if t and "error" not in t]
    if tat:
        lines += [
            "**Tatoeba retrieval** (de, 1,000 pairs; the retrieval format's steps timed one by one):",
            "",
            "| encoder layers run | model load s | read s | encode s | embed s | score s | export s | total s (no load) | accuracy | peak RSS MB | others |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {t['num_layers']} (layer {t['retrieval_layer']} pooled){_warn(t)} | {t['load_s']:.1f} | {t['read_s']:.2f} | {t['encode_s']:.2f} "
            f"| {t['embed_s']:.1f} | {t['score_s']:.2f} | {t['export_s']:.2f} | {t['total_s']:.1f} | {t['accuracy']:.1f} "
            f"| {t['process']['peak_rss_mb']:.0f} | {t['process']['others_cores']:.2f} |"
            for t in tat
        ]
        cli = recs.get("tatoeba-cli")
        if cli:
            lines += [
                "",
                f"`xstilts run` on a spec whose only target is `{{task: tatoeba, eval_languages: [de]}}` (one process, "
                f"start to finish): {cli['process']['wall_s']:.1f} s, peak {cli['process']['peak_rss_mb']:.0f} MB, "
                f"others {cli['process']['others_cores']:.2f} cores"
                + (f" — {cli['error']}" if "error" in cli else "."),
            ]
        lines.append("")
    return lines


def _rerun_lines(recs: dict[str, dict[str, Any]], targets: list) -> list[str]:
    """Re-running a finished experiment."""
    lines: list[str] = []
    first, second = recs.get("rerun-first"), recs.get("rerun-second")
    if first and second:
        frac = second["fraction_of_first"]
        lines += [
            "**Re-running a finished experiment** (`xstilts run` twice into one directory; tiny spec: 2-layer me5-small, "
            "SICK intermediate, PAN-X target, see bench/run.py `rerun`):",
            "",
            "| run | wall s | CPU s | peak RSS MB | others |",
            "|---|---|---|---|---|",
            f"| first{_warn(first)} | {first['process']['wall_s']:.1f} | {first['process']['cpu_s']:.1f} | {first['process']['peak_rss_mb']:.0f} | {first['process']['others_cores']:.2f} |",
            f"| second{_warn(second)} | {second['process']['wall_s']:.1f} | {second['process']['cpu_s']:.1f} | {second['process']['peak_rss_mb']:.0f} | {second['process']['others_cores']:.2f} |",
            "",
            f"Second run = {frac:.1%} of the first.",
        ]
        stages = [st for st in first.get("stages", []) if "seconds" in st]
        if stages:
            inside = sum(st["seconds"] for st in stages)
            loops = sum(st["train_loop_s"] or 0 for st in stages)
            lines += [
                f"First run: {len(stages)} stages took {inside:.1f} s of its {first['process']['wall_s']:.1f} s "
                f"(training loops {loops:.1f} s: "
                + ", ".join(
                    f"{st['task']} {st['steps']} steps {st['train_loop_s']:.1f} s"
                    for st in stages
                    if st.get("train_loop_s")
                )
                + "); the rest is start-up, planning and reporting."
            ]
        lines.append("")
        targets.append(
            (
                "re-running a finished experiment ≤ 5% of the first run",
                f"{frac:.1%}",
                "met" if frac <= 0.05 else f"missed ({frac / 0.05:.1f}x the allowed time)",
            )
        )
    return lines


def _optim_lines(recs: dict[str, dict[str, Any]]) -> list[str]:
    """One optimizer step per implementation."""
    lines: list[str] = []
    opt = recs.get("optim")
    if opt and "error" not in opt:
        lines += [
            "**One optimizer step** on me5-small + classification head (best of several; random gradients):",
            "",
            "| operation | word embeddings trained | word embeddings frozen |",
            "|---|---|---|",
        ]
        whats = list(dict.fromkeys(r["what"] for r in opt["runs"]))
        for w in whats:
            cells = {r["embeddings"]: r["best_s"] for r in opt["runs"] if r["what"] == w}
            lines.append(f"| {w} | {cells.get('trained', 0):.3f} s | {cells.get('frozen', 0):.3f} s |")
        lines.append("")
    return lines


def _steps_lines(recs: dict[str, dict[str, Any]]) -> list[str]:
    """One training step by phase."""
    lines: list[str] = []
    st = recs.get("steps-pair")
    if st and "error" not in st:
        lines += [
            "**One xstilts training step, by phase** (SICK, batch 32, mean over steps after a warm-up step):",
            "",
            "| embeddings | precision | real tokens/step | collate | forward | backward | clip | AdamW step | zero_grad | total |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in st["runs"]:
            phases = [r[f"{k}_s"] for k in ("collate", "forward", "backward", "clip", "optimizer", "zero_grad")]
            lines.append(
                f"| {r['embeddings']} | {r['precision']} | {r['tokens_per_step']:.0f} | "
                + " | ".join(f"{p:.3f}" for p in phases)
                + f" | {sum(phases):.2f} |"
            )
        lines.append("")
    return lines


def _target_lines(targets: list) -> list[str]:
    """Every target with its measured value and status."""
    lines: list[str] = []
    if targets:
        lines += ["**Targets**", "", "| target | measured | status |", "|---|---|---|"]
        lines += [f"| {t} | {v} | {s} |" for t, v, s in targets]
        lines.append("")
    return lines
