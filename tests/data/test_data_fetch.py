"""`xstilts data fetch` and `check`, offline: a local HTTP server (with Range support) serves fixture files in the
Hub's URL layout ($HF_ENDPOINT: /datasets/{repo}/resolve/{revision}/{path}) and in the official hosts' layouts
($XSTILTS_DATA_MIRROR: /{host}/{path}). The fixtures are built at test time from the curated data (the `data`
fixture): the official archives and Hub Parquet shards are rebuilt from its files, so a fetched directory must read
exactly as those files do. Where the curated copy lacks a file an upstream archive holds (MNLI, SQuAD, MLQA test,
TyDiQA dev, BUCC), another curated file of the same format stands in; nothing is compared against those."""

from __future__ import annotations

import csv
import errno
import io
import json
import tarfile
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from xstilts.cli import main
from xstilts.data import manifest as manifest_module
from xstilts.data.registry import SOURCES, TATOEBA_CODES, TYDIQA_NAMES, UDPOS_NAMES
from xstilts.data.sources import MIRROR_ENV
from xstilts.tasks import get_task
from xstilts.tasks.catalog.xtreme import NLI_LABELS, PANX_TAGS, UPOS_TAGS
from xstilts.tasks.loading import load_examples

REPO = Path(__file__).resolve().parents[2]


# --- the server ------------------------------------------------------------------------------------------------


