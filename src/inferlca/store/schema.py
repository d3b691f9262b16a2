"""The store's schema: its migrations, and opening a connection on it (configure, check, migrate).

Schema changes are migrations: functions appended to :data:`MIGRATIONS`, applied in order, each
in its own transaction, when a store is opened. A store written by a newer inferlca is refused
with a clear message instead of being damaged.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import sqlite3
from collections.abc import Callable
from pathlib import Path

from inferlca.errors import StoreError, named

BUSY_TIMEOUT_MS = 30_000


def now() -> str:
    """The current UTC time as stored (ISO 8601, milliseconds, ``Z``)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run DDL statements one by one inside the caller's transaction.

    (``Connection.executescript`` would COMMIT the open transaction first, so a migration killed
    half-way could leave half a schema.)
    """
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _m1_initial(conn: sqlite3.Connection) -> None:
    _run_script(conn, """
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            kind TEXT NOT NULL,
            estimated INTEGER NOT NULL,
            workload TEXT,
            scenario TEXT,
            backend TEXT,
            queries INTEGER,
            device_id TEXT,
            device_name TEXT,
            meter TEXT,
            label TEXT,
            spec_json TEXT NOT NULL,
            environment_json TEXT NOT NULL,
            summary_json TEXT,
            error TEXT
        );
        CREATE TABLE repetitions (
            run_id TEXT NOT NULL REFERENCES runs(run_id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            metrics_json TEXT NOT NULL,
            impact_json TEXT,
            loadgen_json TEXT,
            PRIMARY KEY (run_id, idx)
        );
        CREATE TABLE traces (
            run_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            meter TEXT NOT NULL,
            primary_channel TEXT NOT NULL,
            estimated INTEGER NOT NULL,
            period_requested_s REAL,
            n_samples INTEGER NOT NULL,
            t_dtype TEXT NOT NULL,
            t_codec TEXT NOT NULL,
            t_s BLOB NOT NULL,
            marks_json TEXT NOT NULL,
            gaps_json TEXT NOT NULL,
            meta_json TEXT NOT NULL,
            PRIMARY KEY (run_id, idx),
            FOREIGN KEY (run_id, idx) REFERENCES repetitions(run_id, idx) ON DELETE CASCADE
        );
        CREATE TABLE trace_arrays (
            run_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            role TEXT NOT NULL,
            name TEXT NOT NULL,
            position INTEGER NOT NULL,
            dtype TEXT NOT NULL,
            codec TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (run_id, idx, role, name),
            FOREIGN KEY (run_id, idx) REFERENCES traces(run_id, idx) ON DELETE CASCADE
        );
        CREATE TABLE latencies (
            run_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            n INTEGER NOT NULL,
            dtype TEXT NOT NULL,
            codec TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (run_id, idx),
            FOREIGN KEY (run_id, idx) REFERENCES repetitions(run_id, idx) ON DELETE CASCADE
        );
    """)


def _m2_owner_and_status(conn: sqlite3.Connection) -> None:
    """Who writes a run (to tell a dead writer from a live one) and per-repetition status."""
    _run_script(conn, """
        ALTER TABLE runs ADD COLUMN pid INTEGER;
        ALTER TABLE runs ADD COLUMN hostname TEXT;
        ALTER TABLE runs ADD COLUMN proc_start TEXT;
        ALTER TABLE repetitions ADD COLUMN status TEXT NOT NULL DEFAULT 'complete';
        CREATE INDEX runs_by_filter ON runs (workload, scenario, device_id, created_at);
        CREATE INDEX runs_by_created ON runs (created_at);
    """)


def _m3_series(conn: sqlite3.Connection) -> None:
    """Extra per-query series (time to first token, tokens out...) for generation workloads."""
    _run_script(conn, """
        CREATE TABLE series (
            run_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            name TEXT NOT NULL,
            position INTEGER NOT NULL,
            n INTEGER NOT NULL,
            dtype TEXT NOT NULL,
            codec TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (run_id, idx, name),
            FOREIGN KEY (run_id, idx) REFERENCES repetitions(run_id, idx) ON DELETE CASCADE
        );
    """)


#: Ordered migrations: ``MIGRATIONS[k]`` brings a store from version ``k`` to ``k + 1``.
MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("initial schema: runs, repetitions, traces, trace arrays, latencies", _m1_initial),
    ("run owner (pid, host) and repetition status", _m2_owner_and_status),
    ("extra per-query series", _m3_series),
]
SCHEMA_VERSION = len(MIGRATIONS)

#: Every table that holds a run's rows (all keyed by ``run_id``).
TABLES = ("runs", "repetitions", "traces", "trace_arrays", "latencies", "series")


def configure(conn: sqlite3.Connection, *, wal: bool) -> None:
    """Busy timeout and foreign keys; with ``wal`` (a file opened for writing) WAL mode and full
    synchronous writes, so several processes can share the file and a commit survives a crash."""
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if wal:
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":  # e.g. a file system without shared memory
            conn.execute("PRAGMA journal_mode = DELETE")
        conn.execute("PRAGMA synchronous = FULL")


def tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def schema_version(conn: sqlite3.Connection) -> int:
    """The highest migration applied to the file."""
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def check_version(conn: sqlite3.Connection, path: Path | None) -> int:
    """The file's schema version (0 = empty file); refuse foreign or newer files."""
    found = tables(conn)
    if "schema_version" not in found:
        if found:
            raise StoreError(f"{path} is an SQLite file but not an inferlca results store "
                             f"(it has tables {', '.join(sorted(found)[:5])}); give another {named('store')} PATH")
        return 0
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path} was written by a newer inferlca (store schema "
                         f"v{version}; this version reads up to v{SCHEMA_VERSION}); upgrade inferlca")
    return version


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> list[int]:
    """Apply the missing migrations up to ``target``, each in its own transaction; returns the
    versions applied (another process may have applied some already: they are re-read inside the
    write lock)."""
    applied: list[int] = []
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                "description TEXT NOT NULL, applied_at TEXT NOT NULL)")
            current = schema_version(conn)
            if current >= target:
                conn.execute("COMMIT")
                return applied
            description, step = MIGRATIONS[current]
            step(conn)
            conn.execute("INSERT INTO schema_version VALUES (?, ?, ?)",
                         (current + 1, description, now()))
            conn.execute("COMMIT")
            applied.append(current + 1)
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise


def initialize(conn: sqlite3.Connection, path: Path | None, *, wal: bool) -> None:
    """Configure, check and migrate, retrying while another process holds the file.

    Two processes creating one store at the same moment can meet SQLite's deadlock
    avoidance (switching to WAL mode, or upgrading a read lock, returns "database is locked"
    at once, without waiting for the busy timeout); a short randomized wait and a retry
    resolves it.
    """
    import random
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            configure(conn, wal=wal)
            check_version(conn, path)
            migrate(conn)
            return
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                raise
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            time.sleep(random.uniform(0.01, 0.1))
