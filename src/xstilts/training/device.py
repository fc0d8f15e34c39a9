"""Device and precision choices, decided once per process."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import torch


@cache
def device() -> torch.device:
    """$XSTILTS_DEVICE if set, else the first CUDA device, else the CPU."""
    if os.environ.get("XSTILTS_DEVICE"):
        return torch.device(os.environ["XSTILTS_DEVICE"])
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@cache
def _cpu_has_native_bf16() -> bool:
    # oneDNN can emulate bf16 on any AVX512 CPU, but only AVX512-BF16 or AMX make it faster than fp32.
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    return "avx512_bf16" in flags or "amx_bf16" in flags


def use_bf16(precision: str, dev: torch.device) -> bool:
    if precision != "auto":
        return precision == "bf16"
    if dev.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return dev.type == "cpu" and _cpu_has_native_bf16()


def captures_graphs(dev: torch.device) -> bool:
    """Whether steps run as captured CUDA graphs (torch.compile "reduce-overhead") on static length buckets:
    on a GPU, where per-step launch overhead dominates. XSTILTS_COMPILE=0 turns it off, for debugging only."""
    return dev.type == "cuda" and os.environ.get("XSTILTS_COMPILE", "1") != "0"


def casts_weights_once(dev: torch.device) -> bool:
    """Whether evaluation casts the Linear weights to bf16 once per call (xstilts.training.evaluate) rather than
    leaving autocast to cast them for every batch: on a GPU, where each cast is a kernel launch. On this project's
    CPU the two ran level (`python bench/eval_casts.py`: 0.97-1.02x), so the CPU keeps plain autocast."""
    return dev.type == "cuda"
