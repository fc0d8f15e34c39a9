"""`xstilts score-predictions`: every prediction is checked against its gold example and the task's format (type,
label set, one tag per word) before anything is scored; the first that does not fit is refused with exit 2 and
one line naming the file and line. Scoring imports no torch, so the command starts in well under a second."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xstilts.cli import main
from xstilts.formats import FORMATS
from xstilts.formats.scoring import SCORING
from xstilts.tasks import REGISTRY
from xstilts.tasks.loading import load_examples

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, values: list) -> Path:
    path = tmp_path / "predictions.jsonl"
    path.write_text("".join(json.dumps(v) + "\n" for v in values))
    return path


def _score(capsys, path: Path, data: Path, task: str, lang: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["score-predictions", "--task", task, "--lang", lang, "--predictions", str(path), "--data", str(data)])
    out, err = capsys.readouterr()
    return code, out, err


def _golds(data: Path, task: str, lang: str) -> list:
    return load_examples(REGISTRY[task], REGISTRY[task].eval_split, lang, data)


def _refused(capsys, path: Path, data: Path, task: str, lang: str, line: int, words: str) -> None:
    code, out, err = _score(capsys, path, data, task, lang)
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [err.strip()]  # one line, no traceback
    assert err.startswith(f"error: {path}:{line}: does not fit the ")
    assert words in err


def _correct(task: str, golds: list) -> list:
    if task in ("pawsx", "xnli"):
        return [g.label for g in golds]
    if task == "xcopa":
        return [g.label for g in golds]
    if task == "panx":
        return [list(g.tags) for g in golds]
    return [g.answers[0] if g.answers else "" for g in golds]


# case -> (task, language, the bad value put on line 3, words the message must hold)
BAD = {
    "PAWS-X number for a label string": ("pawsx", "de", 1, "1 is not a string"),
    "PAWS-X null": ("pawsx", "de", None, "null is not a string"),
    "XNLI label index": ("xnli", "de", 0, "0 is not a string"),
    "XNLI misspelt label": ("xnli", "de", "Entailment", '"Entailment" is not a label of xnli'),
    "XCOPA string for an index": ("xcopa", "et", "1", '"1" is not an integer'),
    "XCOPA index out of range": ("xcopa", "et", 2, "2 is not an answer index of this question (0..1)"),
    "XCOPA boolean": ("xcopa", "et", True, "true is not an integer"),
    "PAN-X lower-case tags": ("panx", "sw", "lower", '"o" is not a label of panx'),
    "PAN-X short tag list": ("panx", "sw", "short", "tags for a sentence of"),
    "PAN-X a string per sentence": ("panx", "sw", "O", '"O" is not a list'),
    "XQuAD null": ("xquad", "de", None, "null is not a string"),
    "XQuAD number": ("xquad", "de", 1920, "1920 is not a string"),
    "XQuAD SQuAD-style object": ("xquad", "de", {"id": "x", "prediction_text": "1920s"}, "is not a string"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_prediction_that_does_not_fit_is_refused_with_its_line(case: str, tmp_path: Path, data: Path, capsys):
    task, lang, bad, words = BAD[case]
    golds = _golds(data, task, lang)
    values = _correct(task, golds)
    if bad == "lower":
        bad = [tag.lower() for tag in values[2]]
        words = f'"{bad[0]}" is not a label of panx'
    elif bad == "short":
        bad = values[2][:-1]
        words = f"{len(bad)} tags for a sentence of {len(golds[2].words)} words"
    values[2] = bad
    _refused(capsys, _write(tmp_path, values), data, task, lang, 3, words)


def test_line_numbers_count_the_blank_lines_skipped(tmp_path: Path, data: Path, capsys):
    values = _correct("pawsx", _golds(data, "pawsx", "de"))
    path = tmp_path / "predictions.jsonl"
    path.write_text("\n" + json.dumps(values[0]) + "\n\n" + "".join(json.dumps(v) + "\n" for v in [1, *values[2:]]))
    _refused(capsys, path, data, "pawsx", "de", 4, "1 is not a string")


@pytest.mark.parametrize("task,lang", [("pawsx", "de"), ("xnli", "de"), ("xcopa", "et"), ("panx", "sw")])
def test_gold_predictions_score_100(task: str, lang: str, tmp_path: Path, data: Path, capsys):
    code, out, err = _score(capsys, _write(tmp_path, _correct(task, _golds(data, task, lang))), data, task, lang)
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert result[{"panx": "f1"}.get(task, "accuracy")] == pytest.approx(100.0)


def test_a_directory_is_refused(tmp_path: Path, data: Path, capsys):
    code, _, err = _score(capsys, tmp_path, data, "pawsx", "de")
    assert code == 2
    assert err.strip().splitlines() == [f"error: {tmp_path}: Is a directory"]  # the CLI's one-line OSError


def test_every_scored_format_has_a_documented_shape():
    docs = (REPO / "docs" / "tasks.md").read_text()
    assert set(SCORING) == set(FORMATS) - {"mlm"}  # masked LM trains only
    for name, scoring in SCORING.items():
        json.loads(scoring.example)  # the example line is one JSON value
        assert scoring.shape in docs and scoring.example in docs, name


def test_help_shows_each_format_with_an_example_line(capsys):
    with pytest.raises(SystemExit):
        main(["score-predictions", "--help"])
    printed = capsys.readouterr().out
    for name, scoring in SCORING.items():
        assert f"{name}: {scoring.shape}" in printed
        assert scoring.example in printed


def test_scoring_imports_no_torch(tmp_path: Path, data: Path):
    values = _correct("pawsx", _golds(data, "pawsx", "de"))
    path = _write(tmp_path, values)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    argv = ["score-predictions", "--task", "pawsx", "--lang", "de", "--predictions", str(path), "--data", str(data)]
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "xstilts.cli", *argv], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time")}
    assert "xstilts.scores.predictions" in imported  # the check below looks at the right process
    assert not {"torch", "transformers"} & imported
    assert json.loads(result.stdout)["accuracy"] == pytest.approx(100.0)
