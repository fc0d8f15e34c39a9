"""User-facing errors: the CLI prints their message and exits with code 2, without a traceback; any other error
is reported as one line too (one_line), by the CLI and by the launched worker processes alike."""

from __future__ import annotations

import difflib
import errno
import json
import os
import re
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import yaml


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


# What bad input or a bad environment raises (exit 2, like a UserError); anything else is a bug (exit 1).
INPUT_ERRORS = (OSError, sqlite3.DatabaseError, yaml.YAMLError, json.JSONDecodeError, RecursionError)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's pre-emption, `kill`): handled like Ctrl-C, with the shell's exit code for it."""

    exit_code = 143  # 128 + SIGTERM


# What a failed read or write means, in the words a user acts on; the system's own text follows in brackets.
OS_REASONS = {
    errno.ENOSPC: "disk full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EFBIG: "file too large",
}
# safetensors reports an OS error inside its own message: "Error while serializing: I/O error: No space left on
# device (os error 28)".
_RUST_OS_ERROR = re.compile(r"\(os error (\d+)\)")


def os_error_in(err: BaseException, path: Path | str) -> OSError | None:
    """The OSError, naming `path`, that a library error reports only in its text (safetensors' SafetensorError),
    or that an OSError without a file name (pyarrow's) stands for; None when `err` is no OS error."""
    number = getattr(err, "errno", None) if isinstance(err, OSError) else None
    if number is None:
        match = _RUST_OS_ERROR.search(str(err))
        number = int(match.group(1)) if match else None
    return None if number is None else OSError(number, os.strerror(number), str(path))


def exit_code(err: BaseException) -> int:
    return 2 if isinstance(err, (UserError, *INPUT_ERRORS)) else 1


def one_line(err: BaseException, experiment_dir: Path | str | None = None) -> str:
    """The one line a user sees for an error: the file it concerns where the error knows it (the results store of
    `experiment_dir` for a damaged store), the stage it marked failed (a note the runner adds), and for a bug, how
    to see the traceback."""
    if isinstance(err, UserError):
        text = str(err)
    elif isinstance(err, OSError):
        files = " -> ".join(str(f) for f in (err.filename, err.filename2) if f is not None)
        reason = f"{err.strerror or err}"
        if err.errno in OS_REASONS:
            reason = f"{OS_REASONS[err.errno]} ({reason})"
        text = f"{files}: {reason}" if files else reason
    elif isinstance(err, sqlite3.DatabaseError):
        store = f"{experiment_dir}/results.sqlite" if experiment_dir else "the results store (results.sqlite)"
        text = f"{store}: not a readable xstilts results store ({err})"
    elif isinstance(err, yaml.YAMLError):
        mark = getattr(err, "problem_mark", None)
        where = f"{mark.name}:{mark.line + 1}" if mark else "YAML"
        text = f"{where}: invalid YAML: {getattr(err, 'problem', None) or err}"
    elif isinstance(err, json.JSONDecodeError):
        text = f"invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}"
    elif isinstance(err, RecursionError):
        text = "input nested too deeply to read"
    else:
        text = f"internal error {type(err).__name__}: {err} (please report it; --debug shows the traceback)"
    notes = "; ".join(getattr(err, "__notes__", []))
    return f"{text}; {notes}" if notes else text
