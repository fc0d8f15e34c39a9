"""`xstilts tasks` fits 80 columns, one line per task; `xstilts tasks NAME` shows one task in full."""

from __future__ import annotations

import pytest

from xstilts.cli import console, main
from xstilts.tasks import REGISTRY


@pytest.fixture
def eighty_columns(monkeypatch):
    monkeypatch.setattr(console, "width", 80)


def test_the_list_is_one_line_per_task_within_80_columns(eighty_columns, capsys):
    assert main(["tasks"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.split() and line.split()[0] in REGISTRY}
    assert set(rows) == set(REGISTRY)
    assert len(lines) <= len(REGISTRY) + 6  # header, rule, blank lines and the footnote; nothing wraps
    assert rows["pawsx"] == ["classification", "xtreme,xglue", "7"]
    assert rows["sick"][1] == "-"  # an English intermediate task is in no benchmark


def test_one_task_shows_its_declaration_splits_languages_and_notes(eighty_columns, capsys):
    assert main(["tasks", "pawsx"]) == 0
    printed = capsys.readouterr().out
    assert "reader: pair_tsv" in printed and "metric: accuracy" in printed
    assert "labels: ['0', '1']" in printed  # printed as YAML, not eaten as rich markup
    assert "split test (eval):" in printed and "files: xtreme/pawsx/test-{lang}.tsv" in printed
    assert "languages (7): de en es fr ja ko zh" in printed
    assert "notes: Offline train-en is a copy of dev-en" in printed


def test_an_unknown_task_gets_a_suggestion(capsys):
    assert main(["tasks", "pawx"]) == 2
    assert (
        capsys.readouterr().err.strip()
        == "error: unknown task 'pawx' (did you mean 'pawsx'?); xstilts tasks lists them"
    )
