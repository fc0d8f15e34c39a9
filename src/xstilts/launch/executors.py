"""Where runners run. Every executor starts copies of the same runner on one experiment directory; the
per-stage locks (locks.py) keep them from running a stage twice, so an executor only has to start them:

- local (default): this process, plus `--jobs N - 1` more processes on this machine, the cores split evenly;
- ray (`--executor ray [--address ADDR]`): N runners as Ray tasks, on a local Ray instance or a cluster
  whose nodes share the experiment directory on a filesystem with working flock (e.g. NFSv4, Lustre)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from xstilts.errors import UserError


def run_command(spec: Path, out: Path, root: Path) -> list[str]:
    return [sys.executable, "-m", "xstilts.cli", "run", str(spec), "--out", str(out), "--data", str(root)]


def start_local_runners(spec: Path, out: Path, root: Path, jobs: int) -> list[subprocess.Popen]:
    """jobs - 1 more runners beside this process; each (and this one) gets an equal share of the cores."""
    import torch

    threads = max(1, (os.cpu_count() or 1) // jobs)
    torch.set_num_threads(threads)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "XSTILTS_THREADS": str(threads)}
    return [
        subprocess.Popen(
            run_command(spec, out, root),
            env=env,
            stdout=(out / "logs" / f"runner-{i}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for i in range(1, jobs)
    ]


def run_on_ray(spec: Path, out: Path, root: Path, jobs: int, address: str | None) -> None:
    """Run `jobs` runners as Ray tasks and wait for them; their output goes to DIR/logs/ray-runner-<i>.log."""
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs Ray: pip install 'xstilts[ray]'") from None
    ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    cpus = int(ray.cluster_resources().get("CPU", 1))
    threads = max(1, cpus // jobs)
    (out / "logs").mkdir(parents=True, exist_ok=True)

    @ray.remote(num_cpus=threads)
    def runner(command: list[str], log: str) -> int:
        env = {**os.environ, "XSTILTS_THREADS": str(threads)}
        with open(log, "w") as stream:
            return subprocess.run(command, env=env, stdout=stream, stderr=subprocess.STDOUT).returncode

    logs = [str((out / "logs" / f"ray-runner-{i}.log").resolve()) for i in range(jobs)]
    command = run_command(spec.resolve(), out.resolve(), root.resolve())
    codes = ray.get([runner.remote(command, log) for log in logs])
    ray.shutdown()
    failed = [log for code, log in zip(codes, logs, strict=True) if code != 0]
    if failed:
        raise UserError(f"{len(failed)} Ray runner(s) failed; see {', '.join(failed)}")
