"""A catalogue of bad inputs (issue "Reliability and security"), each fed to the real command line.

Every case asserts the same contract: exit code 2, exactly one line on stderr (`error: ...`) that names the spec
field or the file (and line, where the file has lines), no traceback, and nothing half-written: an input error
caught before running leaves no experiment directory behind. A case where xstilts does not yet meet the contract
would be marked `xfail(strict=True)` with the observed behaviour and the place the fix belongs, so that they turn
into failures the moment the code is fixed and the mark must go.

Models are the tiny random BERT of conftest.py (2 layers, hidden 32); data errors corrupt a private copy of just
the files a small spec needs; checkpoint errors corrupt a copy of one finished tiny experiment.
"""

from __future__ import annotations

import codecs
import copy
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from xstilts.cli import main
from xstilts.experiment import checkpoint
from xstilts.tasks.readers import READERS

TRAIN = {"batch_size": 4, "max_length": 32, "eval_batch_size": 8, "eval_max_length": 64, "precision": "fp32"}
PANX = {"task": "panx", "max_train_examples": 8, "max_eval_examples": 8, "eval_languages": ["en", "de"]}


# -- helpers -------------------------------------------------------------------------------------------------


def make_spec(data_dir: Path, model: Path | str | dict, **fields: Any) -> dict[str, Any]:
    return {
        "name": "bad",
        "data_dir": str(data_dir),
        "model": str(model) if isinstance(model, Path) else model,
        "seeds": [1],
        "train": dict(TRAIN),
        "targets": [dict(PANX)],
        **fields,
    }


def write_spec(tmp_path: Path, spec: dict[str, Any], name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def refused(capsys: pytest.CaptureFixture, argv: list[str], *needles: str, out: Path | None = None) -> str:
    """Run the CLI in-process; check exit 2, one `error:` line holding every needle, no traceback, no `out`."""
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"exit {code}, stderr: {err!r}"
    assert "Traceback" not in err
    assert len(lines) == 1 and lines[0].startswith("error: "), f"not one error line: {err!r}"
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    if out is not None:
        assert not out.exists(), f"{out} was created: {sorted(p.name for p in out.iterdir())}"
    return lines[0]


def run_refused(capsys, tmp_path: Path, spec: dict[str, Any], *needles: str) -> str:
    out = tmp_path / "out"
    return refused(capsys, ["run", str(write_spec(tmp_path, spec)), "--out", str(out)], *needles, out=out)


def copy_data(data: Path, dest: Path, *relative: str) -> Path:
    """A private, writable copy of just these files of the benchmark data."""
    for rel in relative:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data / rel, dest / rel)
    return dest


def replace_line(path: Path, number: int, text: str | bytes) -> None:
    """Replace 1-based line `number` of `path`, byte-exactly."""
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = text if isinstance(text, bytes) else text.encode("utf-8")
    path.write_bytes(b"\n".join(lines))


def stage_rows(experiment: Path) -> dict[str, tuple[str, str, str]]:
    with sqlite3.connect(experiment / "results.sqlite") as db:
        return {
            key: (kind, task, status)
            for key, kind, task, status in db.execute("SELECT key, kind, task, status FROM stages")
        }


def results(experiment: Path) -> dict[tuple, float]:
    with sqlite3.connect(experiment / "results.sqlite") as db:
        rows = db.execute("SELECT stage_key, language, metric, value FROM results").fetchall()
    return {row[:3]: row[3] for row in rows}


# -- 1. spec errors: caught while validating and planning, before any model or data file is opened ------------

