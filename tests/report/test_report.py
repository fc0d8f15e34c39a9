"""The report: built from small synthetic experiment directories (the SQLite tables, predictions files and gold data
written directly, as xstilts writes them), checked for every section, for what a partial grid is missing, for a
self-contained HTML file, and rendered in headless Chromium to check that the page is not blank."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import re
import sqlite3
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from xstilts.errors import UserError
from xstilts.experiment.store import SCHEMA
from xstilts.formats import make_format
from xstilts.report import ResamplingSettings, build_report
from xstilts.report.curricula import order_pairs, size_axes
from xstilts.report.document import Table, latex_escape, to_latex
from xstilts.spec import parse_spec
from xstilts.tasks import REGISTRY
from xstilts.tasks.loading import load_examples

FAST = ResamplingSettings(n_boot_seeds=500, n_boot_examples=200, n_perm=200)
LANGS = {"panx": ("en", "de", "sw", "zh"), "xnli": ("en", "de", "sw")}
SECTIONS = ("Grid and coverage", "Transfer matrix", "Gains per language", "Order effects", "Intermediate data size")
SECTIONS += ("Model scale",)
QUICKSTART = Path(__file__).resolve().parents[2] / "runs" / "quickstart"


# -- a synthetic experiment ----------------------------------------------------------------------------------


def _stage(task: str, size: int, langs: tuple[str, ...] = ("en",)) -> dict:
    return {"task": task, "languages": list(langs), "max_train_examples": size, "train": {}, "format_options": {}}


# condition -> (stages, how much it lifts the chance of a correct prediction)
GRID = {
    "none": ([], 0.0),
    "sick_100": ([_stage("sick", 100)], 0.02),
    "sick_300": ([_stage("sick", 300)], 0.05),
    "sick": ([_stage("sick", 1000)], 0.07),
    "sick_siqa": ([_stage("sick", 1000), _stage("siqa", 500)], 0.09),
    "siqa_sick": ([_stage("siqa", 500), _stage("sick", 1000)], 0.04),
}


def write_gold(root: Path) -> None:
    """Tiny PAN-X and XNLI dev files in the XTREME layout the task declarations read."""
    rng = random.Random(0)
    for lang in LANGS["panx"]:
        sentences = []
        for _ in range(40):
            words, tags = [f"w{rng.randrange(99)}" for _ in range(rng.randint(3, 8))], []
            while len(tags) < len(words):
                kind = rng.choice(["PER", "ORG", "LOC", None, None])
                tags += ["O"] if kind is None else [f"B-{kind}", f"I-{kind}"][: len(words) - len(tags)]
            sentences.append("\n".join(f"{w}\t{t}" for w, t in zip(words, tags, strict=True)))
        (root / "xtreme" / "panx").mkdir(parents=True, exist_ok=True)
        (root / "xtreme" / "panx" / f"dev-{lang}.tsv").write_text("\n\n".join(sentences) + "\n")
    labels = REGISTRY["xnli"].labels
    for lang in LANGS["xnli"]:
        rows = [f"premise {i}\thypothesis {i}\t{rng.choice(labels)}" for i in range(60)]
        (root / "xtreme" / "xnli").mkdir(parents=True, exist_ok=True)
        (root / "xtreme" / "xnli" / f"dev-{lang}.tsv").write_text("\n".join(rows) + "\n")


def _predict(task: str, golds: list, quality: float, rng: random.Random) -> list:
    labels = REGISTRY[task].labels
    if task == "panx":
        return [[t if rng.random() < quality else rng.choice(labels) for t in e.tags] for e in golds]
    return [e.label if rng.random() < quality else rng.choice(labels) for e in golds]


def _key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def build_experiment(
    out: Path,
    data: Path,
    grid: dict = GRID,
    seeds: tuple[int, ...] = (1, 2, 3),
    unfinished: tuple = (),
    unplanned: tuple = (),
    models: dict[str, str] | None = None,
    seed_lift: dict[tuple[str, int], float] | None = None,
) -> Path:
    """An experiment directory as `xstilts run` leaves it. `unfinished` cells have a planned run whose evaluation
    never ran; `unplanned` cells are in the spec but not in the runs table; `models` maps condition -> model;
    `seed_lift` replaces a condition's lift in one seed ((condition, seed) -> lift), so seeds can disagree."""
    spec = {
        "name": "synthetic",
        "data_dir": str(data),
        "model": {"name": "me5-small", "num_layers": None},
        "seeds": list(seeds),
        "intermediate": {c: stages for c, (stages, _) in grid.items()},
        "targets": [{"task": t, "eval_languages": list(langs)} for t, langs in LANGS.items()],
    }
    out.mkdir(parents=True)
    (out / "spec.resolved.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    db = sqlite3.connect(out / "results.sqlite")
    db.executescript(SCHEMA)
    rng = random.Random(1)
    for condition, (stages, lift) in grid.items():
        model = (models or {}).get(condition, "me5-small")
        for target, langs in LANGS.items():
            for seed in seeds:
                cell = (condition, target, seed)
                chain = [_key(stages[: i + 1], seed, model) for i in range(len(stages))] + [_key(cell, "train")]
                eval_key = _key(cell, "eval")
                if cell not in unplanned:
                    db.execute(
                        "INSERT INTO runs (condition, target, seed, chain, eval_key) VALUES (?, ?, ?, ?, ?)",
                        (*cell, json.dumps(chain), eval_key),
                    )
                for key, stage in zip(chain, [*stages, {"task": target}], strict=True):
                    log = {"examples": stage.get("max_train_examples", 100)}
                    db.execute(
                        "INSERT OR REPLACE INTO stages VALUES (?, 'train', ?, '{}', 'done', 1, 0, ?)",
                        (key, stage["task"], json.dumps(log)),
                    )
                if cell in unfinished or cell in unplanned:
                    continue
                own = (seed_lift or {}).get((condition, seed), lift)
                quality = 0.55 + own + 0.02 * (seed % 2) + (0.05 if model == "big" else 0.0)
                _evaluate(db, out, eval_key, target, langs, seed, model, quality, rng, data)
    db.commit()
    db.close()
    return out


def _evaluate(db, out, eval_key, target, langs, seed, model, quality, rng, data) -> None:
    task = REGISTRY[target]
    config = {"task": target, "split": "dev", "languages": list(langs), "max_eval_examples": None, "data_seed": 0}
    config["model"] = f"name='{model}' num_layers=None revision=None"  # as Store.finish_stage writes it
    db.execute(
        "INSERT INTO stages VALUES (?, 'evaluate', ?, ?, 'done', 1, 0, '{}')", (eval_key, target, json.dumps(config))
    )
    (out / "stages" / eval_key).mkdir(parents=True)
    values = []
    for lang in langs:
        golds = load_examples(task, "dev", lang, data)
        predictions = _predict(target, golds, quality, rng)
        lines = "".join(json.dumps(p) + "\n" for p in predictions)
        (out / "stages" / eval_key / f"predictions-{lang}.jsonl").write_text(lines)
        for metric, value in make_format(task.format).score_exported(predictions, golds, task, lang).items():
            db.execute(
                "INSERT INTO results VALUES (?, ?, 1, ?, 'dev', ?, ?, ?, ?, 'test')",
                (eval_key, target, lang, metric, value, len(golds), seed),
            )
            values.append((metric, value))
    for metric in {m for m, _ in values}:
        mean = float(np.mean([v for m, v in values if m == metric]))
        db.execute(
            "INSERT INTO results VALUES (?, ?, 1, 'avg', 'dev', ?, ?, ?, ?, 'test')",
            (eval_key, target, metric, mean, len(langs), seed),
        )


def build_grid_experiment(
    out: Path, data: Path, axes: dict, seeds: tuple[int, ...] = (1, 2), intermediate: dict | None = None
) -> Path:
    """An experiment over a spec `grid:` as `xstilts run` leaves it: one run per grid point, labelled by its variant
    in the runs table. The gain grows with the intermediate size and is larger for the model named "big"."""
    spec = {
        "name": "grid",
        "data_dir": str(data),
        "seeds": list(seeds),
        "intermediate": intermediate or {"none": [], "sick": [{"task": "sick", "max_train_examples": 1000}]},
        "targets": [{"task": "xnli", "eval_languages": list(LANGS["xnli"])}],
        "grid": axes,
    }
    parsed = parse_spec(spec)
    out.mkdir(parents=True)
    (out / "spec.resolved.yaml").write_text(yaml.safe_dump(json.loads(parsed.model_dump_json()), sort_keys=False))
    db = sqlite3.connect(out / "results.sqlite")
    db.executescript(SCHEMA)
    rng = random.Random(2)
    for variant, point in parsed.variants():
        for condition, stages in point.intermediate.items():
            size = stages[0].max_train_examples if stages else 0
            lift = 0.04 * np.log10(size) if stages else 0.0
            lift *= 2 if point.model.name == "big" and stages else 1
            for seed in seeds:
                cell = (condition, "xnli", seed, variant)
                tasks = [stage.task for stage in stages] + ["xnli"]
                chain = [_key(cell, i, task) for i, task in enumerate(tasks)]
                eval_key = _key(cell, "eval")
                db.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)", (*cell[:3], json.dumps(chain), eval_key, variant)
                )
                for key, task in zip(chain, tasks, strict=True):
                    log = {"examples": {task: size or 100}}  # as the runner logs it: examples per task
                    db.execute(
                        "INSERT INTO stages VALUES (?, 'train', ?, '{}', 'done', 1, 0, ?)", (key, task, json.dumps(log))
                    )
                quality = 0.5 + lift + 0.02 * (seed % 2)
                _evaluate(db, out, eval_key, "xnli", LANGS["xnli"], seed, point.model.name, quality, rng, data)
    db.commit()
    db.close()
    return out


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_gold(root)
    return root


