"""A training stage under `accelerate launch` (the spec's `launcher:`), seen from the runner that launches it.

The runner keeps the stage's lock and its store row; the launched processes (xstilts.launch.worker) train and write
only the checkpoint, which lands atomically (checkpoint.save). So a launch that fails, or a runner killed in the
middle of one, leaves the stage unrecorded, and the next run trains it again, exactly as without a launcher."""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from xstilts.errors import UserError
from xstilts.experiment import checkpoint
from xstilts.experiment.execute import StageContext, StageOutput
from xstilts.experiment.plan import TrainStage
from xstilts.spec import LauncherSpec, Spec
from xstilts.training.device import device

PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


class LaunchFailed(UserError):
    """The launched processes did not finish the stage; their log says why."""


def accelerate_command(launcher: LauncherSpec, program: Sequence[str], port: int | None = None) -> list[str]:
    """`[prefix...] python -m accelerate.commands.launch [options] program...`; options the spec leaves unset
    come from the accelerate config file."""
    command = [*launcher.prefix, sys.executable, "-m", "accelerate.commands.launch"]
    if launcher.config_file is not None:
        command += ["--config_file", str(launcher.config_file)]
    else:  # plain DDP; precision is the stage's own (the worker tells its Accelerator), never accelerate's
        command += ["--multi_gpu", "--mixed_precision", "no", "--dynamo_backend", "no"]
    options = {
        "--num_processes": launcher.num_processes,
        "--num_machines": launcher.num_machines or (None if launcher.config_file else 1),
        "--main_process_ip": launcher.main_process_ip,
        "--main_process_port": port or launcher.main_process_port,
    }
    command += [text for name, value in options.items() if value is not None for text in (name, str(value))]
    if (launcher.num_machines or 1) > 1:
        command += ["--rdzv_backend", "c10d"]  # torchrun assigns machine ranks, so one command serves every machine
    return [*command, *program]


def check_launchable() -> None:
    """Accelerate is an optional dependency: refuse a launcher before anything is written, not in every launch."""
    if importlib.util.find_spec("accelerate") is None:
        raise UserError("spec field 'launcher' needs Hugging Face Accelerate: pip install 'xstilts[accelerate]'")


def launch_environment(base: dict[str, str]) -> dict[str, str]:
    # Accelerate runs several processes on CPUs (gloo) only when told to; otherwise each would train alone.
    return {**base, "ACCELERATE_USE_CPU": "true"} if device().type == "cpu" else dict(base)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def die_with_parent(sig: int) -> None:
    """Linux: this process receives `sig` when its parent dies, even by SIGKILL, so no orphaned launch keeps
    training a stage that the next runner starts again. Elsewhere, nothing."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)


class AccelerateLauncher:
    """The runner's StageLauncher for a spec with `launcher:`."""

    def __init__(self, launcher: LauncherSpec, debug: bool = False):
        self.launcher = launcher
        self.debug = debug  # xstilts run --debug: the workers log an error's traceback, not one line

    def check(self) -> None:
        check_launchable()

    def train(self, ctx: StageContext, stage: TrainStage) -> StageOutput:
        """Train `stage` under `accelerate launch` and return its log, read from the checkpoint it wrote."""
        log_file = ctx.dir.resolve() / "logs" / f"stage-{stage.key}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        single_machine = (self.launcher.num_machines or 1) == 1
        port = free_port() if single_machine and self.launcher.main_process_port is None else None
        program = ["-m", "xstilts.launch.worker", str(ctx.dir.resolve()), stage.key, "--data", str(ctx.root.resolve())]
        program += ["--debug"] if self.debug else []
        command = accelerate_command(self.launcher, program, port)
        ctx.console.print(f"  [cyan]launch[/] {stage.task} ({stage.key}): log in {log_file}", highlight=False)
        with log_file.open("a") as out:
            # SIGTERM lets torchrun stop its workers before it exits.
            code = subprocess.run(
                command,
                env=launch_environment(dict(os.environ)),
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=lambda: die_with_parent(signal.SIGTERM),
            ).returncode
        if code != 0 or not checkpoint.has_checkpoint(ctx.dir, stage.key):
            raise LaunchFailed(
                f"stage {stage.key} ({stage.task}): accelerate launch exited with {code}{_reason(log_file)}"
            )
        info = json.loads((checkpoint.stage_dir(ctx.dir, stage.key) / checkpoint.INFO).read_text())
        info.pop("stage", None)
        report = info["report"]
        ctx.console.print(
            f"        {report['steps']} steps in {report['seconds']:.0f}s on {info['processes']} processes, "
            f"final loss {report['final_loss']:.4f}",
            highlight=False,
        )
        return {**info, "command": command}, []


def stage_launcher(spec: Spec, debug: bool = False) -> AccelerateLauncher | None:
    """What trains the spec's training stages in other processes, if its `launcher:` asks for that."""
    return None if spec.launcher is None else AccelerateLauncher(spec.launcher, debug)


def _reason(log_file: Path) -> str:
    errors = [line for line in log_file.read_text(errors="replace").splitlines() if line.startswith("error: ")]
    return f" ({errors[-1].removeprefix('error: ')}); log: {log_file}" if errors else f"; see {log_file}"
