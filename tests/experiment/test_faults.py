"""Faults once stages run, and stale state on the next run (docs/reliability.md, "Faults at run time"): a stage
that goes wrong says so in one line and is marked in the store, nothing finished is lost, and nothing damaged or
stale is ever reused silently.

The experiments are the tiny ones of tests/cli/test_bad_inputs.py (a 2-layer random encoder, PAN-X on 8 sentences),
whose helpers are reused. Faults of the operating system (a full disk, a read-only file system) are raised where the
library would raise them, in the form it raises them (safetensors' message, SQLite's result code); one test makes
the kernel refuse a write for real (RLIMIT_FSIZE) in a fresh process.
"""

from __future__ import annotations

import copy
import errno
import io
import json
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import SafetensorError

from tests.cli.test_bad_inputs import (
    PANX,
    _experiment_copy,
    make_spec,
    refused,
    results,
    run_refused,
    stage_rows,
    write_spec,
)
from tests.cli.test_bad_inputs import finished as finished  # noqa: PLC0414 (the module fixture of one finished experiment)
from xstilts.cli import main
from xstilts.experiment import checkpoint, store
from xstilts.experiment.locks import runner_lease
from xstilts.experiment.runner import Runner
from xstilts.experiment.store import Store, read_store
from xstilts.formats import make_format
from xstilts.formats.tagging import Tagging
from xstilts.tasks import get_task
from xstilts.tasks.loading import ExampleCache, load_examples
from xstilts.training import feature_cache, train
from xstilts.training.train import TrainReport

NEW_TARGET = {**PANX, "eval_languages": ["en"], "train": {"epochs": 2}}  # one new training stage, one evaluation


def _copy(finished: tuple[dict, Path], tmp_path: Path) -> tuple[dict, Path, str, str]:
    """A private copy of the finished experiment: its spec, directory, training and evaluation stage keys."""
    return _experiment_copy(finished, tmp_path)


def _run(tmp_path: Path, spec: dict, out: Path) -> list[str]:
    return ["run", str(write_spec(tmp_path, spec)), "--out", str(out)]


def _errors(out: Path) -> dict[str, str]:
    """Each stage's recorded reason (the `error` of its log) by key, for stages that have one."""
    with sqlite3.connect(out / "results.sqlite") as db:
        logs = dict(db.execute("SELECT key, log FROM stages").fetchall())
    return {key: json.loads(log)["error"] for key, log in logs.items() if log and "error" in json.loads(log)}


def _new(out: Path, before: dict) -> dict[str, tuple[str, str, str]]:
    return {key: row for key, row in stage_rows(out).items() if key not in before}


# -- 1. a NaN or infinite loss: the stage fails naming step and value; no NaN is ever stored ---------------------


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_a_diverged_loss_fails_the_stage_naming_step_and_value(value: float, finished, tmp_path, monkeypatch, capsys):
    spec, out, _, _ = _copy(finished, tmp_path)
    before = stage_rows(out)
    spec["targets"].append(NEW_TARGET)
    real, calls = Tagging.loss, []

    def diverging(self: Tagging, logits: torch.Tensor, batch: dict) -> torch.Tensor:
        calls.append(1)
        loss = real(self, logits, batch)
        return loss * value if len(calls) == 3 else loss  # the 3rd micro-batch: optimizer step 3 (no accumulation)

    monkeypatch.setattr(Tagging, "loss", diverging)
    line = refused(capsys, _run(tmp_path, spec, out), f"the loss became {value} at step 3", "is marked failed")
    [(key, (kind, _, status))] = _new(out, before).items()
    assert (kind, status) == ("train", "failed")
    assert "at step 3" in _errors(out)[key] and line.endswith("finished stages are kept")
    assert not (out / "stages" / key).exists()  # no checkpoint of diverged weights
    assert {k: stage_rows(out)[k] for k in before} == before


