"""The registry of CPU harness cases: what `python bench/run.py --quick|--full` measures, one entry per case.

Each case asks the runner (bench/runner.py) for child measurements of bench/measure.py's kinds, or times
`xstilts run` itself; a new case (a GPU one included) is one more function and one more CASES entry. The like-
with-like cases (`--device`) are bench/fair.py's, on the engine of bench/engine.py as well.
"""

from __future__ import annotations

import re
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common
from runner import Harness, stage_times

# Sizes per mode. Training runs one epoch over n_train examples, batch 32, so steps = n_train / 32.
MODES: dict[str, dict[str, Any]] = {
    "quick": {
        "n_train": {"sick": 256, "panx": 256},
        "n_dev": {"sick": None, "panx": 500},  # None = the whole dev split (SICK TRIAL: 495 pairs)
        "n_predict": {"sick": None, "panx": 1000},
        "peak_repeats": 5,
        "optim_repeats": 2,
        "rerun_sizes": {"sick": 128, "panx_train": 128, "panx_eval": 100},
    },
    "full": {
        "n_train": {"sick": 2000, "panx": 2000},
        "n_dev": {"sick": None, "panx": 2000},
        "n_predict": {"sick": None, "panx": 5000},
        "peak_repeats": 7,
        "optim_repeats": 3,
        "rerun_sizes": {"sick": 500, "panx_train": 500, "panx_eval": 300},
    },
}

TRAIN_CONFIGS = [  # (label, params): the order is the order of the table
    ("xstilts", {"impl": "xstilts"}),
    ("Trainer default", {"impl": "trainer", "trainer_config": "default"}),
    ("Trainer tuned", {"impl": "trainer", "trainer_config": "tuned"}),
]
# Extra rows (full mode): xstilts' loop with its own fp32 option. measure.py keeps a `what_if` switch for
# trying a change that is not in xstilts (fused AdamW was measured that way before xstilts adopted it).
WHATIF_CONFIGS = [
    ("xstilts precision fp32", {"impl": "xstilts", "precision": "fp32"}),
]


def peak(h: Harness) -> None:
    h.measure("peak", "peak", {"sizes": [2048, 4096], "repeats": h.sizes["peak_repeats"]})


def peak_end(h: Harness) -> None:
    h.measure("peak-end", "peak", {"sizes": [2048, 4096], "repeats": h.sizes["peak_repeats"]})


def featurise(h: Harness) -> None:
    sets = [["sick", "train", "en"], ["panx", "train", "en"], ["panx", "dev", "en"], ["tatoeba", "test", "de"]]
    h.measure("featurise", "featurise", {"sets": sets})


def _train(h: Harness, task_key: str, freeze: bool, configs: list = TRAIN_CONFIGS) -> None:
    task = common.TASKS[task_key]
    for label, cfg in configs:
        name = f"train-{task_key}-{'frozen' if freeze else 'full'}-{slug(label)}"
        params = {
            "task": task,
            "n_train": h.sizes["n_train"][task],
            "n_dev": h.sizes["n_dev"][task],
            "freeze": freeze,
            "seed": 1,
            "lr": 5e-5,
            **cfg,
        }
        h.measure(name, "train", params)["label"] = label


def train_pair(h: Harness) -> None:
    _train(h, "pair", freeze=False)


def train_tagging(h: Harness) -> None:
    _train(h, "tagging", freeze=False)


def frozen_pair(h: Harness) -> None:
    _train(h, "pair", freeze=True)


def frozen_tagging(h: Harness) -> None:
    _train(h, "tagging", freeze=True)


def whatif(h: Harness) -> None:
    for task_key in common.TASKS:
        _train(h, task_key, freeze=False, configs=WHATIF_CONFIGS)


def predict(h: Harness) -> None:
    for task_key, task in common.TASKS.items():
        for impl in ("xstilts", "trainer"):
            h.measure(
                f"predict-{task_key}-{impl}",
                "predict",
                {"task": task, "impl": impl, "n": h.sizes["n_predict"][task]},
            )


def optim(h: Harness) -> None:
    h.measure("optim", "optim", {"repeats": h.sizes["optim_repeats"]})


def steps(h: Harness) -> None:
    h.measure("steps-pair", "steps", {"task": "sick", "n_train": 320, "n_steps": 6})