@pytest.fixture(scope="module")
def full_report(tmp_path_factory: pytest.TempPathFactory, data: Path):
    experiment = build_experiment(tmp_path_factory.mktemp("full") / "exp", data)
    return build_report(experiment, experiment / "report", FAST)


# -- what the report says ------------------------------------------------------------------------------------


def test_full_grid_has_every_section_and_finds_the_axes(full_report) -> None:
    html, markdown = full_report.html.read_text(), full_report.markdown.read_text()
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in html and f"## {title}" in markdown
    assert "Complete grid" in markdown
    assert "sick_siqa vs siqa_sick" in markdown and "task order" in markdown  # the order pair
    assert re.search(r"Fit: a = [+-]\d", markdown)  # three sizes of sick: a power law was fitted
    assert "One model in this grid (me5-small)" in markdown
    assert "3 seeds; 40 examples in each of 4 languages" in markdown  # panx: the data behind each number
    assert "XTREME n/a" in markdown
    assert "## Task similarity" not in markdown  # only once `xstilts similarity` has written similarity.json


def test_every_figure_and_table_is_written(full_report) -> None:
    names = {p.name for p in full_report.figures}
    assert {"transfer_matrix.png", "language_gains_panx.png", "size_sick_1_panx.png"} <= names
    for png in full_report.figures:
        assert png.parent == full_report.markdown.parent and f"]({png.name})" in full_report.markdown.read_text()
    tex = {p.stem: p.read_text() for p in full_report.tables}
    assert {"transfer_matrix", "order_effects", "by_resource_class_xnli", "robustness_panx"} <= set(tex)
    for text in tex.values():
        assert "\\toprule" in text and "\\bottomrule" in text and "\\caption{" in text


