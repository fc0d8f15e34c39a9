"""One lock file per stage, so two runners on one experiment directory never run the same stage.

flock locks belong to the open file: the kernel drops them when the process dies, even by SIGKILL, so a
crashed runner never leaves a stage locked. (On network filesystems flock may not be shared between
machines; run one runner per machine there, or use the Ray executor.)"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
