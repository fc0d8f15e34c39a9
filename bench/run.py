"""xstilts performance benchmark: one command, every figure side by side, on me5-small and real data.

    python bench/run.py --quick        # about 10 minutes on 2 cores: every measurement, small sizes
    python bench/run.py --full         # about an hour: 2,000 training examples per task, larger eval sets
    python bench/run.py --quick --only peak,train-pair    # a subset (names: see --list)
    python bench/run.py --device cpu   # like with like: xstilts vs Trainer on identical batches (bench/fair.py)
    python bench/run.py --device cuda  # the same on a GPU: random-init XLM-R Base and Large shapes
    python bench/run.py --device cuda --shapes xlmr-large --tasks sick --reps 3   # one part of it
    python bench/run.py --render bench/results/latest-fair-cuda.json   # a saved run into BENCHMARKS.md again

Every configuration runs in its own subprocess (bench/measure.py), one after another, so peak resident memory
(from the kernel's rusage of that child) and thread pools never mix. Before and after each child the harness
reads /proc/stat, so every row also says how many cores the rest of the machine used meanwhile: the numbers are
only comparable when that column is near 0.

Writes bench/results/<mode>-<time>.json (everything, raw) and rewrites the generated section of BENCHMARKS.md
for that mode. Nothing under src/ or tests/ is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402

RESULTS = HERE / "results"
BENCHMARKS_MD = REPO / "BENCHMARKS.md"

# Sizes per mode. Training runs one epoch over n_train examples, batch 32, so steps = n_train / 32.
MODES: dict[str, dict[str, Any]] = {
    "quick": {
        "n_train": {"sick": 256, "panx": 256},
        "n_dev": {"sick": None, "panx": 500},  # None = the whole dev split (SICK TRIAL: 495 pairs)
        "n_predict": {"sick": None, "panx": 1000},
        "peak_repeats": 5,
        "optim_repeats": 2,
        "rerun_sizes": {"sick": 128, "panx_train": 128, "panx_eval": 100},
    },
    "full": {
        "n_train": {"sick": 2000, "panx": 2000},
        "n_dev": {"sick": None, "panx": 2000},
        "n_predict": {"sick": None, "panx": 5000},
        "peak_repeats": 7,
        "optim_repeats": 3,
        "rerun_sizes": {"sick": 500, "panx_train": 500, "panx_eval": 300},
    },
}

TRAIN_CONFIGS = [  # (label, params): the order is the order of the table
    ("xstilts", {"impl": "xstilts"}),
    ("Trainer default", {"impl": "trainer", "trainer_config": "default"}),
    ("Trainer tuned", {"impl": "trainer", "trainer_config": "tuned"}),
]
# Extra rows (full mode): xstilts' loop with its own fp32 option. measure.py keeps a `what_if` switch for
# trying a change that is not in xstilts (fused AdamW was measured that way before xstilts adopted it).
WHATIF_CONFIGS = [
    ("xstilts precision fp32", {"impl": "xstilts", "precision": "fp32"}),
]
STEPS = [
    "peak",
    "featurise",
    "train-pair",
    "train-tagging",
    "frozen-pair",
    "frozen-tagging",
    "whatif",
    "predict",
    "optim",
    "tatoeba",
    "rerun",
    "steps",
    "peak-end",
]
# `steps` (per-phase timing of single training steps) and `whatif` (fp32 rows): in full mode, or with --only.
# The matmul peak is measured first and last; the higher of the two is the ceiling (a busy neighbour lowers it).
DEFAULT_STEPS = {"quick": [s for s in STEPS if s not in ("steps", "whatif")], "full": STEPS}


# --- running one child and accounting for the machine ----------------------------------------------------


def _busy_seconds() -> float:
    """CPU seconds all processes have spent busy since boot (every core), from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_child(argv: list[str], log: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run argv to completion; its wall time, CPU time, peak RSS (its own rusage), and the other load."""
    busy0, load0, t0 = _busy_seconds(), os.getloadavg()[0], time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "returncode": proc.returncode,
        "wall_s": wall,
        "cpu_s": cpu,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "others_cores": max(0.0, (_busy_seconds() - busy0 - cpu) / wall),
        "loadavg_start": load0,
        "loadavg_end": os.getloadavg()[0],
        "log": str(log.relative_to(REPO)),
    }


def others_now(seconds: float = 2.0) -> float:
    """Cores the rest of the machine keeps busy, sampled over `seconds` while this harness sleeps."""
    busy0 = _busy_seconds()
    time.sleep(seconds)
    return (_busy_seconds() - busy0) / seconds


def settle(max_wait: float, threshold: float = 0.2) -> dict[str, float]:
    """Wait (up to max_wait seconds) until other processes use less than `threshold` cores: with 2 OpenMP
    threads on 2 cores, one busy neighbour can slow a measurement several-fold (threads wait at barriers for
    the descheduled one), so a quiet start matters more than anything else here."""
    t0 = time.perf_counter()
    load = others_now(1.0)
    while load >= threshold and time.perf_counter() - t0 < max_wait:
        load = others_now(2.0)
    return {"waited_s": time.perf_counter() - t0, "others_before": load}


class Harness:
    def __init__(
        self, mode: str, threads: int, out_dir: Path, settle_max: float = 0.0, retries: int = 0, contended: float = 0.3
    ):
        self.mode, self.threads, self.sizes = mode, threads, MODES[mode]
        self.settle_max, self.retries, self.contended = settle_max, retries, contended
        self.out_dir = out_dir
        self.logs = out_dir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.records: list[dict[str, Any]] = []

    def measure(self, name: str, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        params = {"threads": self.threads, **params}
        out = self.out_dir / f"{name}.json"
        argv = [sys.executable, str(HERE / "measure.py"), kind, "--params", json.dumps(params), "--out", str(out)]
        attempts: list[dict[str, Any]] = []
        for attempt in range(self.retries + 1):
            quiet = settle(self.settle_max) if self.settle_max > 0 else {}
            print(f"  {name}{f' (retry {attempt})' if attempt else ''} ...", end="", flush=True)
            proc = {**run_child(argv, self.logs / f"{name}.log"), **quiet}
            attempts.append(proc)
            if proc["returncode"] != 0 or proc["others_cores"] < self.contended or attempt == self.retries:
                break
            print(f" {proc['wall_s']:.0f}s but others used {proc['others_cores']:.2f} cores: again", flush=True)
            keep = out.with_suffix(f".try{attempt}.json")
            if out.exists():
                out.replace(keep)
        # keep the least disturbed attempt
        best = min(range(len(attempts)), key=lambda i: (attempts[i]["returncode"] != 0, attempts[i]["others_cores"]))
        proc = attempts[best]
        if best != len(attempts) - 1:
            out.with_suffix(f".try{best}.json").replace(out)
        for stale in out.parent.glob(f"{out.stem}.try*.json"):
            stale.unlink()
        record = {
            "name": name,
            "kind": kind,
            "process": proc,
            "attempts": [{k: a[k] for k in ("wall_s", "others_cores")} for a in attempts],
        }
        if proc["returncode"] == 0 and out.exists():
            record.update(json.loads(out.read_text()))
            out.unlink()
        else:
            record["error"] = f"exit code {proc['returncode']}; see {proc['log']}"
        print(
            f" {proc['wall_s']:.0f}s, peak {proc['peak_rss_mb']:.0f} MB, others {proc['others_cores']:.2f} cores"
            + (f"  ERROR {record['error']}" if "error" in record else ""),
            flush=True,
        )
        self.records.append(record)
        return record

    # -- the steps ----------------------------------------------------------------------------------------
    def peak(self) -> None:
        self.measure("peak", "peak", {"sizes": [2048, 4096], "repeats": self.sizes["peak_repeats"]})

    def peak_end(self) -> None:
        self.measure("peak-end", "peak", {"sizes": [2048, 4096], "repeats": self.sizes["peak_repeats"]})

    def featurise(self) -> None:
        sets = [["sick", "train", "en"], ["panx", "train", "en"], ["panx", "dev", "en"], ["tatoeba", "test", "de"]]
        self.measure("featurise", "featurise", {"sets": sets})

    def _train(self, task_key: str, freeze: bool, configs: list = TRAIN_CONFIGS) -> None:
        task = common.TASKS[task_key]
        for label, cfg in configs:
            name = f"train-{task_key}-{'frozen' if freeze else 'full'}-{_slug(label)}"
            params = {
                "task": task,
                "n_train": self.sizes["n_train"][task],
                "n_dev": self.sizes["n_dev"][task],
                "freeze": freeze,
                "seed": 1,
                "lr": 5e-5,
                **cfg,
            }
            self.measure(name, "train", params)["label"] = label

    def train_pair(self) -> None:
        self._train("pair", freeze=False)

    def train_tagging(self) -> None:
        self._train("tagging", freeze=False)

    def frozen_pair(self) -> None:
        self._train("pair", freeze=True)

    def frozen_tagging(self) -> None:
        self._train("tagging", freeze=True)

    def whatif(self) -> None:
        for task_key in common.TASKS:
            self._train(task_key, freeze=False, configs=WHATIF_CONFIGS)

    def predict(self) -> None:
        for task_key, task in common.TASKS.items():
            for impl in ("xstilts", "trainer"):
                self.measure(
                    f"predict-{task_key}-{impl}",
                    "predict",
                    {"task": task, "impl": impl, "n": self.sizes["n_predict"][task]},
                )

    def optim(self) -> None:
        self.measure("optim", "optim", {"repeats": self.sizes["optim_repeats"]})

    def steps(self) -> None:
        self.measure("steps-pair", "steps", {"task": "sick", "n_train": 320, "n_steps": 6})

    def tatoeba(self) -> None:
        self.measure("tatoeba-direct", "tatoeba", {"lang": "de"})
        self.measure("tatoeba-direct-cut7", "tatoeba", {"lang": "de", "num_layers": 7})
        with tempfile.TemporaryDirectory(prefix="bench-tatoeba-") as tmp:
            spec = Path(tmp) / "tatoeba.yaml"
            spec.write_text(
                f"name: bench-tatoeba\ndata_dir: {common.data_root()}\nmodel: me5-small\nseeds: [1]\n"
                "intermediate: {none: []}\ntargets:\n  - {task: tatoeba, eval_languages: [de]}\n"
            )
            self._cli("tatoeba-cli", spec, Path(tmp) / "out")

    def rerun(self) -> None:
        s = self.sizes["rerun_sizes"]
        with tempfile.TemporaryDirectory(prefix="bench-rerun-") as tmp:
            spec = Path(tmp) / "tiny.yaml"
            spec.write_text(
                textwrap.dedent(f"""\
                name: bench-rerun
                data_dir: {common.data_root()}
                model: {{name: me5-small, num_layers: 2}}
                seeds: [1]
                train: {{learning_rate: 5.0e-5, batch_size: 32, max_length: 64}}
                intermediate:
                  none: []
                  sick: [{{task: sick, max_train_examples: {s["sick"]}}}]
                targets:
                  - {{task: panx, max_train_examples: {s["panx_train"]}, max_eval_examples: {s["panx_eval"]},
                     eval_languages: [en, de, fr]}}
                """)
            )
            out = Path(tmp) / "out"
            # The first run tokenises everything (feature cache off), as on a machine that never saw the data.
            first = self._cli("rerun-first", spec, out, {"XSTILTS_FEATURE_CACHE": "0"})
            first["stages"] = _stage_times(out)
            second = self._cli("rerun-second", spec, out)
            second["fraction_of_first"] = second["process"]["wall_s"] / first["process"]["wall_s"]
            second["spec"] = spec.read_text()

    def _cli(self, name: str, spec: Path, out: Path, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
        argv = [sys.executable, "-m", "xstilts.cli", "run", str(spec), "--out", str(out)]
        env = {
            "OMP_NUM_THREADS": str(self.threads),
            "XSTILTS_CACHE": os.environ.get("XSTILTS_CACHE", str(REPO / ".cache")),
            "HF_HUB_OFFLINE": "1",
            **(extra_env or {}),
        }
        quiet = settle(self.settle_max) if self.settle_max > 0 else {}
        print(f"  {name} ...", end="", flush=True)
        proc = {**run_child(argv, self.logs / f"{name}.log", env), **quiet}
        record = {"name": name, "kind": "cli", "process": proc, "command": shlex.join(["xstilts", "run", spec.name])}
        if proc["returncode"] != 0:
            record["error"] = f"exit code {proc['returncode']}; see {proc['log']}"
        print(
            f" {proc['wall_s']:.1f}s, peak {proc['peak_rss_mb']:.0f} MB, others {proc['others_cores']:.2f} cores",
            flush=True,
        )
        self.records.append(record)
        return record


def _stage_times(out: Path) -> list[dict[str, Any]]:
    """Per-stage seconds as the runner recorded them in results.sqlite (best effort: the schema may change)."""
    import sqlite3

    try:
        db = sqlite3.connect(out / "results.sqlite")
        rows = db.execute("SELECT kind, task, seconds, log FROM stages ORDER BY finished_at").fetchall()
        db.close()
    except sqlite3.Error as err:
        return [{"error": str(err)}]
    stages = []
    for kind, task, seconds, log in rows:
        report = (json.loads(log or "{}") or {}).get("report") or {}
        stages.append(
            {
                "kind": kind,
                "task": task,
                "seconds": seconds,
                "train_loop_s": report.get("seconds"),
                "steps": report.get("steps"),
            }
        )
    return stages


# --- machine description -------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    import torch
    import transformers

    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in cpuinfo.splitlines() if line.startswith("flags")), [])
    wanted = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile"]
    return {
        "cpu": model,
        "cpu_family_model": _cpu_family_model(cpuinfo),
        "flags": [f for f in wanted if f in flags],
        "cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "kernel": platform.release(),
    }


def _cpu_family_model(cpuinfo: str) -> str:
    values = {}
    for line in cpuinfo.splitlines():
        if ":" in line:
            k, v = (s.strip() for s in line.split(":", 1))
            if k in ("cpu family", "model", "stepping", "vendor_id") and k not in values:
                values[k] = v
    return f"{values.get('vendor_id', '?')} family {values.get('cpu family', '?')} model {values.get('model', '?')}"


# --- report ----------------------------------------------------------------------------------------------


def _by_name(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in records}


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def _warn(r: dict[str, Any]) -> str:
    return " ⚠" if r.get("process", {}).get("others_cores", 0) > 0.3 else ""


def _f(x: float | None, digits: int = 1) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def render(run: dict[str, Any]) -> str:
    """The generated markdown for one run: machine, figures, targets. Each section is its own function; the
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
    rows = [recs.get(f"train-{task_key}-{'frozen' if freeze else 'full'}-{_slug(label)}") for label, _ in configs]
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
        if base is not None and r is not base:
            fmt = "classification" if task == "sick" else "tagging"
            d = common.paired_bootstrap(fmt, r["dev_counts"], base["dev_counts"])
            delta = f"{d['delta']:+.1f} [{d['ci_low']:+.1f}, {d['ci_high']:+.1f}]"
            r["delta_vs_xstilts"] = d
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


def update_benchmarks_md(mode: str, text: str) -> None:
    begin, end = f"<!-- BEGIN generated: {mode} -->", f"<!-- END generated: {mode} -->"
    block = f"{begin}\n{text}\n{end}"
    doc = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    if begin in doc and end in doc:
        doc = doc[: doc.index(begin)] + block + doc[doc.index(end) + len(end) :]
    else:
        doc = doc.rstrip("\n") + f"\n\n## Latest {mode} run (generated by bench/run.py)\n\n{block}\n"
    BENCHMARKS_MD.write_text(doc)


def run_fair(
    device: str, threads: int, write: bool, sizes: dict[str, Any] | None = None, results: Path = RESULTS
) -> None:
    """One in-process run of bench/fair.py; its table goes to BENCHMARKS.md's generated section for the device.
    `sizes` overrides fair.SIZES[device] (training examples per run, repetitions, dev steps, shapes, tasks); the
    results JSON goes to `results` (bench/gpu/run.sh gives each of its parts a folder of its own)."""
    common.setup_env(threads)
    import fair

    command = shlex.join(["python", "bench/run.py", *sys.argv[1:]])
    started = time.perf_counter()
    result = fair.run(device, sizes)
    result.update(command=command, device_type=device, total_s=time.perf_counter() - started, machine=machine())
    out = results / f"fair-{device}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    latest = results / f"latest-{fair_section(result, device)}.json"
    shutil.copyfile(out, latest)
    text = render_fair(result, str(latest.relative_to(REPO) if latest.is_relative_to(REPO) else latest))
    print(text)
    if write:
        update_benchmarks_md(fair_section(result, device), text)


def fair_section(result: dict[str, Any], device: str) -> str:
    """BENCHMARKS.md's generated section for a like-with-like result: a run of dev scores alone (--reps 0) has its
    own, so that it does not replace the timed run's."""
    timed = any(run.get("train") for run in result["runs"])
    return f"fair-{device}" if timed else f"fair-{device}-quality"


def render_fair(result: dict[str, Any], raw: str) -> str:
    """The generated section of one like-with-like run (bench/fair.py), from its results JSON."""
    import fair

    return fair.render(result, result["command"]) + f"\nTotal {result['total_s'] / 60:.1f} min; raw results: {raw}.\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = ap.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="small sizes, about 10 minutes (default)")
    group.add_argument("--full", action="store_true", help="2,000 training examples per task, about an hour")
    group.add_argument(
        "--device", choices=["cpu", "cuda"], help="the like-with-like comparison with Trainer (bench/fair.py)"
    )
    ap.add_argument("--only", help=f"comma-separated subset of: {', '.join(STEPS)}")
    ap.add_argument("--threads", type=int, default=2, help="torch threads per measurement (default 2)")
    ap.add_argument(
        "--settle",
        type=float,
        default=None,
        metavar="S",
        help="before each measurement wait up to S seconds for other processes to go quiet "
        "(default: 15 in quick mode, 120 in full mode; 0 = never wait)",
    )
    ap.add_argument(
        "--retries",
        type=int,
        default=None,
        help="re-run a measurement during which other processes used > 0.3 cores, keeping the least "
        "disturbed attempt (default: 0 quick, 1 full)",
    )
    ap.add_argument("--train-examples", type=int, help="with --device: training examples per timed run")
    ap.add_argument("--reps", type=int, help="with --device: interleaved repetitions")
    ap.add_argument(
        "--dev-steps", type=int, help="with --device: steps trained before the dev scores, at most one epoch (0: none)"
    )
    ap.add_argument("--dev-seeds", type=int, help="with --device: seeds of the dev-score runs (default: 3 CPU, 1 GPU)")
    ap.add_argument(
        "--dev-start", choices=["pretrained", "random"], help="with --device: the dev runs' encoder (CPU: pretrained)"
    )
    ap.add_argument(
        "--embeddings",
        choices=["frozen", "trained", "both"],
        help="with --device: which runs (CPU: both, GPU: trained)",
    )
    ap.add_argument("--shapes", help="with --device: comma-separated encoder shapes (bench/fair.py SHAPES)")
    ap.add_argument("--tasks", help="with --device: comma-separated tasks (default: sick,panx)")
    ap.add_argument("--results-dir", type=Path, default=RESULTS, help="with --device: where the JSON goes")
    ap.add_argument("--no-write", action="store_true", help="do not touch BENCHMARKS.md")
    ap.add_argument("--render", type=Path, help="only re-render BENCHMARKS.md from a saved results JSON (any mode)")
    args = ap.parse_args()

    if args.device:
        overrides = {"n_train": args.train_examples, "reps": args.reps, "dev_steps": args.dev_steps}
        overrides |= {"dev_seeds": args.dev_seeds, "dev_start": args.dev_start}
        overrides |= {"shapes": args.shapes and args.shapes.split(","), "tasks": args.tasks and args.tasks.split(",")}
        if args.embeddings:
            overrides["freeze"] = {"frozen": [True], "trained": [False], "both": [True, False]}[args.embeddings]
        sizes = {key: value for key, value in overrides.items() if value is not None}
        return run_fair(args.device, args.threads, not args.no_write, sizes, args.results_dir.resolve())
    if args.render:
        run = json.loads(args.render.read_text())
        if "runs" in run:  # a like-with-like result (--device; bench/gpu/run.sh merges its parts into one)
            device = run.get("device_type") or ("cuda" if "CUDA" in run["device"] else "cpu")
            text, section = render_fair(run, str(args.render)), fair_section(run, device)
        else:
            text, section = render(run), run["mode"]
        print(text)
        if not args.no_write:
            update_benchmarks_md(section, text)
        return
    mode = "full" if args.full else "quick"
    steps = args.only.split(",") if args.only else DEFAULT_STEPS[mode]
    unknown = set(steps) - set(STEPS)
    if unknown:
        ap.error(f"unknown step(s) {sorted(unknown)}; known: {STEPS}")
    common.setup_env(args.threads)
    os.environ.setdefault("XSTILTS_CACHE", str(REPO / ".cache"))
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out_dir = RESULTS / f"{mode}-{stamp}"
    settle_max = args.settle if args.settle is not None else {"quick": 15.0, "full": 120.0}[mode]
    retries = args.retries if args.retries is not None else {"quick": 0, "full": 1}[mode]
    harness = Harness(mode, args.threads, out_dir, settle_max, retries)
    started, t0, load0 = datetime.now(UTC).isoformat(timespec="seconds"), time.perf_counter(), os.getloadavg()
    print(f"xstilts benchmark, {mode} mode: {', '.join(steps)}", flush=True)
    for step in steps:
        getattr(harness, step.replace("-", "_"))()
    others = [r["process"]["others_cores"] for r in harness.records if "process" in r]
    run = {
        "mode": mode,
        "command": shlex.join(["python", "bench/run.py", *sys.argv[1:]]),
        "settle_max_s": settle_max,
        "retries": retries,
        "started": started,
        "total_s": time.perf_counter() - t0,
        "threads": args.threads,
        "loadavg_start": load0,
        "loadavg_end": os.getloadavg(),
        "others_mean": statistics.fmean(others) if others else 0.0,
        "machine": machine(),
        "records": harness.records,
    }
    text = render(run)  # adds the bootstrap results to the records, so render before saving
    (out_dir / "results.json").write_text(json.dumps(run, indent=1))
    print(text)
    if not args.only:  # a partial run neither replaces the latest complete one nor the generated section
        shutil.copyfile(out_dir / "results.json", RESULTS / f"latest-{mode}.json")
        if not args.no_write:
            update_benchmarks_md(mode, text)
    print(f"\nraw results: {(out_dir / 'results.json').relative_to(REPO)}; {run['total_s'] / 60:.1f} min")


if __name__ == "__main__":
    main()