def tatoeba(h: Harness) -> None:
    h.measure("tatoeba-direct", "tatoeba", {"lang": "de"})
    h.measure("tatoeba-direct-cut7", "tatoeba", {"lang": "de", "num_layers": 7})
    with tempfile.TemporaryDirectory(prefix="bench-tatoeba-") as tmp:
        spec = Path(tmp) / "tatoeba.yaml"
        spec.write_text(
            f"name: bench-tatoeba\ndata_dir: {common.data_root()}\nmodel: me5-small\nseeds: [1]\n"
            "intermediate: {none: []}\ntargets:\n  - {task: tatoeba, eval_languages: [de]}\n"
        )
        h.cli("tatoeba-cli", spec, Path(tmp) / "out")


def rerun(h: Harness) -> None:
    s = h.sizes["rerun_sizes"]
    with tempfile.TemporaryDirectory(prefix="bench-rerun-") as tmp:
        spec = Path(tmp) / "tiny.yaml"
        spec.write_text(
            textwrap.dedent(f"""\
            name: bench-rerun
            data_dir: {common.data_root()}
            model: {{name: me5-small, num_layers: 2}}
            seeds: [1]
            train: {{learning_rate: 5.0e-5, batch_size: 32, max_length: 64}}
            intermediate:
              none: []
              sick: [{{task: sick, max_train_examples: {s["sick"]}}}]
            targets:
              - {{task: panx, max_train_examples: {s["panx_train"]}, max_eval_examples: {s["panx_eval"]},
                 eval_languages: [en, de, fr]}}
            """)
        )
        out = Path(tmp) / "out"
        # The first run tokenises everything (feature cache off), as on a machine that never saw the data.
        first = h.cli("rerun-first", spec, out, {"XSTILTS_FEATURE_CACHE": "0"})
        first["stages"] = stage_times(out)
        second = h.cli("rerun-second", spec, out)
        second["fraction_of_first"] = second["process"]["wall_s"] / first["process"]["wall_s"]
        second["spec"] = spec.read_text()


def slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


@dataclass(frozen=True)
class Case:
    """One entry of the registry: its name on the command line, the PERFORMANCE.md topic its figures go to, the
    function that asks the runner for its measurements, and the modes it runs in without --only."""

    name: str
    topic: str
    run: Callable[[Harness], None]
    modes: tuple[str, ...] = ("quick", "full")


# The order is the order of the run: the matmul peak is measured first and last, the higher of the two is the
# ceiling (a busy neighbour lowers it). `steps` and `whatif` run in full mode, or when named with --only.
CASES: dict[str, Case] = {
    case.name: case
    for case in (
        Case("peak", "machine", peak),
        Case("featurise", "data", featurise),
        Case("train-pair", "training", train_pair),
        Case("train-tagging", "training", train_tagging),
        Case("frozen-pair", "training", frozen_pair),
        Case("frozen-tagging", "training", frozen_tagging),
        Case("whatif", "training", whatif, ("full",)),
        Case("predict", "evaluation", predict),
        Case("optim", "training", optim),
        Case("tatoeba", "evaluation", tatoeba),
        Case("rerun", "experiments", rerun),
        Case("steps", "training", steps, ("full",)),
        Case("peak-end", "machine", peak_end),
    )
}


def default_cases(mode: str) -> list[str]:
    return [name for name, case in CASES.items() if mode in case.modes]


@dataclass(frozen=True)
class DeviceCase:
    """A like-with-like case (`python bench/run.py --device NAME`): measured in this process on one device, its
    result saved as bench/results/latest-fair-<device>.json. A new GPU measurement is one more entry here, with
    the function that returns its result (bench/gpu/run.sh runs the entries' parts under time limits)."""

    name: str
    device: str  # the torch device type it runs on
    topic: str
    run: Callable[[str, dict[str, Any] | None], dict[str, Any]]  # (device, size overrides) -> result


def _fair(device: str, sizes: dict[str, Any] | None) -> dict[str, Any]:
    import fair  # after run.py has set the thread count (common.setup_env): fair.py builds models on torch

    return fair.run(device, sizes)


DEVICE_CASES: dict[str, DeviceCase] = {
    case.name: case
    for case in (
        DeviceCase("cpu", "cpu", "training", _fair),  # me5-small's shape, reduced sizes (fair.SIZES["cpu"])
        DeviceCase("cuda", "cuda", "training", _fair),  # XLM-R Base and Large shapes, random init
    )
}
