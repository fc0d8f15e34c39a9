"""Sections (f) and (g), present when `xstilts similarity DIR` has written DIR/similarity.json: does a task's
similarity to the target predict its gain, and how do the tasks differ in complexity? The report only reads the
file (the similarity methods need the checkpoints, the model and minutes of compute; the report needs neither)."""

from __future__ import annotations

import json
import re
from typing import Any

from xstilts.errors import UserError
from xstilts.experiment.readback import Experiment
from xstilts.report import figures
from xstilts.report.document import Bullets, Figure, Section, Table

FILE = "similarity.json"


def read(exp: Experiment) -> dict[str, Any] | None:
    path = exp.dir / FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not readable as JSON ({err}); run `xstilts similarity` again or delete it") from None


def _n(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _stem(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", "_".join(parts)).strip("_")


def similarity_section(data: dict[str, Any]) -> Section:
    st = data["settings"]
    methods, k = st["methods"], st["k"]
    layers = "the last layer" if st.get("fisher_layers") is None else f"layers {st['fisher_layers']}"
    blocks: list = [
        "Does an intermediate task's similarity to the target predict its gain? Each method scores every "
        "condition against the target; conditions are ranked by score and the ranking is compared with the measured "
        f"gains: Spearman's rho, NDCG@{k} (relevance: the rank of the condition's measured gain, 0 for the smallest) "
        f"and regret@1 and @{k} (how far the best of the top-ranked falls below the best condition, in % of its "
        "score; 0 = found). Each is shown with a 95% percentile bootstrap interval over the seeds the gains were "
        "measured on (the similarity scores fixed; a point with one seed) and, in brackets, its exact expectation "
        "under a uniformly random ranking: a method helps where it beats that, not where it is near 1.",
        f"Settings: {', '.join(methods)}; {st['examples']} examples sampled per task (seed {st['seed']}); TaskEmb on "
        f"{layers}; CKA against the {st['cka_reference']} encoder; SEmb prefix {st['semb_prefix']!r}. Written "
        f"{data.get('written', '?')} by `xstilts similarity`. With few conditions these measures rest on few "
        "points: with two, Spearman is ±1 and regret@k for k >= 2 is 0 whatever the method.",
    ]
    for entry in data["targets"]:
        blocks += _target(entry, methods, k)
    return Section("Task similarity", blocks)


def _target(entry: dict[str, Any], methods: list[str], k: int) -> list:
    name = f"{entry['target']} (baseline '{entry['baseline']}')"
    if entry.get("note"):
        return [f"{name}: {entry['note']}."]
    rows, notes, panels = [], [], {m: [] for m in methods}
    for c in entry["candidates"]:
        gain = "missing" if c["gain"] is None else f"{c['gain']:+.2f}"
        rows.append([c["condition"], gain, *(_n(c["similarity"].get(m), 4) for m in methods)])
        notes += [f"{c['condition']}, {m}: {why}" for m, why in (c.get("notes") or {}).items()]
        for m in methods:
            if c["gain"] is not None and c["similarity"].get(m) is not None:
                panels[m].append((c["condition"], c["similarity"][m], c["gain"]))
    stem = _stem("similarity", entry["target"], entry["baseline"])
    seeds = f"checkpoints of seed {entry.get('seed')}"
    if entry.get("baseline_score") is not None:
        seeds = f"baseline score {entry['baseline_score']:.1f}; {seeds}"
    blocks: list = [
        Table(
            stem,
            f"{name}: gain ({entry.get('metric')}) and similarity by method; {seeds}",
            ["condition", "gain", *methods],
            rows,
            notes,
        )
    ]
    quality = [[m, *quality_cells(*target_quality(entry, m))] for m in methods]
    stored = [q for m in methods if (q := target_quality(entry, m)[0])]
    blocks.append(
        Table(
            _stem("ranking", entry["target"], entry["baseline"]),
            f"{name}: how well each method's ranking predicts the measured gains",
            quality_header(k),
            quality,
            [OLD_FILE] if any("ndcg_random" not in q for q in stored) else [],
        )
    )
    drawn = {m: p for m, p in panels.items() if p}
    if drawn:
        png = figures.similarity_panels(drawn, f"{name}: similarity vs measured gain")
        blocks.append(Figure(stem, f"{name}: each condition's similarity (x) and measured gain (y), per method.", png))
    return blocks


def quality_header(k: int) -> list[str]:
    return ["method", "conditions", "Spearman", f"NDCG@{k}", "regret@1 (%)", f"regret@{k} (%)", "first", "best"]


def target_quality(entry: dict[str, Any], method: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """A method's ranking quality on one target and its intervals over seeds, as `xstilts similarity` wrote them."""
    return (entry.get("quality") or {}).get(method), (entry.get("quality_intervals") or {}).get(method) or {}


OLD_FILE = (
    "This similarity.json was written before ranking measures carried their random-ranking expectation: its NDCG "
    "takes the target score as relevance (a random order of 6 scores about 0.97), and no intervals over seeds are "
    "stored. Run `xstilts similarity` again for rank-relevance NDCG, baselines and intervals."
)


def _with_baseline(value: float | None, spread: dict[str, Any], random: float | None, digits: int) -> str:
    """ "0.812 [0.700, 0.900] (random 0.590)": the value, its interval over seeds, its random-ranking expectation."""
    if value is None:
        return "-"
    text = _n(value, digits)
    if spread.get("low") is not None and spread["high"] > spread["low"]:
        text += f" [{_n(spread['low'], digits)}, {_n(spread['high'], digits)}]"
    return text + ("" if random is None else f" (random {_n(random, digits)})")


def quality_cells(q: dict[str, Any] | None, spread: dict[str, Any] | None = None) -> list[str]:
    """A method's ranking quality as table cells after the method's name (see quality_header), each measure with
    its interval (`spread`: measure -> {low, high}, from similarity/model_size.py) and random-ranking expectation."""
    if q is None:
        return ["0", "-", "-", "-", "-", "-", "-"]
    spread = spread or {}
    cells = [
        _with_baseline(q[m], spread.get(m, {}), q.get(f"{m}_random"), digits)
        for m, digits in (("spearman", 3), ("ndcg", 3), ("regret_1", 2), ("regret", 2))
    ]
    return [str(q["n"]), *cells, q["top"], q["best"]]


def descriptor_section(data: dict[str, Any]) -> Section:
    """The task descriptors, and the same joined with each condition's gain on each target."""
    desc = data.get("descriptors") or {}
    header = ["task", "format", "labels", "mean tokens", "training examples", "loss", "metric", "final train loss"]
    rows = [[name, *_descriptor_cells(d)] for name, d in desc.items()]
    blocks: list = [
        "How complex is each task? Format, label count, mean input length in tokens (the experiment's tokenizer, up "
        "to 512), the number of training examples the stage used, and the loss and metric of the model fine-tuned on "
        "it (the intermediate stage's checkpoint, or the baseline's target training) on the sampled examples, with "
        "the last training loss its stage logged. Loss and metric are on training data: they say how well the task "
        "was fitted, not how well it generalises.",
        Table("task_descriptors", "Task descriptors", header, rows),
    ]
    joined = []
    for entry in data["targets"]:
        for c in entry["candidates"]:
            tasks = c.get("tasks") or []
            gain = "missing" if c["gain"] is None else f"{c['gain']:+.2f}"
            cells = (
                [
                    " + ".join(str(x) for x in col)
                    for col in zip(*(_descriptor_cells(desc[t]) for t in tasks), strict=True)
                ]
                if tasks
                else ["-"] * 7
            )
            joined.append([entry["target"], c["condition"], gain, *cells])
    if joined:
        blocks.append(
            Table(
                "descriptors_and_gains",
                "Gains joined with the descriptors of the condition's tasks",
                ["target", "condition", "gain", *header[1:]],
                joined,
            )
        )
    else:
        blocks.append(Bullets(["No condition has been scored yet."]))
    return Section("Task descriptors", blocks)


def _descriptor_cells(d: dict[str, Any]) -> list[str]:
    metrics = ", ".join(f"{m} {v:.1f}" for m, v in (d.get("metrics") or {}).items()) or "-"
    labels = "-" if d.get("labels") is None else str(d["labels"])
    tokens = _n(d.get("mean_input_tokens"), 1)
    return [
        d["format"],
        labels,
        tokens,
        f"{d['train_examples']:,}",
        _n(d.get("loss")),
        metrics,
        _n(d.get("final_training_loss")),
    ]