class _Handler(SimpleHTTPRequestHandler):
    """Static files with HTTP Range, X-Repo-Commit on Hub paths, and paths that are cut half-way once."""

    cut: set[str]
    ranges: list[str]

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        start = 0
        if (header := self.headers.get("Range")) is not None:
            self.ranges.append(f"{self.path} {header}")
            start = int(header.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_error(416)
                return
        self.send_response(206 if header else 200)
        self.send_header("Content-Length", str(len(data) - start))
        if self.path.startswith("/datasets/"):
            self.send_header("X-Repo-Commit", "0" * 40)
        self.end_headers()
        if self.path in self.cut:  # promise everything, send half, hang up
            self.cut.discard(self.path)
            self.wfile.write(data[start : start + (len(data) - start) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data[start:])


@pytest.fixture(scope="module")
def site(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    _build_site(site, data)
    return site


@pytest.fixture
def server(site: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The server, with the environment pointed at it and a manifest without the Hub shards' real pins (the fixture
    shards are rebuilt, not the Hub's bytes); the GitHub files' pins stay, and the fixtures match them."""
    handler = type("Handler", (_Handler,), {"cut": set(), "ranges": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    monkeypatch.setenv(MIRROR_ENV, url)
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    real = json.loads(manifest_module.MANIFEST_PATH.read_text())
    real["downloads"] = {k: v for k, v in real["downloads"].items() if not k.startswith("hub:")}
    test_manifest = tmp_path / "manifest.json"
    test_manifest.write_text(json.dumps(real))
    monkeypatch.setattr(manifest_module, "MANIFEST_PATH", test_manifest)
    yield handler, test_manifest
    httpd.shutdown()
    httpd.server_close()


# --- fixtures in the upstream layouts ----------------------------------------------------------------------------


def _official(site: Path, url: str) -> Path:
    path = site / url.split("://", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _hub(site: Path, download) -> Path:
    path = site / "datasets" / download.hub.repo / "resolve" / download.hub.revision / download.hub.path
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _parquet(path: Path, rows: dict[str, list], labels: dict[str, dict]) -> None:
    """A Parquet shard as the Hub writes them: the `huggingface` schema metadata carries the ClassLabel names."""
    table = pa.table(rows)
    features = {name: {"dtype": "string", "_type": "Value"} for name in rows} | labels
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    pq.write_table(table.replace_schema_metadata(meta), path)


def _conll(path: Path) -> list[tuple[list[str], list[str]]]:
    sentences = []
    for block in path.read_text(encoding="utf-8").strip("\n").split("\n\n"):
        pairs = [line.split("\t") for line in block.split("\n")]
        sentences.append(([w for w, _ in pairs], [t for _, t in pairs]))
    return sentences


def _pairs(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [row for row in csv.reader(f, delimiter="\t") if row]


def _tar(path: Path, members: dict[str, bytes], mode: str = "w:gz") -> None:
    with tarfile.open(path, mode) as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def _zip(path: Path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)


def _source(name: str):
    return next(s for s in SOURCES if s.name == name)


def _build_site(site: Path, data: Path) -> None:
    x = data / "xtreme"
    # Hub shards: PAN-X and UD-POS rows from the curated TSVs, tags as ClassLabel integers.
    for name, tags, tag_column in (("panx", PANX_TAGS, "ner_tags"), ("udpos", UPOS_TAGS, "pos_tags")):
        for download in _source(name).downloads:
            split, lang = download.name.split("-", 1)
            curated = x / name / f"{split}-{lang}.tsv"
            if not curated.is_file():  # a stand-in of the same format: another split of the language
                curated = next(p for s in ("dev", "test", "train") if (p := x / name / f"{s}-{lang}.tsv").is_file())
            sentences = _conll(curated)
            rows = {
                "tokens": [w for w, _ in sentences],
                tag_column: [[tags.index(t) for t in ts] for _, ts in sentences],
            }
            label = {tag_column: {"feature": {"names": list(tags), "_type": "ClassLabel"}, "_type": "Sequence"}}
            _parquet(_hub(site, download), rows, label)
    # MNLI from the Hub's GLUE shards: the curated English XNLI dev stands in for its rows.
    nli = _pairs(x / "xnli" / "dev-en.tsv")
    for download in _source("mnli").downloads:
        rows = {
            "premise": [r[0] for r in nli],
            "hypothesis": [r[1] for r in nli],
            "label": [NLI_LABELS.index(r[2]) for r in nli],
        }
        _parquet(_hub(site, download), rows, {"label": {"names": list(NLI_LABELS), "_type": "ClassLabel"}})
    # GitHub files at their pinned commits: the curated files are byte-identical to them.
    for name in ("xquad", "tatoeba"):
        for download in _source(name).downloads:
            _official(site, download.url).write_bytes((data / download.name).read_bytes())
    for download in _source("squad").downloads:  # SQuAD-format stand-in: TyDiQA-GoldP English train
        _official(site, download.url).write_bytes(
            (x / "tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json").read_bytes()
        )
    # XNLI-1.0.zip: one xnli.dev.tsv with every language, as Facebook's archive has it.
    columns = "language gold_label sentence1_binary_parse sentence2_binary_parse sentence1_parse sentence2_parse"
    header = "\t".join(columns.split() + ["sentence1", "sentence2"])
    lines = [header] + [
        f"{lang}\t{label}\t\t\t\t\t{a}\t{b}"
        for lang in get_task("xnli").languages("dev")
        for a, b, label in _pairs(x / "xnli" / f"dev-{lang}.tsv")
    ]
    _zip(_official(site, _source("xnli").downloads[0].url), {"XNLI-1.0/xnli.dev.tsv": "\n".join(lines).encode()})
    # PAWS-X x-final.tar.gz: id, sentence1, sentence2, label with a header.
    paws = {}
    for lang in get_task("pawsx").languages("test"):
        for split, file in (("dev", "dev_2k"), ("test", "test_2k")) + ((("train", "train"),) if lang == "en" else ()):
            rows = _pairs(x / "pawsx" / f"{split}-{lang}.tsv")
            body = "id\tsentence1\tsentence2\tlabel\n" + "".join(
                f"{i}\t{a}\t{b}\t{c}\n" for i, (a, b, c) in enumerate(rows)
            )
            paws[f"x-final/{lang}/{file}.tsv"] = body.encode()
    _tar(_official(site, _source("pawsx").downloads[0].url), paws)
    # MLQA_V1.zip: dev as curated; test stands in with the dev files.
    mlqa = {}
    for lang in get_task("mlqa").languages("dev"):
        blob = (x / f"mlqa/MLQA_V1/dev/dev-context-{lang}-question-{lang}.json").read_bytes()
        mlqa[f"MLQA_V1/dev/dev-context-{lang}-question-{lang}.json"] = blob
        mlqa[f"MLQA_V1/test/test-context-{lang}-question-{lang}.json"] = blob
    _zip(_official(site, _source("mlqa").downloads[0].url), mlqa)
    # TyDiQA-GoldP: one train file of every curated language (ids prefixed with the language, as upstream's are);
    # the dev archive's files stand in with the English train file.
    documents = []
    for code in ("en", "ko", "sw"):
        curated = json.loads((x / f"tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.{code}.train.json").read_text())
        for n, document in enumerate(curated["data"]):
            for paragraph in document["paragraphs"]:
                for qa in paragraph["qas"]:
                    qa = {**qa, "id": f"{TYDIQA_NAMES[code]}-{n}-{qa['id']}"}
                    documents.append({"paragraphs": [{"context": paragraph["context"], "qas": [qa]}]})
    train, dev = _source("tydiqa").downloads
    _official(site, train.url).write_text(json.dumps({"data": documents, "version": curated["version"]}))
    english = (x / "tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json").read_bytes()
    dev_members = {f"tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-{name}.json": english for name in TYDIQA_NAMES.values()}
    _tar(_official(site, dev.url), dev_members)
    # BUCC 2018 archives in their layout (bucc2018/{xx}-en/{xx}-en.{kind}.{xx,en,gold}); Tatoeba pairs stand in.
    for download in _source("bucc2018").downloads:
        lang, kind = download.name.split("-", 1)
        theirs = "sample" if kind == "sample-gold" else "training"
        xx = (x / f"tatoeba/{lang}-en.{lang}").read_text().splitlines()
        en = (x / f"tatoeba/{lang}-en.en").read_text().splitlines()
        members = {
            f"bucc2018/{lang}-en/{lang}-en.{theirs}.{lang}": "".join(
                f"{lang}-{i:09d}\t{s}\n" for i, s in enumerate(xx)
            ),
            f"bucc2018/{lang}-en/{lang}-en.{theirs}.en": "".join(f"en-{i:09d}\t{s}\n" for i, s in enumerate(en)),
            f"bucc2018/{lang}-en/{lang}-en.{theirs}.gold": "".join(
                f"{lang}-{i:09d}\ten-{i:09d}\n" for i in range(len(xx))
            ),
        }
        _tar(_official(site, download.url), {k: v.encode() for k, v in members.items()}, "w:bz2")
    # XCOPA at its pinned commit (the curated files are those blobs) and SuperGLUE's COPA.zip.
    for download in _source("xcopa").downloads:
        _official(site, download.url).write_bytes((data / download.name).read_bytes())
    copa = {f"COPA/{s}.jsonl": (x / f"xcopa/{s}-en.jsonl").read_bytes() for s in ("train", "val", "test")}
    _zip(_official(site, _source("copa").downloads[0].url), copa)
    # The quickstart's English tasks: SICK.zip (SICK.txt) and socialIQa_v1.4.tgz (trn stands in with dev).
    _zip(_official(site, _source("sick").downloads[0].url), {"SICK.txt": (data / "english/sick/SICK.txt").read_bytes()})
    siqa = data / "english/siqa"
    members = {
        f"socialIQa_v1.4_{s}.jsonl": (siqa / f"socialIQa_v1.4_{f}.jsonl").read_bytes()
        for s, f in (("trn", "dev"), ("dev", "dev"), ("tst", "tst"))
    }
    _tar(_official(site, _source("siqa").downloads[0].url), members)


# --- helpers ---------------------------------------------------------------------------------------------------


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_error_line(err: str) -> str:
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in err, err
    return errors[0]


def _layout_files(root: Path) -> list[str]:
    """Files in the data layout, leaving out fetch's own working directory."""
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".xstilts-fetch" not in p.parts
    )


def _same_examples(fetched: Path, curated: Path, task: str, split: str, langs) -> int:
    compared = 0
    declaration = get_task(task)
    for lang in langs:
        paths = declaration.splits[split].paths(lang)
        if all((curated / p).is_file() and (fetched / p).is_file() for p in paths):
            assert load_examples(declaration, split, lang, fetched) == load_examples(
                declaration, split, lang, curated
            ), (task, split, lang)
            compared += 1
    return compared


# --- tests -----------------------------------------------------------------------------------------------------


def test_fetch_xtreme_reads_as_the_curated_files_and_check_accepts_it(server, data, tmp_path, capsys):
    target = tmp_path / "D"
    code, out, err = _run(capsys, "data", "fetch", "xtreme", "--to", str(target))
    assert code == 0, err
    compared = {
        (task, split): _same_examples(target, data, task, split, get_task(task).languages(split))
        for task, split in [
            ("xnli", "dev"),
            ("pawsx", "test"),
            ("pawsx", "train"),
            ("udpos", "dev"),
            ("udpos", "test"),
            ("udpos", "train"),
            ("panx", "dev"),
            ("panx", "train"),
            ("xquad", "test"),
            ("mlqa", "dev"),
            ("tydiqa", "train"),
            ("tatoeba", "test"),
        ]
    }
    assert compared[("xnli", "dev")] == 15 and compared[("panx", "dev")] == 47 and compared[("tatoeba", "test")] == 41
    assert (
        compared[("udpos", "test")] == 32 and compared[("xquad", "test")] == 12 and compared[("tydiqa", "train")] == 3
    )
    # Every XTREME task is there, BUCC with the test gold that XTREME's own script deletes.
    assert (target / "xtreme/bucc2018/de-en.test.gold").is_file()
    assert load_examples(get_task("bucc2018"), "test", "de", target)
    assert not (target / ".xstilts-fetch/downloads").exists() and not (target / ".xstilts-fetch/staging").exists()
    record = json.loads((target / ".xstilts-fetch/record.json").read_text())
    assert record["files"]["xtreme/xquad/xquad.en.json"]["pinned"] is True  # the manifest's pin held
    assert record["files"]["xtreme/panx/dev-de.tsv"]["pinned"] is False
    assert all(d["commit"] == "0" * 40 for k, d in record["downloads"].items() if k.startswith("hub:"))

    code, out, err = _run(capsys, "data", "check", str(target))
    assert code == 0, err
    for task in ("xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc2018", "tatoeba"):
        assert f"\n  {task} " in out or f"\n {task} " in out, (task, out)
    assert "file(s) match the manifest's pins" in out

    # A file changed after fetch wrote it: check says which, in one line, exit 2.
    (target / "xtreme/panx/dev-de.tsv").write_text("Berlin\tB-LOC\n")
    code, out, err = _run(capsys, "data", "check", str(target))
    assert code == 2 and "xtreme/panx/dev-de.tsv: changed since fetch wrote it" in _one_error_line(err)


def test_fetch_quickstart_gives_a_directory_the_quickstart_runs_on(server, data, tmp_path, capsys, tiny_model_dir):
    target = tmp_path / "D"
    code, _, err = _run(
        capsys, "data", "fetch", "quickstart", "--to", str(target), "--languages", "en,de,fr,ru,ar,hi,sw,zh,ja,fi"
    )
    assert code == 0, err
    assert not (target / "xtreme/panx/dev-ta.tsv").exists()  # --languages left it out
    assert _same_examples(target, data, "sick", "train", ("en",)) == 1
    assert _same_examples(target, data, "siqa", "train", ("en",)) == 1
    assert _same_examples(target, data, "panx", "dev", ("de", "sw", "ja")) == 3
    code, out, err = _run(capsys, "plan", str(REPO / "examples/quickstart.yaml"), "--data", str(target))
    assert code == 0, err
    assert "panx" in out
    # The quickstart's own spec runs on it end to end: its three conditions, its target and its ten languages,
    # with the tiny random encoder and a few examples each, so the test takes seconds, not the quickstart's minutes.
    spec = yaml.safe_load((REPO / "examples/quickstart.yaml").read_text())
    spec["model"] = str(tiny_model_dir)
    for stages in spec["intermediate"].values():
        for stage in stages:
            stage["max_train_examples"] = 16
    spec["targets"][0].update(max_train_examples=16, max_eval_examples=8, train={"epochs": 1})
    spec_file = tmp_path / "quickstart.yaml"
    spec_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    code, out, err = _run(capsys, "run", str(spec_file), "--data", str(target), "--out", str(tmp_path / "run"))
    assert code == 0, err
    table = " ".join(out.split())
    assert all(condition in table for condition in ("none", "sick", "siqa")), out
    assert all(f" {lang} " in table for lang in spec["targets"][0]["eval_languages"]), out


def test_fetch_xcopa_holds_the_pinned_files_and_english_copa(server, data, tmp_path, capsys):
    target = tmp_path / "D"
    code, _, err = _run(capsys, "data", "fetch", "xcopa", "--to", str(target))
    assert code == 0, err
    assert _same_examples(target, data, "xcopa", "test", get_task("xcopa").languages("test")) == 11
    assert _same_examples(target, data, "xcopa", "val", get_task("xcopa").languages("val")) == 12
    assert _same_examples(target, data, "xcopa", "train", ("en",)) == 1
    record = json.loads((target / ".xstilts-fetch/record.json").read_text())
    assert sum(entry["pinned"] for entry in record["files"].values()) == 22


def test_check_describes_the_curated_copy_and_counts_its_pinned_files(data, capsys):
    code, out, err = _run(capsys, "data", "check", str(data))
    assert code == 0, err
    assert "75 file(s) match the manifest's pins" in " ".join(out.split())  # XQuAD 12, Tatoeba 41, XCOPA 22
    code, _, err = _run(capsys, "data", "check", str(data / "english" / "sick"))
    assert code == 2 and "holds no declared task's files" in _one_error_line(err)


def test_unknown_benchmark_is_one_line_with_a_suggestion(server, tmp_path, capsys):
    code, _, err = _run(capsys, "data", "fetch", "xtrem", "--to", str(tmp_path / "D"))
    assert code == 2 and "did you mean 'xtreme'" in _one_error_line(err)
    assert not (tmp_path / "D").exists()


def test_a_download_cut_half_way_is_resumed_with_a_range_request(server, tmp_path, capsys):
    handler, _ = server
    url = _source("sick").downloads[0].url
    handler.cut.add("/" + url.split("://", 1)[1])
    target = tmp_path / "D"
    code, _, err = _run(capsys, "data", "fetch", "sick", "--to", str(target))
    assert code == 2 and "download cut after" in _one_error_line(err)
    assert _layout_files(target) == []  # nothing looks complete
    (part,) = (target / ".xstilts-fetch/downloads/sick").glob("*.part")
    half = part.stat().st_size
    assert half > 0
    code, _, err = _run(capsys, "data", "fetch", "sick", "--to", str(target))
    assert code == 0, err
    assert any(r.endswith(f"bytes={half}-") for r in handler.ranges), handler.ranges
    assert _layout_files(target) == ["english/sick/SICK.txt"]


def test_checksum_mismatch_writes_nothing(server, tmp_path, capsys):
    _, test_manifest = server
    pins = json.loads(test_manifest.read_text())
    pins["downloads"][_source("sick").downloads[0].url] = {"sha256": "0" * 64, "basis": "test"}
    test_manifest.write_text(json.dumps(pins))
    target = tmp_path / "D"
    code, _, err = _run(capsys, "data", "fetch", "sick", "--to", str(target))
    assert code == 2 and "checksum mismatch" in _one_error_line(err)
    assert _layout_files(target) == [] and not list(target.rglob("*.part")) and not list(target.rglob("SICK.zip"))
    # A written file whose pin differs: nothing of the source is moved into place either.
    del pins["downloads"][_source("sick").downloads[0].url]
    pins["files"]["english/sick/SICK.txt"] = {"sha256": "1" * 64, "basis": "test"}
    test_manifest.write_text(json.dumps(pins))
    code, _, err = _run(capsys, "data", "fetch", "sick", "--to", str(target))
    assert code == 2 and "english/sick/SICK.txt: checksum mismatch" in _one_error_line(err)
    assert _layout_files(target) == []


def test_no_network_names_what_could_not_be_reached(server, tmp_path, capsys, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{port}")
    code, _, err = _run(capsys, "data", "fetch", "sick", "--to", str(tmp_path / "D"))
    assert code == 2 and f"cannot reach 127.0.0.1:{port}" in _one_error_line(err)
    assert _layout_files(tmp_path / "D") == []


def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(server, tmp_path, capsys, monkeypatch):
    def full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_bytes", full)  # the archive converter writes SICK.txt with it
    target = tmp_path / "D"
    code, _, err = _run(capsys, "data", "fetch", "sick", "--to", str(target))
    assert code == 2 and "no space left on device while fetching sick" in _one_error_line(err)
    assert _layout_files(target) == [] and not (target / ".xstilts-fetch/staging").exists()


def test_list_shows_every_source_with_size_licence_and_manual_steps(capsys):
    code, out, _ = _run(capsys, "data", "fetch", "--list")
    assert code == 0
    flat = " ".join(out.split())
    for source in SOURCES:
        assert source.name in out
    assert "LDC2005T13" in flat and "AmazonPhotos.zip" in flat and "CC BY-SA 4.0" in flat


def test_every_download_converter_and_pin_is_consistent():
    from xstilts.data.convert import CONVERTERS
    from xstilts.data.manifest import load_manifest
    from xstilts.tasks import REGISTRY

    manifest = load_manifest()
    keys = {d.key for s in SOURCES for d in s.downloads}
    assert set(manifest.downloads) <= keys  # no pin for a download that is not declared
    assert {s.name for s in SOURCES if s.converter not in ("manual", "place")} <= set(manifest.unpinned) | {"xcopa"}
    for source in SOURCES:
        assert source.converter in CONVERTERS and set(source.tasks) <= set(REGISTRY), source.name
    assert set(TATOEBA_CODES) >= set(get_task("tatoeba").languages("test"))
    assert set(UDPOS_NAMES) >= set(get_task("udpos").languages("test"))


def test_hub_downloads_use_the_revisions_the_task_declarations_pin():
    """fetch and `data_source: hub` read the same commit of a Hub dataset: a revision changed in one place only
    would give two routes to different data under one task name."""
    from xstilts.tasks import REGISTRY

    declared = {(s.dataset, s.revision) for task in REGISTRY.values() for s in task.hub}
    hub_files = [d.hub for source in SOURCES for d in source.downloads if d.hub is not None]
    assert hub_files
    for hub in hub_files:
        assert (hub.repo, hub.revision) in declared, hub
    # google/xtreme, which holds PAN-X and UD-POS, is pinned to a commit, and the manifest's pins name it.
    xtreme = {hub.revision for hub in hub_files if hub.repo == "google/xtreme"}
    assert len(xtreme) == 1 and len(xtreme.pop()) == 40
    pinned = [key for key in manifest_module.load_manifest().downloads if key.startswith("hub:")]
    assert pinned and all(key.startswith(f"hub:google/xtreme@{get_task('panx').hub[0].revision}/") for key in pinned)
