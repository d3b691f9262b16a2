"""The read side of the results store, as functions of the SQLite connection: turning read
errors and damaged values into a :class:`~inferlca.errors.StoreError` naming the store, finding a
run by its id or a prefix of it, checking a repetition is stored, and the store's facts
(:meth:`inferlca.store.sqlite.Store.info`). :class:`~inferlca.store.sqlite.Store` calls these
under its lock.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from inferlca.errors import InvalidValueError, StoreError, UnknownNameError, UsageError
from inferlca.store.records import RunRecord
from inferlca.store.schema import SCHEMA_VERSION, schema_version

_F = TypeVar("_F")


@contextlib.contextmanager
def naming(run_id: str, index: int, what: str) -> Iterator[None]:
    """Put the run and repetition in front of the message of a damaged stored value."""
    try:
        yield
    except (StoreError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise StoreError(f"run {run_id[:12]} repetition {index}: its stored {what} is damaged "
                         f"({exc}); `inferlca store repair` recovers what can be read") from None


def reading(method: _F) -> _F:
    """A read method whose SQLite errors on a damaged file, and malformed values (wrong types in
    a trace's header...), become a :class:`StoreError` naming the store, never a traceback."""
    @functools.wraps(method)  # type: ignore[arg-type]
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)  # type: ignore[operator]
        except StoreError:
            raise
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(f"the results store {self.path} is locked by another process "
                                 f"({exc}); retry when it is done") from None
            raise StoreError(f"cannot read the results store {self.path}: {exc}; "
                             f"`inferlca store repair` recovers what can be read") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"the results store {self.path} is damaged ({exc}); "
                             f"`inferlca store repair` recovers what can be read") from None
        except (ValueError, TypeError, KeyError, IndexError, AttributeError,
                RecursionError) as exc:
            what = f" (run {str(args[0])[:12]})" if args and isinstance(args[0], str) else ""
            raise StoreError(f"the results store {self.path} holds a damaged value{what}: "
                             f"{type(exc).__name__}: {exc}; `inferlca store repair` recovers "
                             f"what can be read") from None
    return wrapper  # type: ignore[return-value]


def resolve_id(conn: sqlite3.Connection, prefix: str) -> str:
    """The full id of the run whose id is, or starts with, ``prefix`` (case-insensitive).

    Raises:
        InvalidValueError: an empty prefix.
        UnknownNameError: no run matches.
        UsageError: more than one run matches.
    """
    raw = str(prefix).strip()
    text = raw.lower()
    if not text:
        raise InvalidValueError("give a run id (or the start of one)")
    for candidate in dict.fromkeys((raw, text)):  # ids given by a campaign may have capitals
        exact = conn.execute("SELECT run_id FROM runs WHERE run_id = ?",
                             (candidate,)).fetchone()
        if exact:
            return str(exact[0])
    like = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = conn.execute("SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' "
                        "ORDER BY created_at DESC LIMIT 6", (like,)).fetchall()
    if len(rows) == 1:
        return str(rows[0][0])
    if not rows:
        recent = [r[0][:8] for r in conn.execute(
            "SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 50").fetchall()]
        raise UnknownNameError("run id", text, recent,
                               hint="(list the runs with `inferlca results`)")
    shown = ", ".join(str(r[0])[:12] for r in rows[:5])
    raise UsageError(f"run id prefix {text!r} is ambiguous: it matches {shown}"
                     f"{', ...' if len(rows) > 5 else ''}; give more characters")


def check_repetition(conn: sqlite3.Connection, rid: str, index: int) -> str:
    """``rid`` (a full run id) when repetition ``index`` of that run is stored.

    Raises:
        UnknownNameError: no such repetition (the message lists the stored ones).
    """
    row = conn.execute("SELECT 1 FROM repetitions WHERE run_id = ? AND idx = ?",
                       (rid, int(index))).fetchone()
    if row is None:
        known = [str(r[0]) for r in conn.execute(
            "SELECT idx FROM repetitions WHERE run_id = ? ORDER BY idx", (rid,))]
        raise UnknownNameError(f"repetition of run {rid[:8]}", str(index), known,
                               hint=f"(stored: {', '.join(known) or 'none'})")
    return rid


