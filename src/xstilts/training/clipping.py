"""Gradient clipping by the global norm, as torch.nn.utils.clip_grad_norm_, for gradients that may be sparse
(the word embeddings' on CPU, xstilts.training.lazy_adamw): torch's own function refuses them; and, for a fused
AdamW, clipping folded into the optimizer's own kernel (clip_in_step)."""

from __future__ import annotations

from collections.abc import Iterable

import torch


def clip_grad_norm(parameters: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Scale every gradient by min(1, max_norm / (total norm + 1e-6)), the total norm being the 2-norm of all
    of them together; returns the total norm. Without sparse gradients this is torch's clip_grad_norm_ itself.
    A sparse gradient is coalesced first (its repeated rows summed), so its norm is that of the dense matrix."""
    params = [p for p in parameters if p.grad is not None]
    if not any(p.grad.is_sparse for p in params):
        return torch.nn.utils.clip_grad_norm_(params, max_norm)
    for param in params:
        if param.grad.is_sparse:
            param.grad = param.grad.coalesce()
    grads = [p.grad.values() if p.grad.is_sparse else p.grad for p in params]
    total = torch.nn.utils.get_total_norm(grads)
    torch.nn.utils.clip_grads_with_norm_([p for p in params if not p.grad.is_sparse], max_norm, total)
    scale = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    for param in params:
        if param.grad.is_sparse:
            param.grad.values().mul_(scale)
    return total


def takes_grad_scale(optimizer: torch.optim.Optimizer) -> bool:
    """Whether `optimizer.step()` divides every gradient by `optimizer.grad_scale` as it reads it: torch's fused
    Adam and AdamW do (the hook GradScaler unscales through), and LazyAdamW when its dense part is fused."""
    own = getattr(optimizer, "takes_grad_scale", None)
    if own is not None:
        return bool(own)
    fused = all(group.get("fused") for group in optimizer.param_groups)
    return isinstance(optimizer, torch.optim.Adam | torch.optim.AdamW) and fused


def clip_in_step(optimizer: torch.optim.Optimizer, parameters: Iterable[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Clip as clip_grad_norm does, with the scaling folded into the next `optimizer.step()`: the total norm is
    computed (one read of the gradients), and the fused step divides each gradient by 1 / min(1, max_norm /
    (norm + 1e-6)) inside its own kernel, instead of a separate pass that reads and writes every gradient. Where
    the optimizer cannot (not fused) or a gradient is sparse, this is clip_grad_norm. Returns the total norm."""
    params = [p for p in parameters if p.grad is not None]
    if not takes_grad_scale(optimizer) or any(p.grad.is_sparse for p in params):
        optimizer.grad_scale = None  # type: ignore[attr-defined]
        return clip_grad_norm(params, max_norm)
    total = torch.nn.utils.get_total_norm([p.grad for p in params])
    factor = torch.clamp(max_norm / (total + 1e-6), max=1.0)
    optimizer.grad_scale = factor.reciprocal().float()  # type: ignore[attr-defined]
    return total
