"""How the training loop splits its work between processes: all of it here (OneProcess), or a shard of every
batch per process under Hugging Face Accelerate (DDP, FSDP or DeepSpeed; AcceleratedProcesses).

Every process draws the same global micro-batches (the loop's random generator is seeded alike everywhere) and
keeps every `world`-th example of each. A shard's mean loss is weighted by its share of the batch, so that the
mean over processes that DDP takes of the gradients is exactly the gradient of the global batch's mean loss,
as one process would compute it (for losses that average over examples; token-averaged losses such as tagging
weight examples by their token counts instead, so they match only approximately)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from xstilts.training.clipping import clip_grad_norm


class OneProcess:
    """The default: the whole batch in this process."""

    def prepare(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[nn.Module, Any]:
        return model, optimizer

    def shard(self, indices: Sequence[int]) -> tuple[Sequence[int], float]:
        return indices, 1.0

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        return value

    def total(self, count: int) -> int:
        return count

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def clip(self, model: nn.Module, max_norm: float) -> None:
        clip_grad_norm(model.parameters(), max_norm)  # torch's, or with the embeddings' sparse gradient


class AcceleratedProcesses:
    """One of `accelerator.num_processes` processes. The accelerator must be built with
    `step_scheduler_with_optimizer=False`: the loop steps its schedule once per optimizer step itself."""

    def __init__(self, accelerator: Any):
        self.accelerator = accelerator
        self.rank, self.world = accelerator.process_index, accelerator.num_processes
        self.model: nn.Module | None = None  # the wrapped model, once prepared

    def prepare(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[nn.Module, Any]:
        # Together in one call: FSDP re-points the optimizer at the parameters it has sharded.
        self.model, optimizer = self.accelerator.prepare(model, optimizer)
        return self.model, optimizer

    def shard(self, indices: Sequence[int]) -> tuple[Sequence[int], float]:
        mine = indices[self.rank :: self.world]
        if not mine:  # a batch smaller than the world: still run forward and backward, which DDP needs
            return indices[:1], 0.0
        return mine, len(mine) * self.world / len(indices)

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        return self.accelerator.reduce(value, reduction="mean")

    def total(self, count: int) -> int:
        return int(self.accelerator.reduce(torch.tensor(count, device=self.accelerator.device), reduction="sum"))

    def backward(self, loss: torch.Tensor) -> None:
        self.accelerator.backward(loss)  # DeepSpeed and fp16 loss scaling need their own backward

    def clip(self, model: nn.Module, max_norm: float) -> None:
        self.accelerator.clip_grad_norm_(model.parameters(), max_norm)  # FSDP clips over every shard


Parallel = OneProcess | AcceleratedProcesses


class TaskModels(nn.ModuleDict):
    """Every task's model (sharing one encoder) as one module whose forward runs one task: the module that DDP
    or FSDP wraps must be the one that is called."""

    def forward(self, task: str, batch: dict[str, Any]) -> torch.Tensor:
        return self[task](batch)
