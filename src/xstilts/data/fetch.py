"""`xstilts data fetch`: for each selected source, download (resumably, checked against the manifest's pins),
convert into a staging directory, check the written files against the manifest, and only then move them into the
data root, recording every file's sha256. A source that fails leaves none of its files in the layout: its staging
directory is removed, and only `.part` downloads stay behind to resume from."""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from xstilts.data.convert import CONVERTERS
from xstilts.data.download import Fetched, download, sha256_of
from xstilts.data.manifest import (
    WORK_DIR,
    Manifest,
    Recorded,
    RecordedDownload,
    load_manifest,
    load_record,
    save_record,
)
from xstilts.data.registry import BENCHMARKS, SOURCES
from xstilts.data.sources import Download, Source, select
from xstilts.errors import UserError


@dataclass
class FetchReport:
    written: dict[str, list[str]] = field(default_factory=dict)  # source -> files written
    manual: dict[str, str] = field(default_factory=dict)  # source -> what a person must do


def fetch(
    names: list[str],
    root: Path,
    languages: frozenset[str] | None = None,
    console: Console | None = None,
    keep_downloads: bool = False,
) -> FetchReport:
    sources = select(names, SOURCES, BENCHMARKS)
    manifest = load_manifest()
    report = FetchReport()
    console = console or Console(stderr=True)
    try:
        for source in sources:
            if source.converter == "manual":
                report.manual[source.name] = source.manual
                continue
            try:
                report.written[source.name] = _fetch_one(source, root, languages, manifest, console, keep_downloads)
            except OSError as err:
                raise _disk_error(root, source, err) from None
    finally:  # downloads stay until their source is converted (for resuming); staging never outlives a fetch
        shutil.rmtree(root / WORK_DIR / "staging", ignore_errors=True)
    if not keep_downloads:
        shutil.rmtree(root / WORK_DIR / "downloads", ignore_errors=True)
    return report


def _disk_error(root: Path, source: Source, err: OSError) -> UserError:
    if err.errno == errno.ENOSPC:
        return UserError(
            f"{root}: no space left on device while fetching {source.name}; none of its files were "
            "put in place (partial downloads kept as *.part to resume)"
        )
    where = err.filename or root
    return UserError(
        f"{where}: {err.strerror or err} (while fetching {source.name}; none of its files were put in place)"
    )


def _fetch_one(
    source: Source,
    root: Path,
    languages: frozenset[str] | None,
    manifest: Manifest,
    console: Console,
    keep_downloads: bool,
) -> list[str]:
    work = root / WORK_DIR
    inputs: dict[str, Path] = {}
    observed: dict[str, Fetched] = {}
    wanted = source.wanted(languages)
    if not wanted:
        raise UserError(f"{source.name}: none of its downloads is in --languages {','.join(sorted(languages or ()))}")
    hand = root / source.manual_file if source.manual_file else None
    with _progress(console) as progress:
        for item in wanted:
            if hand is not None and hand.is_file():  # the user saved the archive by hand, as --list says
                inputs[item.name] = hand
                continue
            pin = manifest.downloads.get(item.key)
            fetched = download(
                _address(item, source),
                work / "downloads" / source.name / item.name,
                pin.sha256 if pin else None,
                progress,
            )
            inputs[item.name], observed[item.key] = fetched.path, fetched
    staging = work / "staging" / source.name
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        CONVERTERS[source.converter](source, inputs, staging)
        written = _verify_and_place(source, staging, root, manifest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    record = load_record(root)
    for path, (digest, pinned) in written.items():
        record.files[path] = Recorded(sha256=digest, source=source.name, pinned=pinned)
    for key, fetched in observed.items():
        record.downloads[key] = RecordedDownload(sha256=fetched.sha256, commit=fetched.commit)
    save_record(root, record)
    if not keep_downloads:
        shutil.rmtree(work / "downloads" / source.name, ignore_errors=True)
    console.print(f"{source.name}: {len(written)} file(s) in {root}")
    return sorted(written)


def _address(item: Download, source: Source) -> str:
    if item.hub is not None and os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise UserError(f"{source.name}: HF_HUB_OFFLINE is set, so the Hub file {item.key} cannot be fetched; unset it")
    return item.address()


def _verify_and_place(source: Source, staging: Path, root: Path, manifest: Manifest) -> dict[str, tuple[str, bool]]:
    """Every staged file checked against its pin first (one mismatch and nothing moves), then renamed into place."""
    staged = {p.relative_to(staging).as_posix(): p for p in sorted(staging.rglob("*")) if p.is_file()}
    if not staged:
        raise UserError(f"{source.name}: the conversion wrote no files")
    digests: dict[str, tuple[str, bool]] = {}
    for relative, path in staged.items():
        digest, pin = sha256_of(path), manifest.files.get(relative)
        if pin is not None and digest != pin.sha256:
            raise UserError(
                f"{relative}: checksum mismatch (sha256 {digest}, manifest pins {pin.sha256}); nothing of "
                f"{source.name} was written"
            )
        digests[relative] = (digest, pin is not None)
    for relative, path in staged.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, target)  # same file system (staging is under the root): atomic
    return digests


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console,
        transient=True,
    )