# id -> (spec fields replacing the base spec's, the field the message must name, words it must contain)
SPEC_ERRORS: dict[str, tuple[dict[str, Any], str, str]] = {
    "unknown top-level key": ({"tragets": [dict(PANX)]}, "tragets", "Extra inputs"),
    "unknown key in targets[0]": (
        {"targets": [{**PANX, "max_train_exampels": 8}]},
        "targets[0].max_train_exampels",
        "Extra inputs",
    ),
    "unknown key in intermediate stage": (
        {"intermediate": {"none": [], "x": [{"task": "sick", "max_train_exampels": 8}]}},
        "intermediate.x[0].max_train_exampels",
        "Extra inputs",
    ),
    "unknown key in train": ({"train": {**TRAIN, "lr": 1e-3}}, "train.lr", "Extra inputs"),
    "unknown key in model": ({"model": {"name": "me5-small", "layers": 2}}, "model.layers", "Extra inputs"),
    "unknown training option in a target": (
        {"targets": [{**PANX, "train": {"lr": 1e-3}}]},
        "targets[0].train",
        "unknown training option(s) ['lr']",
    ),
    "seeds as a string": ({"seeds": "one"}, "seeds", "valid tuple"),
    "epochs as a list": ({"train": {**TRAIN, "epochs": [1, 2]}}, "train.epochs", "valid number"),
    "batch_size 0": ({"train": {**TRAIN, "batch_size": 0}}, "train.batch_size", "greater than or equal to 1"),
    "batch_size 0 in a target override": (
        {"targets": [{**PANX, "train": {"batch_size": 0}}]},
        "targets[0].train.batch_size",
        "greater than or equal to 1",
    ),
    "negative learning_rate": ({"train": {**TRAIN, "learning_rate": -1e-5}}, "train.learning_rate", "greater than 0"),
    "warmup_ratio 2": ({"train": {**TRAIN, "warmup_ratio": 2}}, "train.warmup_ratio", "less than or equal to 1"),
    "unknown selection": ({"train": {**TRAIN, "selection": "best"}}, "train.selection", "'last' or 'best_dev'"),
    "empty targets": ({"targets": []}, "targets", "at least 1 item"),
    "empty intermediate": ({"intermediate": {}}, "intermediate", "at least 1 item"),
    "empty seeds": ({"seeds": []}, "seeds", "at least 1 item"),
    "fractional seed": ({"seeds": [1.5]}, "seeds[0]", "fractional part"),
    "unknown task in a target": ({"targets": [{**PANX, "task": "panxx"}]}, "targets[0].task", "unknown task 'panxx'"),
    "unknown task in an intermediate stage": (
        {"intermediate": {"none": [], "x": [{"task": "sicc"}]}},
        "intermediate.x[0].task",
        "unknown task 'sicc'",
    ),
    "unknown train_task": (
        {"targets": [{**PANX, "train_task": "panxx"}]},
        "targets[0].train_task",
        "unknown task 'panxx'",
    ),
    "train_task of another format": (
        {"targets": [{**PANX, "train_task": "sick"}]},
        "targets[0].train_task",
        "differ in format or labels",
    ),
    "unknown eval language": (
        {"targets": [{**PANX, "eval_languages": ["en", "tlh"]}]},
        "targets[0].eval_languages",
        "'tlh'",
    ),
    "unknown intermediate language": (
        {"intermediate": {"none": [], "x": [{"task": "sick", "languages": ["de"]}]}},
        "intermediate.x[0].languages",
        "no train data in ['de']",
    ),
    "unknown train language": (
        {"targets": [{**PANX, "train_languages": ["tlh"]}]},
        "targets[0].train_languages",
        "'tlh'",
    ),
    "tatoeba (no training split) as intermediate": (
        {"intermediate": {"none": [], "x": [{"task": "tatoeba"}]}},
        "intermediate.x[0].task",
        "has no training split",
    ),
    "xquad (no training split) as intermediate": (
        {"intermediate": {"none": [], "x": [{"task": "xquad"}]}},
        "intermediate.x[0].task",
        "has no training split",
    ),
    "best_dev on pawsx, which has no dev split": (
        {"targets": [{"task": "pawsx", "eval_languages": ["en"], "train": {"selection": "best_dev"}}]},
        "targets[0].train.selection",
        "no dev split",
    ),
    "max_train_examples 0": (
        {"targets": [{**PANX, "max_train_examples": 0}]},
        "targets[0].max_train_examples",
        "greater than or equal to 1",
    ),
    "negative max_train_examples": (
        {"targets": [{**PANX, "max_train_examples": -5}]},
        "targets[0].max_train_examples",
        "greater than or equal to 1",
    ),
    "negative max_train_examples in an intermediate stage": (
        {"intermediate": {"none": [], "x": [{"task": "sick", "max_train_examples": -5}]}},
        "intermediate.x[0].max_train_examples",
        "greater than or equal to 1",
    ),
    "max_eval_examples 0": (
        {"targets": [{**PANX, "max_eval_examples": 0}]},
        "targets[0].max_eval_examples",
        "greater than or equal to 1",
    ),
    "negative max_eval_examples": (
        {"targets": [{**PANX, "max_eval_examples": -1}]},
        "targets[0].max_eval_examples",
        "greater than or equal to 1",
    ),
    "unknown format option for span QA": (
        {"targets": [{"task": "xquad", "train_task": "tydiqa", "format_options": {"stride": 64}}]},
        "targets[0].format_options.stride",
        "Extra inputs",
    ),
    "negative doc_stride": (
        {"targets": [{"task": "xquad", "train_task": "tydiqa", "format_options": {"doc_stride": -1}}]},
        "targets[0].format_options.doc_stride",
        "greater than or equal to 1",
    ),
    "unknown format option for retrieval": (
        {"targets": [{"task": "tatoeba", "format_options": {"layers": 3}}]},
        "targets[0].format_options.layers",
        "Extra inputs",
    ),
    "pooling max": (
        {"targets": [{"task": "tatoeba", "format_options": {"pooling": "max"}}]},
        "targets[0].format_options.pooling",
        "'mean' or 'cls'",
    ),
    "format option for a format without options": (
        {"targets": [{**PANX, "format_options": {"doc_stride": 64}}]},
        "targets[0].format_options.doc_stride",
        "Extra inputs",
    ),
    "num_layers 0": ({"model": {"name": "me5-small", "num_layers": 0}}, "model.num_layers", "greater than or equal"),
    "spec name with a path separator": ({"name": "a/b"}, "name", "should match pattern"),
    "spec name ..": ({"name": ".."}, "name", "should match pattern"),
    "spec name ../escape": ({"name": "../escape"}, "name", "should match pattern"),
    "condition name with /": (
        {"intermediate": {"none": [], "a/b": [{"task": "sick"}]}},
        "intermediate",
        "condition name 'a/b' must be a plain name",
    ),
    "condition name ..": (
        {"intermediate": {"none": [], "..": [{"task": "sick"}]}},
        "intermediate",
        "condition name '..' must be a plain name",
    ),
    "unknown data_source": ({"data_source": "ftp"}, "data_source", "'files' or 'hub'"),
    "duplicate seeds": ({"seeds": [1, 1]}, "seeds", "seeds must be distinct"),
}

