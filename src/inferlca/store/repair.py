"""Recovering a damaged store: copy what can be read into a new file (``store repair``).

SQLite's own recovery (``sqlite3 FILE .recover``) is used when the ``sqlite3`` command is
installed and works; otherwise, and after it, the tables are read row by row (past damaged
pages), every run is checked as :class:`~inferlca.store.sqlite.Store` reads it, and what reads
back is copied into a new store. The damaged file is kept beside the repaired one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferlca.errors import StoreError
from inferlca.store.health import check_file
from inferlca.store.merge import copy_run
from inferlca.store.schema import TABLES, configure, migrate
from inferlca.store.sqlite import Store


@dataclass
class RepairResult:
    """What ``store repair`` saved and lost."""

    store: str
    damaged_copy: str | None = None
    method: str = ""
    runs_saved: list[str] = field(default_factory=list)
    runs_lost: list[str] = field(default_factory=list)
    repetitions_saved: int = 0
    repetitions_lost: int = 0
    unreadable_rows: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"store": self.store, "damaged_copy": self.damaged_copy, "method": self.method,
                "runs_saved": len(self.runs_saved), "runs_lost": len(self.runs_lost),
                "lost_run_ids": self.runs_lost, "repetitions_saved": self.repetitions_saved,
                "repetitions_lost": self.repetitions_lost,
                "unreadable_rows": self.unreadable_rows, "notes": self.notes}


def _sqlite_recover(src: Path, dest: Path) -> bool:
    """SQLite's own recovery (``sqlite3 SRC .recover``) into ``dest``; False when the sqlite3
    command is missing or fails."""
    exe = shutil.which("sqlite3")
    if exe is None:
        return False
    try:
        dump = subprocess.run([exe, str(src), ".recover"], capture_output=True, timeout=600,
                              check=False)
        if not dump.stdout:  # it exits 1 after reporting what it skipped: the output counts
            return False
        subprocess.run([exe, str(dest)], input=dump.stdout, capture_output=True, timeout=600,
                       check=False)
        with contextlib.closing(sqlite3.connect(f"{dest.resolve().as_uri()}?mode=ro", uri=True)) as c:
            return c.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone() is not None
    except (OSError, subprocess.SubprocessError, sqlite3.Error):
        return False


def _table_rows(conn: sqlite3.Connection, table: str, result: RepairResult) -> list[tuple[Any, ...]]:
    """The rows of a table that can be read, one by one (by rowid) past damaged pages."""
    try:
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
    except sqlite3.DatabaseError:
        return []
    if not cols:
        return []
    col_list = ", ".join(cols)
    try:
        return [tuple(r) for r in conn.execute(f"SELECT {col_list} FROM {table}")]
    except sqlite3.DatabaseError:
        pass
    rows: list[tuple[Any, ...]] = []
    try:
        hi = conn.execute(f"SELECT MAX(rowid) FROM {table}").fetchone()[0] or 0
    except sqlite3.DatabaseError:
        hi = 0
    for rowid in range(1, int(hi) + 1):
        try:
            row = conn.execute(f"SELECT {col_list} FROM {table} WHERE rowid = ?", (rowid,)).fetchone()
        except sqlite3.DatabaseError:
            result.unreadable_rows += 1
            continue
        if row is not None:
            rows.append(tuple(row))
    return rows


def _drop_orphans(conn: sqlite3.Connection, result: RepairResult) -> None:
    """Delete rows whose parent row was lost (a trace without its repetition...), counting the
    repetitions lost that way."""
    lost = {tuple(r) for t in ("traces", "latencies", "series") for r in conn.execute(
        f"SELECT DISTINCT run_id, idx FROM {t} t WHERE NOT EXISTS (SELECT 1 FROM repetitions r "
        f"WHERE r.run_id = t.run_id AND r.idx = t.idx)")}
    result.repetitions_lost += len(lost)
    conn.execute("DELETE FROM repetitions WHERE run_id NOT IN (SELECT run_id FROM runs)")
    for t in ("traces", "latencies", "series"):
        conn.execute(f"DELETE FROM {t} WHERE NOT EXISTS (SELECT 1 FROM repetitions r "
                     f"WHERE r.run_id = {t}.run_id AND r.idx = {t}.idx)")
    conn.execute("DELETE FROM trace_arrays WHERE NOT EXISTS (SELECT 1 FROM traces t "
                 "WHERE t.run_id = trace_arrays.run_id AND t.idx = trace_arrays.idx)")


def _json_ok(text: Any, kind: type) -> bool:
    import json

    try:
        return isinstance(json.loads(text), kind)
    except (TypeError, ValueError, RecursionError):
        return False


def _salvage_json(conn: sqlite3.Connection, result: RepairResult) -> None:
    """Replace the damaged JSON values that can be done without (a run's summary, recomputed
    from its repetitions; its environment; a repetition's impact and LoadGen excerpts) so that
    the run itself is saved; a damaged spec or metrics still loses its run or repetition."""
    fixes = (("runs", "run_id", "summary_json", dict, None, "its summary"),
             ("runs", "run_id", "environment_json", dict, "{}", "its environment record"),
             ("repetitions", "run_id, idx", "impact_json", dict, None, "a repetition's impact"),
             ("repetitions", "run_id, idx", "loadgen_json", dict, None,
              "a repetition's LoadGen excerpts"))
    for table, key, column, kind, blank, what in fixes:
        rows = conn.execute(f"SELECT rowid, {key}, {column} FROM {table} "
                            f"WHERE {column} IS NOT NULL").fetchall()
        for rowid, rid, *rest in rows:
            if not _json_ok(rest[-1], kind):
                conn.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (blank, rowid))
                result.notes.append(f"run {str(rid)[:12]}: {what} was damaged and dropped")
    for rid, in conn.execute("SELECT run_id FROM runs WHERE summary_json IS NULL AND status != "
                             "'running'").fetchall():
        result.notes.append(f"run {str(rid)[:12]}: summary recomputed from its repetitions")


def _read_tables(source: Path, result: RepairResult) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of each table of the store at ``source`` that can be read."""
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    # damaged text keeps what it can (U+FFFD for bad bytes): a JSON value then reads or not
    src.text_factory = lambda b: b.decode("utf-8", "replace")
    try:
        return {t: _table_rows(src, t, result) for t in
                ("runs", "repetitions", "traces", "trace_arrays", "latencies", "series")}
    finally:
        src.close()


def _staging_db(tables: dict[str, list[tuple[Any, ...]]],
                result: RepairResult) -> sqlite3.Connection:
    """An in-memory store holding the rows read (short rows padded), orphans dropped and JSON
    values salvaged."""
    mem = sqlite3.connect(":memory:")
    mem.isolation_level = None
    configure(mem, wal=False)
    migrate(mem)
    mem.execute("PRAGMA foreign_keys = OFF")
    for t in TABLES:
        cols = [r[1] for r in mem.execute(f"PRAGMA table_info({t})")]
        for row in tables.get(t, []):
            with contextlib.suppress(sqlite3.Error):
                mem.execute(f"INSERT OR IGNORE INTO {t} VALUES ({', '.join('?' for _ in cols)})",
                            row[:len(cols)] if len(row) >= len(cols) else (*row, *[None] * (len(cols) - len(row))))
    _drop_orphans(mem, result)
    _salvage_json(mem, result)
    return mem


def _copy_run(staging: Store, mem: sqlite3.Connection, out: Store, rid: str,
              result: RepairResult) -> None:
    """Copy run ``rid`` from ``staging`` (on ``mem``) to ``out`` without its repetitions that do
    not decode (the run is then ``incomplete`` with a note); a run that does not read is lost."""
    try:
        run = staging.get_run(rid)
    except StoreError as exc:
        result.runs_lost.append(rid)
        result.notes.append(str(exc))
        return
    bad: list[int] = []
    for rep in run.repetitions:
        try:
            staging.load_trace(rid, rep.index)
            staging.load_latencies(rid, rep.index)
            staging.load_series(rid, rep.index)
        except StoreError:
            bad.append(rep.index)
    with out._write(f"copy run {rid}") as c:
        copy_run(c, mem, rid, replace=False)
        for idx in bad:
            c.execute("DELETE FROM repetitions WHERE run_id = ? AND idx = ?", (rid, idx))
            for t in ("traces", "trace_arrays", "latencies", "series"):
                c.execute(f"DELETE FROM {t} WHERE run_id = ? AND idx = ?", (rid, idx))
        if bad:
            note = (f"repaired: repetition(s) {', '.join(map(str, bad))} were damaged "
                    f"and dropped")
            c.execute("UPDATE runs SET status = CASE status WHEN 'running' THEN "
                      "'running' ELSE 'incomplete' END, error = ? WHERE run_id = ?",
                      (note, rid))
    if run.summary is None and run.stored_status != "running":
        out.finish_run(rid, run.stored_status if not bad else "incomplete",
                       out.summarize_run(rid), error=run.error)
    result.runs_saved.append(rid)
    result.repetitions_saved += len(run.repetitions) - len(bad)
    result.repetitions_lost += len(bad)


def recover(path: Path) -> RepairResult:
    """Copy what can be read of the store at ``path`` into a new store at the same path; the
    damaged file is kept beside it as ``<name>.damaged-<time><suffix>``.

    Runs are copied whole when every value and array of theirs decodes; a repetition that does
    not is dropped (its run kept, marked ``incomplete`` with a note); a run whose own row cannot
    be read is lost. Uses SQLite's ``.recover`` (the ``sqlite3`` command) when available to read
    past damaged pages, else reads the tables row by row.
    """
    check_file(path, writing=False)  # a file that is not SQLite at all is not renamed
    stamp = time.strftime("%Y%m%dT%H%M%S")
    damaged_copy = path.with_name(f"{path.stem}.damaged-{stamp}{path.suffix}")
    work = path.with_name(f"{path.stem}.repairing-{stamp}{path.suffix}")
    result = RepairResult(store=str(path), damaged_copy=str(damaged_copy))
    for p in (work,):
        p.unlink(missing_ok=True)
    source = path
    recovered = path.with_name(f"{path.stem}.recovered-{stamp}{path.suffix}")
    if _sqlite_recover(path, recovered):
        source, result.method = recovered, "sqlite3 .recover, then row by row"
    else:
        recovered.unlink(missing_ok=True)
        result.method = "row by row"
    try:
        tables = _read_tables(source, result)
        mem = _staging_db(tables, result)
        staging = Store(mem, None)
        out = Store.open(work)
        try:
            seen = {str(r[0]) for r in tables.get("runs", []) if r and r[0] is not None}
            orphans = {str(r[0]) for t in TABLES[1:] for r in tables.get(t, []) if r} - seen
            result.runs_lost += sorted(orphans)
            for rid in sorted(seen):
                _copy_run(staging, mem, out, rid, result)
            problems = out.integrity_check()
            if problems:
                raise StoreError(f"the repaired copy of {path} failed its integrity check: "
                                 f"{'; '.join(problems)[:200]}")
        finally:
            out.close()
            staging.close()
    except BaseException:
        work.unlink(missing_ok=True)
        for side in ("-wal", "-shm"):
            Path(str(work) + side).unlink(missing_ok=True)
        raise
    finally:
        recovered.unlink(missing_ok=True)
    os.replace(path, damaged_copy)
    for side in ("-wal", "-shm"):
        with contextlib.suppress(OSError):
            os.replace(str(path) + side, str(damaged_copy) + side)
    os.replace(work, path)
    return result
