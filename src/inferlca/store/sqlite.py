"""The results store: one SQLite file (standard library ``sqlite3``) holding every run.

Layout (schema version :data:`SCHEMA_VERSION`; the ``schema_version`` table lists the migrations
applied)::

    runs          one row per run: spec (JSON) and its main fields as columns for filtering,
                  device, meter, kind (measured|estimated), status, summary (JSON), owner pid/host
    repetitions   (run_id, idx): metrics, impact and LoadGen results (JSON), status
    traces        (run_id, idx): timestamps (BLOB), marks, gaps, meta, meter, primary channel
    trace_arrays  (run_id, idx, role, name): one power channel or energy counter (BLOB)
    latencies     (run_id, idx): per-query latencies in seconds (BLOB)
    series        (run_id, idx, name): extra per-query series (e.g. time to first token) (BLOB)

Arrays are stored losslessly and compactly (:mod:`inferlca.store.arrays`).

Safety:

* Every write call is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): a repetition is stored
  with its trace, latencies and series, or not at all, even when the process is killed with
  SIGKILL in the middle (SQLite's write-ahead log discards the unfinished transaction).
* The file runs in WAL mode with a busy timeout, so several processes (a campaign's workers, a
  report reading while a run writes) can share one store.
* A run row records the pid, host and process start time of its writer. A run still marked
  ``running`` whose writer is gone reads back as ``incomplete`` (see :class:`RunRecord`).

Schema changes are migrations: functions appended to :data:`MIGRATIONS`, applied in order, each
in its own transaction, when a store is opened. A store written by a newer inferlca is refused
with a clear message instead of being damaged.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import socket
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inferlca.errors import (
    InputFileError,
    InvalidValueError,
    StoreError,
    UnknownNameError,
    UsageError,
    named,
)
from inferlca.store import arrays
from inferlca.store.records import (
    KINDS,
    REPETITION_STATUSES,
    RUN_STATUSES,
    RepetitionRecord,
    RunRecord,
)
from inferlca.traces.trace import Gap, Mark, PowerTrace

ENV_VAR = "INFERLCA_STORE"
DEFAULT_FILENAME = "inferlca.db"
BUSY_TIMEOUT_MS = 30_000


def default_store_path() -> Path:
    """``$INFERLCA_STORE`` when set, else ``./inferlca.db`` in the working directory."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path.cwd() / DEFAULT_FILENAME


def resolve_store_path(path: str | os.PathLike[str] | None) -> Path:
    """The store path a command should use: the one given, else :func:`default_store_path`."""
    if path is None or str(path) == "":
        return default_store_path()
    return Path(path).expanduser()


# --- migrations -------------------------------------------------------------------------------

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

_TABLES = ("runs", "repetitions", "traces", "trace_arrays", "latencies", "series")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    if isinstance(o, (set, frozenset, tuple)):
        return list(o)
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    return str(o)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=_json_default, separators=(",", ":"))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _process_start(pid: int) -> str | None:
    """The kernel's start time of a process (clock ticks since boot), to tell pid reuse apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else None


def _process_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = stat[stat.rfind(")") + 2:].split()
    return rest[0] if rest else None


def writer_alive(pid: int | None, hostname: str | None, proc_start: str | None) -> bool | None:
    """Whether the process that wrote a run still lives: ``True``, ``False``, or ``None`` (unknown:
    another host, or no owner recorded)."""
    if pid is None or hostname is None or hostname != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    except OSError:
        return None
    if _process_state(pid) in ("Z", "X"):
        return False  # a zombie: dead, waiting for its parent to collect it
    if proc_start is not None:
        now = _process_start(pid)
        if now is not None and now != proc_start:
            return False  # the pid was reused by another process
    return True


def _catalog_id(name: str) -> str | None:
    """The device catalog's id for a name or alias, when the catalog knows it."""
    try:
        from inferlca.hardware.catalog import get_catalog
    except ImportError:  # pragma: no cover - the hardware layer ships with inferlca
        return None
    try:
        device = get_catalog().find(name)
    except Exception:  # noqa: BLE001 - a broken catalog must not stop reading results
        return None
    return None if device is None else str(device.id)


