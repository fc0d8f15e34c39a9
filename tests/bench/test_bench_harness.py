"""The benchmark harness's structure (bench/): one registry of cases, typed measurements, statistics before a
renderer without side effects, one Trainer engine, only public xstilts names, PERFORMANCE.md as the renderer's
output. Nothing here measures: the saved results in bench/results/ are rendered again."""

from __future__ import annotations

import ast
import copy
import importlib
import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))  # the bench scripts import their siblings by name
    try:
        yield {
            name: importlib.import_module(name)
            for name in ("cases", "measurement", "report_cpu", "verdicts", "document")
        }
    finally:
        sys.path.remove(str(BENCH))


def test_the_registry_names_every_case_once_with_its_topic_and_modes(bench) -> None:
    cases = bench["cases"]
    assert list(cases.CASES)[0] == "peak" and list(cases.CASES)[-1] == "peak-end"  # the peak first and last
    assert all(case.name == name and callable(case.run) for name, case in cases.CASES.items())
    assert {"steps", "whatif"} & set(cases.default_cases("quick")) == set()
    assert cases.default_cases("full") == list(cases.CASES)
    # The like-with-like cases (--device): a GPU case is one more entry, on a device torch knows.
    assert {name: case.device for name, case in cases.DEVICE_CASES.items()} == {"cpu": "cpu", "cuda": "cuda"}
    assert all(callable(case.run) and case.topic for case in cases.DEVICE_CASES.values())


def test_a_measurement_is_typed_and_its_rates_follow_from_its_repetitions(bench) -> None:
    m = bench["measurement"]
    one = m.Measurement("fair/x/sick/trained/xstilts", "training", "cpu", {"torch": "2"}, "c", "2026-12-07",
                        (2.0, 4.0, 3.0), real_tokens=600, padded_tokens=900)  # fmt: skip
    assert (one.median_s, one.range_s, one.real_tokens_per_s, one.padded_tokens_per_s) == (3.0, (2.0, 4.0), 200, 300)
    assert m.Measurement.from_json(json.loads(json.dumps(one.to_json()))) == one
    with pytest.raises(ValueError, match="repetitions"):
        m.Measurement("c", "training", "cpu", {}, "c", "d", (), 1, 1)
    saved = json.loads((BENCH / "results" / "latest-fair-cpu.json").read_text())
    typed = [m.Measurement.from_json(row) for row in saved["measurements"]]
    assert typed == m.from_fair(saved, saved["date"])  # the saved typed rows are what the result says
    assert {t.topic for t in typed} == {"training"} and all(t.real_tokens < t.padded_tokens for t in typed)


def test_statistics_come_before_a_renderer_that_changes_nothing(bench) -> None:
    run = json.loads((BENCH / "results" / "latest-quick.json").read_text())
    for record in run["records"]:
        record.pop("delta_vs_xstilts", None)  # computed again, not read from the file
    with_stats = bench["verdicts"].add_statistics(run)
    assert any("delta_vs_xstilts" in r for r in with_stats["records"])
    before = copy.deepcopy(with_stats)
    text = bench["report_cpu"].render(with_stats)
    assert with_stats == before and text == bench["report_cpu"].render(with_stats)
    assert "Δ vs xstilts" in text and re.search(r"\| [+-]\d+\.\d \[[+-]\d+\.\d, [+-]\d+\.\d\] \|", text)


def test_benchmarks_md_is_the_renderers_output_by_topic(bench) -> None:
    text = bench["document"].document()
    assert (REPO / "PERFORMANCE.md").read_text() == text, "PERFORMANCE.md is stale: python bench/run.py --document"
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert headings == [topic.title for topic in bench["document"].TOPICS]
    assert not any(re.search(r"issue \d", h, flags=re.I) for h in headings)


def test_one_trainer_engine_and_only_public_xstilts_names_in_bench() -> None:
    sources = {path: path.read_text() for path in BENCH.rglob("*.py")}
    builds = {p.name for p, text in sources.items() if re.search(r"\b(Trainer|TrainingArguments)\(", text)}
    assert builds == {"engine.py"}
    private = []
    for path, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("xstilts"):
                private += [f"{path.name}: {a.name}" for a in node.names if a.name.startswith("_")]
    assert private == []


def test_the_gpu_kit_speaks_only_of_the_project_and_its_users() -> None:
    for name in ("README.md", "run.sh", "prepare.sh"):
        text = (BENCH / "gpu" / name).read_text().lower()
        for words in ("device time", "run(command", "carry=", "lent", "session", "device call"):
            assert words not in text, f"bench/gpu/{name} speaks of '{words}'"