def test_transfer_matrix_gains_match_the_stored_scores(tmp_path: Path, data: Path) -> None:
    # One seed: the table's gain is the difference of the two stored averages over languages.
    exp = build_experiment(tmp_path / "exp", data, {c: GRID[c] for c in ("none", "sick")}, seeds=(1,))
    report = build_report(exp, tmp_path / "out", FAST)
    db = sqlite3.connect(exp / "results.sqlite")
    avg = dict(
        db.execute(
            "SELECT runs.condition, value FROM runs JOIN results ON stage_key = eval_key "
            "WHERE target = 'xnli' AND language = 'avg'"
        ).fetchall()
    )
    row = next(line for line in report.markdown.read_text().splitlines() if line.startswith("| sick |"))
    assert row.split("|")[3].strip().startswith(f"{avg['sick'] - avg['none']:+.1f} [")
    markdown = report.markdown.read_text()
    assert "No curricula differing only in order in this grid" in markdown
    assert "The grid has no size axis" in markdown
    assert "With one seed, intervals and p-values come from resampling evaluation examples" in markdown
    assert "(seeds p=" not in markdown and "smallest possible p" not in markdown  # one seed: no seed-level test


def test_partial_grid_lists_what_is_missing(tmp_path: Path, data: Path) -> None:
    grid = {c: GRID[c] for c in ("none", "sick", "sick_siqa", "siqa_sick")}
    exp = build_experiment(
        tmp_path / "exp",
        data,
        grid,
        seeds=(1, 2),
        unfinished=(("sick", "panx", 2),),
        unplanned=(("siqa_sick", "xnli", 1),),
    )
    markdown = build_report(exp, tmp_path / "out", FAST).markdown.read_text()
    assert "Partial grid: 2 of 16 runs in the spec have no results" in markdown
    assert re.search(r"sick x panx x seed 2: evaluation not finished \(stage [0-9a-f]{16}\)", markdown)
    assert "siqa_sick x xnli x seed 1: not in the stored plan" in markdown
    # sick on panx rests on the one seed both it and the baseline finished, the other pairs on two: it says so
    assert "panx: 1-2 seeds; 40 examples in each of 4 languages" in markdown
    for title in SECTIONS:
        assert f"## {title}" in markdown


