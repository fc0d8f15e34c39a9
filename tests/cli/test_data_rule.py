"""One rule for where the data is, in every command: --data, then $XSTILTS_DATA, then the spec's data_dir."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from xstilts.cli import main, parser
from xstilts.errors import UserError
from xstilts.experiment.readback import Unavailable, open_experiment
from xstilts.experiment.store import Store
from xstilts.spec import find_data_root

PANX = {"task": "panx", "max_train_examples": 50, "eval_languages": ["de"], "max_eval_examples": 20}


def test_the_flag_wins_then_the_variable_then_the_spec(tmp_path: Path, monkeypatch):
    flag, env, spec = (tmp_path / name for name in ("flag", "env", "spec"))
    for folder in (flag, env, spec):
        folder.mkdir()
    monkeypatch.setenv("XSTILTS_DATA", str(env))
    assert find_data_root(flag, spec) == flag
    assert find_data_root(None, spec) == env
    monkeypatch.delenv("XSTILTS_DATA")
    assert find_data_root(None, spec) == spec


@pytest.mark.parametrize(
    "given,words",
    [
        ("flag", "--data: data directory {root} does not exist"),
        ("env", "$XSTILTS_DATA: data directory {root} does not exist"),
        ("spec", "spec field 'data_dir': data directory {root} does not exist"),
    ],
)
def test_a_missing_directory_is_named_by_where_it_came_from(given: str, words: str, tmp_path: Path, monkeypatch):
    root = tmp_path / "moved"
    monkeypatch.delenv("XSTILTS_DATA", raising=False)
    if given == "env":
        monkeypatch.setenv("XSTILTS_DATA", str(root))
    with pytest.raises(UserError) as raised:
        find_data_root(root if given == "flag" else None, root if given == "spec" else tmp_path)
    assert str(raised.value) == words.format(root=root)


def test_nowhere_named_falls_back_to_fetched_data_then_the_pack(tmp_path: Path, monkeypatch):
    from xstilts.data.home import PACK

    monkeypatch.delenv("XSTILTS_DATA", raising=False)
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path))
    assert find_data_root(None, None) == PACK
    (tmp_path / "data").mkdir()  # an empty fetch directory is not data yet
    assert find_data_root(None, None) == PACK
    (tmp_path / "data" / "xtreme").mkdir()
    assert find_data_root(None, None) == tmp_path / "data"


def test_the_variable_beats_a_spec_data_dir_that_does_not_exist_here(
    tmp_path: Path, data: Path, tiny_model_dir: Path, monkeypatch, capsys
):
    """The issue's case: the shipped specs name ../shared/data; on a clone without it, $XSTILTS_DATA must work."""
    path = tmp_path / "spec.yaml"
    raw = {"name": "c", "data_dir": str(tmp_path / "not-here"), "model": str(tiny_model_dir), "targets": [PANX]}
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("XSTILTS_DATA", str(data))
    assert main(["plan", str(path), "--out", str(tmp_path / "none")]) == 0
    monkeypatch.delenv("XSTILTS_DATA")
    assert main(["plan", str(path), "--out", str(tmp_path / "none"), "--data", str(data)]) == 0
    assert main(["plan", str(path), "--out", str(tmp_path / "none")]) == 2
    assert f"spec field 'data_dir': data directory {tmp_path / 'not-here'} does not exist" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "s.yaml"],
        ["plan", "s.yaml"],
        ["status", "d"],
        ["results", "d"],
        ["score", "d"],
        ["report", "d"],
        ["similarity", "d"],
        ["score-predictions", "--task", "pawsx", "--lang", "de", "--predictions", "p"],
    ],
)
def test_every_command_that_reads_an_experiment_or_data_takes_data(argv: list[str]):
    assert parser().parse_args([*argv, "--data", "/somewhere"]).data == Path("/somewhere")


def test_an_experiment_whose_data_moved_finds_it_with_the_flag(tmp_path: Path, data: Path, monkeypatch):
    monkeypatch.delenv("XSTILTS_DATA", raising=False)
    spec = {"name": "x", "data_dir": str(tmp_path / "moved"), "seeds": [1], "intermediate": {"none": []}}
    (tmp_path / "spec.resolved.yaml").write_text(yaml.safe_dump({**spec, "targets": [PANX]}))
    Store(tmp_path).close()
    with pytest.raises(Unavailable, match="give --data DIR or set"):
        open_experiment(tmp_path).data_root()
    assert open_experiment(tmp_path, data=data).data_root() == data
    monkeypatch.setenv("XSTILTS_DATA", str(data))
    assert open_experiment(tmp_path).data_root() == data
