"""A store's health: is a file an inferlca store, is it sound, and recovering a damaged one.

* :func:`check_file`: before SQLite opens a path, refuse what cannot be a store (a device, a
  pipe, ``/proc`` files, an empty or foreign file), so that nothing is read as "no runs yet".
* :func:`check_schema` and :func:`quick_check`: once open, the tables a store must have and
  SQLite's quick integrity check (on files up to :data:`QUICK_CHECK_MAX_BYTES`, where it is cheap).
* :func:`deep_check`: every stored JSON value and array decoded (``store info --check``).
* :func:`backup`: a consistent copy of a store, even one being written (SQLite's backup API).
"""

from __future__ import annotations

import contextlib
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

from inferlca.errors import StoreError, named

#: SQLite's file header.
SQLITE_MAGIC = b"SQLite format 3\x00"
#: ``PRAGMA quick_check`` runs on open for files up to this size (it reads the whole file).
QUICK_CHECK_MAX_BYTES = 256 * 1024 * 1024
#: An empty file this old (s) is not a store being created by another process right now.
EMPTY_GRACE_S = 2.0

_REPAIR = "`inferlca store repair` recovers what can be read"


def fresh(p: Path) -> bool:
    """Whether ``p`` was modified less than :data:`EMPTY_GRACE_S` ago (a store being created)."""
    try:
        return time.time() - p.stat().st_mtime < EMPTY_GRACE_S
    except OSError:
        return False


def check_file(p: Path, *, writing: bool) -> None:
    """Refuse a path that cannot hold a store: not a regular file, empty, or not SQLite.

    A missing file is accepted when ``writing`` (it will be created). An empty file is accepted
    only while it is fresh (another process may be creating the store: a reader then sees no
    runs yet).
    """
    try:
        st = p.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot use {p} as the results store: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        kind = ("a folder" if stat.S_ISDIR(st.st_mode) else "a pipe (FIFO)" if stat.S_ISFIFO(st.st_mode)
                else "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
                else "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise StoreError(f"{p} is {kind}, not an inferlca results store; give the path of a store file "
                         f"such as ./inferlca.db ({named('store')})")
    if str(p.resolve()).startswith(("/proc/", "/sys/")):
        raise StoreError(f"{p} is a kernel file, not an inferlca results store; give another {named('store')} PATH")
    if st.st_size == 0:
        if fresh(p):  # another process is creating the store this very moment
            return
        raise StoreError(f"{p} is an empty file (0 bytes), not an inferlca results store; delete it to "
                         f"start a new store there, or give another {named('store')} PATH")
    try:
        with open(p, "rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"cannot read the results store {p}: {exc.strerror or exc}") from None
    if head != SQLITE_MAGIC:
        raise StoreError(f"{p} is not an inferlca results store (not an SQLite file: its "
                         f"header is missing or damaged); give another {named('store')} PATH")


#: Tables and the columns a store of the current schema has (checked on open).
_REQUIRED = {
    "runs": {"run_id", "status", "kind", "spec_json", "environment_json", "summary_json"},
    "repetitions": {"run_id", "idx", "status", "metrics_json"},
    "traces": {"run_id", "idx", "t_s", "n_samples"},
    "trace_arrays": {"run_id", "idx", "data"},
    "latencies": {"run_id", "idx", "data"},
    "series": {"run_id", "idx", "data"},
}


def check_schema(conn: sqlite3.Connection, path: Path | None) -> None:
    """The tables and columns of the current schema are all there (a store whose version says
    v3 but whose tables were dropped or damaged is refused)."""
    for table, cols in _REQUIRED.items():
        have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        if not have:
            raise StoreError(f"{path} is a damaged results store: table {table!r} is missing; "
                             f"{_REPAIR}")
        missing = cols - have
        if missing:
            raise StoreError(f"{path} is a damaged results store: table {table!r} lacks "
                             f"{', '.join(sorted(missing))}; {_REPAIR}")


def quick_check(conn: sqlite3.Connection, path: Path | None) -> None:
    """SQLite's quick integrity check, on files small enough for it to be cheap."""
    if path is None:
        return
    with contextlib.suppress(OSError):
        if path.stat().st_size > QUICK_CHECK_MAX_BYTES:
            return
    rows = [r[0] for r in conn.execute("PRAGMA quick_check(5)")]
    if rows != ["ok"]:
        raise StoreError(f"{path} is a damaged results store ({'; '.join(map(str, rows))[:200]}); "
                         f"{_REPAIR}")


def check_rows(conn: sqlite3.Connection, path: Path | None) -> None:
    """Every run row and repetition row reads back (valid JSON of the right types, known
    statuses): a store a run would write into must not hold rows no command can read. Arrays
    are not decoded (``store info --check`` does that). Skipped on files over
    :data:`QUICK_CHECK_MAX_BYTES`, like :func:`quick_check`."""
    from inferlca.store.records import RunRecord
    from inferlca.store.rows import RUN_COLUMNS, attach_repetitions, run_record

    if path is not None:
        with contextlib.suppress(OSError):
            if path.stat().st_size > QUICK_CHECK_MAX_BYTES:
                return
    records: list[RunRecord] = [run_record(r) for r in
                                conn.execute(f"SELECT {RUN_COLUMNS} FROM runs")]
    attach_repetitions(conn, records)


def deep_check(store: Any) -> list[str]:
    """Every run, its JSON values, traces, latencies and series read back and decoded; the
    problems found (an empty list when all is readable)."""
    problems: list[str] = []
    conn = store._conn
    try:
        ids = [r[0] for r in conn.execute("SELECT run_id FROM runs ORDER BY created_at")]
    except sqlite3.DatabaseError as exc:
        return [f"the runs table cannot be read: {exc}"]
    for rid in ids:
        try:
            run = store.get_run(rid)
        except (StoreError, sqlite3.DatabaseError) as exc:
            problems.append(str(exc))
            continue
        for rep in run.repetitions:
            try:
                store.load_trace(rid, rep.index)
                store.load_latencies(rid, rep.index)
                store.load_series(rid, rep.index)
            except (StoreError, sqlite3.DatabaseError) as exc:
                problems.append(str(exc))
    return problems


def backup(src: Any, dest: Path) -> Path:
    """A consistent copy of an open store (another process may be writing it) at ``dest``, by
    SQLite's online backup API; ``dest`` must not exist."""
    if dest.exists():
        raise StoreError(f"{dest} already exists; give a new file for the backup")
    if not dest.parent.is_dir():
        raise StoreError(f"cannot write the backup {dest}: the folder {dest.parent} does not exist")
    try:
        out = sqlite3.connect(str(dest))
        try:
            src._conn.backup(out)
        finally:
            out.close()
    except sqlite3.Error as exc:
        dest.unlink(missing_ok=True)
        raise StoreError(f"cannot write the backup {dest}: {exc}") from None
    return dest
