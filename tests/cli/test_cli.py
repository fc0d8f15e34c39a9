"""The command line: bad input is refused with one clear message and exit code 2, no traceback, and no
experiment directory left behind; the listing commands work."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from xstilts.cli import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "xstilts.cli", *args], capture_output=True, text=True, timeout=300)


def spec_file(tmp_path: Path, data: Path, **fields) -> Path:
    spec = {
        "name": "bad",
        "data_dir": str(data),
        "model": {"name": "me5-small", "num_layers": 1},
        "targets": [{"task": "panx", "eval_languages": ["en", "de"], "max_train_examples": 8}],
        **fields,
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture
def small_data(tmp_path: Path, data: Path) -> Path:
    """A private copy of the few PAN-X files a spec needs, so a test can corrupt one of them."""
    root = tmp_path / "data"
    for name in ("train-en.tsv", "dev-en.tsv", "dev-de.tsv"):
        (root / "xtreme" / "panx").mkdir(parents=True, exist_ok=True)
        shutil.copy(data / "xtreme" / "panx" / name, root / "xtreme" / "panx" / name)
    return root


BAD_SPECS = {
    "unknown task": ({"targets": [{"task": "xnlii"}]}, "targets[0].task", "unknown task 'xnlii'"),
    "unknown language": (
        {"targets": [{"task": "panx", "eval_languages": ["en", "tlh"]}]},
        "targets[0].eval_languages",
        "tlh",
    ),
    "unknown key": ({"tragets": []}, "tragets", "Extra inputs"),
    "wrong type": ({"seeds": "one"}, "seeds", "tuple"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_bad_spec_exits_2_naming_the_field(case: str, tmp_path: Path, data: Path):
    fields, field, words = BAD_SPECS[case]
    out = tmp_path / "out"
    result = run_cli("run", str(spec_file(tmp_path, data, **fields)), "--out", str(out))
    assert result.returncode == 2
    assert f"spec field '{field}'" in result.stderr and words in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_unknown_model_exits_2_before_writing(tmp_path: Path, data: Path, me5_dir: Path):
    out = tmp_path / "out"
    spec = spec_file(tmp_path, data, model=str(tmp_path / "no-such-model"))
    code = main(["run", str(spec), "--out", str(out)])
    assert code == 2 and not out.exists()


def test_malformed_data_line_names_file_and_line(tmp_path: Path, small_data: Path, me5_dir: Path, capsys):
    train = small_data / "xtreme" / "panx" / "train-en.tsv"
    lines = train.read_text(encoding="utf-8").split("\n")
    lines[4] = "a line without its tag"
    train.write_text("\n".join(lines), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["run", str(spec_file(tmp_path, small_data)), "--out", str(out)]) == 2
    assert f"{train}:5" in capsys.readouterr().err
    assert not out.exists()


def test_missing_data_file_and_missing_spec(tmp_path: Path, small_data: Path, capsys):
    (small_data / "xtreme" / "panx" / "dev-de.tsv").unlink()
    assert main(["run", str(spec_file(tmp_path, small_data)), "--out", str(tmp_path / "o")]) == 2
    assert "dev-de.tsv: file not found" in capsys.readouterr().err
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    assert "spec file not found" in capsys.readouterr().err
    assert main(["results", str(tmp_path)]) == 2
    assert "not an experiment directory" in capsys.readouterr().err


def test_no_data_dir_anywhere(tmp_path: Path, monkeypatch, capsys):
    """Nothing names a data directory and nothing is in the cache: the package's quickstart excerpt is read, and a
    file it does not hold is one line naming the file, exit 2, nothing written."""
    monkeypatch.delenv("XSTILTS_DATA", raising=False)
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.yaml"
    path.write_text("name: x\ntargets: [{task: panx}]\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert "data/pack/xtreme/panx/dev-" in err and "file not found" in err
    assert not (tmp_path / "runs").exists()


def test_tasks_and_models_list(capsys):
    assert main(["tasks"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in ("panx", "xnli", "pawsx", "udpos", "xcopa", "sick", "siqa"))
    assert main(["models"]) == 0
    assert "me5-small" in capsys.readouterr().out


def test_plan_and_status_commands(tmp_path: Path, data: Path, capsys):
    targets = [{"task": "panx", "max_train_examples": 8}, {"task": "udpos", "max_train_examples": 8}]
    spec = spec_file(
        tmp_path,
        data,
        intermediate={"none": [], "sick": [{"task": "sick", "max_train_examples": 8}]},
        seeds=[1, 2],
        targets=targets,
    )
    assert main(["plan", str(spec)]) == 0
    printed = capsys.readouterr().out
    # per seed: sick once, then 2 conditions x 2 targets x (train + evaluate); unshared, sick would run per target
    assert "18 unique stages (20 if nothing were shared)" in printed
    assert "training example-passes" in printed
    assert main(["status", str(tmp_path)]) == 2
    assert "not an experiment directory" in capsys.readouterr().err
