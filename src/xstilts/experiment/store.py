"""The results store: one SQLite file per experiment directory, and the only module that speaks SQL to it.

A stage counts as done only once its row in `stages` says so; its results are written in the same
transaction, so a crash never leaves half a stage's results behind. `Store` is the runner's read-write handle;
`read_store` takes a read-only snapshot for the commands that only look (results, score, report, similarity)."""

from __future__ import annotations

import errno
import json
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xstilts import __version__
from xstilts.errors import UserError

SCHEMA = """
CREATE TABLE IF NOT EXISTS stages (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, task TEXT NOT NULL, config TEXT NOT NULL,
    status TEXT NOT NULL, seconds REAL, finished_at REAL, log TEXT
);
CREATE TABLE IF NOT EXISTS results (
    stage_key TEXT NOT NULL, task TEXT NOT NULL, task_version INTEGER NOT NULL, language TEXT NOT NULL,
    split TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL, n INTEGER NOT NULL, seed INTEGER NOT NULL,
    code_version TEXT NOT NULL, PRIMARY KEY (stage_key, language, metric)
);
CREATE TABLE IF NOT EXISTS runs (
    condition TEXT NOT NULL, target TEXT NOT NULL, seed INTEGER NOT NULL, chain TEXT NOT NULL,
    eval_key TEXT NOT NULL, variant TEXT NOT NULL DEFAULT '', PRIMARY KEY (condition, target, seed, variant)
);
"""

# SQLite's result codes for a store that cannot be written, as the OSError a user reads (errors.one_line: "disk
# full", "permission denied"): SQLITE_FULL, SQLITE_READONLY, SQLITE_PERM, SQLITE_IOERR.
_SQLITE_OS_ERRORS = {13: errno.ENOSPC, 8: errno.EACCES, 3: errno.EACCES, 10: errno.EIO}

AVERAGE = "avg"  # the `language` of the row holding the mean over a stage's languages


@dataclass(frozen=True)
class ResultRow:
    stage_key: str
    task: str
    task_version: int
    language: str
    split: str
    metric: str
    value: float
    n: int
    seed: int


