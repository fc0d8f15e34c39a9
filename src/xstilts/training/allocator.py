"""Handing the memory a finished stage freed back to the operating system.

glibc's malloc keeps freed blocks below its mmap threshold (which grows to 32 MB as large blocks are freed) in
its heaps for reuse, so after a training stage the process stayed at its peak: the quickstart's first PAN-X stage
freed its optimizer state and activations, yet its resident memory stayed 1.7 GB above where it started, and the
next stage's peak came on top (`python bench/memory.py`, PERFORMANCE.md, "CPU memory"). malloc_trim returns the
free pages of every heap; it costs milliseconds and is called between stages and every LOG_EVERY optimizer steps
(xstilts.training.train), never within a step."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") else None  # musl has no malloc_trim


def release_free_memory() -> bool:
    """Return the allocator's free pages to the system (glibc); whether anything could be asked."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
