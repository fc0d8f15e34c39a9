"""AdamW that updates only the rows of a matrix that a step touched: the word embeddings, on CPU.

A training step of me5-small reads a few thousand of the 250,037 rows of its word-embedding matrix (96M weights),
but dense AdamW reads and writes all of them, with their two moments, every step. Here a row is updated when its
gradient is nonzero; the steps it missed are applied when it is next read (a hook on the embedding module that
`watch` installs brings the rows of each lookup up to date before it), or by `flush()` (before the weights are read
otherwise: evaluation, saving). A matrix that is also read outside its module (an output layer tied to the
embeddings) gets gradient in rows that no lookup read; the first time that happens, every row is up to date still,
and the matrix is stepped densely from then on.

A missed step is an AdamW step with a zero gradient, so it is replayed in closed form, with the bias corrections,
learning rates and weight decays of the steps it missed:
- the moments decay: m <- beta1^k m, v <- beta2^k v;
- decoupled weight decay multiplies the row by prod_j (1 - lr_j wd);
- the row still moves by its decaying moment, lr_j m_hat_j / (sqrt(v_hat_j) + eps), each step. Because of eps
  this has no closed form; it is summed over the missed steps, up to a horizon of H steps after which
  (beta1 / sqrt(beta2))^H < 2^-30 and the remaining movement is below 2^-30 of one step's (H = 199 for the
  default betas). Rows idle for less than H steps are caught up exactly; longer idle rows to within that bound.
Groups without `lazy: True` are stepped by torch's own AdamW (fused where the device has it).

On one GPU the lookup runs inside the compiled encoder, where a hook cannot: the training loop calls
`before_read` itself with each batch's ids (read on the host), and the gradient stays dense. A `grad_scale` set
on the optimizer (clipping folded into the step, xstilts.training.clipping.clip_in_step) divides every gradient,
the lazy rows' too."""

from __future__ import annotations

import math
import mmap
from collections.abc import Iterable
from typing import Any

import torch

_NEGLIGIBLE = 2.0**-30  # the movement left out after the horizon, relative to one step's


def horizon(beta1: float, beta2: float) -> int | None:
    """Missed steps after which a row's stale moment moves it by less than _NEGLIGIBLE of a step; None: never."""
    ratio = beta1 / math.sqrt(beta2)
    if ratio == 0.0:
        return 0
    if ratio >= 1.0:
        return None
    return math.ceil(math.log(_NEGLIGIBLE) / math.log(ratio))


