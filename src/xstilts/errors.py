"""User-facing errors: the CLI prints their message and exits with code 2, without a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class UserError(Exception):
    """Bad input from the user (spec, data file, model). The message names the field or file and line."""


class SpecError(UserError):
    def __init__(self, field: str, message: str):
        super().__init__(f"spec field '{field}': {message}")
        self.field = field


class DataError(UserError):
    def __init__(self, path: Path | str, message: str, line: int | None = None):
        where = f"{path}:{line}" if line is not None else f"{path}"
        super().__init__(f"{where}: {message}")
        self.path = Path(path)
        self.line = line


class ModelError(UserError):
    pass


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """' (did you mean 'xnli'?)' for the closest known name by difflib's ratio, or '' when none is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