class Store:
    FILE = "results.sqlite"

    def __init__(self, experiment_dir: Path):
        self.path = experiment_dir / self.FILE
        self.db = sqlite3.connect(self.path, timeout=30)
        try:
            # Readers never block the runner that writes. WAL is kept in the file, so only the store's first opener
            # sets it: setting it again needs a lock that SQLite's busy timeout does not wait for, and a worker
            # opening the store while another writes would fail with "database is locked".
            if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self.db.execute("PRAGMA journal_mode=WAL")
            self._drop_runs_without_variant()
            self.db.executescript(SCHEMA)
            self._check_columns()
        except sqlite3.DatabaseError as err:
            self.db.close()
            raise UserError(f"{self.path}: not a readable xstilts results store ({err})") from None

    def _check_columns(self) -> None:
        """A foreign SQLite file that happens to have a table of the same name is refused here, not by the
        first query that misses a column."""
        expected = sqlite3.connect(":memory:")
        try:
            expected.executescript(SCHEMA)
            for (table,) in expected.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                want = {row[1] for row in expected.execute(f"PRAGMA table_info({table})")}
                have = {row[1] for row in self.db.execute(f"PRAGMA table_info({table})")}
                if not want <= have:
                    raise sqlite3.DatabaseError(f"table {table} lacks column(s) {sorted(want - have)}")
        finally:
            expected.close()

    def _drop_runs_without_variant(self) -> None:
        # Stores written before grids existed lack runs.variant. The runs table is rewritten by every
        # `xstilts run`, so it is dropped rather than migrated; stages and results are kept.
        columns = [row[1] for row in self.db.execute("PRAGMA table_info(runs)")]
        if columns and "variant" not in columns:
            with self.db:
                self.db.execute("DROP TABLE runs")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """One write transaction; a store that cannot be written (a full disk, a read-only folder) is an OSError
        naming the file, not a damaged store."""
        try:
            with self.db:
                yield
        except sqlite3.OperationalError as err:
            number = _SQLITE_OS_ERRORS.get(getattr(err, "sqlite_errorcode", 0) & 0xFF)
            if number is None:
                raise
            raise OSError(number, str(err), str(self.path)) from None

    def is_done(self, key: str) -> bool:
        return self.status(key) == "done"

    def status(self, key: str) -> str | None:
        row = self.db.execute("SELECT status FROM stages WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def statuses(self) -> dict[str, tuple[str, float | None, float | None, str | None]]:
        """key -> (status, seconds, finished_at, log JSON) for every stage any runner has touched."""
        rows = self.db.execute("SELECT key, status, seconds, finished_at, log FROM stages").fetchall()
        return {key: (status, seconds, finished, log) for key, status, seconds, finished, log in rows}

    def forget(self, key: str) -> None:
        """Drop a stage whose files are gone, so it runs again (and its results with it)."""
        with self._writing():
            self.db.execute("DELETE FROM results WHERE stage_key = ?", (key,))
            self.db.execute("DELETE FROM stages WHERE key = ?", (key,))

    def mark(self, key: str, kind: str, task: str, config: dict, status: str, log: dict | None = None) -> None:
        """Record a stage as running or failed; never overwrites a finished stage."""
        with self._writing():
            self.db.execute(
                """INSERT INTO stages VALUES (?, ?, ?, ?, ?, NULL, ?, ?)
                   ON CONFLICT(key) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at,
                                                  log = excluded.log
                   WHERE stages.status != 'done'""",
                (
                    key,
                    kind,
                    task,
                    json.dumps(config, sort_keys=True, default=str),
                    status,
                    time.time(),
                    json.dumps(log or {}, default=str),
                ),
            )

    def record_runs(self, runs: Iterable[tuple[str, str, int, tuple[str, ...], str, str]]) -> None:
        with self._writing():  # the runs of the latest spec replace those of any earlier one
            self.db.execute("DELETE FROM runs")
            self.db.executemany(
                "INSERT OR REPLACE INTO runs (condition, target, seed, chain, eval_key, variant) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(c, t, s, json.dumps(chain), e, v) for c, t, s, chain, e, v in runs],
            )

    def finish_stage(
        self,
        key: str,
        kind: str,
        task: str,
        config: dict,
        seconds: float,
        log: dict,
        rows: Iterable[ResultRow] = (),
    ) -> None:
        with self._writing():  # one transaction: the stage and its results land together or not at all
            self.db.executemany(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        r.stage_key,
                        r.task,
                        r.task_version,
                        r.language,
                        r.split,
                        r.metric,
                        r.value,
                        r.n,
                        r.seed,
                        __version__,
                    )
                    for r in rows
                ],
            )
            self.db.execute(
                "INSERT OR REPLACE INTO stages VALUES (?, ?, ?, ?, 'done', ?, ?, ?)",
                (
                    key,
                    kind,
                    task,
                    json.dumps(config, sort_keys=True, default=str),
                    seconds,
                    time.time(),
                    json.dumps(log, default=str),
                ),
            )

    def stage_log(self, key: str) -> dict | None:
        row = self.db.execute("SELECT log FROM stages WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None


# -- the read side ---------------------------------------------------------------------------------------------


def condition_label(condition: str, variant: str) -> str:
    """A condition at one grid point, as every reader names it, e.g. "sick [intermediate_size=500]"."""
    return f"{condition} [{variant}]" if variant else condition


@dataclass(frozen=True)
class StageRecord:
    """One row of `stages`: a stage some runner started, with its settings and its log decoded."""

    key: str
    kind: str  # "train" or "evaluate"
    task: str
    config: dict[str, Any]
    status: str  # "running", "failed" or "done"
    seconds: float | None
    finished_at: float | None
    log: dict[str, Any]

    @property
    def done(self) -> bool:
        return self.status == "done"


@dataclass(frozen=True)
class ConditionRun:
    """One row of `runs`: a (condition, grid point, target, seed) of the latest spec and the stages it chains."""

    name: str  # the condition as the spec names it, e.g. "sick"
    variant: str  # the grid point, e.g. "intermediate_size=500"; empty without a grid
    target: str
    seed: int
    chain: tuple[str, ...]  # training stage keys, intermediate stages first
    eval_key: str

    @property
    def condition(self) -> str:
        """The condition at its grid point: grid points are never merged, each is its own condition."""
        return condition_label(self.name, self.variant)


@dataclass(frozen=True)
class ResultRecord:
    """One row of `results`: a metric of one evaluation stage in one language (AVERAGE: the mean over them)."""

    stage_key: str
    language: str
    metric: str
    value: float
    n: int  # evaluation examples (for AVERAGE: languages)


@dataclass(frozen=True)
class StoreContents:
    stages: dict[str, StageRecord]
    runs: tuple[ConditionRun, ...]  # by grid point, target, condition and seed
    results: tuple[ResultRecord, ...]


def read_store(experiment_dir: Path) -> StoreContents:
    """Everything in an experiment's store, read without changing it (`Store` would create tables)."""
    path = experiment_dir / Store.FILE
    if not path.is_file():
        raise UserError(f"{experiment_dir}: not an experiment directory (no {Store.FILE})")
    # A read-only connection to a WAL database creates -wal/-shm files it cannot remove again. With no -wal file
    # no writer has the store open, so it cannot change while we read it: `immutable` then creates nothing. A
    # writer that opened the store meanwhile (the -wal file is there after the read) makes that read unsafe: it is
    # read again through the WAL.
    wal = Path(f"{path}-wal")
    if not wal.exists():
        try:
            contents = _snapshot(path, immutable=True)
        except UserError:
            if not wal.exists():
                raise
        else:
            if not wal.exists():
                return contents
    return _snapshot(path, immutable=False)


def _snapshot(path: Path, immutable: bool) -> StoreContents:
    db = sqlite3.connect(f"file:{path}?mode=ro{'&immutable=1' if immutable else ''}", uri=True)
    try:
        # One read transaction: every table is read at the same committed state, never between a writer's
        # transactions (a stage done but its results not yet read), and in WAL mode it never blocks writers.
        db.execute("BEGIN")
        return _contents(db)
    except sqlite3.DatabaseError as err:
        raise UserError(f"{path}: not a readable xstilts results store ({err})") from None
    finally:
        db.close()


def _contents(db: sqlite3.Connection) -> StoreContents:
    stages = {
        key: StageRecord(key, kind, task, json.loads(config), status, seconds, finished, json.loads(log) if log else {})
        for key, kind, task, config, status, seconds, finished, log in db.execute(
            "SELECT key, kind, task, config, status, seconds, finished_at, log FROM stages"
        )
    }
    has_variant = "variant" in [row[1] for row in db.execute("PRAGMA table_info(runs)")]  # older stores lack it
    variant = "variant" if has_variant else "''"
    runs = tuple(
        ConditionRun(name, v, target, seed, tuple(json.loads(chain)), eval_key)
        for name, target, seed, chain, eval_key, v in db.execute(
            f"SELECT condition, target, seed, chain, eval_key, {variant} AS v FROM runs "
            "ORDER BY v, target, condition, seed"
        )
    )
    results = tuple(
        ResultRecord(*row) for row in db.execute("SELECT stage_key, language, metric, value, n FROM results")
    )
    return StoreContents(stages, runs, results)
