"""The sha256 pins kept in the repository (manifest.json, shipped in the package) and the record a fetch leaves in
the data directory.

manifest.json pins a hash only where it is known for certain: files that are byte-identical to a GitHub blob at a
pinned commit (their sha256 taken from those very blobs), and Hub Parquet shards whose Git LFS object id (= their
sha256) the Hub's commit pages publish. Everything else is listed under `unpinned` with the reason; for those,
fetch records what it observed (the sha256 of every file it wrote, the Hub commit that served each shard) in
`<data>/.xstilts-fetch/record.json`, and `xstilts data check` verifies the files against that record."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from xstilts.errors import DataError

MANIFEST_PATH = Path(__file__).parent / "manifest.json"
WORK_DIR = ".xstilts-fetch"  # under the data root: downloads, staging, and the record
RECORD_NAME = "record.json"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Pin(_Model):
    sha256: str
    basis: str  # where the hash comes from


class Manifest(_Model):
    version: int = 1
    downloads: dict[str, Pin] = {}  # Download.key -> pin of the downloaded file
    files: dict[str, Pin] = {}  # path under the data root -> pin of the written file
    unpinned: dict[str, str] = {}  # source name -> why its files carry no pin


class Recorded(_Model):
    sha256: str
    source: str
    pinned: bool


class RecordedDownload(_Model):
    sha256: str
    commit: str | None = None  # the Hub commit that served it (X-Repo-Commit)


class Record(_Model):
    """What fetches wrote into one data directory."""

    files: dict[str, Recorded] = {}
    downloads: dict[str, RecordedDownload] = {}


def load_manifest(path: Path | None = None) -> Manifest:
    path = path or MANIFEST_PATH
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except (OSError, ValidationError, ValueError) as err:
        raise DataError(path, f"not a readable xstilts data manifest ({str(err).splitlines()[0]})") from None


def record_path(root: Path) -> Path:
    return root / WORK_DIR / RECORD_NAME


def load_record(root: Path) -> Record:
    path = record_path(root)
    if not path.is_file():
        return Record()
    try:
        return Record.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as err:
        raise DataError(path, f"not a readable fetch record ({str(err).splitlines()[0]})") from None


def save_record(root: Path, record: Record) -> None:
    """Written whole to a temporary file, then renamed over the old record."""
    path = record_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record.model_dump(mode="json"), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
