"""The results store: one SQLite file (standard library ``sqlite3``) holding every run.

This module is the facade, :class:`Store` (open for writing) and :class:`ReadOnlyStore` (open for
reading, :meth:`Store.open_readonly`). The jobs behind it live in their own modules:

* :mod:`inferlca.store.schema`: the tables, their migrations, configuring a connection;
* :mod:`inferlca.store.owner`: the writer of a run (pid, host, process start), dead writers;
* :mod:`inferlca.store.rows`: runs and traces as rows and back (arrays via
  :mod:`inferlca.store.arrays`, a trace's parts via :mod:`inferlca.traces.io`);
* :mod:`inferlca.store.unsaved`: a repetition the store refused, kept in a file;
* :mod:`inferlca.store.merge`: copying the runs of one store into another.

Layout (schema version :data:`SCHEMA_VERSION`; the ``schema_version`` table lists the migrations
applied)::

    runs          one row per run: spec (JSON) and its main fields as columns for filtering,
                  device, meter, kind (measured|estimated), status, summary (JSON), owner pid/host
    repetitions   (run_id, idx): metrics, impact and LoadGen results (JSON), status
    traces        (run_id, idx): timestamps (BLOB), marks, gaps, meta, meter, primary channel
    trace_arrays  (run_id, idx, role, name): one power channel or energy counter (BLOB)
    latencies     (run_id, idx): per-query latencies in seconds (BLOB)
    series        (run_id, idx, name): extra per-query series (e.g. time to first token) (BLOB)

Safety:

* Every write call is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): a repetition is stored
  with its trace, latencies and series, or not at all, even when the process is killed with
  SIGKILL in the middle (SQLite's write-ahead log discards the unfinished transaction).
* A repetition the store refuses to write is kept in a file (:mod:`inferlca.store.unsaved`): a
  measured repetition is never lost.
* The file runs in WAL mode with a busy timeout, so several processes (a campaign's workers, a
  report reading while a run writes) can share one store.
* A run row records the pid, host and process start time of its writer. A run still marked
  ``running`` whose writer is gone reads back as ``incomplete`` (see :class:`RunRecord`).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from inferlca.errors import (
    InvalidValueError,
    StoreError,
    UnknownNameError,
    named,
)
from inferlca.store.arrays import decode as decode_array
from inferlca.store.arrays import encode as encode_array
from inferlca.store.health import check_file, check_rows, check_schema, fresh, quick_check
from inferlca.store.merge import MergeResult, check_not_itself, copy_run, further_along
from inferlca.store.owner import current_owner, writer_alive
from inferlca.store.paths import (
    DEFAULT_FILENAME,
    ENV_VAR,
    default_store_path,
    resolve_store_path,
    usable_path,
    writable_path,
)
from inferlca.store.reading import (
    check_repetition,
    impact_inputs,
    naming,
    reading,
    resolve_id,
    store_info,
)
from inferlca.store.records import (
    COUNTED_AT_END,
    KINDS,
    REPETITION_STATUSES,
    RUN_STATUSES,
    RunRecord,
)
from inferlca.store.rows import (
    RUN_COLUMNS,
    TRACE_COLUMNS,
    attach_repetitions,
    clean_metrics,
    decode_trace,
    dumps,
    encode_trace,
    run_filter,
    run_record,
)
from inferlca.store.schema import (
    BUSY_TIMEOUT_MS,
    MIGRATIONS,
    SCHEMA_VERSION,
    check_version,
    configure,
    initialize,
    migrate,
    now,
    schema_version,
)
from inferlca.store.unsaved import read_unsaved, save_unsaved, unsaved_dir
from inferlca.traces.trace import PowerTrace

__all__ = ["BUSY_TIMEOUT_MS", "DEFAULT_FILENAME", "ENV_VAR", "MIGRATIONS", "SCHEMA_VERSION",
           "MergeResult", "ReadOnlyStore", "Store", "StoreWriteError", "default_store_path",
           "resolve_store_path", "writer_alive"]

class StoreWriteError(StoreError):
    """SQLite refused a write (disk full, file turned read-only, locked too long, I/O error)."""


class Store:
    """A results store on one SQLite file, open for writing. Use :meth:`open` (or
    :meth:`open_readonly` for a :class:`ReadOnlyStore`); a context manager.

    All write methods run in a single transaction each; a failure inside rolls everything back.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path | None) -> None:
        self._conn = conn
        self.path = path
        self._lock = threading.RLock()

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Store:
        """Open for writing (creating and migrating if needed) the store at ``path``.

        Args:
            path: the SQLite file; ``None`` means ``$INFERLCA_STORE`` or ``./inferlca.db``.

        Raises:
            StoreError: the file cannot be created or written, is not an inferlca store, or was
                written by a newer inferlca.
        """
        p = writable_path(path)
        check_file(p, writing=True)
        try:
            conn = sqlite3.connect(str(p), isolation_level=None, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create the results store at {p}: {exc}; "
                             f"choose a writable {named('store')} PATH") from None
        store = Store(conn, p)
        try:
            with store._lock:
                initialize(conn, p, wal=True)
                check_schema(conn, p)
                quick_check(conn, p)  # a damaged store is refused before anything is measured
                check_rows(conn, p)
        except sqlite3.DatabaseError as exc:
            store.close()
            msg = str(exc)
            if "not a database" in msg or "malformed" in msg:
                raise StoreError(f"{p} is not an inferlca results store ({msg}); give another "
                                 f"{named('store')} PATH") from None
            raise StoreError(f"cannot write the results store at {p}: {msg}") from None
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open_readonly(cls, path: str | os.PathLike[str] | None = None) -> ReadOnlyStore:
        """Open the store at ``path`` for reading only (the file must exist; it is never written).

        An older schema is migrated in a private in-memory copy; the file is left untouched.

        Raises:
            StoreError: no file, not an inferlca store, or written by a newer inferlca.
        """
        p = usable_path(path)
        if not p.exists():
            raise StoreError(f"no results store at {p}; run `inferlca run` first, or give "
                             f"{named('store')} PATH (or set {ENV_VAR})")
        check_file(p, writing=False)
        try:
            conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True,
                                   isolation_level=None, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the results store {p}: {exc}") from None
        store = ReadOnlyStore(conn, p)
        try:
            configure(conn, wal=False)
            version = check_version(conn, p)
            if version == 0 and not fresh(p):  # (a fresh one is being created: no runs yet)
                raise StoreError(f"{p} is an empty SQLite file, not a results store; give "
                                 f"another {named('store')} PATH")
            if version < SCHEMA_VERSION:
                mem = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                conn.backup(mem)
                conn.close()
                store._conn = mem
                configure(mem, wal=False)
                migrate(mem)
            check_schema(store._conn, p)
            quick_check(store._conn, p)
        except sqlite3.DatabaseError as exc:
            store.close()
            if isinstance(exc, sqlite3.OperationalError) and "not a database" not in str(exc):
                raise StoreError(f"cannot read the results store {p}: {exc}") from None
            raise StoreError(f"{p} is not an inferlca results store ({exc})") from None
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def memory(cls) -> Store:
        """A throw-away store in memory (tests, previews)."""
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        configure(conn, wal=False)
        migrate(conn)
        return Store(conn, None)

    @property
    def schema_version(self) -> int:
        return schema_version(self._conn)

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def __enter__(self):  # type: ignore[no-untyped-def]  # the class it was called on
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path) if self.path else ':memory:'!r})"

    # --- transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreWriteError(f"cannot {what} in the results store {self.path}: {exc}") from None
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreWriteError(f"cannot {what} in the results store {self.path}: {exc}") from None
                raise

    # --- writing ------------------------------------------------------------------------------

    def create_run(self, spec: Mapping[str, Any] | Any, *, kind: str = "measured",
                   device_id: str | None = None, device_name: str | None = None,
                   meter: str | None = None, estimated: bool = False,
                   environment: Mapping[str, Any] | None = None, label: str | None = None,
                   run_id: str | None = None) -> str:
        """Record a new run (status ``running``) and return its globally unique id.

        Args:
            spec: the run specification (a ``RunSpec`` or its ``to_dict()``).
            kind: ``measured`` (a meter ran) or ``estimated`` (roofline or other model).
            device_id: the catalog id of the device, when known.
            device_name: the device's name as detected or given.
            meter: the power meter used (``nvml``, ``tegrastats``, ``rapl``, ``modelled``...).
            estimated: ``True`` when the energy figures come from a model, not a sensor.
            environment: host, versions, threads... (JSON-friendly).
            label: a free-text label; defaults to ``spec["label"]``.
            run_id: an id to use (campaigns that pre-assign ids); default: a new UUID4 (hex).
        """
        spec_d = dict(spec.to_dict() if hasattr(spec, "to_dict") else spec)
        if kind not in KINDS:
            raise UnknownNameError("run kind", kind, KINDS, hint="(accepted: measured, estimated)")
        rid = run_id or uuid.uuid4().hex
        if label is None and spec_d.get("label") is not None:
            label = str(spec_d["label"])
        # a mixed-traffic or interactive run's count is known at its end (finish_run(queries=)):
        # its spec's ``queries`` is the unused -n default, never its count
        queries = (spec_d.get("queries") if spec_d.get("scenario") not in COUNTED_AT_END
                   else None)
        with self._write("record a new run") as c:
            try:
                c.execute(
                    "INSERT INTO runs (run_id, created_at, status, kind, estimated, workload, "
                    "scenario, backend, queries, device_id, device_name, meter, label, spec_json, "
                    "environment_json, pid, hostname, proc_start) "
                    "VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (rid, now(), kind, int(bool(estimated)), spec_d.get("workload"),
                     spec_d.get("scenario"), spec_d.get("backend"),
                     int(queries) if isinstance(queries, (int, float)) else None,
                     device_id, device_name, meter, label, dumps(spec_d),
                     dumps(dict(environment or {})), *current_owner()))
            except sqlite3.IntegrityError:
                raise StoreError(f"a run with id {rid} is already stored") from None
        return rid

    def add_repetition(self, run_id: str, index: int, *, metrics: Mapping[str, Any],
                       impact: Mapping[str, Any] | None = None, trace: PowerTrace | None = None,
                       latencies_s: Sequence[float] | np.ndarray | None = None,
                       loadgen: Mapping[str, Any] | None = None,
                       extra_series: Mapping[str, Sequence[float] | np.ndarray] | None = None,
                       status: str | None = None) -> None:
        """Store one repetition with its trace, latencies and series, all or nothing.

        When SQLite refuses the write, the repetition is saved to a file in
        :meth:`unsaved_dir` (see :mod:`inferlca.store.unsaved`) and the :class:`StoreWriteError`
        says where: what was measured is never lost.

        Args:
            run_id: the run (full id).
            index: the repetition number (0-based); each index once per run.
            metrics: flat metrics, units in the names (see ``docs/CONTRACTS.md``); ``None``
                values are dropped (not applicable), ``NaN`` is kept.
            impact: ``Impact.to_dict()`` (plus ``impact_compute``), or ``None``.
            trace: the power trace, stored losslessly.
            latencies_s: per-query latencies in seconds.
            loadgen: LoadGen settings, validity, summary excerpts.
            extra_series: other per-query arrays by name (e.g. ``ttft_s``).
            status: ``complete``, ``incomplete`` or ``failed``; default ``incomplete`` when the
                trace says ``meta["incomplete"]``, else ``complete``.
        """
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or index < 0:
            raise InvalidValueError(f"repetition index must be an integer >= 0, got {index!r}")
        index = int(index)
        if status is None:
            status = "incomplete" if trace is not None and trace.meta.get("incomplete") else "complete"
        if status not in REPETITION_STATUSES:
            raise UnknownNameError("repetition status", status, REPETITION_STATUSES, hint=f"(accepted: {', '.join(REPETITION_STATUSES)})")
        clean = clean_metrics(metrics)
        # encode outside the transaction: the lock is held only for the inserts
        trace_rows = encode_trace(trace) if trace is not None else None
        lat = encode_array(np.asarray(latencies_s)) if latencies_s is not None else None
        series = [(name, pos, *encode_array(values))
                  for pos, (name, values) in enumerate((extra_series or {}).items())]
        try:
            self._insert_repetition(run_id, index, status, clean, impact, loadgen, trace_rows, lat,
                                    series)
        except StoreWriteError as exc:
            run = None
            with contextlib.suppress(Exception):
                run = self.get_run(run_id).to_dict(repetitions=False)
            saved = save_unsaved(self.path, run, run_id, index, status=status,
                                         metrics=clean, impact=impact, trace=trace,
                                         latencies_s=latencies_s, loadgen=loadgen,
                                         extra_series=extra_series)
            where = (f"; the repetition was saved to {saved} (add it back later with "
                     f"`inferlca store import-unsaved {saved.parent}`)") if saved else \
                "; it could not be saved elsewhere either"
            raise StoreWriteError(f"{exc}{where}") from None

    def _insert_repetition(self, run_id: str, index: int, status: str, clean: dict[str, float],
                           impact: Mapping[str, Any] | None, loadgen: Mapping[str, Any] | None,
                           trace_rows: tuple[tuple[Any, ...], list[tuple[Any, ...]]] | None,
                           lat: tuple[str, str, int, bytes] | None,
                           series: list[tuple[Any, ...]]) -> None:
        with self._write(f"store repetition {index} of run {run_id}") as c:
            row = c.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None:
                raise UnknownNameError("run", run_id, hint="(create it with create_run first)")
            try:
                c.execute("INSERT INTO repetitions (run_id, idx, created_at, metrics_json, "
                          "impact_json, loadgen_json, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
                          (run_id, index, now(), dumps(clean),
                           None if impact is None else dumps(impact),
                           None if loadgen is None else dumps(loadgen), status))
            except sqlite3.IntegrityError:
                raise StoreError(f"repetition {index} of run {run_id} is already stored") from None
            if trace_rows is not None:
                head, channel_rows = trace_rows
                c.execute(f"INSERT INTO traces (run_id, idx, {TRACE_COLUMNS}) "
                          f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (run_id, index, *head))
                c.executemany("INSERT INTO trace_arrays (run_id, idx, role, name, position, dtype, "
                              "codec, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              [(run_id, index, *r) for r in channel_rows])
            if lat is not None:
                dtype, codec, n, blob = lat
                c.execute("INSERT INTO latencies (run_id, idx, n, dtype, codec, data) "
                          "VALUES (?, ?, ?, ?, ?, ?)", (run_id, index, n, dtype, codec, blob))
            if series:
                c.executemany("INSERT INTO series (run_id, idx, name, position, dtype, codec, n, "
                              "data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                              [(run_id, index, *s) for s in series])

    def unsaved_dir(self) -> Path:
        """Where repetitions go when the store refuses a write: ``<store>.unsaved/`` (or a
        temporary folder for an in-memory store)."""
        return unsaved_dir(self.path)

    def import_unsaved(self, folder: str | os.PathLike[str]) -> list[tuple[str, int]]:
        """Store the repetitions saved by a failed write (see :meth:`unsaved_dir`); each file is
        removed once its repetition is in the store (one already there is not stored twice); a
        missing run is created from the header saved with it. Returns ``[(run_id, index)]``
        imported."""
        done: list[tuple[str, int]] = []
        for saved in read_unsaved(folder):
            if not self.has_run(saved.run_id):
                run = saved.run
                self.create_run(run.get("spec") or {}, kind=run.get("kind", "measured"),
                                device_id=run.get("device_id"), device_name=run.get("device_name"),
                                meter=run.get("meter"), estimated=bool(run.get("estimated")),
                                environment=run.get("environment") or {}, label=run.get("label"),
                                run_id=saved.run_id)
            if not self.has_repetition(saved.run_id, saved.index):
                self.add_repetition(saved.run_id, saved.index, **saved.fields)
                done.append((saved.run_id, saved.index))
            saved.path.unlink()
        with contextlib.suppress(OSError):
            Path(folder).rmdir()  # only when empty
        return done

    def finish_run(self, run_id: str, status: str = "complete", summary: Mapping[str, Any] | None = None,
                   error: str | None = None, queries: int | None = None) -> None:
        """Close a run: final status, summary and error text.

        Args:
            run_id: the run.
            status: ``complete``, ``incomplete`` (interrupted, e.g. Ctrl-C) or ``failed``.
            summary: the run summary (``inferlca.stats.summarize``); ``None`` computes it from
                the stored repetitions.
            error: what went wrong, for ``failed`` and ``incomplete`` runs.
            queries: the run's query count, when only its end knows it (mixed traffic: the
                requests a repetition sent; interactive users: the queries they sent); None
                keeps the one stored at creation.
        """
        if status not in RUN_STATUSES or status == "running":
            raise UnknownNameError("final run status", status, ("complete", "incomplete", "failed"), hint="(accepted: complete, incomplete, failed)")
        if summary is None:
            summary = self.summarize_run(run_id)
        with self._write(f"finish run {run_id}") as c:
            cur = c.execute("UPDATE runs SET status = ?, summary_json = ?, error = ?, finished_at = ? "
                            "WHERE run_id = ?", (status, dumps(summary), error, now(), run_id))
            if cur.rowcount == 0:
                raise UnknownNameError("run", run_id)
            if queries is not None:
                c.execute("UPDATE runs SET queries = ? WHERE run_id = ?", (int(queries), run_id))

    @reading
    def summarize_run(self, run_id: str) -> dict[str, Any]:
        """The summary of the repetitions stored so far (what ``finish_run`` uses by default)."""
        from inferlca.stats import summarize

        run = self.get_run(run_id)
        reps = run.repetitions
        return summarize([r.metrics for r in reps], [r.impact for r in reps],
                         measured=run.measured, notes=(run.summary or {}).get("notes", ()))

    @contextlib.contextmanager
    def recording(self, run_id: str, notes: Sequence[str] = ()) -> Iterator[None]:
        """Close the run however the block ends: Ctrl-C -> ``incomplete``, error -> ``failed``.

        On a normal exit the run is left for the caller to finish (with its own summary); the
        exception is always re-raised. The summary is computed from what was stored.
        """
        from inferlca.stats import summarize

        def close(status: str, error: str) -> None:
            run = self.get_run(run_id)
            reps = run.repetitions
            summary = summarize([r.metrics for r in reps], [r.impact for r in reps],
                                measured=run.measured, notes=notes)
            self.finish_run(run_id, status, summary, error=error)

        try:
            yield
        except KeyboardInterrupt:
            close("incomplete", "interrupted by the user (Ctrl-C)")
            raise
        except BaseException as exc:
            close("failed", f"{type(exc).__name__}: {exc}")
            raise

    def close_dead_runs(self) -> list[str]:
        """Mark ``incomplete`` (with a summary of what was stored) every run still ``running``
        whose writing process is gone; returns their ids. Runs of other hosts are left alone."""
        closed = []
        for run in self.list_runs():
            if run.stored_status == "running" and run.status == "incomplete":
                self.finish_run(run.run_id, "incomplete", self.summarize_run(run.run_id),
                                error=run.status_note)
                closed.append(run.run_id)
        return closed

    def delete_run(self, run_id: str) -> str:
        """Delete a run and everything stored with it; returns the full id deleted."""
        rid = self._resolve_id(run_id)
        with self._write(f"delete run {rid}") as c:
            c.execute("DELETE FROM runs WHERE run_id = ?", (rid,))
        return rid

    # --- reading ------------------------------------------------------------------------------

    @reading
    def _resolve_id(self, prefix: str) -> str:
        return resolve_id(self._conn, prefix)

    @reading
    def list_runs(self, workload: str | None = None, device: str | None = None,
                  scenario: str | None = None, kind: str | None = None, status: str | None = None,
                  label: str | None = None, limit: int | None = None,
                  run_ids: Sequence[str] | None = None) -> list[RunRecord]:
        """Runs, oldest first, with their repetitions (not traces).

        Args:
            workload: exact workload name.
            device: catalog id, catalog alias or stored device name (case-insensitive).
            scenario: e.g. ``single-stream``.
            kind: ``measured`` or ``estimated``.
            status: ``complete``, ``incomplete``, ``failed`` or ``running``; compared with the
                status as read (a dead writer's run counts as ``incomplete``).
            label: exact label.
            limit: keep the most recent ``limit`` runs.
            run_ids: ids or prefixes of the runs to return.
        """
        if kind is not None and kind not in KINDS:
            raise UnknownNameError("run kind", kind, KINDS, hint="(accepted: measured, estimated)")
        if status is not None and status not in RUN_STATUSES:
            raise UnknownNameError("run status", status, RUN_STATUSES, hint=f"(accepted: {', '.join(RUN_STATUSES)})")
        if limit is not None and limit < 1:
            raise InvalidValueError(f"{named('limit')} must be >= 1, got {limit}")
        where, args = run_filter(workload=workload, device=device, scenario=scenario, kind=kind,
                                 label=label)
        if run_ids:
            ids = [self._resolve_id(r) for r in run_ids]
            where.append(f"run_id IN ({', '.join('?' for _ in ids)})")
            args += ids
        sql = f"SELECT {RUN_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, run_id"
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
            records = [run_record(r) for r in rows]
            if status is not None:
                records = [r for r in records if r.status == status]
            if limit is not None:
                records = records[-limit:]
            attach_repetitions(self._conn, records)
        return records

    @reading
    def get_run(self, run_id: str) -> RunRecord:
        """One run by its id or a unique prefix of it, with its repetitions."""
        with self._lock:
            rid = self._resolve_id(run_id)
            row = self._conn.execute(f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = ?",
                                     (rid,)).fetchone()
            record = run_record(row)
            attach_repetitions(self._conn, [record])
        return record

    def _check_repetition(self, run_id: str, index: int) -> str:
        return check_repetition(self._conn, self._resolve_id(run_id), index)

    @reading
    def load_trace(self, run_id: str, index: int) -> PowerTrace | None:
        """The power trace of a repetition, exactly as stored, or ``None`` when it has none."""
        with self._lock:
            rid = self._check_repetition(run_id, index)
            head = self._conn.execute(f"SELECT {TRACE_COLUMNS} FROM traces WHERE run_id = ? AND "
                                      f"idx = ?", (rid, int(index))).fetchone()
            if head is None:
                return None
            array_rows = self._conn.execute(
                "SELECT role, name, dtype, codec, data FROM trace_arrays WHERE run_id = ? AND "
                "idx = ? ORDER BY role, position", (rid, int(index))).fetchall()
        with naming(rid, index, "trace"):
            return decode_trace(head, array_rows)

    @reading
    def load_latencies(self, run_id: str, index: int) -> np.ndarray:
        """Per-query latencies in seconds of a repetition (an empty array when none were stored)."""
        with self._lock:
            rid = self._check_repetition(run_id, index)
            row = self._conn.execute("SELECT dtype, codec, n, data FROM latencies WHERE run_id = ? "
                                     "AND idx = ?", (rid, int(index))).fetchone()
        if row is None:
            return np.empty(0, dtype=np.float64)
        with naming(rid, index, "latencies"):
            return decode_array(row[0], row[1], row[2], row[3])

    @reading
    def load_series(self, run_id: str, index: int) -> dict[str, np.ndarray]:
        """The extra per-query series of a repetition, by name, in the order they were given."""
        with self._lock:
            rid = self._check_repetition(run_id, index)
            rows = self._conn.execute("SELECT name, dtype, codec, n, data FROM series WHERE "
                                      "run_id = ? AND idx = ? ORDER BY position",
                                      (rid, int(index))).fetchall()
        with naming(rid, index, "series"):
            return {name: decode_array(dtype, codec, n, blob)
                    for name, dtype, codec, n, blob in rows}

    @reading
    def impact_inputs(self) -> list[tuple[str, Any, list[float], list[float], Any]]:
        """Per complete run: id, queries, energies, durations, impact context
        (:func:`inferlca.store.reading.impact_inputs`; for a Monte Carlo over many runs)."""
        with self._lock:
            return impact_inputs(self._conn)

    @reading
    def info(self) -> dict[str, Any]:
        """Facts about the store: path, schema, size, runs by status and kind, stored arrays."""
        with self._lock:
            runs = self.list_runs()
            return store_info(self._conn, self.path, runs)

    def integrity_check(self, *, deep: bool = False) -> list[str]:
        """SQLite's integrity and foreign-key checks; with ``deep``, also every stored value and
        array decoded (:func:`inferlca.store.health.deep_check`). An empty list when sound."""
        with self._lock:
            try:
                problems = [r[0] for r in self._conn.execute("PRAGMA integrity_check")
                            if r[0] != "ok"]
                problems += [f"foreign key: {r}" for r in
                             self._conn.execute("PRAGMA foreign_key_check")]
            except sqlite3.DatabaseError as exc:
                return [f"SQLite cannot check the file: {exc}"]
            if deep and not problems:
                from inferlca.store.health import deep_check

                problems += deep_check(self)
        return problems

    def backup(self, dest: str | os.PathLike[str]) -> Path:
        """A consistent copy of this store at ``dest`` (a new file), taken with SQLite's online
        backup API: safe while other processes write the store."""
        from inferlca.store.health import backup

        with self._lock:
            return backup(self, Path(dest).expanduser())

    @reading
    def has_run(self, run_id: str) -> bool:
        """Whether a run with exactly this id is stored."""
        with self._lock:
            return self._conn.execute("SELECT 1 FROM runs WHERE run_id = ?",
                                      (run_id,)).fetchone() is not None

    @reading
    def has_repetition(self, run_id: str, index: int) -> bool:
        """Whether repetition ``index`` of the run with exactly this id is stored."""
        with self._lock:
            return self._conn.execute("SELECT 1 FROM repetitions WHERE run_id = ? AND idx = ?",
                                      (run_id, int(index))).fetchone() is not None

    # --- merging ------------------------------------------------------------------------------

    def merge(self, other: str | os.PathLike[str] | Store) -> MergeResult:
        """Copy into this store the runs of another store that it lacks (keyed by run id).

        A run already here is skipped, unless the other copy is further along (e.g. ``complete``
        in the other store, ``running`` or ``incomplete`` here, or more repetitions): then it
        replaces this one. Merging the same store twice changes nothing the second time. The
        other store is only read; an older schema is migrated in memory, not on disk.
        """
        src = other if isinstance(other, Store) else Store.open_readonly(other)
        try:
            check_not_itself(self.path, src.path)
            result = MergeResult(source=str(src.path) if src.path else ":memory:")
            for run in src.list_runs():
                present = self.has_run(run.run_id)
                if present and not further_along(run, self.get_run(run.run_id)):
                    result.skipped.append(run.run_id)
                    continue
                with self._write(f"merge run {run.run_id}") as c:
                    copy_run(c, src._conn, run.run_id, replace=present)
                (result.updated if present else result.added).append(run.run_id)
            return result
        finally:
            if src is not other:
                src.close()


class ReadOnlyStore(Store):
    """A results store open for reading only (:meth:`Store.open_readonly`): every read method of
    :class:`Store`; a write is refused with a :class:`StoreError` naming the file."""

    @contextlib.contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        raise StoreError(f"the results store {self.path} was opened read-only; cannot {what}")
        yield self._conn  # pragma: no cover - never reached: makes this a generator
