"""The GPU run kit (bench/gpu/), checked on the CPU: every part's path with --device cpu and tiny shapes (the
steady-state steps of Base/Large, the LoRA stage on a tiny encoder of XLM-R XXL's architecture, the same-quality
dev scores, the quickstart), how steady-state seconds per step come from step timestamps, the data files it
carries, how it merges the like-with-like parts, and that its shell scripts parse and name their parts."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
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
    argv += ["--batch-size", "8", "--warmup", "1", "--data", str(data), "--out", str(out)]
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
    assert run["frozen_dtype"] == "bf16" and run["bf16"]  # the frozen weights held in bf16, autocast on
    assert run["steady_s_per_step"] > 0 and run["compile_s"] == 0.0 and run["graph_counters"] == {}  # eager


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO / "src")}


def test_the_steps_part_reports_steady_state_apart_from_the_first_step(data, me5_dir, tmp_path) -> None:
    out = tmp_path / "base.json"
    argv = [sys.executable, str(KIT / "parts.py"), "--shape", "tiny", "--device", "cpu", "--steps", "6", "--warmup"]
    argv += ["2", "--read-every", "2", "--tasks", "sick", "--runs", "8:lazy,8:frozen", "--train-examples", "64"]
    proc = subprocess.run([*argv, "--out", str(out)], env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert [(r["batch_size"], r["embeddings"], r["status"]) for r in result["runs"]] == [
        (8, "lazy", "done"),
        (8, "frozen", "done"),
    ]
    for run in result["runs"]:
        assert run["steps"] == 6 and run["finite_loss"] and run["first_step_s"] > 0
        assert [step for step, _ in run["reads"]] == [1, 2, 4, 6]  # every step in the warm-up, then every 2nd
        assert run["steady_steps"] == 4 and run["steady_s_per_step"] > 0
        assert "compile_s" in run and "graphs" in run and run["mfu"] is None  # no matmul peak on a CPU check
    assert "Steady-state steps" in "\n".join(_kit()._steps_lines(result))


def _kit():
    spec = importlib.util.spec_from_file_location("gpu_kit_lines", KIT / "kit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_steady_state_is_timed_from_the_reads_after_the_warm_up(monkeypatch) -> None:
    sys.path.insert(0, str(KIT))
    import steps

    import xstilts.training.train as loop

    monkeypatch.setattr(loop, "LOG_EVERY", 25)  # what the clock changes is put back after the test
    clock = steps.StepClock(warmup=2, read_every=3)
    times = iter([0.0, 10.0, 11.0, 11.5, 11.5, 11.5, 13.0, 13.0, 13.0])  # start, then one time per log call
    monkeypatch.setattr(steps.time, "perf_counter", lambda: next(times))
    clock.start()  # 0.0
    for step in (1, 2):  # the warm-up: every step read, step 1 holding the compile
        clock.log({"train/loss": 1.0}, step)
    assert loop.LOG_EVERY == 3  # after the warm-up the loop reads every 3rd step: steps 3 and 6 are reads
    for step in (3, 4, 5):
        clock.log({"train/loss": 1.0}, step)
    for step in (6, 7, 8):
        clock.log({"train/loss": 1.0}, step)
    summary = clock.summary()
    assert summary["first_step_s"] == 10.0  # compile and the first step, apart
    assert [s for s, _ in summary["reads"]] == [1, 2, 3, 6]
    assert summary["steady_s_per_step"] == pytest.approx((13.0 - 11.0) / 4)  # from step 2's read to step 6's


def test_the_same_quality_part_scores_dev_after_training_on_a_tiny_shape(data, me5_dir, tmp_path) -> None:
    argv = [sys.executable, str(REPO / "bench" / "run.py"), "--device", "cpu", "--no-write", "--results-dir"]
    argv += [str(tmp_path), "--shapes", "tiny", "--tasks", "sick", "--reps", "0", "--dev-steps", "2"]
    argv += ["--dev-seeds", "2", "--dev-start", "random", "--embeddings", "trained"]
    proc = subprocess.run(argv, env=_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (run,) = json.loads((tmp_path / "latest-fair-cpu-quality.json").read_text())["runs"]
    dev = run["dev"]
    assert dev["steps"] == 2 and dev["seeds"] == [1, 2] and dev["start"] == "random"
    assert {loop: len(scores) for loop, scores in dev["scores"].items()} == {
        "xstilts": 2,
        "Trainer default": 2,
        "Trainer tuned": 2,
    }


def test_the_quickstart_part_runs_at_tiny_sizes(kit, data, me5_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XSTILTS_DATA", str(data))
    monkeypatch.setenv("XSTILTS_CACHE", str(me5_dir.parents[1]))
    code = kit.quickstart(tmp_path / "work", tmp_path / "quickstart.json", dry=True)
    result = json.loads((tmp_path / "quickstart.json").read_text())
    assert code == 0 and result["dry"] and result["stages"]
    assert all("graphs" in stage for stage in result["stages"])  # the stage's counters (empty off the GPU)


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


def test_run_sh_names_its_parts() -> None:
    proc = subprocess.run(["bash", str(KIT / "run.sh"), "fair"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "base large quickstart lora_xxl same_quality" in proc.stderr
