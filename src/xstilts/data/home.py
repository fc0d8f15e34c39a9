"""The two data directories a command finds without being told: the data directory under the cache,
else the quickstart pack inside the package. `spec.files.find_data_root` asks here only after --data,
$XSTILTS_DATA and the spec's data_dir have all been left unset."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "XSTILTS_CACHE"
# The excerpt of real data that examples/quickstart.yaml reads (pack/NOTICE.md: provenance and licences).
PACK = Path(__file__).parent / "pack"


def cache_home() -> Path:
    """$XSTILTS_CACHE, else $XDG_CACHE_HOME/xstilts, else ~/.cache/xstilts: converted models and benchmark data."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "xstilts"


def fetched_root() -> Path:
    """$XSTILTS_CACHE/data: where the full benchmarks go on a user's machine (docs/data.md)."""
    return cache_home() / "data"


def default_root() -> tuple[str, Path]:
    """(how it was found, the directory) when nothing names a data directory: that directory once anything is in it,
    else the pack. The first is a phrase for messages ("the data in the cache (...)")."""
    fetched = fetched_root()
    if fetched.is_dir() and any(fetched.iterdir()):
        return f"the data in the cache ({fetched})", fetched
    return "the quickstart data inside the package", PACK
