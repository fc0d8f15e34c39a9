"""Gradient clipping by the global norm, as torch.nn.utils.clip_grad_norm_, for gradients that may be sparse
(the word embeddings' on CPU, xstilts.training.lazy_adamw): torch's own function refuses them."""

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
