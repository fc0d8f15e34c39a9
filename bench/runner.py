"""The runner: one measurement per child process (peak memory and thread pools never mix), the machine's other
load accounted for around each child (/proc/stat), a quiet start waited for, a disturbed measurement repeated.

bench/cases.py says what to measure; this module only runs children and records what the kernel says of them.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


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
        self,
        mode: str,
        sizes: dict[str, Any],
        threads: int,
        out_dir: Path,
        settle_max: float = 0.0,
        retries: int = 0,
        contended: float = 0.3,
    ):
        self.mode, self.threads, self.sizes = mode, threads, sizes
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

    def cli(self, name: str, spec: Path, out: Path, extra_env: dict[str, str] | None = None) -> dict[str, Any]:
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


def stage_times(out: Path) -> list[dict[str, Any]]:
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
