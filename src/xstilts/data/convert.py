"""Downloads -> the files the readers read, in the layout the task declarations name (XTREME's download layout
for XTREME's tasks, docs/tasks.md's JSONL for tasks that have no file format of their own). Each converter writes
into a staging directory; fetch.py moves the files into the data root only after all of them are written.

A converter is `convert(source, inputs, staging)`: `inputs` maps each download's name to its whole file."""

from __future__ import annotations

import csv
import json
import shutil
import tarfile
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from xstilts.data.sources import Source
from xstilts.errors import DataError

Converter = Callable[[Source, dict[str, Path], Path], None]


# --- writing --------------------------------------------------------------------------------------------------


def _target(staging: Path, relative: str) -> Path:
    path = staging / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_pairs(path: Path, rows: Iterable[tuple[str, str, str]]) -> None:
    """sentence1<TAB>sentence2<TAB>label as XTREME's utils_preprocess.py writes it: csv.writer, so CRLF line ends
    and "" quoting of fields that hold a quote (the pair_tsv reader reads that back to the original text)."""
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter="\t").writerows(rows)


def write_conll(path: Path, sentences: Iterable[tuple[list[str], list[str]]]) -> None:
    """token<TAB>tag per line, one blank line between sentences, none after the last (XTREME's layout)."""
    blocks = ("\n".join(f"{w}\t{t}" for w, t in zip(words, tags, strict=True)) for words, tags in sentences)
    path.write_text("\n\n".join(b for b in blocks if b) + "\n", encoding="utf-8")


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


# --- Hub Parquet ------------------------------------------------------------------------------------------------