SPEC_XFAILS: dict[str, str] = {}  # id -> why a case is not refused as it should be (none at present)


def _params(cases: dict[str, Any], xfails: dict[str, str]) -> list:
    return [
        pytest.param(key, marks=[pytest.mark.xfail(strict=True, reason=xfails[key])] if key in xfails else [], id=key)
        for key in cases
    ]


@pytest.mark.parametrize("case", _params(SPEC_ERRORS, SPEC_XFAILS))
def test_spec_error_names_the_field(case: str, tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    fields, field, words = SPEC_ERRORS[case]
    spec = {**make_spec(data, tiny_model_dir), **copy.deepcopy(fields)}
    run_refused(capsys, tmp_path, spec, f"spec field '{field}'", words)


# -- 2. the spec file itself and the data directory --------------------------------------------------------


SPEC_FILES: dict[str, tuple[bytes | None, str]] = {
    # id -> (file content, or None for no file; what the message must say after the path)
    "YAML syntax error": (b"name: bad\nseeds:\n\t- 1\ntargets: [{task: panx}]\n", ":3: invalid YAML"),
    "YAML list, not a mapping": (b"- name: bad\n- targets: [{task: panx}]\n", ": a spec must be a mapping"),
    "empty file": (b"", ": a spec must be a mapping"),
    "missing file": (None, ": spec file not found"),
    "not UTF-8": (b"name: b\xe4d\ntargets: [{task: panx}]\n", ": cannot read spec"),
    "python object tag (never evaluated)": (
        b"name: bad\nseeds: !!python/object/apply:os.system ['touch pwned']\ntargets: [{task: panx}]\n",
        ":2: invalid YAML",
    ),
}


@pytest.mark.parametrize("case", sorted(SPEC_FILES))
def test_bad_spec_file_names_the_file(case: str, tmp_path: Path, data: Path, capsys, monkeypatch):
    content, words = SPEC_FILES[case]
    path = tmp_path / "spec.yaml"
    if content is not None:
        path.write_bytes(content)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XSTILTS_DATA", str(data))
    out = tmp_path / "out"
    refused(capsys, ["run", str(path), "--out", str(out)], f"{path}{words}", out=out)
    assert not (tmp_path / "pwned").exists()


def test_spec_path_is_a_directory(tmp_path: Path, capsys):
    out = tmp_path / "out"
    refused(capsys, ["run", str(tmp_path), "--out", str(out)], f"{tmp_path}: cannot read spec", out=out)


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_data_dir_missing_or_not_a_directory(kind: str, tmp_path: Path, tiny_model_dir: Path, capsys):
    root = tmp_path / "nowhere"
    if kind == "a file":
        root.write_text("not a directory\n")
    run_refused(capsys, tmp_path, make_spec(root, tiny_model_dir), "spec field 'data_dir'", f"data directory {root}")


def test_yaml_error_in_a_fresh_process_has_no_traceback(tmp_path: Path):
    path = tmp_path / "spec.yaml"
    path.write_text("name: bad\ntargets: [{task: panx}\n")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "xstilts.cli", "run", str(path), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == [
        line for line in result.stderr.splitlines() if line.startswith(f"error: {path}:")
    ]
    assert not out.exists()


# -- 3. data errors: a private copy of the files a small spec needs, corrupted -----------------------------

PANX_FILES = ("xtreme/panx/train-en.tsv", "xtreme/panx/dev-en.tsv", "xtreme/panx/dev-de.tsv")
PAWSX_FILES = ("xtreme/pawsx/train-en.tsv", "xtreme/pawsx/test-en.tsv")
SIQA_FILES = ("english/siqa/socialIQa_v1.4_dev.jsonl", "english/siqa/socialIQa_v1.4_tst.jsonl")
XQUAD_FILES = ("xtreme/xquad/xquad.en.json", "xtreme/tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json")
TATOEBA_FILES = ("xtreme/tatoeba/de-en.de", "xtreme/tatoeba/de-en.en")

SMALL_SPECS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "panx": (PANX_FILES, {}),
    "pawsx": (PAWSX_FILES, {"targets": [{"task": "pawsx", "eval_languages": ["en"], "max_train_examples": 8}]}),
    "siqa": (
        (*SIQA_FILES, *PANX_FILES),
        {"intermediate": {"none": [], "siqa": [{"task": "siqa", "max_train_examples": 8}]}},
    ),
    "xquad": (
        XQUAD_FILES,
        {"targets": [{"task": "xquad", "train_task": "tydiqa", "eval_languages": ["en"], "max_train_examples": 8}]},
    ),
    "tatoeba": (TATOEBA_FILES, {"targets": [{"task": "tatoeba", "eval_languages": ["de"]}]}),
}


