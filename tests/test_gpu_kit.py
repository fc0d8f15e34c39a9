"""The GPU run kit (bench/gpu/), checked on the CPU: its LoRA stage on a tiny encoder of XLM-R XXL's architecture,
the data files it carries, how it merges the like-with-like parts, and that its shell scripts parse."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
KIT = REPO / "bench" / "gpu"


@pytest.fixture(scope="module")
def kit():
    spec = importlib.util.spec_from_file_location("gpu_kit", KIT / "kit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_lora_stage_trains_only_adapter_and_head_and_merges(data, me5_dir, tmp_path) -> None:
    # A subprocess: the script sets XSTILTS_COMPILE and the loop's LOG_EVERY for its own process.
    out = tmp_path / "lora.json"
    argv = [sys.executable, str(KIT / "lora_xxl.py"), "--shape", "tiny", "--device", "cpu", "--steps", "3"]
    argv += ["--batch-size", "8", "--data", str(data), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    (run,) = result["runs"]  # on a CPU only the eager run: `auto` would be the same run again
    assert run["status"] == "done" and run["mode"] == "eager" and run["steps"] == 3
    assert len(run["losses"]) == 3 and run["finite_loss"] and len(run["step_s"]) == 3
    # 2 layers x {query, value} x (A: 16 x 64 + B: 64 x 16) = 8,192 adapter weights; nothing else in the encoder
    assert run["trainable_params"]["lora"] == 8192 and "other" not in run["trainable_params"]
    assert all(run["checks"][k] for k in ("only_lora_and_head_trained", "adapter_merged_and_removed"))
    assert run["checks"]["requires_grad_restored"] and run["checks"]["changed_as_expected"]
    changed = run["checks"]["changed"]
    assert {n.split(".")[-2] for n in changed if n.startswith("encoder.")} == {"query", "value"}  # merged updates
    assert any(n.startswith("head.") for n in changed)
    assert result["params"] == 16_156_352 and result["features"] > 0  # 250,880 x 64 embeddings dominate


def test_the_carried_data_is_every_file_the_quickstart_and_benchmarks_read(kit, data) -> None:
    files = kit.data_files(REPO / "examples" / "quickstart.yaml", data)
    langs = "ar de en fi fr hi ja ru sw zh".split()
    expected = {f"xtreme/panx/dev-{lang}.tsv" for lang in langs} | {"xtreme/panx/train-en.tsv"}
    expected |= {"english/sick/SICK.txt"} | {f"english/siqa/socialIQa_v1.4_{s}.jsonl" for s in ("dev", "tst")}
    assert set(files) == expected


def test_fair_parts_merge_into_one_result(kit, tmp_path) -> None:
    def part(shape: str, command: str, dev: dict | None = None) -> dict:
        run = {"shape": shape, "task": "sick", "embeddings": "trained", "train": {"xstilts": 1.0}, "dev": dev}
        typed = [{"case": f"fair/{shape}/sick/trained/xstilts", "command": command}]
        return {"device": "GPU", "peak": {"bf16": 1.0}, "total_s": 10.0, "command": command, "runs": [run],
                "measurements": typed}  # fmt: skip

    paths = []
    for name, value in (
        ("part-1", part("xlmr-large", "python bench/run.py --device cuda --results-dir /tmp/x/part-1 --reps 3")),
        ("part-2-eager", part("xlmr-large", "python bench/run.py --device cuda --reps 1", {"steps": 139})),
        ("part-3", part("xlmr-base", "python bench/run.py --device cuda --shapes xlmr-base")),
    ):
        (tmp_path / name).mkdir()
        paths.append(tmp_path / name / "latest-fair-cuda.json")
        paths[-1].write_text(json.dumps(value))
    merged = kit.merge_fair(kit.read_parts(paths))
    assert [r["shape"] for r in merged["runs"]] == ["xlmr-large", "xlmr-base"]  # measured twice: the first timings
    assert merged["runs"][0]["dev"] == {"steps": 139} and merged["total_s"] == 30.0  # the dev scores of the second
    assert merged["parts"][0] == "python bench/run.py --device cuda --reps 3"  # run.sh's scratch folder left out
    assert merged["parts"][1].startswith("XSTILTS_COMPILE=0 python")  # the retry without compilation says so
    # each part's typed rows, with that part's own command; the one timed twice keeps its first
    assert [(m["case"].split("/")[1], m["command"].split()[-1]) for m in merged["measurements"]] == [
        ("xlmr-large", "3"),
        ("xlmr-base", "xlmr-base"),
    ]


@pytest.mark.parametrize("script", ["run.sh", "prepare.sh"])
def test_the_kit_scripts_parse(script: str) -> None:
    proc = subprocess.run(["bash", "-n", str(KIT / script)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
