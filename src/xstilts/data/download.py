"""One resumable HTTP download: bytes go to `<file>.part`, a second run asks for the rest with an HTTP Range
request, and the file appears under its own name only once it is whole and its sha256 is the pinned one (an
atomic rename). Every failure is one UserError line naming the URL; a cut download leaves only the `.part`."""

from __future__ import annotations

import hashlib
import http.client
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit
from urllib.request import Request, urlopen

from rich.progress import Progress

from xstilts.errors import UserError

CHUNK = 1 << 16
TIMEOUT_S = 60


@dataclass(frozen=True)
class Fetched:
    """A whole downloaded file: its sha256, and the Hub commit that served it (X-Repo-Commit), if any."""

    path: Path
    sha256: str
    commit: str | None = None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, expected: str | None, progress: Progress | None = None) -> Fetched:
    """`url` into `dest`, resuming `dest.part`; `expected` is the pinned sha256 (None: unpinned). A finished
    `dest` is not fetched again, only checked."""
    if dest.is_file():
        return Fetched(dest, _verified(url, dest, expected))
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.is_file() else 0
    request = Request(
        url, headers={"Range": f"bytes={have}-", "User-Agent": "xstilts"} if have else {"User-Agent": "xstilts"}
    )
    try:
        response = urlopen(request, timeout=TIMEOUT_S)
    except HTTPError as err:
        if err.code == 416 and have:  # nothing after what we have: the .part is already whole
            return _finish(url, part, dest, expected, None)
        raise UserError(f"{url}: HTTP {err.code} {err.reason}") from None
    except (URLError, OSError) as err:
        reason = getattr(err, "reason", None) or err
        raise UserError(f"cannot reach {urlsplit(url).netloc} ({url}): {reason}") from None
    with response:
        commit = response.headers.get("X-Repo-Commit")
        if have and response.status != 206:  # the server ignored Range: start again
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        task = progress.add_task(dest.name, total=total, completed=have) if progress is not None else None
        with part.open("ab" if have else "wb") as out:
            try:
                while block := response.read(CHUNK):
                    out.write(block)
                    have += len(block)
                    if task is not None:
                        progress.update(task, completed=have)
            except (TimeoutError, http.client.IncompleteRead, ConnectionError) as err:
                raise _cut(url, have, total, part) from err
        if total is not None and have < total:
            raise _cut(url, have, total, part)
    return _finish(url, part, dest, expected, commit)


def _cut(url: str, have: int, total: int | None, part: Path) -> UserError:
    of = f" of {total:,}" if total is not None else ""
    return UserError(f"{url}: download cut after {have:,}{of} bytes (kept in {part}); run fetch again to resume")


def _finish(url: str, part: Path, dest: Path, expected: str | None, commit: str | None) -> Fetched:
    digest = _verified(url, part, expected)
    os.replace(part, dest)
    return Fetched(dest, digest, commit)


def _verified(url: str, path: Path, expected: str | None) -> str:
    digest = sha256_of(path)
    if expected is not None and digest != expected:
        path.unlink()  # a wrong file must not be resumed or converted
        raise UserError(f"{url}: checksum mismatch (sha256 {digest}, manifest pins {expected}); the file was deleted")
    return digest