def test_model_scale_compares_each_model_with_its_own_baseline(tmp_path: Path, data: Path) -> None:
    grid = {"none_small": GRID["none"], "none_big": GRID["none"], "sick_small": GRID["sick"], "sick_big": GRID["sick"]}
    models = {"none_small": "small", "sick_small": "small", "none_big": "big", "sick_big": "big"}
    exp = build_experiment(tmp_path / "exp", data, grid, seeds=(1, 2), models=models)
    report = build_report(exp, tmp_path / "out", FAST)
    markdown = report.markdown.read_text()
    assert "xnli: gain by model" in markdown and "| curriculum | small | big |" in markdown
    assert (tmp_path / "out" / "scale_xnli.png").is_file()
    # sick_big's gain is over none_big, not over the first baseline of the spec
    assert "| sick_big |" in markdown and "| none_big |" not in markdown


def test_a_grid_over_intermediate_size_gives_a_size_curve(tmp_path: Path, data: Path) -> None:
    exp = build_grid_experiment(tmp_path / "exp", data, {"intermediate_size": [100, 300, 1000]})
    markdown = build_report(exp, tmp_path / "out", FAST).markdown.read_text()
    assert "Complete grid" in markdown  # every grid point's runs are found under their labels
    assert "| sick [intermediate_size=100] |" in markdown  # a transfer-matrix row per grid point
    assert "sick (stage 1) -> xnli: gain by intermediate data size" in markdown
    assert re.search(r"\| sick \[intermediate_size=300\] \| 300 \| [+-]\d", markdown)  # examples from the stage log
    assert re.search(r"Fit: a = [+-]\d", markdown)
    assert (tmp_path / "out" / "size_sick_1_xnli.png").is_file()


def test_a_size_grid_over_a_two_stage_curriculum_cuts_every_stage(tmp_path: Path, data: Path) -> None:
    two = {"none": [], "sick_siqa": [{"task": "sick"}, {"task": "siqa"}]}
    exp = build_grid_experiment(tmp_path / "exp", data, {"intermediate_size": [100, 300, 1000]}, intermediate=two)
    markdown = build_report(exp, tmp_path / "out", FAST).markdown.read_text()
    assert "sick+siqa (every stage) -> xnli: gain by intermediate data size" in markdown
    assert "| sick_siqa [intermediate_size=300] | 600 |" in markdown  # 300 examples in each of the two stages
    assert (tmp_path / "out" / "size_sick_siqa_all_xnli.png").is_file()


def test_a_grid_over_models_gives_a_scale_curve(tmp_path: Path, data: Path) -> None:
    exp = build_grid_experiment(tmp_path / "exp", data, {"model": ["small", "big"]})
    report = build_report(exp, tmp_path / "out", FAST)
    markdown = report.markdown.read_text()
    assert "| curriculum | small | big |" in markdown and (tmp_path / "out" / "scale_xnli.png").is_file()
    # each model's gain is over its own grid point's baseline: "sick [model=big]" against "none [model=big]"
    db = sqlite3.connect(exp / "results.sqlite")
    avg = {
        (c, v): value
        for c, v, value in db.execute(
            "SELECT condition, variant, AVG(value) FROM runs JOIN results ON stage_key = eval_key "
            "WHERE language = 'avg' GROUP BY condition, variant"
        )
    }
    gain = avg[("sick", "model=big")] - avg[("none", "model=big")]
    row = next(line for line in markdown.splitlines() if line.startswith("| sick (en, 1,000) |"))
    assert row.split("|")[3].strip().startswith(f"{gain:+.1f}")
    assert "The grid has no size axis" in markdown


# -- the spec's axes and the renderers -----------------------------------------------------------------------


def test_order_pairs_and_size_axes_come_from_the_stage_lists() -> None:
    conditions = {c: stages for c, (stages, _) in GRID.items()}
    conditions["en_then_de"] = [_stage("xnli", 100), _stage("xnli", 100, ("de",))]
    conditions["en_de_mixed"] = [_stage("xnli", 100, ("en", "de"))]
    conditions["sick_lr"] = [{**_stage("sick", 1000), "train": {"learning_rate": 1e-5}}]  # differs in more than size
    kinds = {(p.a, p.b): p.kind for p in order_pairs(conditions)}
    assert kinds == {("sick_siqa", "siqa_sick"): "task order", ("en_then_de", "en_de_mixed"): "English first vs mixed"}
    axes = {(a.task, a.conditions) for a in size_axes(conditions)}
    assert axes == {("sick", ("sick_100", "sick_300", "sick"))}