def _metrics_clean(metrics: Mapping[str, Any]) -> dict[str, float]:
    if not isinstance(metrics, Mapping):
        raise InvalidValueError(f"metrics must be a dict of name -> number, got {type(metrics).__name__}")
    out: dict[str, float] = {}
    for k, v in metrics.items():
        if v is None:
            continue  # not applicable
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise InvalidValueError(f"metric {k!r} must be a number, got {v!r}")
        out[str(k)] = float(v)
    return out


class StoreWriteError(StoreError):
    """SQLite refused a write (disk full, file turned read-only, locked too long, I/O error)."""


@dataclass
class MergeResult:
    """What ``Store.merge`` did: run ids added, replaced by a more complete copy, or skipped."""

    source: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "added": self.added, "updated": self.updated,
                "skipped": self.skipped}


_STATUS_RANK = {"running": 0, "failed": 1, "incomplete": 2, "complete": 3}


class Store:
    """A results store on one SQLite file. Use :meth:`open`; a context manager.

    All write methods run in a single transaction each; a failure inside rolls everything back.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path | None, readonly: bool) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self._lock = threading.RLock()

    # --- opening ------------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, readonly: bool = False) -> Store:
        """Open (creating and migrating if needed) the store at ``path``.

        Args:
            path: the SQLite file; ``None`` means ``$INFERLCA_STORE`` or ``./inferlca.db``.
            readonly: open without writing (the file must exist). An older schema is then
                migrated in a private in-memory copy; the file is left untouched.

        Raises:
            StoreError: the file cannot be created or written, is not an inferlca store, or was
                written by a newer inferlca.
        """
        p = resolve_store_path(path)
        if p.is_dir():
            raise StoreError(f"cannot use {p} as the results store: it is a directory; "
                             f"give a file path such as {p / DEFAULT_FILENAME}")
        if readonly:
            if not p.exists():
                raise StoreError(f"no results store at {p}; run `inferlca run` first, or give "
                                 f"{named('store')} PATH (or set {ENV_VAR})")
            try:
                conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True,
                                       isolation_level=None, check_same_thread=False,
                                       timeout=BUSY_TIMEOUT_MS / 1000)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot open the results store {p}: {exc}") from None
            store = cls(conn, p, readonly=True)
            try:
                store._configure()
                version = store._check_version()
                if version < SCHEMA_VERSION:
                    mem = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
                    conn.backup(mem)
                    conn.close()
                    store._conn = mem
                    store._configure()
                    store._migrate()
            except sqlite3.DatabaseError as exc:
                store.close()
                if isinstance(exc, sqlite3.OperationalError) and "not a database" not in str(exc):
                    raise StoreError(f"cannot read the results store {p}: {exc}") from None
                raise StoreError(f"{p} is not an inferlca results store ({exc})") from None
            except BaseException:
                store.close()
                raise
            return store

        parent = p.parent
        if p.exists() and not p.is_file():
            raise StoreError(f"cannot use {p} as the results store: it is not a regular file; "
                             f"give a file path such as ./{DEFAULT_FILENAME}")
        if parent.exists() and not parent.is_dir():
            raise StoreError(f"cannot create the results store at {p}: {parent} is a file, not a "
                             f"folder; choose a writable {named('store')} PATH")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the results store at {p}: the folder {parent} cannot "
                             f"be created ({exc.strerror or exc}); choose a writable {named('store')} PATH") from None
        if not parent.is_dir():
            raise StoreError(f"cannot create the results store at {p}: {parent} is not a folder")
        if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
            raise StoreError(f"cannot write the results store at {p}: permission denied; "
                             f"choose a writable {named('store')} PATH (or set {ENV_VAR})")
        try:
            conn = sqlite3.connect(str(p), isolation_level=None, check_same_thread=False,
                                   timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create the results store at {p}: {exc}; "
                             f"choose a writable {named('store')} PATH") from None
        store = cls(conn, p, readonly=False)
        try:
            store._initialize()
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
    def memory(cls) -> Store:
        """A throw-away store in memory (tests, previews)."""
        conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        store = cls(conn, None, readonly=False)
        store._configure()
        store._migrate()
        return store

    def _initialize(self) -> None:
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
                self._configure()
                self._check_version()
                self._migrate()
                return
            except sqlite3.OperationalError as exc:
                text = str(exc).lower()
                if ("locked" not in text and "busy" not in text) or time.monotonic() > deadline:
                    raise
                if self._conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                time.sleep(random.uniform(0.01, 0.1))

    def _configure(self) -> None:
        c = self._conn
        c.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        c.execute("PRAGMA foreign_keys = ON")
        if not self.readonly and self.path is not None:
            mode = c.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":  # e.g. a file system without shared memory
                c.execute("PRAGMA journal_mode = DELETE")
            c.execute("PRAGMA synchronous = FULL")

    def _tables(self) -> set[str]:
        rows = self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        return {r[0] for r in rows}

    def _check_version(self) -> int:
        """The file's schema version (0 = empty file); refuse foreign or newer files."""
        tables = self._tables()
        if "schema_version" not in tables:
            if tables:
                raise StoreError(f"{self.path} is an SQLite file but not an inferlca results store "
                                 f"(it has tables {', '.join(sorted(tables)[:5])}); give another {named('store')} PATH")
            return 0
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer inferlca (store schema "
                             f"v{version}; this version reads up to v{SCHEMA_VERSION}); upgrade inferlca")
        return version

    @property
    def schema_version(self) -> int:
        row = self._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _migrate(self, target: int = SCHEMA_VERSION) -> list[int]:
        """Apply the missing migrations up to ``target``, each in its own transaction."""
        applied: list[int] = []
        with self._lock:
            while True:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.execute(
                        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
                        "description TEXT NOT NULL, applied_at TEXT NOT NULL)")
                    current = self.schema_version  # re-read inside the lock: another process may have migrated
                    if current >= target:
                        self._conn.execute("COMMIT")
                        return applied
                    description, step = MIGRATIONS[current]
                    step(self._conn)
                    self._conn.execute("INSERT INTO schema_version VALUES (?, ?, ?)",
                                       (current + 1, description, _now()))
                    self._conn.execute("COMMIT")
                    applied.append(current + 1)
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("ROLLBACK")
                    raise

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def __enter__(self) -> Store:  # noqa: PYI034 - Store is not subclassed
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self.path) if self.path else ':memory:'!r})"

    # --- transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise StoreError(f"the results store {self.path} was opened read-only; cannot {what}")
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
        queries = spec_d.get("queries")
        with self._write("record a new run") as c:
            try:
                c.execute(
                    "INSERT INTO runs (run_id, created_at, status, kind, estimated, workload, "
                    "scenario, backend, queries, device_id, device_name, meter, label, spec_json, "
                    "environment_json, pid, hostname, proc_start) "
                    "VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (rid, _now(), kind, int(bool(estimated)), spec_d.get("workload"),
                     spec_d.get("scenario"), spec_d.get("backend"),
                     int(queries) if isinstance(queries, (int, float)) else None,
                     device_id, device_name, meter, label, _dumps(spec_d),
                     _dumps(dict(environment or {})), os.getpid(), socket.gethostname(),
                     _process_start(os.getpid())))
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
        clean = _metrics_clean(metrics)
        # encode outside the transaction: the lock is held only for the inserts
        trace_rows = self._encode_trace(trace) if trace is not None else None
        lat = arrays.encode(np.asarray(latencies_s)) if latencies_s is not None else None
        series = [(name, pos, *arrays.encode(values))
                  for pos, (name, values) in enumerate((extra_series or {}).items())]
        try:
            self._insert_repetition(run_id, index, status, clean, impact, loadgen, trace_rows, lat,
                                    series)
        except StoreWriteError as exc:
            # nothing measured is lost: keep the repetition in a file next to the store
            saved = self._save_unsaved(run_id, index, status=status, metrics=clean, impact=impact,
                                       trace=trace, latencies_s=latencies_s, loadgen=loadgen,
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
                          (run_id, index, _now(), _dumps(clean),
                           None if impact is None else _dumps(impact),
                           None if loadgen is None else _dumps(loadgen), status))
            except sqlite3.IntegrityError:
                raise StoreError(f"repetition {index} of run {run_id} is already stored") from None
            if trace_rows is not None:
                head, channel_rows = trace_rows
                c.execute("INSERT INTO traces (run_id, idx, meter, primary_channel, estimated, "
                          "period_requested_s, n_samples, t_dtype, t_codec, t_s, marks_json, "
                          "gaps_json, meta_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          (run_id, index, *head))
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
        if self.path is not None:
            return Path(str(self.path) + ".unsaved")
        import tempfile

        return Path(tempfile.gettempdir()) / "inferlca.unsaved"

    def _save_unsaved(self, run_id: str, index: int, **rep: Any) -> Path | None:
        """Write one repetition as a self-contained JSON file; return its path (None if even
        that failed). Floats are written exactly (``repr``), NaN gaps as ``NaN``."""
        import tempfile

        trace = rep.pop("trace")
        doc: dict[str, Any] = {"format": "inferlca-unsaved-repetition", "version": 1,
                               "run_id": run_id, "index": index, **rep}
        with contextlib.suppress(Exception):
            doc["run"] = self.get_run(run_id).to_dict(repetitions=False)
        if trace is not None:
            doc["trace"] = {
                "t_s": np.asarray(trace.t_s, dtype=np.float64).tolist(),
                "channels": {k: np.asarray(v, dtype=np.float64).tolist() for k, v in trace.channels.items()},
                "counters": {k: np.asarray(v, dtype=np.float64).tolist() for k, v in trace.counters.items()},
                "marks": [[float(m[0]), str(m[1])] for m in trace.marks],
                "gaps": [list(g) for g in trace.gaps], "primary": trace.primary,
                "meter": trace.meter, "estimated": bool(trace.estimated),
                "period_requested_s": trace.period_requested_s, "meta": trace.meta,
            }
        if doc.get("latencies_s") is not None:
            doc["latencies_s"] = np.asarray(doc["latencies_s"], dtype=np.float64).tolist()
        if doc.get("extra_series"):
            doc["extra_series"] = {k: np.asarray(v, dtype=np.float64).tolist()
                                   for k, v in doc["extra_series"].items()}
        text = json.dumps(doc, default=_json_default)
        for folder in (self.unsaved_dir(), Path(tempfile.gettempdir()) / "inferlca.unsaved"):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                target = folder / f"{run_id}-rep{index}.json"
                tmp = target.with_suffix(".json.part")
                tmp.write_text(text)
                os.replace(tmp, target)  # never a half-written file under the final name
                return target
            except OSError:
                continue
        return None

    def import_unsaved(self, folder: str | os.PathLike[str]) -> list[tuple[str, int]]:
        """Store the repetitions saved by a failed write (see ``unsaved_dir``); each file is
        removed once its repetition is in the store. Returns ``[(run_id, index)]`` imported."""
        folder = Path(folder)
        if not folder.is_dir():
            raise UsageError(f"{folder} is not a folder of unsaved repetitions")
        done: list[tuple[str, int]] = []
        for path in sorted(folder.glob("*-rep*.json")):
            try:
                doc = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise InputFileError(path, f"not a saved repetition ({exc})") from None
            if doc.get("format") != "inferlca-unsaved-repetition":
                raise InputFileError(path, "not a saved repetition (no inferlca-unsaved-repetition format)")
            run_id, index = str(doc["run_id"]), int(doc["index"])
            exists = self._conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if exists is None:
                run = doc.get("run") or {}
                self.create_run(run.get("spec") or {}, kind=run.get("kind", "measured"),
                                device_id=run.get("device_id"), device_name=run.get("device_name"),
                                meter=run.get("meter"), estimated=bool(run.get("estimated")),
                                environment=run.get("environment") or {}, label=run.get("label"),
                                run_id=run_id)
            trace = None
            if doc.get("trace"):
                t = doc["trace"]
                trace = PowerTrace(
                    t_s=np.array(t["t_s"], dtype=np.float64),
                    channels={k: np.array(v, dtype=np.float64) for k, v in t["channels"].items()},
                    primary=t["primary"], meter=t["meter"], estimated=bool(t["estimated"]),
                    counters={k: np.array(v, dtype=np.float64) for k, v in t["counters"].items()},
                    marks=[Mark(float(a), str(b)) for a, b in t["marks"]],
                    gaps=[Gap(float(g[0]), float(g[1]), str(g[2]), g[3] if len(g) > 3 else None)
                          for g in t["gaps"]],
                    period_requested_s=t["period_requested_s"], meta=t["meta"] or {})
            already = self._conn.execute("SELECT 1 FROM repetitions WHERE run_id = ? AND idx = ?",
                                         (run_id, index)).fetchone()
            if already is None:
                self.add_repetition(run_id, index, metrics=doc["metrics"], impact=doc.get("impact"),
                                    trace=trace, latencies_s=doc.get("latencies_s"),
                                    loadgen=doc.get("loadgen"), extra_series=doc.get("extra_series"),
                                    status=doc.get("status"))
                done.append((run_id, index))
            path.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty
        return done

    @staticmethod
    def _encode_trace(trace: PowerTrace) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        t = np.asarray(trace.t_s, dtype=np.float64).ravel()
        n = int(t.size)
        rows: list[tuple[Any, ...]] = []
        for role, group in (("channel", trace.channels), ("counter", trace.counters)):
            for pos, (name, values) in enumerate(group.items()):
                a = np.asarray(values, dtype=np.float64).ravel()
                if a.size != n:
                    raise InvalidValueError(f"trace {role} {name!r} has {a.size} values for {n} "
                                            f"timestamps")
                dtype, codec, _, blob = arrays.encode(a)
                rows.append((role, str(name), pos, dtype, codec, blob))
        t_dtype, t_codec, _, t_blob = arrays.encode(t)
        marks = [[float(m[0]), str(m[1])] for m in trace.marks]
        gaps = [[float(g[0]), float(g[1]), str(g[2]), None if len(g) < 4 or g[3] is None else str(g[3])]
                for g in trace.gaps]
        head = (str(trace.meter), str(trace.primary), int(bool(trace.estimated)),
                None if trace.period_requested_s is None else float(trace.period_requested_s),
                n, t_dtype, t_codec, t_blob, _dumps(marks), _dumps(gaps), _dumps(trace.meta or {}))
        return head, rows

    def finish_run(self, run_id: str, status: str = "complete", summary: Mapping[str, Any] | None = None,
                   error: str | None = None) -> None:
        """Close a run: final status, summary and error text.

        Args:
            run_id: the run.
            status: ``complete``, ``incomplete`` (interrupted, e.g. Ctrl-C) or ``failed``.
            summary: the run summary (``inferlca.stats.summarize``); ``None`` computes it from
                the stored repetitions.
            error: what went wrong, for ``failed`` and ``incomplete`` runs.
        """
        if status not in RUN_STATUSES or status == "running":
            raise UnknownNameError("final run status", status, ("complete", "incomplete", "failed"), hint="(accepted: complete, incomplete, failed)")
        if summary is None:
            summary = self.summarize_run(run_id)
        with self._write(f"finish run {run_id}") as c:
            cur = c.execute("UPDATE runs SET status = ?, summary_json = ?, error = ?, finished_at = ? "
                            "WHERE run_id = ?", (status, _dumps(summary), error, _now(), run_id))
            if cur.rowcount == 0:
                raise UnknownNameError("run", run_id)

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

    def _resolve_id(self, prefix: str) -> str:
        raw = str(prefix).strip()
        text = raw.lower()
        if not text:
            raise InvalidValueError("give a run id (or the start of one)")
        for candidate in dict.fromkeys((raw, text)):  # ids given by a campaign may have capitals
            exact = self._conn.execute("SELECT run_id FROM runs WHERE run_id = ?",
                                       (candidate,)).fetchone()
            if exact:
                return str(exact[0])
        like = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._conn.execute("SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' "
                                  "ORDER BY created_at DESC LIMIT 6", (like,)).fetchall()
        if len(rows) == 1:
            return str(rows[0][0])
        if not rows:
            recent = [r[0][:8] for r in self._conn.execute(
                "SELECT run_id FROM runs ORDER BY created_at DESC LIMIT 50").fetchall()]
            raise UnknownNameError("run id", text, recent,
                                   hint="(list the runs with `inferlca results`)")
        shown = ", ".join(str(r[0])[:12] for r in rows[:5])
        raise UsageError(f"run id prefix {text!r} is ambiguous: it matches {shown}"
                         f"{', ...' if len(rows) > 5 else ''}; give more characters")

    _RUN_COLUMNS = ("run_id, created_at, finished_at, status, kind, estimated, workload, scenario, "
                    "backend, queries, device_id, device_name, meter, label, spec_json, "
                    "environment_json, summary_json, error, pid, hostname, proc_start")

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
            raise InvalidValueError(f"limit must be >= 1, got {limit}")
        where, args = [], []  # type: list[str], list[Any]
        if workload is not None:
            where.append("workload = ?")
            args.append(workload)
        if device is not None:
            names = [device]
            catalog_id = _catalog_id(device)
            if catalog_id is not None:
                names.append(catalog_id)  # an alias ("H100", "Orin") finds the catalog id
            alternatives = " OR ".join("lower(device_id) = lower(?) OR lower(device_name) = lower(?)"
                                       for _ in names)
            where.append(f"({alternatives})")
            args += [n for name in names for n in (name, name)]
        if scenario is not None:
            where.append("scenario = ?")
            args.append(scenario)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if label is not None:
            where.append("label = ?")
            args.append(label)
        if run_ids:
            ids = [self._resolve_id(r) for r in run_ids]
            where.append(f"run_id IN ({', '.join('?' for _ in ids)})")
            args += ids
        sql = f"SELECT {self._RUN_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, run_id"
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
            records = [self._record(r) for r in rows]
            if status is not None:
                records = [r for r in records if r.status == status]
            if limit is not None:
                records = records[-limit:]
            self._attach_repetitions(records)
        return records

    def get_run(self, run_id: str) -> RunRecord:
        """One run by its id or a unique prefix of it, with its repetitions."""
        with self._lock:
            rid = self._resolve_id(run_id)
            row = self._conn.execute(f"SELECT {self._RUN_COLUMNS} FROM runs WHERE run_id = ?",
                                     (rid,)).fetchone()
            record = self._record(row)
            self._attach_repetitions([record])
        return record

    def _record(self, row: Sequence[Any]) -> RunRecord:
        (run_id, created_at, finished_at, status, kind, estimated, workload, scenario, backend,
         queries, device_id, device_name, meter, label, spec_json, env_json, summary_json, error,
         pid, hostname, proc_start) = row
        effective, note = status, None
        if status == "running" and writer_alive(pid, hostname, proc_start) is False:
            effective = "incomplete"
            note = (f"left running by process {pid} on {hostname}, which is no longer alive; "
                    f"shown as incomplete")
        return RunRecord(
            run_id=run_id, created_at=created_at, finished_at=finished_at, status=effective,
            stored_status=status, kind=kind, estimated=bool(estimated), workload=workload,
            scenario=scenario, backend=backend, queries=queries, device_id=device_id,
            device_name=device_name, meter=meter, label=label, spec=_loads(spec_json) or {},
            environment=_loads(env_json) or {}, summary=_loads(summary_json), error=error,
            pid=pid, hostname=hostname, status_note=note)

    def _attach_repetitions(self, records: list[RunRecord]) -> None:
        if not records:
            return
        by_id = {r.run_id: r for r in records}
        c = self._conn
        ids = list(by_id)
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            reps = c.execute(
                f"SELECT r.run_id, r.idx, r.status, r.created_at, r.metrics_json, r.impact_json, "
                f"r.loadgen_json, t.n_samples, l.n FROM repetitions r "
                f"LEFT JOIN traces t ON t.run_id = r.run_id AND t.idx = r.idx "
                f"LEFT JOIN latencies l ON l.run_id = r.run_id AND l.idx = r.idx "
                f"WHERE r.run_id IN ({marks}) ORDER BY r.run_id, r.idx", chunk).fetchall()
            series: dict[tuple[str, int], list[str]] = {}
            for rid, idx, name in c.execute(
                    f"SELECT run_id, idx, name FROM series WHERE run_id IN ({marks}) "
                    f"ORDER BY run_id, idx, position", chunk):
                series.setdefault((rid, idx), []).append(name)
            for rid, idx, st, created, m_json, i_json, lg_json, n_samples, n_lat in reps:
                by_id[rid].repetitions.append(RepetitionRecord(
                    index=idx, status=st, created_at=created, metrics=_loads(m_json) or {},
                    impact=_loads(i_json), loadgen=_loads(lg_json),
                    has_trace=n_samples is not None, trace_samples=int(n_samples or 0),
                    n_latencies=int(n_lat or 0), series=series.get((rid, idx), [])))

    def _check_repetition(self, run_id: str, index: int) -> str:
        rid = self._resolve_id(run_id)
        row = self._conn.execute("SELECT 1 FROM repetitions WHERE run_id = ? AND idx = ?",
                                 (rid, int(index))).fetchone()
        if row is None:
            known = [str(r[0]) for r in self._conn.execute(
                "SELECT idx FROM repetitions WHERE run_id = ? ORDER BY idx", (rid,))]
            raise UnknownNameError(f"repetition of run {rid[:8]}", str(index), known,
                                   hint=f"(stored: {', '.join(known) or 'none'})")
        return rid

    def load_trace(self, run_id: str, index: int) -> PowerTrace | None:
        """The power trace of a repetition, exactly as stored, or ``None`` when it has none."""
        with self._lock:
            rid = self._check_repetition(run_id, index)
            head = self._conn.execute(
                "SELECT meter, primary_channel, estimated, period_requested_s, n_samples, t_dtype, "
                "t_codec, t_s, marks_json, gaps_json, meta_json FROM traces "
                "WHERE run_id = ? AND idx = ?", (rid, int(index))).fetchone()
            if head is None:
                return None
            arrays_rows = self._conn.execute(
                "SELECT role, name, dtype, codec, data FROM trace_arrays WHERE run_id = ? AND "
                "idx = ? ORDER BY role, position", (rid, int(index))).fetchall()
        meter, primary, estimated, period, n, t_dtype, t_codec, t_blob, marks, gaps, meta = head
        channels: dict[str, np.ndarray] = {}
        counters: dict[str, np.ndarray] = {}
        for role, name, dtype, codec, blob in arrays_rows:
            (channels if role == "channel" else counters)[name] = arrays.decode(dtype, codec, n, blob)
        return PowerTrace(
            t_s=arrays.decode(t_dtype, t_codec, n, t_blob), channels=channels, primary=primary,
            meter=meter, estimated=bool(estimated), counters=counters,
            marks=[Mark(float(t), str(name)) for t, name in _loads(marks)],
            gaps=[Gap(float(g[0]), float(g[1]), str(g[2]), g[3]) for g in _loads(gaps)],
            period_requested_s=period, meta=_loads(meta) or {})

    def load_latencies(self, run_id: str, index: int) -> np.ndarray:
        """Per-query latencies in seconds of a repetition (an empty array when none were stored)."""
        with self._lock:
            rid = self._check_repetition(run_id, index)
            row = self._conn.execute("SELECT dtype, codec, n, data FROM latencies WHERE run_id = ? "
                                     "AND idx = ?", (rid, int(index))).fetchone()
        if row is None:
            return np.empty(0, dtype=np.float64)
        return arrays.decode(row[0], row[1], row[2], row[3])

    def load_series(self, run_id: str, index: int) -> dict[str, np.ndarray]:
        """The extra per-query series of a repetition, by name, in the order they were given."""
        with self._lock:
            rid = self._check_repetition(run_id, index)
            rows = self._conn.execute("SELECT name, dtype, codec, n, data FROM series WHERE "
                                      "run_id = ? AND idx = ? ORDER BY position",
                                      (rid, int(index))).fetchall()
        return {name: arrays.decode(dtype, codec, n, blob) for name, dtype, codec, n, blob in rows}

    def info(self) -> dict[str, Any]:
        """Facts about the store: path, schema, size, runs by status and kind, stored arrays."""
        with self._lock:
            c = self._conn
            runs = self.list_runs()
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
        if self.path is not None and self.path.exists():
            size = self.path.stat().st_size
            wal = Path(str(self.path) + "-wal")
            if wal.exists():
                size += wal.stat().st_size
        return {
            "path": str(self.path) if self.path else ":memory:",
            "schema_version": self.schema_version,
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

    def integrity_check(self) -> list[str]:
        """SQLite's integrity and foreign-key checks; an empty list when the file is sound."""
        with self._lock:
            problems = [r[0] for r in self._conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
            problems += [f"foreign key: {r}" for r in self._conn.execute("PRAGMA foreign_key_check")]
        return problems

    # --- merging ------------------------------------------------------------------------------

    def merge(self, other: str | os.PathLike[str] | Store) -> MergeResult:
        """Copy into this store the runs of another store that it lacks (keyed by run id).

        A run already here is skipped, unless the other copy is further along (e.g. ``complete``
        in the other store, ``running`` or ``incomplete`` here, or more repetitions): then it
        replaces this one. Merging the same store twice changes nothing the second time. The
        other store is only read; an older schema is migrated in memory, not on disk.
        """
        src = other if isinstance(other, Store) else Store.open(other, readonly=True)
        if src.path is not None and self.path is not None and src.path.exists() \
                and self.path.exists() and src.path.resolve() == self.path.resolve():
            raise UsageError(f"cannot merge the store {self.path} into itself")
        result = MergeResult(source=str(src.path) if src.path else ":memory:")
        try:
            theirs = src.list_runs()
            for run in theirs:
                mine_row = self._conn.execute("SELECT status FROM runs WHERE run_id = ?",
                                              (run.run_id,)).fetchone()
                if mine_row is not None:
                    mine = self.get_run(run.run_id)
                    better = (_STATUS_RANK.get(run.status, 0), len(run.repetitions)) > \
                        (_STATUS_RANK.get(mine.status, 0), len(mine.repetitions))
                    if not better:
                        result.skipped.append(run.run_id)
                        continue
                with self._write(f"merge run {run.run_id}") as c:
                    if mine_row is not None:
                        c.execute("DELETE FROM runs WHERE run_id = ?", (run.run_id,))
                    for table in _TABLES:
                        cols = [r[1] for r in src._conn.execute(f"PRAGMA table_info({table})")]
                        col_list = ", ".join(cols)
                        rows = src._conn.execute(f"SELECT {col_list} FROM {table} WHERE run_id = ?",
                                                 (run.run_id,)).fetchall()
                        if rows:
                            c.executemany(f"INSERT INTO {table} ({col_list}) VALUES "
                                          f"({', '.join('?' for _ in cols)})", rows)
                (result.updated if mine_row is not None else result.added).append(run.run_id)
        finally:
            if src is not other:
                src.close()
        return result
