"""One training stage in every process of an `accelerate launch`, as launcher.py starts it:

    accelerate launch [options] -m xstilts.launch.worker EXPERIMENT_DIR STAGE_KEY --data DATA_DIR

Each process rebuilds the plan from EXPERIMENT_DIR/spec.resolved.yaml, builds the stage's models and features
exactly as a single-process runner does (experiment/execute.py's train_stage) and trains on its shard of every batch
(xstilts.training.distributed); process 0 writes the checkpoint. The store is left to the runner that launched this."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from typing import Any

from accelerate import Accelerator, DistributedType, PartialState
from accelerate.utils import DistributedDataParallelKwargs, parse_flag_from_env
from rich.console import Console

from xstilts.errors import UserError, exit_code, one_line
from xstilts.experiment import checkpoint
from xstilts.experiment.execute import SaveCheckpoint, StageContext, train_stage
from xstilts.experiment.tracking import Tracking
from xstilts.launch.launcher import die_with_parent
from xstilts.spec import TrainConfig
from xstilts.training.distributed import AcceleratedProcesses
from xstilts.training.task_model import TaskModel


def gathering_save(accelerator: Any, parallel: AcceleratedProcesses) -> SaveCheckpoint:
    """A checkpoint save for launched processes: every process takes part in gathering the weights (FSDP and
    ZeRO-3 shard them); process 0 writes them."""

    def save(experiment_dir: Path, key: str, models: dict[str, TaskModel], info: dict[str, Any]) -> None:
        state = accelerator.get_state_dict(parallel.model)
        if accelerator.is_main_process:
            first = next(iter(models))
            encoder = _Tensors(_under(state, f"{first}.encoder."))
            heads = {task: _Tensors(_under(state, f"{task}.head.")) for task in models}
            log = {**info, "processes": accelerator.num_processes}
            checkpoint.save(experiment_dir, key, encoder, heads, log)  # type: ignore[arg-type]
        accelerator.wait_for_everyone()

    return save


class _Tensors:
    """Gathered tensors standing in for a module: checkpoint.save only calls state_dict()."""

    def __init__(self, state: dict[str, Any]):
        self.state = state

    def state_dict(self) -> dict[str, Any]:
        return self.state


def _under(state: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {name.removeprefix(prefix): tensor for name, tensor in state.items() if name.startswith(prefix)}


def train_one_stage(experiment_dir: Path, key: str, data: Path | None) -> None:
    from xstilts.experiment.plan import build_plan
    from xstilts.spec import load_spec, resolve_data_root
    from xstilts.training.device import use_bf16

    # Before anything asks hardware.device(): every process uses its own GPU (or the CPU). Accelerator reads
    # ACCELERATE_USE_CPU itself, PartialState does not.
    state = PartialState(cpu=parse_flag_from_env("ACCELERATE_USE_CPU"))
    os.environ["XSTILTS_DEVICE"] = str(state.device)
    spec = load_spec(experiment_dir / "spec.resolved.yaml")
    root = resolve_data_root(spec, data)
    plan = build_plan(spec, root)
    stage = plan.stages.get(key)
    if stage is None or stage.kind != "train":
        raise UserError(f"{experiment_dir}: its plan has no training stage {key}")
    bf16 = use_bf16(stage.config.precision, state.device)
    accelerator = Accelerator(
        mixed_precision="bf16" if bf16 else "no",  # the stage's precision, never the launcher's
        step_scheduler_with_optimizer=False,  # the loop steps its schedule once per optimizer step
        # Unused parameters are normal: the other tasks' heads of a multi-task stage, an encoder's pooler.
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
    )
    _refuse_unsupported(accelerator.distributed_type, stage.config, key)
    console = Console(quiet=not accelerator.is_main_process)
    parallel = AcceleratedProcesses(accelerator)
    save = gathering_save(accelerator, parallel)
    tracking = Tracking(spec.track, experiment_dir, spec.name) if spec.track and accelerator.is_main_process else None
    context = StageContext(
        plan, root, experiment_dir, console, spec.data_source, save=save, parallel=parallel, tracking=tracking
    )
    train_stage(context, stage)
    accelerator.end_training()


def _refuse_unsupported(kind: DistributedType, config: TrainConfig, key: str) -> None:
    """Settings the one training loop cannot honour when the weights are sharded (docs/distributed.md)."""
    if kind in (DistributedType.FSDP, DistributedType.DEEPSPEED) and config.selection == "best_dev":
        raise UserError(f"stage {key}: selection best_dev scores unsharded weights; use selection last with {kind}")
    if kind == DistributedType.DEEPSPEED and config.grad_accum_steps > 1:
        # DeepSpeed's engine steps and scales by its own accumulation count, not by the loop's.
        raise UserError(f"stage {key}: grad_accum_steps > 1 under DeepSpeed; raise batch_size or num_processes")


def main(argv: list[str] | None = None) -> int:
    die_with_parent(signal.SIGKILL)  # torchrun's agent died: stop at once
    parser = argparse.ArgumentParser(prog="python -m xstilts.launch.worker", description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="the experiment directory")
    parser.add_argument("key", help="the training stage's key")
    parser.add_argument("--data", type=Path, help="data directory (overrides the spec and $XSTILTS_DATA)")
    parser.add_argument("--debug", action="store_true", help="raise errors with their traceback (xstilts run --debug)")
    args = parser.parse_args(argv)
    try:
        train_one_stage(args.dir, args.key, args.data)
    except Exception as err:
        # As the CLI: one line in the stage's log (the launcher quotes the last `error: ` line), no traceback
        # unless --debug asks for it; exit 2 for bad input, 1 for a bug.
        if args.debug:
            raise
        print(f"error: {one_line(err, args.dir)}", file=sys.stderr, flush=True)
        return exit_code(err)
    return 0


if __name__ == "__main__":
    sys.exit(main())