class LazyAdamW(torch.optim.Optimizer):
    """torch.optim.AdamW's update (amsgrad off), lazy over the rows of 2-d parameters in groups marked `lazy`."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        fused: bool | None = None,
    ):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "lazy": False}
        super().__init__(params, defaults)
        for group in self.param_groups:
            if group["lazy"] and any(p.ndim != 2 for p in group["params"]):
                raise ValueError("lazy groups hold matrices (rows are what a step touches)")
        dense = [g for g in self.param_groups if not g["lazy"]]
        self._dense = torch.optim.AdamW(dense, lr=lr, fused=fused) if dense else None

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        if closure is not None:
            raise ValueError("LazyAdamW takes no closure")
        # Clipping folded into the step (xstilts.training.clipping.clip_in_step): every gradient divided by it.
        scale = getattr(self, "grad_scale", None)
        if self._dense is not None:
            # This optimizer's own groups, as they are now: load_state_dict (which accelerate's prepare calls)
            # replaces the group dicts, and a schedule sets the learning rate in the new ones.
            self._dense.param_groups = [g for g in self.param_groups if not g["lazy"]]
            self._dense.grad_scale = scale  # type: ignore[attr-defined]
            self._dense.step()
        for group in self.param_groups:
            if group["lazy"]:
                for param in group["params"]:
                    if param.grad is not None:
                        self._lazy_step(param, group, scale)

    @property
    def takes_grad_scale(self) -> bool:
        """Whether step() divides the gradients by `grad_scale`: always in the lazy rows, and in the dense groups
        when they step fused (torch's unfused AdamW has no such argument)."""
        return self._dense is None or bool(self._dense.defaults.get("fused"))

    def watch(self, embedding: torch.nn.Embedding, sparse: bool = False) -> _Watch:
        """Bring the rows that each lookup of `embedding` reads up to date before it. With `sparse`, the lookups
        also give a sparse gradient (the rows they read and nothing else) instead of a dense matrix of the
        embedding's size: no 96M-weight gradient to allocate, fill and clip each step (clip sparse gradients
        with xstilts.training.clipping). Returns a handle whose remove() undoes both."""
        param = embedding.weight
        if not any(param is p for g in self.param_groups if g["lazy"] for p in g["params"]):
            raise ValueError("the embedding's weight is not in a lazy group")

        def before_lookup(module: torch.nn.Module, args: tuple) -> None:
            self.before_read(param, args[0].reshape(-1).unique())

        return _Watch(embedding, embedding.register_forward_pre_hook(before_lookup), sparse)

    @torch.no_grad()
    def before_read(self, param: torch.Tensor, rows: torch.Tensor) -> None:
        """Bring `rows` of a lazy `param` up to date (every step so far applied) before a lookup reads them; the
        next step updates the rows read since the last one."""
        state = self._state(param)
        if not state["dense"]:
            state["read"][rows] = True
            self._catch_up(param, state, self._group_of(param), rows, state["step"])

    def _group_of(self, param: torch.Tensor) -> dict:
        return next(g for g in self.param_groups if any(param is p for p in g["params"]))

    @torch.no_grad()
    def flush(self) -> None:
        """Bring every row up to date: call before the weights are read."""
        for group in self.param_groups:
            if group["lazy"]:
                for param in group["params"]:
                    state = self.state.get(param)
                    if state and state["step"]:
                        behind = (state["last"] < state["step"]).nonzero().squeeze(1)
                        self._catch_up(param, state, group, behind, state["step"])

    def _lazy_step(self, param: torch.Tensor, group: dict, scale: torch.Tensor | None = None) -> None:
        state = self._state(param)
        state["step"] += 1
        t, lr, wd = state["step"], group["lr"], group["weight_decay"]
        state["lrs"].append(lr)
        state["keep"].append(state["keep"][-1] + math.log1p(-lr * wd))
        grad = param.grad
        if grad.is_sparse and state["dense"]:
            grad = grad.to_dense()
        watched = bool(state["read"].any())
        if grad.is_sparse:  # from lookups alone (a matrix also read elsewhere gets a dense sum): its rows are known
            grad = grad.coalesce()
            rows = grad.indices()[0]
        elif state["dense"]:
            rows = torch.arange(param.shape[0], device=param.device)
        elif watched and t > 1:
            rows = state["read"].nonzero().squeeze(1)  # a lookup's gradient is zero outside the rows it read
        else:  # the first step, or a matrix no module lookup reads: find the rows with gradient
            rows = grad.ne(0).any(dim=1).nonzero().squeeze(1)
            if watched and not bool(state["read"][rows].all()):
                # Gradient in rows no lookup read: the matrix is read elsewhere too (a tied output layer). Every
                # row is still at step 0, so from here on the dense steps are AdamW's exactly.
                state["dense"] = True
                rows = torch.arange(param.shape[0], device=param.device)
        state["read"].zero_()
        if rows.numel() == 0:
            return
        self._catch_up(param, state, group, rows, t - 1)  # rows read other than through a watched module
        beta1, beta2 = group["betas"]
        # torch.optim.AdamW's update, in its order of operations, on the touched rows only.
        weights, m, v = param[rows], state["exp_avg"][rows], state["exp_avg_sq"][rows]
        g = grad.values() if grad.is_sparse else grad[rows]  # a coalesced sparse gradient's values follow `rows`
        if scale is not None:
            g = g / scale.to(g.dtype)
        weights.mul_(1 - lr * wd)
        m.lerp_(g, 1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (v.sqrt() / math.sqrt(1 - beta2**t)).add_(group["eps"])
        weights.addcdiv_(m, denom, value=-lr / (1 - beta1**t))
        param.index_copy_(0, rows, weights)
        state["exp_avg"].index_copy_(0, rows, m)
        state["exp_avg_sq"].index_copy_(0, rows, v)
        state["last"][rows] = t
        state["live"][rows] = True

    def _state(self, param: torch.Tensor) -> dict:
        state = self.state[param]
        if not state:
            state.update(
                step=0,
                exp_avg=untouched_zeros(param),
                exp_avg_sq=untouched_zeros(param),
                last=torch.zeros(param.shape[0], dtype=torch.long, device=param.device),  # step each row is at
                live=torch.zeros(param.shape[0], dtype=torch.bool, device=param.device),  # has nonzero moments
                lrs=[0.0],  # per step, from step 1
                keep=[0.0],  # log of prod (1 - lr_j wd_j) over steps 1..j: the weight decay's product
                read=torch.zeros(param.shape[0], dtype=torch.bool, device=param.device),  # by watched lookups
                dense=False,
            )
        return state

    def _catch_up(self, param: torch.Tensor, state: dict, group: dict, rows: torch.Tensor, through: int) -> None:
        """Apply to `rows` the zero-gradient steps from their last one up to step `through`."""
        missed = through - state["last"][rows]
        rows, missed = rows[missed > 0], missed[missed > 0]
        if rows.numel() == 0:
            return
        beta1, beta2 = group["betas"]
        keep = _as_tensor(state, "keep", param.device)
        last = state["last"][rows]
        decay = torch.exp(keep[through] - keep[last]).to(param.dtype)  # the weight decay of every missed step
        live = state["live"][rows]
        moving = rows[live]
        if moving.numel():
            drift = self._drift(state, group, moving, last[live], missed[live], keep, through)
            param.index_copy_(0, moving, param[moving] * decay[live, None] - drift)
            for name, beta in (("exp_avg", beta1), ("exp_avg_sq", beta2)):  # rows never touched have none
                factor = (beta ** missed[live].double()).to(param.dtype)[:, None]
                state[name].index_copy_(0, moving, state[name][moving] * factor)
        still = rows[~live]
        if still.numel() and bool((decay[~live] != 1).any()):
            if len(still) > param.shape[0] // 4:  # a flush: one pass over the matrix beats a gather and a scatter
                factor = torch.ones(param.shape[0], dtype=param.dtype, device=param.device)
                factor[still] = decay[~live]
                param.mul_(factor[:, None])
            else:
                param.index_copy_(0, still, param[still] * decay[~live, None])
        state["last"][rows] = through

    def _drift(
        self,
        state: dict,
        group: dict,
        rows: torch.Tensor,
        last: torch.Tensor,
        missed: torch.Tensor,
        keep: torch.Tensor,
        through: int,
    ) -> torch.Tensor:
        """Sum over the missed steps j = last+1 .. through of lr_j m_hat_j / (sqrt(v_hat_j) + eps), each step's
        term carried through the weight decay of the later missed steps. With k = j - last, m_j = beta1^k m and
        sqrt(v_hat_j) = spread_k sqrt(v), so the sum is m * f(sqrt(v)), f(q) = sum_k scale_k / (spread_k q + eps),
        scale and spread being numbers per row and missed step."""
        beta1, beta2 = group["betas"]
        eps = group["eps"]
        limit = horizon(beta1, beta2)
        steps = missed if limit is None else missed.clamp(max=limit)
        k = torch.arange(1, int(steps.max()) + 1, device=rows.device, dtype=torch.float64)
        j = (last[:, None] + k.long()).clamp(max=through)  # the global step of each missed step
        valid = k <= steps[:, None]  # a row's own missed steps; the rest of its line is padding
        lrs = _as_tensor(state, "lrs", rows.device)
        scale = lrs[j] * torch.exp(keep[through] - keep[j]) * beta1**k / (1 - beta1 ** j.double())
        scale = torch.where(valid, scale, 0.0)
        spread = torch.where(valid, torch.sqrt(beta2**k / (1 - beta2 ** j.double())), 1.0)
        m, q = state["exp_avg"][rows], state["exp_avg_sq"][rows].sqrt().double()
        return (m.double() * _sum_of_ratios(scale, spread, q, eps)).to(m.dtype)


# f(q) = sum_k a_k / (b_k q + eps) = (1/q) sum_n (-eps/q)^n sum_k a_k b_k^-(n+1): a short series of per-row numbers
# wherever x = eps / (q min_k b_k) <= _SERIES_X; its terms fall as x^n, so _SERIES_TERMS of them leave an error
# below x^_SERIES_TERMS = 1e-12 relative. The other weights (a tiny second moment) are summed term by term.
_SERIES_X, _SERIES_TERMS = 0.1, 12
_CHUNK = 1 << 21  # elements of a (weights, missed steps) work tensor at a time


def _sum_of_ratios(a: torch.Tensor, b: torch.Tensor, q: torch.Tensor, eps: float) -> torch.Tensor:
    """f(q) = sum_k a[r, k] / (b[r, k] q[r, d] + eps) for every row r and column d, in float64."""
    inverse, term, moments = 1.0 / b, a, []
    for _ in range(_SERIES_TERMS):
        term = term * inverse  # a b^-(n+1)
        moments.append(term.sum(1))
    moments = torch.stack(moments, dim=1)
    y = eps / q  # inf where q is 0: summed term by term below
    series = torch.where(y <= _SERIES_X * b.min(1).values[:, None], 1.0, 0.0).bool()
    y_safe = torch.where(series, y, 0.0)
    total = moments[:, -1, None].expand_as(q).clone()
    for n in range(_SERIES_TERMS - 2, -1, -1):  # Horner's rule in -y
        total = total * -y_safe + moments[:, n, None]
    total = torch.where(series, total / torch.where(series, q, 1.0), 0.0)
    r, d = (~series).nonzero(as_tuple=True)
    step = max(1, _CHUNK // a.shape[1])
    for start in range(0, len(r), step):
        rr, dd = r[start : start + step], d[start : start + step]
        total[rr, dd] = (a[rr] / (b[rr] * q[rr, dd, None] + eps)).sum(1)
    return total


class _Watch:
    """What LazyAdamW.watch changed on an embedding module: its lookup hook, and sparse gradients if asked."""

    def __init__(self, embedding: torch.nn.Embedding, hook: Any, sparse: bool):
        self.embedding, self.hook, self.was_sparse = embedding, hook, embedding.sparse
        embedding.sparse = sparse or embedding.sparse

    def remove(self) -> None:
        self.hook.remove()
        self.embedding.sparse = self.was_sparse


def untouched_zeros(param: torch.Tensor) -> torch.Tensor:
    """Zeros like `param` whose memory becomes resident only where it is written, on CPU: an anonymous memory
    map starts as zero pages the kernel provides when first written (small pages: a huge page would make a
    whole 2 MB resident for one row), while torch.zeros writes every page at once. A lazy matrix's moments are
    written only in the rows that steps touch, and the rows never touched are never read (their moments are
    zero: `live`), so of me5-small's 2 x 384 MB of moments only the pages of touched rows become resident."""
    if param.device.type != "cpu" or not hasattr(mmap, "MADV_NOHUGEPAGE"):
        return torch.zeros_like(param)
    pages = mmap.mmap(-1, max(1, param.numel() * param.element_size()))
    pages.madvise(mmap.MADV_NOHUGEPAGE)
    return torch.frombuffer(pages, dtype=param.dtype, count=param.numel()).view(param.shape)


def _as_tensor(state: dict, name: str, device: torch.device) -> torch.Tensor:
    """A per-step history list as a float64 tensor, converted once per step (the hook and the step share it)."""
    cached = state.get(f"_{name}_tensor")
    if cached is None or len(cached) != len(state[name]):
        cached = torch.tensor(state[name], dtype=torch.float64, device=device)
        state[f"_{name}_tensor"] = cached
    return cached