def test_the_loss_is_read_from_the_device_only_at_the_logging_interval(tiny_model_dir, monkeypatch):
    """The finiteness check lives on the device: the host reads it every LOG_EVERY steps and at the end, never
    once per step (that would make every step wait for the device)."""
    from tests.training.test_training import CONFIG, synthetic_pairs, tiny

    model, tokenizer, task = tiny(tiny_model_dir)
    reads, real = [], train._Health.read

    def read(self: train._Health, *args: Any) -> float:
        reads.append(1)
        return real(self, *args)

    monkeypatch.setattr(train._Health, "read", read)
    config = CONFIG.model_copy(update={"max_steps": 2 * train.LOG_EVERY + 3, "batch_size": 2})
    report = train.train(model, model.fmt.encode(synthetic_pairs(8, 1), tokenizer, task, 32), config, 0, 1, False)
    assert report.steps == 2 * train.LOG_EVERY + 3 and len(reads) == 3


def test_a_non_finite_metric_fails_the_evaluation_and_stores_nothing(finished, tmp_path, monkeypatch, capsys):
    from xstilts.experiment import execute

    spec, out, _, _ = _copy(finished, tmp_path)
    before, rows_before = stage_rows(out), results(out)
    spec["targets"].append({**NEW_TARGET, "eval_languages": ["en", "de"]})
    real = execute.evaluate

    def nan_in_german(model: Any, task: Any, examples: Any, lang: str, *args: Any) -> tuple[list, dict]:
        predictions, scores = real(model, task, examples, lang, *args)
        return predictions, {m: float("nan") if lang == "de" else v for m, v in scores.items()}

    monkeypatch.setattr(execute, "evaluate", nan_in_german)
    refused(capsys, _run(tmp_path, spec, out), "in de: f1 is nan", "is marked failed")
    new = _new(out, before)
    assert sorted((kind, status) for kind, _, status in new.values()) == [("evaluate", "failed"), ("train", "done")]
    assert results(out) == rows_before  # not the English rows either, and no average over a NaN


def test_a_nan_dev_score_is_never_the_selected_epoch():
    report = TrainReport(0, 0, 0, 0.0, 0.0)
    model = torch.nn.Linear(1, 1)
    best = train._keep_best(None, float("nan"), model, report)
    assert best is None
    best = train._keep_best(best, 40.0, model, report)
    assert best is not None and best[0] == 40.0
    assert train._keep_best(best, float("nan"), model, report)[0] == 40.0
    assert report.dev_scores[1] == 40.0


# -- 2. OSErrors at run time: one line saying what and where, exit 2, the stage failed, finished stages kept ----

OS_FAULTS = {
    "disk full": (errno.ENOSPC, "disk full"),
    "quota": (errno.EDQUOT, "disk quota exceeded"),
    "read-only file system": (errno.EROFS, "read-only file system"),
    "permission": (errno.EACCES, "permission denied"),
}


@pytest.mark.parametrize("fault", list(OS_FAULTS))
def test_an_os_error_while_saving_a_checkpoint_is_one_line(fault: str, finished, tmp_path, monkeypatch, capsys):
    """safetensors reports the OS error inside a SafetensorError's text (as it did on a full disk: "internal
    error SafetensorError ... (please report it)", exit 1): now the line says what, and the file."""
    number, words = OS_FAULTS[fault]
    spec, out, _, _ = _copy(finished, tmp_path)
    before = stage_rows(out)
    spec["targets"].append(NEW_TARGET)

    def failing(tensors: dict, filename: Any, *args: Any, **kwargs: Any) -> None:
        reason = f"{os.strerror(number)} (os error {number})"
        raise SafetensorError(f"Error while serializing: I/O error: {reason}")

    monkeypatch.setattr(checkpoint, "save_file", failing)
    line = refused(capsys, _run(tmp_path, spec, out), f"{words} ({os.strerror(number)})", "is marked failed")
    assert str(out / "stages") in line and checkpoint.ENCODER in line and "internal error" not in line
    [(key, (_, _, status))] = _new(out, before).items()
    assert status == "failed" and words in _errors(out)[key]
    assert {k: stage_rows(out)[k] for k in before} == before
    assert {p.name for p in (out / "stages").iterdir() if not p.name.endswith(".lock")} <= set(before)  # no debris
    assert main(["results", str(out)]) == 0


