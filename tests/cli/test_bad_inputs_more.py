"""More of the bad-input catalogue (issue "Reliability under inputs nobody planned for"): code in a model
directory, numbers and lists that validate but make no sense, model directories whose files disagree, files that
cannot be read, damaged experiment directories, and tagging predictions that could shift.

The contract is the one of tests/cli/test_bad_inputs.py (its helpers are reused): exit 2, one `error:` line naming the
field or file, no traceback, and no experiment directory when the input could be checked before one exists.
The suite runs as root here, where file permissions do not stop a read: an unreadable file is simulated by the
OSError the operating system would raise (PermissionError), raised where the file is opened.
"""

from __future__ import annotations

import copy
import errno
import json
import os
import pty
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

from tests.cli.test_bad_inputs import (
    PANX,
    TRAIN,
    copy_data,
    make_spec,
    refused,
    run_refused,
    stage_rows,
    write_spec,
)
from tests.cli.test_bad_inputs import finished as finished  # noqa: PLC0414 (the module fixture of one finished experiment)
from xstilts.cli import main
from xstilts.encoders import loading
from xstilts.experiment import checkpoint
from xstilts.formats import make_format
from xstilts.formats.tagging import IGNORE
from xstilts.spec import ModelSpec
from xstilts.tasks import get_task
from xstilts.tasks.examples import TaggingExample

XQUAD = {"task": "xquad", "train_task": "tydiqa", "max_train_examples": 8, "max_eval_examples": 8}
XQUAD["eval_languages"] = ["en"]


def own_task(**changes: Any) -> dict[str, Any]:
    """A spec's own tagging task over the PAN-X files, with some fields changed."""
    task = {
        "name": "mytags",
        "format": "tagging",
        "description": "PAN-X, declared by hand",
        "reader": "conll",
        "labels": ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"],
        "metric": "seqeval_f1",
        "splits": {"train": {"files": ["xtreme/panx/train-en.tsv"]}, "test": {"files": ["xtreme/panx/dev-en.tsv"]}},
        "eval_split": "test",
    }
    return {**task, **changes}


# -- 1. no code from a model directory -----------------------------------------------------------------------

EVIL = """
from pathlib import Path
Path({marker!r}).write_text("code from the model directory ran")
from transformers import BertConfig, BertModel
class EvilConfig(BertConfig):
    model_type = "evil"
class EvilModel(BertModel):
    config_class = EvilConfig
"""


def _linked_model(tiny_model_dir: Path, dest: Path) -> Path:
    dest.mkdir()
    for item in tiny_model_dir.iterdir():
        (dest / item.name).symlink_to(item)
    return dest


def _model_with_code(tiny_model_dir: Path, dest: Path, marker: Path, where: str = "config.json") -> Path:
    model = _linked_model(tiny_model_dir, dest)
    (model / "evil.py").write_text(EVIL.format(marker=str(marker)))
    content = json.loads((tiny_model_dir / where).read_text())
    content["auto_map"] = (
        {"AutoConfig": "evil.EvilConfig", "AutoModel": "evil.EvilModel"}
        if where == "config.json"
        else {"AutoTokenizer": ["evil.EvilTokenizer", None]}
    )
    (model / where).unlink()
    (model / where).write_text(json.dumps(content))
    return model