def test_latex_tables_escape_text() -> None:
    table = Table("t_1", "50% of a_b", ["condition", "gain"], [["x & y", "+1.0"]], ["note #1"])
    text = to_latex(table)
    assert "50\\% of a\\_b" in text and "x \\& y & +1.0 \\\\" in text and "note \\#1" in text
    assert "\\begin{tabular}{lr}" in text
    assert latex_escape("a → b ± c") == "a $\\rightarrow$ b $\\pm$ c"


# -- the HTML page -------------------------------------------------------------------------------------------


def _images(html: str) -> list[bytes]:
    return [base64.b64decode(m) for m in re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)]


def test_html_is_self_contained_and_every_image_is_a_png(full_report) -> None:
    import matplotlib.image

    html = full_report.html.read_text()
    assert "<script" not in html and not re.search(r"(src|href)=\"(?!data:|#)", html)
    images = _images(html)
    assert len(images) == html.count("<img") == len(full_report.figures)
    for png in images:
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        pixels = matplotlib.image.imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100


def screenshot(html: Path, out: Path, profile: Path) -> np.ndarray:
    """The page rendered by headless Chromium, as an (height, width, channels) array of floats in 0..1."""
    import matplotlib.image

    chromium = "/usr/bin/chromium"
    flags = "--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking"
    flags += " --disable-component-update --disable-sync"
    command = [chromium, *flags.split(), f"--user-data-dir={profile}", f"--screenshot={out}", "--window-size=1200,3000"]
    subprocess.run(
        [*command, html.resolve().as_uri()], capture_output=True, stdin=subprocess.DEVNULL, timeout=60, check=True
    )
    return matplotlib.image.imread(out)


def _assert_not_blank(pixels: np.ndarray) -> None:
    rgb = (pixels[..., :3] * 255).astype(np.uint32).reshape(-1, 3)
    colours = len(np.unique(rgb[:, 0] << 16 | rgb[:, 1] << 8 | rgb[:, 2]))  # one integer per colour: a fast unique
    non_white = float(np.mean(rgb.min(axis=1) < 240))
    assert colours > 200, f"only {colours} distinct colours: the page looks blank"
    assert non_white > 0.05, f"only {non_white:.1%} of the pixels are not white"


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs Debian's chromium (apt-get install chromium)")
def test_report_renders_in_headless_chromium(full_report, tmp_path: Path) -> None:
    pixels = screenshot(full_report.html, tmp_path / "page.png", tmp_path / "profile")
    assert pixels.shape[:2] == (3000, 1200)
    _assert_not_blank(pixels)


@pytest.mark.skipif(not (QUICKSTART / "results.sqlite").is_file(), reason="no finished runs/quickstart here")
def test_quickstart_report(tmp_path: Path) -> None:
    data = Path(yaml.safe_load((QUICKSTART / "spec.resolved.yaml").read_text())["data_dir"])
    if not data.is_dir():
        pytest.skip(f"the quickstart's data {data} is not here")
    before = sorted(p.name for p in QUICKSTART.iterdir())
    report = build_report(QUICKSTART, tmp_path / "report", FAST)
    assert sorted(p.name for p in QUICKSTART.iterdir()) == before  # read only: not even SQLite's -wal/-shm files
    markdown = report.markdown.read_text()
    for title in SECTIONS:
        assert f"## {title}" in markdown
    with sqlite3.connect(f"file:{QUICKSTART / 'results.sqlite'}?mode=ro", uri=True) as db:
        (baseline,) = db.execute(
            "SELECT value FROM runs JOIN results ON stage_key = eval_key WHERE condition = 'none' AND language = 'avg'"
        ).fetchone()
    assert f"| none (baseline) | {baseline:.1f} |" in markdown  # the stored average, as `results` prints it
    if Path("/usr/bin/chromium").exists():
        _assert_not_blank(screenshot(report.html, tmp_path / "page.png", tmp_path / "profile"))


def test_cli_entry_writes_the_report_beside_the_experiment_by_default(tmp_path: Path, data: Path, capsys) -> None:
    import argparse

    from xstilts.report.cli import cmd_report

    exp = build_experiment(tmp_path / "exp", data, {c: GRID[c] for c in ("none", "sick")}, seeds=(1,))
    cmd_report(argparse.Namespace(dir=exp, out=None))
    assert (exp / "report" / "report.html").is_file() and (exp / "report" / "tables" / "transfer_matrix.tex").is_file()
    assert "report.html" in capsys.readouterr().out


