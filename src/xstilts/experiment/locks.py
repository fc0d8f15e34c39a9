"""One lock file per stage, so two runners on one experiment directory never run the same stage.

flock locks belong to the open file: the kernel drops them when the process dies, even by SIGKILL, so a
crashed runner never leaves a stage locked. (On network filesystems flock may not be shared between
machines; run one runner per machine there, or use the Ray executor.)"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from xstilts.errors import UserError


@contextmanager
def try_lock(path: Path) -> Iterator[bool]:
    """Yields True while this process holds the lock on `path`, False at once if another process holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def is_locked(path: Path) -> bool:
    """Whether some process holds the lock now (used by `status` to tell running from crashed)."""
    if not path.exists():
        return False
    with try_lock(path) as got:
        return not got


@contextmanager
def runner_lease(directory: Path, spec_file: Path, spec_text: str, write: Callable[[], None]) -> Iterator[None]:
    """Held by a runner while it runs an experiment directory: shared by any number of runners of the same
    resolved spec (`--jobs`, several machines), refused to a runner of another spec while one runs, because the
    runs table and spec.resolved.yaml (what `report`, `status` and `results` read) belong to one spec. Writes
    spec_file (`write`) once admitted. A gate lock makes admission one step: no two runners decide at
    once, and the lease lock is held exclusively only inside the gate."""
    with _held(directory / ".runners.gate", fcntl.LOCK_EX):
        fd = os.open(directory / ".runners.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # no runner here now: this spec's directory
            except BlockingIOError:
                theirs = spec_file.read_text(encoding="utf-8") if spec_file.is_file() else None
                if theirs != spec_text:
                    raise UserError(
                        f"--out {directory}: another runner is running a different spec there (its "
                        f"{spec_file.name}); wait for it to finish, or give this spec its own --out"
                    ) from None
            fcntl.flock(fd, fcntl.LOCK_SH)  # from exclusive, or beside the other runners' shared locks
            write()
        except BaseException:
            os.close(fd)
            raise
    try:
        yield
    finally:
        os.close(fd)  # closing the file drops the lock


@contextmanager
def _held(path: Path, operation: int) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, operation)
        yield
    finally:
        os.close(fd)