@pytest.mark.parametrize("where", ["config.json", "tokenizer_config.json"])
def test_model_with_custom_code_is_refused(where: str, tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    marker = tmp_path / "marker"
    model = _model_with_code(tiny_model_dir, tmp_path / "model", marker, where)
    run_refused(capsys, tmp_path, make_spec(data, model), f"{model / where}", "asks to run its own code")
    assert not marker.exists()


def test_custom_code_is_refused_without_a_prompt_on_a_terminal(tmp_path: Path, data: Path, tiny_model_dir: Path):
    """With a terminal on stdin transformers would ask "Do you wish to run the custom code? [y/N]"; the
    directory is refused before it can, and a "y" waiting on the terminal is never read."""
    marker = tmp_path / "marker"
    model = _model_with_code(tiny_model_dir, tmp_path / "model", marker)
    spec = write_spec(tmp_path, make_spec(data, model))
    leader, follower = pty.openpty()
    os.write(leader, b"y\ny\n")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "xstilts.cli", "run", str(spec), "--out", str(tmp_path / "out")],
            stdin=follower,
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
    finally:
        os.close(follower)
        os.close(leader)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and "wish to run" not in result.stdout + result.stderr
    assert result.stderr.strip().startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert "asks to run its own code" in result.stderr
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_every_load_passes_trust_remote_code_false(monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path):
    """A hub id cannot be pre-read offline: for it, transformers itself refuses custom code (it raises instead of
    asking when trust_remote_code is False). Every load of a config, tokenizer and model passes it."""
    import transformers

    seen: list[tuple[str, Any]] = []

    def spy(kind: str, real: Any) -> Any:
        def load(*args: Any, **kwargs: Any) -> Any:
            seen.append((kind, kwargs.get("trust_remote_code")))
            return real(*args, **kwargs)

        return load

    for cls in (transformers.AutoConfig, transformers.AutoTokenizer, transformers.AutoModel):
        monkeypatch.setattr(cls, "from_pretrained", spy(cls.__name__, cls.from_pretrained))
    spec = ModelSpec(name=str(tiny_model_dir))
    loading.load_tokenizer(spec)
    loading.load_encoder(spec)
    assert {kind for kind, _ in seen} == {"AutoConfig", "AutoTokenizer", "AutoModel"}
    assert all(flag is False for _, flag in seen), seen
    assert loading._pretrained_kwargs(ModelSpec(name="org/hub-model"), "org/hub-model")["trust_remote_code"] is False


# -- 2. specs that validate as types but not as experiments --------------------------------------------------

# id -> (spec fields replacing the base spec's, the field the message must name, words it must contain)
SPEC_ERRORS: dict[str, tuple[dict[str, Any], str, str]] = {
    "epochs .inf": ({"train": {**TRAIN, "epochs": float("inf")}}, "train.epochs", "finite number"),
    "learning_rate .inf": ({"train": {**TRAIN, "learning_rate": float("inf")}}, "train.learning_rate", "finite"),
    "weight_decay .inf": ({"train": {**TRAIN, "weight_decay": float("inf")}}, "train.weight_decay", "finite"),
    "learning_rate .nan in a target": (
        {"targets": [{**PANX, "train": {"learning_rate": float("nan")}}]},
        "targets[0].train.learning_rate",
        "finite",
    ),
    "learning_rate 10": ({"train": {**TRAIN, "learning_rate": 10}}, "train.learning_rate", "less than or equal to 1"),
    "seed 2**64": ({"seeds": [2**64]}, "seeds[0]", "less than or equal to 9223372036854775807"),
    "negative seed": ({"seeds": [-1]}, "seeds[0]", "greater than or equal to 0"),
    "data_seed 2**63": ({"data_seed": 2**63}, "data_seed", "less than or equal"),
    "languages: [] in an intermediate stage": (
        {"intermediate": {"none": [], "x": [{"task": "sick", "languages": []}]}},
        "intermediate.x[0].languages",
        "at least 1 item",
    ),
    "eval_languages: [] (not 'all')": (
        {"targets": [{**PANX, "eval_languages": []}]},
        "targets[0].eval_languages",
        "at least 1 item",
    ),
    "train_languages: []": ({"targets": [{**PANX, "train_languages": []}]}, "targets[0].train_languages", "at least"),
    "own task with files: []": (
        {"tasks": [own_task(splits={"train": {"files": []}, "test": {"files": ["xtreme/panx/dev-en.tsv"]}})]},
        "tasks",
        "split 'train': files is empty",
    ),
    "own task named my/task": ({"tasks": [own_task(name="my/task")]}, "tasks", "task name 'my/task'"),
    "own task named ..": ({"tasks": [own_task(name="..")]}, "tasks", "task name '..'"),
    "unknown placeholder in a file pattern": (
        {
            "tasks": [
                own_task(splits={"train": {"files": ["xtreme/panx/train-{language}.tsv"]}, "test": {"files": ["x"]}})
            ]
        },
        "tasks",
        "placeholder(s) ['language']; only {lang} is known",
    ),
    "unbalanced brace in a file pattern": (
        {"tasks": [own_task(splits={"train": {"files": ["xtreme/panx/train-{lang.tsv"]}, "test": {"files": ["x"]}})]},
        "tasks",
        "file pattern 'xtreme/panx/train-{lang.tsv'",
    ),
    "unknown own-task metric": ({"tasks": [own_task(metric="f2")]}, "tasks", "unknown metric 'f2' for a tagging"),
    "accuracy for a tagging task (labels, not tag lists)": (
        {"tasks": [own_task(metric="accuracy")]},
        "tasks",
        "unknown metric 'accuracy' for a tagging task; known: seqeval_f1, token_accuracy, udpos_f1",
    ),
    "metric of another format": (
        {"tasks": [own_task(metric="bucc_f1")]},
        "tasks",
        "unknown metric 'bucc_f1' for a tagging",
    ),
    "span_qa format with a tagging reader": (
        {"tasks": [own_task(format="span_qa", labels=[], metric="squad_em_f1")]},
        "tasks",
        "reader 'conll' gives examples for tagging tasks, not span_qa",
    ),
}