# -- the similarity sections (from a hand-written similarity.json) -------------------------------------------


def _similarity_json() -> dict:
    quality = {
        "n": 2,
        "k": 3,
        "spearman": 1.0,
        "ndcg": 1.0,
        "regret": 0.0,
        "regret_1": 0.0,
        "top": "sick",
        "best": "sick",
    }
    descriptor = {"format": "classification", "labels": 3, "mean_input_tokens": 27.04, "train_examples": 1000}
    return {
        "settings": {
            "methods": ["textemb", "cka"],
            "examples": 64,
            "k": 3,
            "seed": 0,
            "fisher_layers": None,
            "cka_reference": "target",
            "semb_prefix": "query: ",
        },
        "written": "2026-11-22 05:00 UTC",
        "targets": [
            {
                "target": "xnli",
                "baseline": "none",
                "metric": "accuracy",
                "seed": 1,
                "baseline_score": 55.0,
                "candidates": [
                    {
                        "condition": "sick",
                        "gain": 1.5,
                        "similarity": {"textemb": 0.91, "cka": 0.7},
                        "notes": {},
                        "tasks": ["sick (en, train, 1000)"],
                    },
                    {
                        "condition": "siqa_sick",
                        "gain": -0.25,
                        "similarity": {"textemb": 0.88, "cka": None},
                        "notes": {"cka": "no checkpoint of stage abc (deleted?)"},
                        "tasks": ["sick (en, train, 1000)"],
                    },
                    {
                        "condition": "sick_siqa",
                        "gain": None,
                        "similarity": {"textemb": None, "cka": None},
                        "notes": {"all": "intermediate training not finished"},
                    },
                ],
                "quality": {"textemb": quality, "cka": None},
            },
            {
                "target": "panx",
                "baseline": "none",
                "note": "'none' has not finished training on panx",
                "candidates": [],
                "quality": {},
            },
        ],
        "descriptors": {
            "sick (en, train, 1000)": {
                **descriptor,
                "loss": 0.5,
                "metrics": {"accuracy": 81.25},
                "final_training_loss": 0.61,
                "checkpoint": "abc",
            }
        },
    }


def test_similarity_sections_render_the_json(tmp_path: Path, data: Path) -> None:
    exp = build_experiment(tmp_path / "exp", data, {c: GRID[c] for c in ("none", "sick")}, seeds=(1,))
    (exp / "similarity.json").write_text(json.dumps(_similarity_json()))
    report = build_report(exp, tmp_path / "out", FAST)
    markdown = report.markdown.read_text()
    assert "## Task similarity" in markdown and "## Task descriptors" in markdown
    assert "| sick | +1.50 | 0.9100 | 0.7000 |" in markdown and "| sick_siqa | missing | - | - |" in markdown
    assert "siqa_sick, cka: no checkpoint of stage abc (deleted?)" in markdown
    assert "| textemb | 2 | 1.000 | 1.000 | 0.00 | 0.00 | sick | sick |" in markdown and "| cka | 0 | - |" in markdown
    assert "panx (baseline 'none'): 'none' has not finished training on panx." in markdown
    assert "| sick (en, train, 1000) | classification | 3 | 27.0 | 1,000 | 0.500 | accuracy 81.2 | 0.610 |" in markdown
    assert "| xnli | sick | +1.50 | classification | 3 | 27.0 | 1,000 |" in markdown  # gains joined with descriptors
    assert (tmp_path / "out" / "similarity_xnli_none.png").is_file()
    assert {"similarity_xnli_none", "ranking_xnli_none", "task_descriptors"} <= {p.stem for p in report.tables}

    (exp / "similarity.json").write_text('{"settings": ')  # cut short
    with pytest.raises(UserError, match=r"similarity.json: not readable as JSON \(.*line 1"):
        build_report(exp, tmp_path / "again", FAST)


def test_per_language_p_values_say_their_correction(full_report) -> None:
    markdown = full_report.markdown.read_text()
    assert "marked (Holm)" in markdown and "Holm's step-down correction across the condition's" in markdown
    # each language: raw and Holm-adjusted p over pooled examples, then the sign-flip p over its 3 seeds
    assert re.search(r"\(p=[0-9.e-]+, Holm [0-9.e-]+(\\\*)?; seeds p=(0\.25|0\.5|0\.75|1)\)", markdown)


