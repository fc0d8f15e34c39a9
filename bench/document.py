"""PERFORMANCE.md, by topic: the dated notes in bench/notes/ and the tables rendered from the latest results.

    python bench/run.py --document     # rewrite PERFORMANCE.md from bench/results/latest-*.json and bench/notes/

`document()` only builds text (no side effects); run.py writes it. A topic's generated table comes from its
results file when that exists; every generated table states the command, date, device and versions it was
measured with, and the notes are hand-written and dated (their figures were measured then, by the commands they
name).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS, NOTES = HERE / "results", HERE / "notes"


@dataclass(frozen=True)
class Topic:
    title: str
    note: str | None = None  # bench/notes/<note>.md
    results: str | None = None  # bench/results/<results>.json, rendered after the note


TOPICS = (
    Topic("Summary", note="summary"),
    Topic("Training loops: xstilts against Trainer on identical batches (CPU)", "training-loops", "latest-fair-cpu"),
    Topic("Same quality: English dev scores after the same batches (CPU)", "same-quality", "latest-fair-cpu-quality"),
    Topic("Where a CPU training step's time goes", note="training-step"),
    Topic("Evaluation casts and loading a stage's encoder", note="evaluation-and-loading"),
    Topic("CPU memory: where the quickstart's peak resident memory goes", note="memory"),
    Topic("The whole harness on the CPU (`python bench/run.py --quick`)", results="latest-quick"),
    Topic("Does `xstilts plan` hold? (bench/plan_estimate.py)", note="planning"),
    Topic("GPU", "gpu", "latest-fair-cuda"),
)

HEADER = """# Performance

Speed of xstilts' training and evaluation loops against Hugging Face's Trainer on the same model and batches, the
harness's other measurements, and how well `xstilts plan` estimates a run. Reproduce on a fresh clone (after the
README's install): `python bench/run.py --quick` (about 10 minutes on 2 cores), `--full` (about an hour), or
`--device cpu|cuda` (like with like); `python bench/run.py --list` names the cases.

This file is generated (`python bench/run.py --document`): each topic's dated notes (bench/notes/) and its table
rendered from the latest results (bench/results/latest-*.json), which says the command, date, device and versions
it was measured with. Rendering does not measure: the tables below were re-rendered on 2026-12-07 from results
measured on the dates they state.
"""


def render_results(name: str, result: dict[str, Any]) -> str:
    """One results file's generated table: a like-with-like run (it has `runs`) or a harness run."""
    if "runs" in result:
        import fair

        return fair.render_result(result, f"bench/results/{name}.json")
    from report_cpu import render
    from verdicts import add_statistics

    return render(add_statistics(result))


def document(results: Path = RESULTS, notes: Path = NOTES) -> str:
    parts = [HEADER]
    for topic in TOPICS:
        body = []
        if topic.note:
            body.append((notes / f"{topic.note}.md").read_text().strip())
        path = results / f"{topic.results}.json" if topic.results else None
        if path is not None and path.is_file():
            body.append(render_results(path.stem, json.loads(path.read_text())).strip())
        elif path is not None:
            body.append(f"*No results yet: bench/results/{path.name} is written by the run this topic names.*")
        parts.append(f"## {topic.title}\n\n" + "\n\n".join(body) + "\n")
    return "\n".join(parts)