def parquet_rows(path: Path) -> tuple[list[dict], dict[str, list[str]]]:
    """The rows of a Hub Parquet shard, and each ClassLabel column's names (from the `huggingface` schema metadata
    that the Hub's files carry), so integer labels can be written as the names the readers expect."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as err:  # pyarrow raises its own ArrowInvalid for a damaged file
        raise DataError(path, f"not a readable Parquet file ({err})") from None
    meta = (table.schema.metadata or {}).get(b"huggingface")
    features = json.loads(meta).get("info", {}).get("features", {}) if meta else {}
    return table.to_pylist(), {column: names for column, spec in features.items() if (names := _names(spec))}


def _names(spec: object) -> list[str] | None:
    """ClassLabel names of a feature, also inside Sequence/List (token tags)."""
    if not isinstance(spec, dict):
        return None
    if spec.get("_type") == "ClassLabel":
        return spec.get("names")
    return _names(spec.get("feature"))


def _column(path: Path, row: dict, column: str) -> object:
    if column not in row:
        raise DataError(path, f"no column '{column}' (columns: {', '.join(sorted(row))})")
    return row[column]


def _label_name(names: list[str] | None, value: object) -> str:
    return names[value] if names is not None and isinstance(value, int) and 0 <= value < len(names) else str(value)


def hub_tagging(source: Source, inputs: dict[str, Path], staging: Path) -> None:
    """PAN-X, UD-POS: `tokens` and integer tags per row -> {split}-{lang}.tsv."""
    words, tags = source.options["words"], source.options["tags"]
    for name, path in inputs.items():
        split, lang = name.split("-", 1)
        rows, names = parquet_rows(path)
        sentences = (
            (list(_column(path, r, words)), [_label_name(names.get(tags), t) for t in _column(path, r, tags)])
            for r in rows
        )
        write_conll(_target(staging, source.options["pattern"].format(split=split, lang=lang)), sentences)


_NLI = ("entailment", "neutral", "contradiction")


def _nli_rows(path: Path, text_a: str = "premise", text_b: str = "hypothesis") -> Iterator[tuple[str, str, str]]:
    rows, names = parquet_rows(path)
    labels = names.get("label", list(_NLI))
    for row in rows:
        label = _column(path, row, "label")
        if isinstance(label, int) and label < 0:  # GLUE's unlabeled test rows, SNLI's no-consensus pairs: -1
            continue
        yield str(_column(path, row, text_a)), str(_column(path, row, text_b)), _label_name(labels, label)


def hub_pairs(source: Source, inputs: dict[str, Path], staging: Path) -> None:
    """MNLI -> pair TSV (XTREME's xnli/train-en.tsv is MNLI train in this layout)."""
    for name, path in inputs.items():
        write_pairs(_target(staging, name), _nli_rows(path))


def hub_classification(source: Source, inputs: dict[str, Path], staging: Path) -> None:
    """QQP -> classification JSONL {text_a, text_b, label name}."""
    a, b = source.options["text_a"], source.options["text_b"]
    for name, path in inputs.items():
        rows = ({"text_a": x, "text_b": y, "label": label} for x, y, label in _nli_rows(path, a, b))
        write_jsonl(_target(staging, name), rows)


def anli_plus(source: Source, inputs: dict[str, Path], staging: Path) -> None:
    """ANLI+ as the ANLI paper trains: ANLI r1-r3 + MNLI + SNLI + FEVER-NLI train; ANLI's three dev rounds."""

    def rows(names: Iterable[str]) -> Iterator[dict]:
        for name in names:
            for a, b, label in _nli_rows(inputs[name]):
                yield {"text_a": a, "text_b": b, "label": label}

    train = [n for n in inputs if n.startswith("anli-train")] + ["mnli-train", "snli-train", "fever-train"]
    write_jsonl(_target(staging, "english/anli_plus/train.jsonl"), rows(train))
    write_jsonl(_target(staging, "english/anli_plus/dev.jsonl"), rows(n for n in inputs if n.startswith("anli-dev")))


def hub_jsonl(source: Source, inputs: dict[str, Path], staging: Path) -> None:
    """CommonsenseQA: the Hub's rows as JSONL, keeping the named columns (its schema is the reader's)."""
    keep = source.options["keep"]
    for name, path in inputs.items():
        rows, _ = parquet_rows(path)
        write_jsonl(_target(staging, name), ({k: _column(path, r, k) for k in keep} for r in rows))


# --- official files ---------------------------------------------------------------------------------------------


def place(source: Source, inputs: dict[str, Path], staging: Path) -> None:
    """Files used as they are, under the name the task declarations read."""
    for name, path in inputs.items():
        shutil.copyfile(path, _target(staging, name))


def _open_archive(path: Path) -> tuple[list[str], Callable[[str], bytes]]:
    """(member names, read member) of a zip or tar archive."""
    try:
        if zipfile.is_zipfile(path):
            archive = zipfile.ZipFile(path)
            return [n for n in archive.namelist() if not n.endswith("/")], archive.read
        tar = tarfile.open(path)
        files = {m.name.removeprefix("./"): m for m in tar.getmembers() if m.isfile()}
        return list(files), lambda name: tar.extractfile(files[name]).read()
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as err:
        raise DataError(path, f"not a readable archive ({err})") from None


def _member(path: Path, names: list[str], wanted: str) -> str:
    """The archive member `wanted`, also when the archive puts it inside a top folder."""
    for name in names:
        if name == wanted or name.endswith("/" + wanted):
            return name
    raise DataError(path, f"archive has no member '{wanted}'")


def archive(source: Source, inputs: dict[str, Path], staging: Path) -> None:
    """Members of a zip or tar archive: `members` written to `rename` (one each) or to `into`/member, or every
    file under the `folders` of `prefix`, keeping its path."""
    (path,) = inputs.values()
    names, read = _open_archive(path)
    options = source.options
    if "folders" in options:
        prefix = options["prefix"]
        chosen = [n for n in names if any(n.startswith(f"{prefix}{folder}/") for folder in options["folders"])]
        if not chosen:
            raise DataError(path, f"archive has nothing under {prefix}{{{','.join(options['folders'])}}}/")
        for name in chosen:
            _target(staging, name).write_bytes(read(name))
        return
    members = options["members"]
    targets = options.get("rename") or tuple(f"{options['into']}/{m}" for m in members)
    for wanted, target in zip(members, targets, strict=True):
        _target(staging, target).write_bytes(read(_member(path, names, wanted)))


def _tsv_lines(path: Path, data: bytes) -> Iterator[list[str]]:
    """Rows of a plain tab-separated file, split on tabs as XTREME's utils_preprocess.py does (not csv-parsed:
    quotes are text there)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(path, f"invalid UTF-8 at byte {err.start}") from None
    for line in text.split("\n"):
        if line.strip():
            yield line.strip().split("\t")


def xnli(source: Source, inputs: dict[str, Path], staging: Path) -> None:
    """XNLI-1.0's xnli.dev.tsv (all languages in one file, with a header) -> xnli/dev-{lang}.tsv, labels spelled
    as XTREME writes them ("contradictory" -> "contradiction")."""
    path = inputs["XNLI-1.0.zip"]
    names, read = _open_archive(path)
    rows = _tsv_lines(path, read(_member(path, names, "XNLI-1.0/xnli.dev.tsv")))
    header = next(rows, [])
    at = {
        column: header.index(column)
        for column in ("language", "gold_label", "sentence1", "sentence2")
        if column in header
    }
    if len(at) != 4:
        raise DataError(path, "XNLI-1.0/xnli.dev.tsv: header lacks language, gold_label, sentence1, sentence2")
    by_lang: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for fields in rows:
        label = fields[at["gold_label"]]
        by_lang[fields[at["language"]]].append(
            (fields[at["sentence1"]], fields[at["sentence2"]], "contradiction" if label == "contradictory" else label)
        )
    for lang in source.options["languages"]:
        if lang not in by_lang:
            raise DataError(path, f"XNLI-1.0/xnli.dev.tsv has no rows for language '{lang}'")
        write_pairs(_target(staging, f"xtreme/xnli/dev-{lang}.tsv"), by_lang[lang])


def pawsx(source: Source, inputs: dict[str, Path], staging: Path) -> None:
    """x-final/{lang}/{dev_2k,test_2k}.tsv and en/train.tsv (id, sentence1, sentence2, label, with a header) ->
    pawsx/{split}-{lang}.tsv. Test labels are kept: the official files have them (XTREME's script drops them)."""
    path = inputs["x-final.tar.gz"]
    names, read = _open_archive(path)
    wanted = [("train", "en", "train")] + [
        (split, lang, file)
        for lang in source.options["languages"]
        for split, file in (("dev", "dev_2k"), ("test", "test_2k"))
    ]
    for split, lang, file in wanted:
        rows = list(_tsv_lines(path, read(_member(path, names, f"x-final/{lang}/{file}.tsv"))))[1:]
        write_pairs(_target(staging, f"xtreme/pawsx/{split}-{lang}.tsv"), ((r[1], r[2], r[3]) for r in rows))


def tydiqa(source: Source, inputs: dict[str, Path], staging: Path) -> None:
    """TyDiQA-GoldP v1.1 as XTREME's utils_preprocess.py lays it out: the train file split by the language that
    starts each question id (one paragraph per question, the id cut to its last part), the dev files renamed."""
    from xstilts.data.registry import TYDIQA_NAMES

    iso = {name: code for code, name in TYDIQA_NAMES.items()}
    path = inputs["tydiqa-goldp-v1.1-train.json"]
    try:
        train = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(path, f"invalid JSON ({err})") from None
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for document in train["data"]:
        for paragraph in document["paragraphs"]:
            for qa in paragraph["qas"]:
                language, qid = qa["id"].split("-")[0], qa["id"].split("-")[-1]
                item = {"answers": qa["answers"], "question": qa["question"], "id": qid}
                by_lang[language].append({"paragraphs": [{"context": paragraph["context"], "qas": [item]}]})
    for language, data in by_lang.items():
        if language in iso:
            target = _target(staging, f"xtreme/tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.{iso[language]}.train.json")
            target.write_text(json.dumps({"data": data, "version": train.get("version")}), encoding="utf-8")
    dev = inputs["tydiqa-goldp-v1.1-dev.tgz"]
    names, read = _open_archive(dev)
    for lang in source.options["languages"]:
        member = _member(dev, names, f"tydiqa-goldp-v1.1-dev/tydiqa-goldp-dev-{TYDIQA_NAMES[lang]}.json")
        _target(staging, f"xtreme/tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.{lang}.dev.json").write_bytes(read(member))


def bucc(source: Source, inputs: dict[str, Path], staging: Path) -> None:
    """bucc2018-{xx}-en.{sample,training}-gold.tar.bz2 -> bucc2018/{xx}-en.{dev,test}.{xx,en,gold}: XTREME's
    renaming (sample is dev, training is test), with the test gold kept, which the bucc reader needs."""
    for name, path in inputs.items():
        lang, kind = name.split("-", 1)
        ours, theirs = ("dev", "sample") if kind == "sample-gold" else ("test", "training")
        names, read = _open_archive(path)
        for side in (lang, "en", "gold"):
            member = _member(path, names, f"{lang}-en.{theirs}.{side}")
            _target(staging, f"xtreme/bucc2018/{lang}-en.{ours}.{side}").write_bytes(read(member))


def hellaswag(source: Source, inputs: dict[str, Path], staging: Path) -> None:
    """The official hellaswag_{train,val}.jsonl -> multiple-choice JSONL {context: ctx, choices: endings, label}."""
    for name, path in inputs.items():
        rows = []
        for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
            if line.strip():
                try:
                    row = json.loads(line)
                    rows.append(
                        {"context": row["ctx"], "question": "", "choices": row["endings"], "label": row["label"]}
                    )
                except (json.JSONDecodeError, KeyError) as err:
                    raise DataError(path, f"not a HellaSwag record ({err})", line=number) from None
        write_jsonl(_target(staging, f"english/hellaswag/{name}.jsonl"), rows)


def manual(source: Source, inputs: dict[str, Path], staging: Path) -> None:
    """Never called: a manual source has no downloads (fetch.py says what to do instead)."""
    raise DataError(source.name, source.manual)


CONVERTERS: dict[str, Converter] = {
    "place": place,
    "archive": archive,
    "hub_tagging": hub_tagging,
    "hub_pairs": hub_pairs,
    "hub_classification": hub_classification,
    "hub_jsonl": hub_jsonl,
    "anli_plus": anli_plus,
    "xnli": xnli,
    "pawsx": pawsx,
    "tydiqa": tydiqa,
    "bucc": bucc,
    "hellaswag": hellaswag,
    "manual": manual,
}