def test_pooled_p_values_stand_beside_a_seed_level_test_that_says_its_floor(full_report) -> None:
    markdown = full_report.markdown.read_text()
    matrix = markdown.split("## Transfer matrix")[1].split("## ")[0]
    # 3 seeds: 8 sign assignments, so the seed-level p is a multiple of 1/8 and at least 2/8
    cells = re.findall(r"p=[0-9.e-]+(?:\\\*)? \(seeds p=([0-9.]+)\)", matrix)  # markdown escapes the star
    assert len(cells) == 2 * 5 and all(float(p) >= 0.25 and (8 * float(p)).is_integer() for p in cells)
    assert "with 3 seeds the smallest possible p is 0.25" in matrix
    order = markdown.split("## Order effects")[1].split("## ")[0]
    assert "| seeds p |" in order and "with 3 seeds the smallest possible p is 0.25" in order
    robustness = markdown.split("**panx: robustness")[1].split("**panx: gains by")[0]
    # a table that does not show the seed-level p does not explain its floor; its marks' rule names both tests
    assert "smallest possible p" not in robustness and "both the sign-flip test over seeds" in robustness


# -- task complexity joined to gains per resource class --------------------------------------------------------

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


@pytest.mark.skipif(not (SHARED_DATA / "english").is_dir(), reason="no shared English task data here")
def test_complexity_section_measures_each_task_and_joins_gains(tmp_path: Path, tiny_model_dir: Path) -> None:
    root = tmp_path / "data"
    write_gold(root)
    (root / "english").symlink_to(SHARED_DATA / "english")  # the intermediate tasks' real files, not copied
    grid = {
        "none": ([], 0.0),
        "sick": ([_stage("sick", 120)], 0.08),
        "siqa": ([_stage("siqa", 60)], 0.02),
        "cosmosqa": ([_stage("cosmosqa", 60)], -0.03),
    }
    exp = build_experiment(tmp_path / "exp", root, grid, seeds=(1, 2))
    spec = yaml.safe_load((exp / "spec.resolved.yaml").read_text())
    spec["model"] = {"name": str(tiny_model_dir)}  # the complexity probe reads a tiny encoder's states
    (exp / "spec.resolved.yaml").write_text(yaml.safe_dump(spec))
    curves = {"sick": [1.1, 0.7, 0.5, 0.3], "siqa": [1.1, 1.1, 1.1, 1.1], "cosmosqa": [1.4, 1.2, 1.0, 0.8]}
    with sqlite3.connect(exp / "results.sqlite") as db:
        for task, curve in curves.items():
            log = json.dumps({"examples": {task: 60}, "report": {"loss_curve": curve}})
            db.execute("UPDATE stages SET log = ? WHERE kind = 'train' AND task = ?", (log, task))
    report = build_report(exp, tmp_path / "out", replace(FAST, complexity_sample=40))
    markdown = report.markdown.read_text()
    assert "## Task complexity" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| sick (en, 120) | class | 3 |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[5] == "120" and float(cells[3]) <= np.log2(3) + 1e-9  # entropy of 3 labels: at most log2 3 bits
    assert float(cells[6]) > 0 and cells[9] == f"{np.mean(curves['sick']) / 1.1:.3f}"  # the curve area
    assert 0 < float(cells[7]) <= np.log2(3) + 1e-9  # the base rate beside the code: entropy of the coded labels
    siqa = next(line for line in markdown.splitlines() if line.startswith("| siqa (en, 60) | choice | 3 |"))
    siqa = [c.strip() for c in siqa.split("|")[1:-1]]
    # coded over 3 choices (a tiny random encoder learns little: near log2 3), not as right/wrong pairs (<= 1 bit)
    assert 1.0 < float(siqa[6]) and float(siqa[7]) <= np.log2(3) + 1e-9
    assert "| siqa (en, 60) | choice | 3 |" in markdown and "| 1.000 |" in markdown  # a flat curve: area 1
    assert "xnli: does complexity predict the gain?" in markdown
    assert re.search(r"\| code bits/unit \| [+-]\d\.\d\d \[", markdown)  # rho with an interval, 3 tasks
    assert "class 2: sw" in markdown  # Swahili, Joshi class 2, is the low-resource group here
    assert (tmp_path / "out" / "complexity_xnli.png").is_file()