def test_a_file_the_kernel_refuses_to_grow_is_one_line_in_a_fresh_process(finished, tmp_path: Path):
    """A real refusal by the kernel, not a simulated one: under RLIMIT_FSIZE, writing the checkpoint fails with
    EFBIG inside safetensors (the store, the spec and the logs are far below the limit)."""
    spec, out, train_key, _ = _copy(finished, tmp_path)
    size = (out / "stages" / train_key / checkpoint.ENCODER).stat().st_size
    before = stage_rows(out)
    spec["targets"].append(NEW_TARGET)
    limit = size // 2

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the kernel then fails the write instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-m", "xstilts.cli", *_run(tmp_path, spec, out)],
        preexec_fn=limited,
        capture_output=True,
        text=True,
        env={**os.environ, "XSTILTS_THREADS": "1", "XSTILTS_FEATURE_CACHE": "0"},
        timeout=300,
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and "file too large (File too large)" in lines[0] and "is marked failed" in lines[0]
    assert checkpoint.ENCODER in lines[0]
    assert [status for _, _, status in _new(out, before).values()] == ["failed"]


def test_a_full_results_store_is_one_line_and_loses_nothing_finished(finished, tmp_path, monkeypatch, capsys):
    """SQLite's own "database or disk is full" (SQLITE_FULL, made real by capping the file at its current size)."""
    spec, out, _, _ = _copy(finished, tmp_path)
    before, rows_before = stage_rows(out), results(out)
    spec["targets"].append({**NEW_TARGET, "eval_languages": ["en", "de"]})
    real = Store.finish_stage

    def capped(self: Store, *args: Any, **kwargs: Any) -> None:
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        self.db.execute(f"PRAGMA max_page_count = {pages}")
        real(self, *args, **kwargs)

    monkeypatch.setattr(Store, "finish_stage", capped)
    line = refused(capsys, _run(tmp_path, spec, out), f"{out / 'results.sqlite'}: disk full")
    assert "internal error" not in line and "not a readable" not in line
    assert {k: stage_rows(out)[k] for k in before} == before and results(out) == rows_before
    assert main(["results", str(out)]) == 0


