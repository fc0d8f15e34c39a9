"""Offline is decided in seconds: HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE are respected, and a Hub endpoint that does
not answer makes a hub id a local-cache lookup that is refused in one line, instead of minutes of retries."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from xstilts.encoders import hub_access
from xstilts.encoders.loading import encoder_config, load_tokenizer
from xstilts.errors import ModelError
from xstilts.spec import ModelSpec

REPO = Path(__file__).resolve().parents[2]
UNROUTABLE = "http://10.255.255.1"  # a private address nothing answers on: the connection attempt just waits


@pytest.fixture
def empty_hub_cache(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(variable, raising=False)
    hub_access._unreachable.cache_clear()


@pytest.mark.parametrize("variable", ["HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"])
def test_an_offline_variable_refuses_an_uncached_hub_id_at_once(variable: str, empty_hub_cache, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", UNROUTABLE)  # never contacted: the variable decides first
    monkeypatch.setenv(variable, "1")
    started = time.monotonic()
    with pytest.raises(ModelError) as raised:
        encoder_config(ModelSpec(name="nobody/no-such-model"))
    assert time.monotonic() - started < 10  # transformers imported, no network tried
    message = str(raised.value)
    assert message.startswith("model 'nobody/no-such-model': not in the local Hugging Face cache")
    assert f"{variable}=1 (offline)" in message and "give a local model directory" in message
    assert "\n" not in message


def test_an_unreachable_hub_is_refused_within_seconds(empty_hub_cache, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", UNROUTABLE)
    monkeypatch.setenv("XSTILTS_HUB_TIMEOUT", "1")
    started = time.monotonic()
    with pytest.raises(ModelError, match=r"the Hugging Face Hub \(http://10\.255\.255\.1\) cannot be reached"):
        load_tokenizer(ModelSpec(name="xlm-roberta-base"))
    assert time.monotonic() - started < 10


def test_a_flag_that_is_not_set_is_not_offline(empty_hub_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens there: refused at once
    reason = hub_access.offline_reason("xlm-roberta-base")
    assert reason is not None and reason.startswith("the Hugging Face Hub (http://127.0.0.1:9) cannot be reached")


def test_a_local_directory_never_probes_the_hub(tiny_model_dir: Path, empty_hub_cache, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", UNROUTABLE)
    monkeypatch.setenv("XSTILTS_HUB_TIMEOUT", "30")
    started = time.monotonic()
    assert encoder_config(ModelSpec(name=str(tiny_model_dir))).hidden_size == 32
    assert time.monotonic() - started < 10  # a probe would wait 30 s
    assert hub_access._unreachable.cache_info().currsize == 0


def test_run_without_network_is_refused_in_one_line_within_10_s(tmp_path: Path, data: Path):
    """The issue's case, in a fresh process with no offline variable: `xstilts plan` on a spec naming
    xlm-roberta-base took 4 min 52 s without network before printing `no config for xlm-roberta-base`. `run` is
    refused at once; `plan` prices it from the model's known shape (encoders/known_configs.py), also at once."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump({"name": "x", "model": "xlm-roberta-base", "targets": [{"task": "pawsx"}]}))
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(
        PYTHONPATH=str(REPO / "src"),
        HF_ENDPOINT=UNROUTABLE,
        XSTILTS_HUB_TIMEOUT="2",
        HF_HOME=str(tmp_path / "hf"),
        HF_HUB_CACHE=str(tmp_path / "hf" / "hub"),
    )
    argv = [sys.executable, "-m", "xstilts.cli", "run", str(spec), "--data", str(data), "--out", str(tmp_path / "o")]
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: model 'xlm-roberta-base': not in the local Hugging Face")
    assert "cannot be reached" in lines[0] and "give a local model directory" in lines[0]
    assert elapsed < 10, f"refused after {elapsed:.1f} s"
    argv[3] = "plan"
    started = time.monotonic()
    result = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "counted from its known shape" in " ".join(result.stdout.split())
    assert time.monotonic() - started < 30  # one Hub probe of 2 s, then the known shape


def test_a_cached_hub_model_passes_offline(tmp_path: Path, empty_hub_cache, monkeypatch):
    from xstilts.encoders.loading import refuse_unreachable

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = ModelSpec(name="someone/small-model")
    with pytest.raises(hub_access.HubUnreachable):
        refuse_unreachable(spec)
    folder = tmp_path / "hf" / "hub" / "models--someone--small-model"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text("abc123")
    (folder / "snapshots" / "abc123").mkdir(parents=True)
    (folder / "snapshots" / "abc123" / "config.json").write_text("{}")
    refuse_unreachable(spec)  # the cache holds it: transformers reads it with local_files_only