def store_info(c: sqlite3.Connection, path: Path | None, runs: list[RunRecord]) -> dict[str, Any]:
    """Facts about the store on ``c`` (at ``path``; ``None``: in memory) holding ``runs``:
    schema, size, runs by status and kind, stored arrays (:meth:`Store.info
    <inferlca.store.sqlite.Store.info>`)."""
    by_status: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    for r in runs:
        by_status[r.status] = by_status.get(r.status, 0) + 1
        # a meter that models power (no sensor) makes a "measured" run with estimated energy
        k = "measured, modelled energy" if r.kind == "measured" and r.estimated else r.kind
        by_kind[k] = by_kind.get(k, 0) + 1
    n_reps = c.execute("SELECT COUNT(*) FROM repetitions").fetchone()[0]
    n_traces, n_samples = c.execute("SELECT COUNT(*), COALESCE(SUM(n_samples), 0) FROM traces").fetchone()
    n_lat = c.execute("SELECT COALESCE(SUM(n), 0) FROM latencies").fetchone()[0]
    blob_bytes = sum(c.execute(f"SELECT COALESCE(SUM(LENGTH({col})), 0) FROM {table}").fetchone()[0]
                     for table, col in (("traces", "t_s"), ("trace_arrays", "data"),
                                        ("latencies", "data"), ("series", "data")))
    journal = c.execute("PRAGMA journal_mode").fetchone()[0]
    migrations = [{"version": v, "description": d, "applied_at": a} for v, d, a in
                  c.execute("SELECT version, description, applied_at FROM schema_version "
                            "ORDER BY version")]
    size = None
    if path is not None and path.exists():
        size = path.stat().st_size
        wal = Path(str(path) + "-wal")
        if wal.exists():
            size += wal.stat().st_size
    return {
        "path": str(path) if path else ":memory:",
        "schema_version": schema_version(c),
        "schema_version_supported": SCHEMA_VERSION,
        "migrations": migrations,
        "size_bytes": size,
        "journal_mode": journal,
        "runs": len(runs),
        "runs_by_status": by_status,
        "runs_by_kind": by_kind,
        "devices": sorted({r.device for r in runs}),
        "workloads": sorted({r.workload for r in runs if r.workload}),
        "repetitions": n_reps,
        "traces": n_traces,
        "trace_samples": n_samples,
        "latencies": n_lat,
        "array_bytes": blob_bytes,
    }


def impact_inputs(conn: sqlite3.Connection) -> list[tuple[str, Any, list[float], list[float],
                                                          Any]]:
    """What a Monte Carlo over every complete run needs, in one query: per run (oldest first,
    as :func:`inferlca.report.data.load_runs`) its id, its query count (the ``runs`` column,
    else the specification's), the energies and durations of its complete repetitions (finite
    values, in repetition order) and the impact of its first complete repetition that has one.
    No trace, summary or environment is read, and one impact per run."""
    out: list[tuple[str, Any, list[float], list[float], Any]] = []
    last = None
    for rid, queries, spec_json, m_json, i_json in conn.execute(
            "SELECT u.run_id, u.queries, CASE WHEN u.queries IS NULL THEN u.spec_json END, "
            "r.metrics_json, CASE WHEN r.idx = (SELECT MIN(x.idx) FROM repetitions x WHERE "
            "x.run_id = r.run_id AND x.status = 'complete' AND x.impact_json IS NOT NULL AND "
            "x.impact_json NOT IN ('null', '{}')) THEN r.impact_json END "
            "FROM runs u LEFT JOIN repetitions r ON r.run_id = u.run_id AND "
            "r.status = 'complete' WHERE u.status = 'complete' "
            "ORDER BY u.created_at, u.run_id, r.idx"):
        if rid != last:  # a new run (damaged JSON: a StoreError via @reading)
            if queries is None and spec_json:
                spec = json.loads(spec_json)
                queries = spec.get("queries") if isinstance(spec, dict) and \
                    spec.get("scenario") != "mixed" else None  # a mixed run's -n: not its count
            out.append((rid, queries, [], [], None))
            last = rid
        _, _, energies, durations, _ = out[-1]
        metrics = json.loads(m_json) if m_json else {}
        for key, values in (("energy_total_j", energies), ("duration_s", durations)):
            v = metrics.get(key) if isinstance(metrics, dict) else None
            if isinstance(v, (int, float)) and math.isfinite(v):
                values.append(float(v))
        if i_json is not None:
            out[-1] = (rid, out[-1][1], energies, durations, json.loads(i_json))
    return out