def test_omitted_eval_languages_still_mean_every_language(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    from xstilts.experiment.plan import build_plan
    from xstilts.spec import load_spec

    target = {k: v for k, v in PANX.items() if k != "eval_languages"}
    spec = load_spec(write_spec(tmp_path, make_spec(data, tiny_model_dir, targets=[target])))
    (evaluation,) = [s for s in build_plan(spec, data).stages.values() if s.kind == "evaluate"]
    assert evaluation.languages == get_task("panx").eval_languages and len(evaluation.languages) > 10


def test_own_task_that_is_valid_still_plans(tmp_path: Path, data: Path, tiny_model_dir: Path):
    from xstilts.experiment.plan import build_plan
    from xstilts.spec import load_spec

    target = {"task": "mytags", "max_train_examples": 8, "max_eval_examples": 8}
    spec = load_spec(write_spec(tmp_path, make_spec(data, tiny_model_dir, tasks=[own_task()], targets=[target])))
    assert {s.task for s in build_plan(spec, data).stages.values()} == {"mytags"}


# Lengths need the model and the data: refused in preflight, still before the directory exists.
LENGTH_ERRORS: dict[str, tuple[dict[str, Any], str, str]] = {
    "max_length above the model's positions": (
        {"train": {**TRAIN, "max_length": 1024}},
        "train.max_length",
        "1024 exceeds the 512 positions",
    ),
    "eval_max_length above the model's positions": (
        {"train": {**TRAIN, "eval_max_length": 4096}},
        "train.eval_max_length",
        "4096 exceeds the 512 positions",
    ),
    "span QA with max_length 8": (
        {"targets": [XQUAD], "train": {**TRAIN, "max_length": 8}},
        "train.max_length",
        "leaves no context after the longest question",
    ),
    "span QA with eval_max_length 16": (
        {"targets": [XQUAD], "train": {**TRAIN, "max_length": 128, "eval_max_length": 16}},
        "train.eval_max_length",
        "span QA needs at least",
    ),
}


@pytest.mark.parametrize("case", sorted(SPEC_ERRORS) + sorted(LENGTH_ERRORS))
def test_spec_error_names_the_field(case: str, tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    fields, field, words = {**SPEC_ERRORS, **LENGTH_ERRORS}[case]
    spec = {**make_spec(data, tiny_model_dir), **copy.deepcopy(fields)}
    run_refused(capsys, tmp_path, spec, f"spec field '{field}'", words)


# -- 2b. the spec file: duplicate keys, deep nesting, unreadable -----------------------------------------------


def _spec_text(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_duplicate_key_names_file_and_line(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    text = (
        f"name: bad\ndata_dir: {data}\nmodel: {tiny_model_dir}\n"
        "targets: [{task: panx}]\nseeds: [1]\ntargets: [{task: pawsx}]\n"
    )
    path, out = _spec_text(tmp_path, text), tmp_path / "out"
    refused(capsys, ["run", str(path), "--out", str(out)], f"{path}:6: invalid YAML: duplicate key 'targets'", out=out)


def test_duplicate_key_inside_a_nested_mapping(tmp_path: Path, capsys):
    path = _spec_text(tmp_path, "name: bad\ntrain:\n  epochs: 1\n  epochs: 2\ntargets: [{task: panx}]\n")
    refused(capsys, ["plan", str(path)], f"{path}:4: invalid YAML: duplicate key 'epochs' (first given on line 3)")


@pytest.mark.parametrize(
    "nesting", ["[" * 20000 + "]" * 20000, "a:\n" + "".join(" " * i + "a:\n" for i in range(1, 3000))]
)
def test_deeply_nested_yaml_is_one_line(nesting: str, tmp_path: Path, capsys):
    path = _spec_text(tmp_path, nesting)
    refused(capsys, ["run", str(path), "--out", str(tmp_path / "out")], f"{path}", out=tmp_path / "out")


def test_unreadable_spec_file(tmp_path: Path, data: Path, tiny_model_dir: Path, monkeypatch, capsys):
    path = write_spec(tmp_path, make_spec(data, tiny_model_dir))
    real = Path.read_text

    def read_text(self: Path, *args: Any, **kwargs: Any) -> str:
        if self == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    refused(capsys, ["run", str(path), "--out", str(tmp_path / "out")], f"{path}: cannot read spec: Permission denied")


# -- 2c. model directories whose files disagree ----------------------------------------------------------------


def _model_with(tiny_model_dir: Path, dest: Path, **files: str | bytes | None) -> Path:
    """The tiny model with some files replaced (content) or removed (None); the others linked."""
    model = _linked_model(tiny_model_dir, dest)
    for name, content in files.items():
        name = name.replace("__", ".")
        if (model / name).exists() or (model / name).is_symlink():
            (model / name).unlink()
        if isinstance(content, str):
            (model / name).write_text(content)
        elif isinstance(content, bytes):
            (model / name).write_bytes(content)
    return model


def test_config_json_that_is_a_list(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    model = _model_with(tiny_model_dir, tmp_path / "model", config__json="[1, 2]")
    run_refused(capsys, tmp_path, make_spec(data, model), f"{model / 'config.json'}", "must be a JSON object, got list")


def test_config_whose_hidden_size_disagrees_with_the_weights(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    config.update(hidden_size=64, intermediate_size=128)
    model = _model_with(tiny_model_dir, tmp_path / "model", config__json=json.dumps(config))
    run_refused(capsys, tmp_path, make_spec(data, model), "the weights have [250037, 32]", "does not belong")


def test_truncated_model_weights(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    weights = (tiny_model_dir / "model.safetensors").read_bytes()
    model = _model_with(tiny_model_dir, tmp_path / "model", model__safetensors=weights[: len(weights) // 2])
    needle = f"{model / 'model.safetensors'}: model '{model}': not a complete safetensors file"
    run_refused(capsys, tmp_path, make_spec(data, model), needle)


def test_index_naming_a_missing_shard(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    index = {"metadata": {}, "weight_map": {"embeddings.word_embeddings.weight": "model-00002-of-00002.safetensors"}}
    model = _model_with(
        tiny_model_dir, tmp_path / "model", model__safetensors=None, model__safetensors__index__json=json.dumps(index)
    )
    run_refused(capsys, tmp_path, make_spec(data, model), "shard 'model-00002-of-00002.safetensors' is missing")


def test_unreadable_weights(tmp_path: Path, data: Path, tiny_model_dir: Path, monkeypatch, capsys):
    model = _linked_model(tiny_model_dir, tmp_path / "model")
    weights = model / "model.safetensors"
    real = Path.open

    def guarded(self: Path, *args: Any, **kwargs: Any) -> Any:
        if self == weights:
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded)
    run_refused(capsys, tmp_path, make_spec(data, model), f"{weights}: model '{model}': cannot read: Permission denied")


# -- 3. one error boundary: files that cannot be read, damaged experiment directories ------------------------


def test_data_file_that_cannot_be_read(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    root = copy_data(data, tmp_path / "data", "xtreme/panx/train-en.tsv", "xtreme/panx/dev-en.tsv")
    (root / "xtreme/panx/dev-de.tsv").mkdir()  # a directory where a file should be: reading it is an OSError
    spec = make_spec(root, tiny_model_dir)
    run_refused(capsys, tmp_path, spec, f"{root / 'xtreme/panx/dev-de.tsv'}")


@pytest.mark.parametrize(
    "case",
    ["string article", "paragraph without context", "question without question text", "qas not a list"],
)
def test_squad_json_of_the_wrong_shape(case: str, tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    root = copy_data(
        data,
        tmp_path / "data",
        "xtreme/xquad/xquad.en.json",
        "xtreme/tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json",
    )
    path = root / "xtreme/xquad/xquad.en.json"
    document = json.loads(path.read_text())
    paragraph = document["data"][0]["paragraphs"][0]
    if case == "string article":
        document["data"][1] = "an article as a string"
    elif case == "paragraph without context":
        del paragraph["context"]
    elif case == "question without question text":
        del paragraph["qas"][0]["question"]
    else:
        paragraph["qas"] = "none"
    path.write_text(json.dumps(document))
    spec = make_spec(root, tiny_model_dir, targets=[XQUAD], train={**TRAIN, "max_length": 128})
    run_refused(capsys, tmp_path, spec, f"{path}: data[")


def test_out_naming_a_file(tmp_path: Path, data: Path, tiny_model_dir: Path, capsys):
    out = tmp_path / "out"
    out.write_text("a file\n")
    refused(capsys, ["run", str(write_spec(tmp_path, make_spec(data, tiny_model_dir))), "--out", str(out)], "--out")
    assert out.read_text() == "a file\n"


def test_score_predictions_given_a_directory(tmp_path: Path, data: Path, capsys):
    argv = ["score-predictions", "--task", "pawsx", "--lang", "en", "--predictions", str(tmp_path), "--data", str(data)]
    refused(capsys, argv, f"{tmp_path}: Is a directory")


def _foreign_store(folder: Path) -> None:
    with sqlite3.connect(folder / "results.sqlite") as db:
        db.execute("CREATE TABLE stages (id INTEGER PRIMARY KEY, name TEXT)")


def _corrupt_store(folder: Path) -> None:
    (folder / "results.sqlite").write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)


def _copy(finished: tuple[dict, Path], tmp_path: Path) -> tuple[dict, Path]:
    spec, pristine = finished
    shutil.copytree(pristine, tmp_path / "run")
    return copy.deepcopy(spec), tmp_path / "run"


@pytest.mark.parametrize("damage", [_foreign_store, _corrupt_store], ids=["foreign", "corrupt"])
@pytest.mark.parametrize("command", ["run", "status", "report", "results"])
def test_damaged_store(command: str, damage, finished, tmp_path: Path, data: Path, capsys):
    spec, out = _copy(finished, tmp_path)
    (out / "results.sqlite").unlink()
    for extra in out.glob("results.sqlite-*"):
        extra.unlink()
    damage(out)
    argv = {
        "run": ["run", str(write_spec(tmp_path, spec)), "--out", str(out)],
        "status": ["status", str(out), "--data", str(data)],
        "report": ["report", str(out)],
        "results": ["results", str(out)],
    }[command]
    refused(capsys, argv, f"{out / 'results.sqlite'}")


def test_broken_resolved_spec_in_results(finished, tmp_path: Path, capsys):
    _, out = _copy(finished, tmp_path)
    (out / "spec.resolved.yaml").write_text("name: x\nintermediate: {none: [\n")
    refused(capsys, ["results", str(out)], f"{out / 'spec.resolved.yaml'}:")


def test_read_only_experiment_directory_in_report(finished, tmp_path: Path, monkeypatch, capsys):
    _, out = _copy(finished, tmp_path)
    real = Path.mkdir

    def mkdir(self: Path, *args: Any, **kwargs: Any) -> None:
        if self.is_relative_to(out):  # what a read-only directory does for a user without root
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    refused(capsys, ["report", str(out)], f"{out / 'report'}", "Permission denied")


def test_full_disk_marks_the_stage_failed_and_keeps_the_store(
    finished, tmp_path: Path, monkeypatch, capsys, tiny_model_dir: Path
):
    spec, out = _copy(finished, tmp_path)
    before = stage_rows(out)
    spec["targets"].append({**PANX, "eval_languages": ["en"], "train": {"epochs": 2}})  # one new training stage

    def full(*args: Any, **kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(out / "stages"))

    monkeypatch.setattr(checkpoint, "save", full)
    line = refused(capsys, ["run", str(write_spec(tmp_path, spec)), "--out", str(out)], "No space left on device")
    assert "is marked failed" in line
    rows = stage_rows(out)
    new = {key: row for key, row in rows.items() if key not in before}
    assert [status for _, _, status in new.values()] == ["failed"]
    assert {key: rows[key] for key in before} == before  # finished stages untouched
    assert main(["results", str(out)]) == 0


def test_debug_shows_the_traceback(tmp_path: Path, capsys):
    (tmp_path / "spec.yaml").write_text("- a list\n")
    with pytest.raises(Exception, match="a spec must be a mapping"):
        main(["run", str(tmp_path / "spec.yaml"), "--debug"])
    with pytest.raises(Exception, match="a spec must be a mapping"):
        main(["--debug", "plan", str(tmp_path / "spec.yaml")])


def test_an_unexpected_error_is_one_line_without_debug(monkeypatch, capsys):
    import xstilts.cli as cli

    def broken(args: Any) -> None:
        raise RuntimeError("something no input explains")

    parser = cli.parser()
    monkeypatch.setattr(cli, "parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["tasks"].set_defaults(func=broken)  # noqa: SLF001
    capsys.readouterr()
    assert main(["tasks"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "error: internal error RuntimeError: something no input explains (please report it; --debug shows the "
        "traceback)"
    ]


# -- 4. tagging predictions can never shift -------------------------------------------------------------------


@pytest.fixture(scope="module")
def me5_tokenizer(me5_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(me5_dir)


def test_a_word_without_sub_tokens_keeps_its_own_prediction(me5_tokenizer):
    task, fmt = get_task("panx"), make_format("tagging")
    words, tags = ("Angela", "\x07", "Merkel", "besuchte", "Ouagadougou"), ("B-PER", "O", "I-PER", "O", "B-LOC")
    assert me5_tokenizer.tokenize("\x07") == []  # the real tokenizer drops a lone control character
    example = TaggingExample(words, tags)
    [feature] = fmt.encode([example], me5_tokenizer, task, max_length=64)
    firsts = [i for i, t in enumerate(feature.target.labels) if t != IGNORE]
    assert [task.labels[feature.target.labels[i]] for i in firsts] == list(tags)  # one first sub-token per word
    assert feature.input_ids[firsts[1]] == me5_tokenizer.unk_token_id  # the control character is <unk>
    batch = fmt.collate([feature], me5_tokenizer.pad_token_id)
    logits = torch.zeros(1, batch["input_ids"].shape[1], len(task.labels))
    for i, tag in zip(firsts, tags, strict=True):  # a model that tags every word right
        logits[0, i, task.labels.index(tag)] = 1.0
    [predicted] = fmt.decode(logits, batch, task)
    assert predicted == list(tags)  # nothing shifted: Merkel is I-PER, Ouagadougou B-LOC
    assert fmt.score([predicted], [example], task, "en")["f1"] == 100.0


def test_a_tag_list_of_the_wrong_length_is_an_error(me5_tokenizer):
    task, fmt = get_task("panx"), make_format("tagging")
    example = TaggingExample(("Angela", "Merkel", "spricht"), ("B-PER", "I-PER", "O"))
    for predicted in (["B-PER", "I-PER"], ["B-PER", "I-PER", "O", "O"]):
        with pytest.raises(ValueError, match=f"sentence 1: {len(predicted)} predicted tags for 3 words"):
            fmt.score([predicted], [example], task, "en")


def test_a_control_character_in_the_data_shifts_nothing_end_to_end(
    tmp_path: Path, data: Path, tiny_model_dir: Path, capsys
):
    """Written predictions have exactly one tag per word, also for a sentence with a control character."""
    root = copy_data(data, tmp_path / "data", "xtreme/panx/train-en.tsv", "xtreme/panx/dev-en.tsv")
    dev = root / "xtreme/panx/dev-en.tsv"
    sentences = dev.read_text(encoding="utf-8").split("\n\n")[:3]
    first = sentences[0].split("\n")
    sentences[0] = "\n".join([first[0], "\x07\tO", *first[1:]])  # a control-character word inside sentence 1
    dev.write_text("\n\n".join(sentences) + "\n", encoding="utf-8")
    spec = make_spec(root, tiny_model_dir, targets=[{**PANX, "eval_languages": ["en"]}])
    out = tmp_path / "out"
    assert main(["run", str(write_spec(tmp_path, spec)), "--out", str(out)]) == 0
    (eval_key,) = [key for key, (kind, _, _) in stage_rows(out).items() if kind == "evaluate"]
    lines = (out / "stages" / eval_key / "predictions-en.jsonl").read_text(encoding="utf-8").splitlines()
    written = [json.loads(line) for line in lines]
    gold = [s.split("\n") for s in sentences]
    assert gold[0][1] == "\x07\tO"
    assert [len(p) for p in written] == [len(words) for words in gold]


def test_yaml_helpers_are_safe_loaders():
    """The duplicate-key loader is still a safe loader: a Python tag is refused, not run."""
    from xstilts.spec.files import _UniqueKeyLoader

    assert issubclass(_UniqueKeyLoader, yaml.SafeLoader)
    with pytest.raises(yaml.YAMLError):
        yaml.load("x: !!python/object/apply:os.system ['true']\n", Loader=_UniqueKeyLoader)  # noqa: S506