def test_an_os_error_writing_predictions_leaves_no_temporary_file(finished, tmp_path, monkeypatch, capsys):
    spec, out, _, _ = _copy(finished, tmp_path)
    spec["targets"].append(NEW_TARGET)
    real = Path.replace

    def refusing(self: Path, target: Any) -> Path:
        if self.name.startswith(".predictions-"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
        return real(self, target)

    monkeypatch.setattr(Path, "replace", refusing)
    refused(capsys, _run(tmp_path, spec, out), "disk full (No space left on device)", "is marked failed")
    assert not [p for p in (out / "stages").rglob(".predictions-*")]


def test_a_feature_cache_that_cannot_be_written_costs_only_time(finished, tmp_path, monkeypatch, capsys):
    spec, out, _, _ = _copy(finished, tmp_path)
    spec["targets"].append(NEW_TARGET)
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(feature_cache.DISABLE_ENV, raising=False)
    feature_cache._noted.clear()

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")

    monkeypatch.setattr(feature_cache.pa, "OSFile", full)
    capsys.readouterr()
    assert main(_run(tmp_path, spec, out)) == 0
    err = capsys.readouterr().err
    assert err.count("note: features not cached") == 1 and f"{tmp_path / 'cache' / 'features'}: disk full" in err
    assert {status for _, _, status in stage_rows(out).values()} == {"done"}


# -- 3. SIGTERM: like Ctrl-C, the running stage interrupted, exit 143 ------------------------------------------


def test_sigterm_marks_the_running_stage_interrupted_and_exits_143(finished, tmp_path: Path):
    spec, out, _, _ = _copy(finished, tmp_path)
    before = stage_rows(out)
    spec["targets"].append({**NEW_TARGET, "train": {"max_steps": 100_000}})  # runs until it is stopped
    process = subprocess.Popen(
        [sys.executable, "-m", "xstilts.cli", *_run(tmp_path, spec, out)],
        env={**os.environ, "XSTILTS_THREADS": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while not any(status == "running" for _, _, status in _new(out, before).values()):
            assert process.poll() is None and time.monotonic() < deadline, "the stage never started"
            time.sleep(0.5)
        time.sleep(1.0)  # inside the training loop
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 143, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "SIGTERM" in lines[0] and "is marked interrupted" in lines[0], err
    [(key, (_, _, status))] = _new(out, before).items()
    assert status == "interrupted" and not (out / "stages" / key).exists()
    assert {k: stage_rows(out)[k] for k in before} == before
    assert not checkpoint.has_checkpoint(out, key)
    with runner_lease(out, out / "x.yaml", "", lambda: None):  # no runner holds the directory any more
        pass


# -- 4. checkpoints and feature-cache files are checked before reuse -------------------------------------------


def _forget(out: Path, key: str) -> None:
    with sqlite3.connect(out / "results.sqlite") as db:  # so that the stage must run again and read its parent
        db.execute("DELETE FROM results WHERE stage_key = ?", (key,))
        db.execute("DELETE FROM stages WHERE key = ?", (key,))


def _flip_middle_byte(path: Path) -> None:
    """The same size, another content: only the hash can tell."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage",
    [lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]), _flip_middle_byte, Path.unlink],
    ids=["truncated", "same size, other bytes", "deleted"],
)
@pytest.mark.parametrize("part", [checkpoint.ENCODER, checkpoint.HEADS])
def test_a_damaged_checkpoint_is_retrained_with_a_note(part: str, damage, finished, tmp_path, capsys):
    spec, out, train_key, eval_key = _copy(finished, tmp_path)
    path = out / "stages" / train_key / part
    original, before = path.read_bytes(), results(out)
    damage(path)
    _forget(out, eval_key)
    capsys.readouterr()
    assert main(_run(tmp_path, spec, out)) == 0
    printed = capsys.readouterr().out
    notes = [line for line in printed.splitlines() if "is trained again" in line]
    assert len(notes) == 1 and train_key in notes[0] and str(out / "stages" / train_key) in notes[0]
    assert path.read_bytes() == original  # trained again: the same bytes on CPU
    assert results(out) == before
    assert {status for _, _, status in stage_rows(out).values()} == {"done"}


def test_checkpoints_nothing_reads_are_checked_by_size_only(finished, tmp_path, capsys, monkeypatch):
    """A finished experiment run again reads no checkpoint: it hashes none (seconds per GB), and finds a
    truncated one by its size."""
    spec, out, train_key, _ = _copy(finished, tmp_path)
    from xstilts.tasks import loading

    hashed: list[Path] = []
    real = loading.file_digest.__wrapped__

    def counting(path: Path, size: int, mtime_ns: int) -> str:
        hashed.append(path)
        return real(path, size, mtime_ns)

    monkeypatch.setattr(checkpoint, "file_digest", counting)
    capsys.readouterr()
    assert main(_run(tmp_path, spec, out)) == 0
    assert "0 to run" in capsys.readouterr().out and not hashed
    path = out / "stages" / train_key / checkpoint.ENCODER
    path.write_bytes(path.read_bytes()[:-8])
    assert main(_run(tmp_path, spec, out)) == 0
    assert "is trained again" in capsys.readouterr().out


def _tiny_stage(directory: Path, key: str, frozen: dict[str, str] | None = None) -> None:
    encoder = torch.nn.Linear(2, 2)
    torch.nn.init.constant_(encoder.weight, float(len(key)))
    info = {checkpoint.FROZEN: frozen} if frozen else {}
    checkpoint.save(directory, key, encoder, {"t": torch.nn.Linear(2, 1)}, info)


def test_a_stage_whose_frozen_tensors_live_in_a_damaged_stage_is_not_reusable(tmp_path: Path):
    _tiny_stage(tmp_path, "holder")
    _tiny_stage(tmp_path, "child", frozen={"weight": "holder"})
    assert checkpoint.problem(tmp_path, "child") is None
    recorded = json.loads((tmp_path / "stages" / "child" / checkpoint.INFO).read_text())[checkpoint.FILES]
    assert set(recorded) == {checkpoint.ENCODER, checkpoint.HEADS}
    _flip_middle_byte(tmp_path / "stages" / "holder" / checkpoint.ENCODER)
    found = checkpoint.problem(tmp_path, "child")
    assert found is not None and "holder" in found and "stage child reads its frozen tensors there" in found
    assert checkpoint.problem(tmp_path, "child", hashes=False) is None  # same size: only the hash tells
    with pytest.raises(Exception, match="SHA-256 differs"):
        checkpoint.encoder_state(tmp_path, "child")


@pytest.fixture
def features(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: Path, tiny_model_dir: Path):
    from transformers import AutoTokenizer

    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path))
    monkeypatch.delenv(feature_cache.DISABLE_ENV, raising=False)
    feature_cache._noted.clear()
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    task, fmt = get_task("sick"), make_format("classification")
    examples = load_examples(task, "train", "en", data)[:30]

    def encode(chosen: list) -> list:
        return feature_cache.encode(fmt, chosen, tokenizer, task, 64)

    return encode, examples, tmp_path / "features"


def test_a_replaced_feature_file_is_encoded_again_with_a_note(features, capsys):
    encode, examples, folder = features
    expected, other = encode(examples[:10]), encode(examples[10:30])
    first, second = sorted(folder.glob("*.arrow"), key=lambda p: p.stat().st_size)
    assert len({first.name, second.name}) == 2
    shutil.copyfile(second, first)  # a valid cache file, of other features
    capsys.readouterr()
    assert encode(examples[:10]) == expected and encode(examples[10:30]) == other
    err = capsys.readouterr().err
    assert err.count("note:") == 1 and first.name in err and "encoding them again" in err
    assert encode(examples[:10]) == expected  # rewritten, with its record: read back without a note
    assert "note:" not in capsys.readouterr().err


def test_a_feature_file_without_its_record_is_not_trusted(features, capsys):
    encode, examples, folder = features
    expected = encode(examples[:10])
    [entry] = folder.glob("*.arrow")
    entry.with_name(f"{entry.stem}.sha256").unlink()
    assert encode(examples[:10]) == expected
    assert entry.with_name(f"{entry.stem}.sha256").is_file()  # written again, with its record


# -- 5. the data a stage reads: fingerprinted file by file, compared on every run ------------------------------


def _small_data(data: Path, dest: Path) -> Path:
    from tests.cli.test_bad_inputs import copy_data

    return copy_data(data, dest, "xtreme/panx/train-en.tsv", "xtreme/panx/dev-en.tsv", "xtreme/panx/dev-de.tsv")


def test_each_stage_records_the_hash_of_every_file_it_read(finished, tmp_path: Path):
    from xstilts.tasks.loading import file_digest

    spec, out, train_key, eval_key = _copy(finished, tmp_path)
    contents = read_store(out)
    root = Path(spec["data_dir"])
    for key, name in ((train_key, "xtreme/panx/train-en.tsv"), (eval_key, "xtreme/panx/dev-en.tsv")):
        files = contents.stages[key].log["data_files"]
        stat = (root / name).stat()
        assert files == {name: file_digest(root / name, stat.st_size, stat.st_mtime_ns)}


def test_an_edited_training_file_is_never_a_stale_result(data: Path, tiny_model_dir: Path, tmp_path: Path, capsys):
    root = _small_data(data, tmp_path / "data")
    spec = make_spec(root, tiny_model_dir, targets=[{**PANX, "eval_languages": ["en"]}])
    out = tmp_path / "run"
    assert main(_run(tmp_path, spec, out)) == 0
    first = stage_rows(out)
    train_file = root / "xtreme/panx/train-en.tsv"
    lines = train_file.read_text(encoding="utf-8").split("\n\n")
    train_file.write_text("\n\n".join([lines[1], lines[0], *lines[2:]]), encoding="utf-8")  # two sentences swapped
    capsys.readouterr()
    assert main(_run(tmp_path, spec, out)) == 0
    assert "2 to run" in capsys.readouterr().out  # the training stage and its evaluation, under new keys
    second = {key: row for key, row in stage_rows(out).items() if key not in first}
    assert sorted(kind for kind, _, _ in second.values()) == ["evaluate", "train"]
    (new_train,) = [key for key, (kind, _, _) in second.items() if kind == "train"]
    recorded = read_store(out).stages[new_train].log["data_files"]["xtreme/panx/train-en.tsv"]
    old_train = [key for key, (kind, _, _) in first.items() if kind == "train"][0]
    assert recorded != read_store(out).stages[old_train].log["data_files"]["xtreme/panx/train-en.tsv"]


def test_a_file_edited_while_the_run_starts_is_refused(data, tiny_model_dir, tmp_path, monkeypatch, capsys):
    """Between planning (which hashes every file into the stage keys) and reading it, a file changes: the stage
    would be recorded under the key of content it never read."""
    root = _small_data(data, tmp_path / "data")
    dev = root / "xtreme/panx/dev-en.tsv"
    real, edited = ExampleCache.__call__, []

    def edit_then_read(self: ExampleCache, task: str, split: str, lang: str) -> list:
        if (task, split, lang) == ("panx", "dev", "en") and not edited:
            edited.append(True)
            dev.write_text("\n\n".join(dev.read_text(encoding="utf-8").split("\n\n")[1:]), encoding="utf-8")
        return real(self, task, split, lang)

    monkeypatch.setattr(ExampleCache, "__call__", edit_then_read)
    spec = make_spec(root, tiny_model_dir, targets=[{**PANX, "eval_languages": ["en"]}])
    run_refused(capsys, tmp_path, spec, f"{dev}: changed while this run read it")


# -- 6. readers never block writers and never see half a transaction; one spec per directory -----------------


def test_readers_see_one_committed_state_even_while_a_writer_commits(finished, tmp_path, monkeypatch):
    """A writer commits a stage and its results between the reader's queries of `stages` and of `results`."""
    _, out, _, _ = _copy(finished, tmp_path)
    writer = Store(out)  # the -wal file exists while a runner has the store open
    real = sqlite3.connect
    row = store.ResultRow("late", "panx", 1, "en", "dev", "f1", 1.0, 1, 1)

    class Interleaved(sqlite3.Connection):
        def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
            if "FROM results" in sql:
                writer.finish_stage("late", "evaluate", "panx", {}, 1.0, {}, [row])
            return super().execute(sql, *args)

    monkeypatch.setattr(store.sqlite3, "connect", lambda *a, **k: real(*a, **k, factory=Interleaved))
    try:
        contents = read_store(out)
    finally:
        monkeypatch.undo()
        writer.close()
    assert "late" not in contents.stages
    assert not [r for r in contents.results if r.stage_key == "late"]  # today: the results of a stage not read
    assert "late" in read_store(out).stages  # and the next read sees both


def test_a_reader_never_waits_for_an_open_write_transaction(finished, tmp_path: Path):
    _, out, train_key, _ = _copy(finished, tmp_path)
    writer = Store(out)
    writer.db.execute("BEGIN IMMEDIATE")
    writer.db.execute("UPDATE stages SET status = 'failed' WHERE key = ?", (train_key,))
    try:
        started = time.monotonic()
        for command in (["results", str(out)], ["report", str(out), "--out", str(out / "report")]):
            assert main(command) == 0
        assert read_store(out).stages[train_key].status == "done"  # nothing uncommitted is seen
        assert time.monotonic() - started < 25  # the store's busy timeout is 30 s: nobody waited for it
    finally:
        writer.db.rollback()
        writer.close()


def test_a_runner_of_another_spec_on_the_same_directory_is_refused(finished, tmp_path, capsys):
    spec, out, _, _ = _copy(finished, tmp_path)
    spec_file = out / "spec.resolved.yaml"
    text = spec_file.read_text(encoding="utf-8")
    other = copy.deepcopy(spec)
    other["targets"].append(NEW_TARGET)
    with runner_lease(out, spec_file, text, lambda: None):  # a runner of the first spec is running
        before = stage_rows(out)
        line = refused(capsys, _run(tmp_path, other, out), f"--out {out}: another runner is running a different spec")
        assert stage_rows(out) == before and spec_file.read_text(encoding="utf-8") == text
        assert "wait for it to finish" in line
        capsys.readouterr()
        assert main(_run(tmp_path, spec, out)) == 0  # the same spec: shares the directory
        assert "0 to run" in capsys.readouterr().out
    assert main(_run(tmp_path, other, out)) == 0  # once no runner holds it, any spec may run there


def test_two_runners_admitted_at_once_never_disagree(tmp_path: Path):
    """The gate makes admission one step: of two runners of different specs starting together, exactly one
    is admitted while the other still runs."""
    spec_file = tmp_path / "spec.resolved.yaml"
    outcomes: list[str] = []
    hold = threading.Event()

    def runner(text: str) -> None:
        try:
            with runner_lease(tmp_path, spec_file, text, lambda: spec_file.write_text(text)):
                outcomes.append(f"admitted {text}")
                hold.wait(5)
        except Exception as err:
            outcomes.append(f"refused {text}: {err}")

    threads = [threading.Thread(target=runner, args=(t,)) for t in ("a", "b")]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    hold.set()
    for thread in threads:
        thread.join()
    assert sorted(o.split()[0] for o in outcomes) == ["admitted", "refused"], outcomes


# -- 7. values that pass the schema but not the data or the model ----------------------------------------------


def test_eval_batch_size_zero_names_the_field(data: Path, tiny_model_dir: Path, tmp_path: Path, capsys):
    spec = make_spec(data, tiny_model_dir)
    spec["train"] = {**spec["train"], "eval_batch_size": 0}
    run_refused(capsys, tmp_path, spec, "spec field 'train.eval_batch_size'")


def test_an_evaluation_label_the_declaration_lacks_names_file_and_line(data, tiny_model_dir, tmp_path, capsys):
    root = _small_data(data, tmp_path / "data")
    dev = root / "xtreme/panx/dev-en.tsv"
    lines = dev.read_text(encoding="utf-8").split("\n")
    lines[0] = lines[0].rsplit("\t", 1)[0] + "\tB-GPE"
    dev.write_text("\n".join(lines), encoding="utf-8")
    spec = make_spec(root, tiny_model_dir, targets=[{**PANX, "eval_languages": ["en"]}])
    run_refused(capsys, tmp_path, spec, f"{dev}:1: label 'B-GPE' is not one of the allowed labels")


@pytest.mark.parametrize("target", ["nowhere", "a file"])
def test_out_a_symbolic_link_to_no_directory_is_refused(target: str, data, tiny_model_dir, tmp_path, capsys):
    destination = tmp_path / "elsewhere"
    if target == "a file":
        destination.write_text("not an experiment\n")
    link = tmp_path / "link"
    link.symlink_to(destination)
    spec = make_spec(data, tiny_model_dir)
    words = "which does not exist" if target == "nowhere" else f"(a symbolic link to {destination}) is a file"
    refused(capsys, _run(tmp_path, spec, link), f"--out: {link}", words)
    assert link.is_symlink() and (target == "nowhere") != destination.exists()


def test_out_a_symbolic_link_to_a_directory_is_followed(finished, tmp_path: Path, capsys):
    spec, out, _, _ = _copy(finished, tmp_path)
    link = tmp_path / "link"
    link.symlink_to(out)
    capsys.readouterr()
    assert main(_run(tmp_path, spec, link)) == 0
    assert "0 to run" in capsys.readouterr().out


def test_runner_pending_after_damage_lists_the_reason(finished, tmp_path: Path, data: Path):
    """The runner's own record of why a finished stage runs again (what the note prints)."""
    from xstilts.experiment.plan import build_plan
    from xstilts.spec import load_spec

    spec, out, train_key, eval_key = _copy(finished, tmp_path)
    (out / "stages" / train_key / checkpoint.HEADS).unlink()
    loaded = load_spec(write_spec(tmp_path, spec))
    plan = build_plan(loaded, data)
    from rich.console import Console

    runner = Runner(loaded, plan, data, out, Console(file=io.StringIO()))
    pending = [s.key for s in runner.pending()]
    assert pending == [train_key] and "checkpoint files missing" in runner.damaged[train_key]
    assert eval_key not in pending  # its results came from the checkpoint as it was: still valid