def _delete(path: Path) -> None:
    path.unlink()


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _json_line(path: Path, number: int, edit: Callable[[dict], None]) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    row = json.loads(lines[number - 1])
    edit(row)
    lines[number - 1] = json.dumps(row)
    path.write_text("\n".join(lines), encoding="utf-8")


def _squad_offset(path: Path) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    document["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] += 1
    path.write_text(json.dumps(document), encoding="utf-8")


def _sort_lines(path: Path) -> None:
    path.write_text("\n".join(sorted(path.read_text(encoding="utf-8").split("\n")[:-1])) + "\n", encoding="utf-8")


def _drop_last_line(path: Path) -> None:
    path.write_text("\n".join(path.read_text(encoding="utf-8").split("\n")[:-2]) + "\n", encoding="utf-8")


# id -> (small spec, file to corrupt, corruption, words after "path" in the message)
DATA_ERRORS: dict[str, tuple[str, str, Callable[[Path], None], str]] = {
    "missing file": ("panx", "xtreme/panx/dev-de.tsv", _delete, ": file not found"),
    "empty training file": ("panx", "xtreme/panx/train-en.tsv", _empty, ": no examples"),
    "empty evaluation file": ("panx", "xtreme/panx/dev-de.tsv", _empty, ": no examples"),
    "CoNLL line without a tab": (
        "panx",
        "xtreme/panx/train-en.tsv",
        lambda p: replace_line(p, 5, "a line without its tag"),
        ":5: expected 2 columns, got 1",
    ),
    "unknown tag in the training file": (
        "panx",
        "xtreme/panx/train-en.tsv",
        lambda p: replace_line(p, 3, "Paris\tB-CITY"),
        ":3: label 'B-CITY' is not one of the allowed labels",
    ),
    "unknown tag in an evaluation file": (
        "panx",
        "xtreme/panx/dev-de.tsv",
        lambda p: replace_line(p, 10, "Berlin\tB-GPE"),
        ":10: label 'B-GPE' is not one of the allowed labels",
    ),
    "invalid UTF-8 byte": (
        "panx",
        "xtreme/panx/train-en.tsv",
        lambda p: replace_line(p, 7, b"caf\xe9\tO"),
        ":7: invalid UTF-8 (byte 0xe9)",
    ),
    "unknown label in a pair TSV": (
        "pawsx",
        "xtreme/pawsx/test-en.tsv",
        lambda p: replace_line(p, 2, "A sentence .\tAnother sentence .\t7"),
        ":2: label '7' is not one of the allowed labels (0, 1)",
    ),
    "wrong column count in a pair TSV": (
        "pawsx",
        "xtreme/pawsx/train-en.tsv",
        lambda p: replace_line(p, 4, "A sentence .\t1"),
        ":4: expected 3 columns, got 2",
    ),
    "invalid JSON in a JSONL line": (
        "siqa",
        "english/siqa/socialIQa_v1.4_dev.jsonl",
        lambda p: replace_line(p, 3, '{"context": "unterminated'),
        ":3: invalid JSON",
    ),
    "JSONL line missing a key": (
        "siqa",
        "english/siqa/socialIQa_v1.4_tst.jsonl",
        lambda p: _json_line(p, 2, lambda row: row.pop("context")),
        ":2: missing key 'context'",
    ),
    "JSONL line that is not an object": (
        "siqa",
        "english/siqa/socialIQa_v1.4_dev.jsonl",
        lambda p: replace_line(p, 1, "[1, 2, 3]"),
        ":1: expected a JSON object, got list",
    ),
    "JSONL answer letter out of range": (
        "siqa",
        "english/siqa/socialIQa_v1.4_dev.jsonl",
        lambda p: _json_line(p, 4, lambda row: row.update(correct="D")),
        ":4: key 'correct' is 'D'",
    ),
    "SQuAD answer not at its offset": ("xquad", "xtreme/xquad/xquad.en.json", _squad_offset, ": question "),
    "SQuAD file that is not valid JSON": (
        "xquad",
        "xtreme/xquad/xquad.en.json",
        lambda p: p.write_text('{"data": [\n{"paragraphs": \n', encoding="utf-8"),
        ":3: invalid JSON",
    ),
    "Tatoeba English side sorted alphabetically": (
        "tatoeba",
        "xtreme/tatoeba/de-en.en",
        _sort_lines,
        ": lines are sorted alphabetically",
    ),
    "Tatoeba files with different line counts": (
        "tatoeba",
        "xtreme/tatoeba/de-en.en",
        _drop_last_line,
        ": 999 lines, but de-en.de has 1000",
    ),
}


_TOKENIZERS: dict[tuple[str, str | None], Any] = {}


@pytest.fixture
def tokenizer_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Preflight loads the model's tokenizer before it reads the data: load the tiny model's once for all the
    data cases (~2 s each otherwise). Only the tokenizer is shared; every file is still read by the real CLI."""
    from xstilts.encoders.loading import load_tokenizer
    from xstilts.experiment import execute

    def once(spec):
        key = (spec.name, spec.revision)
        if key not in _TOKENIZERS:
            _TOKENIZERS[key] = load_tokenizer(spec)
        return _TOKENIZERS[key]

    monkeypatch.setattr(execute, "load_tokenizer", once)


@pytest.mark.parametrize("case", sorted(DATA_ERRORS))
@pytest.mark.usefixtures("tokenizer_once")
def test_data_error_names_the_file_and_line(case: str, tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    small, rel, corrupt, words = DATA_ERRORS[case]
    files, fields = SMALL_SPECS[small]
    root = copy_data(data, tmp_path / "data", *files)
    corrupt(root / rel)
    run_refused(capsys, tmp_path, make_spec(root, tiny_model_dir, **fields), f"{root / rel}{words}")


def _bom_crlf(path: Path) -> None:
    text = path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    path.write_bytes(codecs.BOM_UTF8 + text)


# id -> (reader, the file; for tatoeba both sides are converted)
BOM_CRLF_FILES = {
    "conll": ("conll", "xtreme/panx/dev-de.tsv"),
    "pair_tsv": ("pair_tsv", "xtreme/pawsx/test-en.tsv"),
    "jsonl": ("siqa_jsonl", "english/siqa/socialIQa_v1.4_dev.jsonl"),
    "squad_json": ("squad_json", "xtreme/xquad/xquad.en.json"),
    "tatoeba": ("tatoeba", "xtreme/tatoeba/de-en.de"),
}


@pytest.mark.parametrize("case", sorted(BOM_CRLF_FILES))
def test_bom_and_crlf_are_accepted_by_every_reader(case: str, tmp_path: Path, data: Path):
    reader, rel = BOM_CRLF_FILES[case]
    files = (rel, "xtreme/tatoeba/de-en.en") if case == "tatoeba" else (rel,)
    root = copy_data(data, tmp_path / "data", *files)
    for name in files:
        _bom_crlf(root / name)
    labels = {"conll": ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"), "pair_tsv": ("0", "1")}
    converted = READERS[reader](root / rel, "test", labels.get(case))
    assert converted == READERS[reader](data / rel, "test", labels.get(case))


@pytest.mark.usefixtures("tokenizer_once")
def test_bom_and_crlf_data_runs_through_the_cli(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    root = copy_data(data, tmp_path / "data", *PANX_FILES)
    for rel in PANX_FILES:
        _bom_crlf(root / rel)
    out = tmp_path / "out"
    assert main(["run", str(write_spec(tmp_path, make_spec(root, tiny_model_dir))), "--out", str(out)]) == 0
    capsys.readouterr()
    with sqlite3.connect(out / "results.sqlite") as db:
        counts = dict(db.execute("SELECT language, n FROM results WHERE language != 'avg'").fetchall())
    assert counts == {"en": 8, "de": 8}


# -- 4. model errors ----------------------------------------------------------------------------------------


def _broken_model(tiny_model_dir: Path, dest: Path, config: str | None, weights: bool = True) -> Path:
    """A copy of the tiny model (big files linked, not copied) with a replaced config.json or no weights."""
    dest.mkdir()
    for item in tiny_model_dir.iterdir():
        if item.name == "config.json" and config is not None:
            (dest / item.name).write_text(config)
        elif item.name.endswith((".safetensors", ".bin")) and not weights:
            continue
        else:
            (dest / item.name).symlink_to(item)
    return dest


def test_model_directory_that_does_not_exist(tmp_path: Path, data: Path, capsys):
    model = tmp_path / "no-such-model"
    run_refused(capsys, tmp_path, make_spec(data, model), f"model '{model}'")


def test_hub_model_id_offline(tmp_path: Path, data: Path, capsys):
    run_refused(capsys, tmp_path, make_spec(data, "no-such-org/no-such-model"), "model 'no-such-org/no-such-model'")


def test_model_directory_with_a_corrupt_config(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    model = _broken_model(tiny_model_dir, tmp_path / "model", config='{"model_type": "bert", "hidden_size": ')
    run_refused(capsys, tmp_path, make_spec(data, model), f"model '{model}'", "config.json")


def test_num_layers_beyond_the_model(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    spec = make_spec(data, {"name": str(tiny_model_dir), "num_layers": 3})  # the tiny model has 2 layers
    run_refused(capsys, tmp_path, spec, "model.num_layers", "exceeds the 2 layers")


def test_model_directory_without_weights(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    model = _broken_model(tiny_model_dir, tmp_path / "model", config=None, weights=False)
    run_refused(capsys, tmp_path, make_spec(data, model), f"model '{model}'", "model.safetensors")


def test_model_directory_with_pickle_weights_only(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    import torch
    from safetensors.torch import load_file

    model = _broken_model(tiny_model_dir, tmp_path / "model", config=None, weights=False)
    torch.save(load_file(tiny_model_dir / "model.safetensors"), model / "pytorch_model.bin")
    run_refused(capsys, tmp_path, make_spec(data, model), f"model '{model}'", "safetensors")


# -- 5. corrupt checkpoints in a finished experiment ---------------------------------------------------------


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, data: Path, tiny_model_dir: Path) -> tuple[dict, Path]:
    """One finished tiny experiment (baseline, PAN-X trained on 8 sentences, evaluated on 8 in English)."""
    tmp = tmp_path_factory.mktemp("finished")
    spec = make_spec(data, tiny_model_dir, targets=[{**PANX, "eval_languages": ["en"]}])
    assert main(["run", str(write_spec(tmp, spec)), "--out", str(tmp / "run")]) == 0
    return spec, tmp / "run"


def _experiment_copy(finished: tuple[dict, Path], tmp_path: Path) -> tuple[dict, Path, str, str]:
    spec, pristine = finished
    out = tmp_path / "run"
    shutil.copytree(pristine, out)
    stages = stage_rows(out)
    (train_key,) = [k for k, (kind, _, _) in stages.items() if kind == "train"]
    (eval_key,) = [k for k, (kind, _, _) in stages.items() if kind == "evaluate"]
    return copy.deepcopy(spec), out, train_key, eval_key


def _truncate(path: Path) -> None:
    with path.open("r+b") as f:
        f.truncate(path.stat().st_size // 2)


def _checkpoint_file(folder: Path, part: str) -> Path:
    """The encoder file, or the (first) other safetensors file of a stage folder: the task head(s)."""
    if part == "encoder":
        return folder / checkpoint.ENCODER
    return sorted(p for p in folder.glob("*.safetensors") if p.name != checkpoint.ENCODER)[0]


@pytest.mark.parametrize("part", ["encoder", "head"])
@pytest.mark.usefixtures("tokenizer_once")
def test_truncated_checkpoint_when_its_evaluation_reruns(part: str, finished, tmp_path: Path, capsys):
    """Not a refusal since checkpoints carry their sizes and hashes (tests/experiment/test_faults.py): the damaged
    stage is trained again, with a note, and its evaluation gives the same results."""
    spec, out, train_key, eval_key = _experiment_copy(finished, tmp_path)
    path = _checkpoint_file(out / "stages" / train_key, part)
    _truncate(path)
    with sqlite3.connect(out / "results.sqlite") as db:  # forget the evaluation, so it must run again
        db.execute("DELETE FROM results WHERE stage_key = ?", (eval_key,))
        db.execute("DELETE FROM stages WHERE key = ?", (eval_key,))
    capsys.readouterr()
    assert main(["run", str(write_spec(tmp_path, spec)), "--out", str(out)]) == 0
    assert f"{path}: " in capsys.readouterr().out.replace("\n", "")
    assert {status for _, _, status in stage_rows(out).values()} == {"done"}


@pytest.mark.usefixtures("tokenizer_once")
def test_truncated_checkpoint_loaded_by_a_new_target(finished, tmp_path: Path, capsys):
    spec, out, train_key, eval_key = _experiment_copy(finished, tmp_path)
    path = out / "stages" / train_key / checkpoint.ENCODER
    _truncate(path)
    before = results(out)
    # same training settings, so the same (shared) training stage; a new evaluation stage loads its encoder
    spec["targets"].append({**PANX, "eval_languages": ["de"]})
    argv = ["run", str(write_spec(tmp_path, spec)), "--out", str(out)]
    assert main(argv) == 0
    assert "is trained again" in capsys.readouterr().out
    assert {k: v for k, v in results(out).items() if k[0] == eval_key} == before  # same weights again
    assert {status for _, _, status in stage_rows(out).values()} == {"done"}


@pytest.mark.usefixtures("tokenizer_once")
def test_truncated_checkpoint_without_a_record_is_refused_when_loaded(finished, tmp_path: Path, capsys):
    """A checkpoint written before sizes and hashes were recorded is checked only when it is loaded: one line
    naming the file, the new stage failed, nothing finished lost."""
    spec, out, train_key, eval_key = _experiment_copy(finished, tmp_path)
    info = out / "stages" / train_key / checkpoint.INFO
    record = json.loads(info.read_text())
    del record[checkpoint.FILES]
    info.write_text(json.dumps(record))
    path = out / "stages" / train_key / checkpoint.ENCODER
    _truncate(path)
    before = results(out)
    spec["targets"].append({**PANX, "eval_languages": ["de"]})
    argv = ["run", str(write_spec(tmp_path, spec)), "--out", str(out)]
    refused(capsys, argv, f"{path}: cannot read checkpoint", f"delete {path.parent} to retrain it")
    new = {key: status for key, (_, _, status) in stage_rows(out).items() if key not in (train_key, eval_key)}
    assert list(new.values()) == ["failed"]
    assert results(out) == before
    assert main(["results", str(out)]) == 0  # what finished is still readable


def _finished_at(experiment: Path, key: str) -> float:
    with sqlite3.connect(experiment / "results.sqlite") as db:
        return db.execute("SELECT finished_at FROM stages WHERE key = ?", (key,)).fetchone()[0]


@pytest.mark.usefixtures("tokenizer_once")
def test_deleted_checkpoint_is_retrained_with_identical_results(finished, tmp_path: Path, capsys):
    """Not a refusal: the remedy the message above names. Deleting a stage folder makes the next run train that
    stage again, and the same spec and seed give a byte-identical encoder on CPU."""
    spec, out, train_key, eval_key = _experiment_copy(finished, tmp_path)
    before, encoder = results(out), (out / "stages" / train_key / checkpoint.ENCODER).read_bytes()
    finished_at = _finished_at(out, train_key)
    shutil.rmtree(out / "stages" / train_key)
    assert main(["run", str(write_spec(tmp_path, spec)), "--out", str(out)]) == 0
    assert _finished_at(out, train_key) > finished_at  # the deleted stage ran again
    assert (out / "stages" / train_key / checkpoint.ENCODER).read_bytes() == encoder
    assert results(out) == before
    assert set(stage_rows(out)) == {train_key, eval_key}
    assert {status for _, _, status in stage_rows(out).values()} == {"done"}


# -- 6. score-predictions ------------------------------------------------------------------------------------


def _predictions(tmp_path: Path, content: bytes | None) -> Path:
    path = tmp_path / "predictions.jsonl"
    if content is not None:
        path.write_bytes(content)
    return path


# id -> (task, language, predictions file content or None, extra arguments, words the message must hold;
# "{path}" stands for the predictions file)
PREDICTION_ERRORS: dict[str, tuple[str, str, bytes | None, list[str], str]] = {
    "wrong count": ("pawsx", "en", b'"1"\n"0"\n"1"\n', [], "{path}: 3 predictions for 2000 gold examples"),
    "invalid JSON line": ("pawsx", "en", b'"1"\n"0\n"1"\n', [], "{path}:2: invalid JSON"),
    "not UTF-8": ("pawsx", "en", b'"1"\n"\xff"\n', [], "{path}: invalid UTF-8"),
    "missing file": ("pawsx", "en", None, [], "{path}: file not found"),
    "unknown task": ("pawsxx", "en", b'"1"\n', [], "--task: unknown task 'pawsxx'"),
    "unknown language": ("pawsx", "klingon", b'"1"\n', [], "--lang: task 'pawsx' has no test data in 'klingon'"),
    "unknown split": ("pawsx", "en", b'"1"\n', ["--split", "validation"], "--split: task 'pawsx' has splits"),
}


@pytest.mark.parametrize("case", sorted(PREDICTION_ERRORS))
def test_bad_predictions_are_refused(case: str, tmp_path: Path, data: Path, capsys):
    task, lang, content, extra, words = PREDICTION_ERRORS[case]
    path = _predictions(tmp_path, content)
    argv = ["score-predictions", "--task", task, "--lang", lang, "--predictions", str(path), "--data", str(data)]
    refused(capsys, [*argv, *extra], words.format(path=path))


def test_predictions_without_a_data_directory(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.delenv("XSTILTS_DATA", raising=False)
    path = _predictions(tmp_path, b'"1"\n')
    refused(capsys, ["score-predictions", "--task", "pawsx", "--lang", "en", "--predictions", str(path)], "--data")


def test_predictions_of_the_wrong_shape(tmp_path: Path, data: Path, capsys):
    gold = READERS["conll"](data / "xtreme/panx/dev-sw.tsv", "dev", None)
    path = _predictions(tmp_path, b"".join(b'"O"\n' for _ in gold))  # a string per sentence, not a list of tags
    argv = ["score-predictions", "--task", "panx", "--lang", "sw", "--predictions", str(path), "--data", str(data)]
    refused(capsys, argv, f"{path}:1: does not fit the tagging format")


# -- 7. a damaged experiment directory -----------------------------------------------------------------------


def test_results_of_a_corrupt_store_in_a_fresh_process(tmp_path: Path):
    (tmp_path / "results.sqlite").write_text("not a database\n")
    result = subprocess.run(
        [sys.executable, "-m", "xstilts.cli", "results", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.splitlines() if line.startswith("error:")
    ]
    assert f"{tmp_path / 'results.sqlite'}" in result.stderr


def test_run_on_a_corrupt_store(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.sqlite").write_text("not a database\n")
    argv = ["run", str(write_spec(tmp_path, make_spec(data, tiny_model_dir))), "--out", str(out)]
    refused(capsys, argv, f"{out / 'results.sqlite'}")
    assert sorted(p.name for p in out.iterdir()) == ["results.sqlite"]  # nothing written beside it


def test_status_of_a_directory_whose_resolved_spec_is_not_a_mapping(tmp_path: Path, capsys):
    (tmp_path / "spec.resolved.yaml").write_text("- a\n- b\n")
    refused(capsys, ["status", str(tmp_path)], f"{tmp_path / 'spec.resolved.yaml'}: a spec must be a mapping")
