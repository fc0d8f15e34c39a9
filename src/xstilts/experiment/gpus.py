"""GPUs a plan can be priced on (`xstilts plan --gpu NAME`): each one's dense peak FLOP/s for the precision a
stage trains in (bf16; fp16 where the card has no bf16), from the vendor's data sheet, and one assumed
model-FLOPs utilisation. The data sheets' headline tensor figures are "with sparsity", twice the dense rate
used here. The utilisation is an assumption, stated as one wherever it is printed, until a stage of the same
model finishes in the experiment's store: then the measured rate is used instead (cost.CostModel.calibration)."""

from __future__ import annotations

from dataclasses import dataclass

from xstilts.errors import UserError, did_you_mean

# The share of the peak that the cost model's FLOPs (6 x N non-embedding parameters x tokens to train) reach on
# a whole stage. An assumption: fine-tuning a 24-layer encoder on batches of a few hundred tokens seldom reaches
# the utilisation of large-batch pre-training; no stage of this project has been measured on a GPU yet.
ASSUMED_MFU = 0.3


@dataclass(frozen=True)
class GPU:
    name: str
    peak: float  # dense FLOP/s at `precision`
    precision: str
    source: str


def _nvidia(sheet: str) -> str:
    return f"NVIDIA {sheet} data sheet"  # each figure's "with sparsity" twin is the data sheet's headline


GPUS: dict[str, GPU] = {
    "h200": GPU("NVIDIA H200 SXM", 989e12, "bf16", _nvidia("H200") + "; 1,979 TFLOP/s with sparsity"),
    "h100": GPU("NVIDIA H100 SXM", 989e12, "bf16", _nvidia("H100") + "; 1,979 TFLOP/s with sparsity"),
    "h100-pcie": GPU("NVIDIA H100 PCIe", 756e12, "bf16", _nvidia("H100") + "; 1,513 TFLOP/s with sparsity"),
    "a100-80gb": GPU("NVIDIA A100 80GB", 312e12, "bf16", _nvidia("A100") + "; 624 TFLOP/s with sparsity"),
    "a100-40gb": GPU("NVIDIA A100 40GB", 312e12, "bf16", _nvidia("A100") + "; 624 TFLOP/s with sparsity"),
    "l40s": GPU("NVIDIA L40S", 362e12, "bf16", _nvidia("L40S") + "; 733 TFLOP/s with sparsity"),
    "a10": GPU("NVIDIA A10", 125e12, "bf16", _nvidia("A10") + "; 250 TFLOP/s with sparsity"),
    "l4": GPU("NVIDIA L4", 121e12, "bf16", _nvidia("L4") + "; 242 TFLOP/s with sparsity"),
    # Volta and Turing have no bf16: fp16 tensor cores (a stage there trains in fp32 unless told otherwise).
    "v100": GPU("NVIDIA V100 SXM2", 125e12, "fp16", _nvidia("V100") + "; tensor performance, SXM2"),
    "t4": GPU("NVIDIA T4", 65e12, "fp16", _nvidia("T4") + "; mixed-precision FP16/FP32"),
    "mi300x": GPU("AMD Instinct MI300X", 1307.4e12, "bf16", "AMD Instinct MI300X data sheet"),
    "mi250x": GPU("AMD Instinct MI250X", 383e12, "bf16", "AMD Instinct MI250X data sheet"),
}


def find_gpu(name: str) -> GPU:
    """The GPU called `name` (case-insensitive), or one line naming the known ones."""
    key = name.strip().lower()
    if key not in GPUS:
        raise UserError(f"--gpu: unknown GPU '{name}'{did_you_mean(key, GPUS)}; known: {', '.join(GPUS)}")
    return GPUS[key]


def assumed_rate(gpu: GPU) -> float:
    return gpu.peak * ASSUMED_MFU


def describe(gpu: GPU) -> str:
    return (
        f"{gpu.name}, {gpu.peak / 1e12:,.0f} TFLOP/s dense {gpu.precision} peak ({gpu.source}), x an assumed "
        f"{ASSUMED_MFU:.0%} model-FLOPs utilisation (an assumption until a finished stage measures it)"
    )