def test_similarity_across_model_scale_table_and_figure(tmp_path: Path, data: Path) -> None:
    exp = build_experiment(tmp_path / "exp", data, {c: GRID[c] for c in ("none", "sick")}, seeds=(1,))
    written = _similarity_json()
    rows = []
    for point, rho in (("model=small", 0.2), ("model=big", 0.8)):
        for method in ("textemb", "cka"):
            measures = {"spearman": (rho, rho - 0.3, 1.0), "ndcg": (0.9, 0.8, 1.0), "regret": (1.5, 0.0, 3.0)}
            rows.append(
                {"grid_point": point, "model": point[6:], "method": method}
                | {m: {"estimate": e, "low": lo, "high": hi, "targets": 2} for m, (e, lo, hi) in measures.items()}
            )
    written["scale"] = {"k": 3, "n_boot": 500, "level": 0.95, "rows": rows}
    (exp / "similarity.json").write_text(json.dumps(written))
    markdown = build_report(exp, tmp_path / "out", FAST).markdown.read_text()
    assert "## Similarity across model scale" in markdown
    assert (
        "| model=big | big | textemb | 2 | 0.800 [0.500, 1.000] | 0.900 [0.800, 1.000] | 1.50 [0.00, 3.00] |"
        in markdown
    )
    assert (tmp_path / "out" / "similarity_scale.png").is_file()
    written["scale"]["rows"] = rows[:2]  # one grid point: nothing to compare across scale
    (exp / "similarity.json").write_text(json.dumps(written))
    assert "## Similarity across model scale" not in build_report(exp, tmp_path / "one", FAST).markdown.read_text()


def test_an_allowed_overlap_is_stated_in_the_first_section(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_gold(root)
    (root / "xtreme" / "xnli" / "train-en.tsv").write_text("a premise here\ta hypothesis\tneutral\n" * 5)
    (root / "xtreme" / "panx" / "train-en.tsv").write_text("Paris\tB-LOC\n\nBerlin\tB-LOC\n")
    leaky = {**_stage("xnli", 30, ("de",)), "split": "dev", "allow_overlap": True}
    exp = build_experiment(tmp_path / "exp", root, {"none": ([], 0.0), "xnli_de": ([leaky], 0.05)}, seeds=(1,))
    markdown = build_report(exp, tmp_path / "out", FAST).markdown.read_text()
    first = markdown.split("## Grid and coverage")[1].split("\n## ")[0]
    assert "Training and evaluation data overlap" in first
    assert "intermediate.xnli_de[0] -> targets[1] (xnli), de: 30 of 60 evaluation examples (same file)" in first
    assert "intermediate.xnli_de[0] -> targets[1] (xnli), en: 30 of 60 evaluation examples (parallel id)" in first


def test_order_pairs_say_same_material_only_when_the_drawn_examples_are_equal(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_gold(root)
    (root / "xtreme" / "xnli" / "train-en.tsv").write_text("a premise here\ta hypothesis\tneutral\n" * 5)
    (root / "xtreme" / "panx" / "train-en.tsv").write_text("Paris\tB-LOC\n\nBerlin\tB-LOC\n")

    def xnli(langs: tuple[str, ...], size: int | None) -> dict:
        return {**_stage("xnli", size, langs), "split": "dev", "allow_overlap": True}

    def capped(langs: tuple[str, ...]) -> dict:
        return {**xnli(langs, None), "max_examples_per_language": 10}

    grid = {
        "none": ([], 0.0),
        "en_first": ([xnli(("en",), 20), xnli(("de", "sw"), 20)], 0.05),
        "mixed": ([xnli(("en", "de", "sw"), 40)], 0.04),
        "ab": ([xnli(("en",), 20), xnli(("de",), 10)], 0.03),
        # like for like: each language's own seeded subset, the same rows however the languages are staged
        "en_first_capped": ([{**xnli(("en",), 20), "max_examples_per_language": 20}, capped(("de", "sw"))], 0.05),
        "mixed_capped": (
            [{**capped(("en", "de", "sw")), "max_examples_per_language": {"en": 20, "de": 10, "sw": 10}}],
            0.04,
        ),
        "ba": ([xnli(("de",), 10), xnli(("en",), 20)], 0.02),
    }
    exp = build_experiment(tmp_path / "exp", root, grid, seeds=(1,))
    markdown = build_report(exp, tmp_path / "out", FAST).markdown.read_text()
    assert "ab vs ba: the same training material (30 examples, compared one by one)" in markdown
    assert "en_first_capped vs mixed_capped: the same training material (40 examples, compared one by one)" in markdown
    line = next(row for row in markdown.splitlines() if "en_first vs mixed: NOT the same training material" in row)
    assert "en_first: 20 en / " in line and "of 40 and 40" in line  # 20 English + 20 German/Swahili vs 40 pooled
    assert "each pair holds the same training material" not in markdown.lower()
