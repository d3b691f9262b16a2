"""How runs, repetitions and traces are laid out in the store's rows, and read back from them.

A power trace is taken apart and put together by :func:`inferlca.traces.io.trace_parts` and
:func:`inferlca.traces.io.trace_from_parts` (the one place for every stored form of a trace); here
its columns become BLOBs (:mod:`inferlca.store.arrays`) and its header JSON columns.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from inferlca.errors import InvalidValueError, StoreError
from inferlca.store.arrays import decode as decode_array
from inferlca.store.arrays import encode as encode_array
from inferlca.store.owner import status_as_read
from inferlca.store.records import (
    KINDS,
    REPETITION_STATUSES,
    RUN_STATUSES,
    RepetitionRecord,
    RunRecord,
)
from inferlca.traces.io import trace_from_parts, trace_parts
from inferlca.traces.trace import PowerTrace

#: The ``runs`` columns :func:`run_record` reads, in its order.
RUN_COLUMNS = ("run_id, created_at, finished_at, status, kind, estimated, workload, scenario, "
               "backend, queries, device_id, device_name, meter, label, spec_json, "
               "environment_json, summary_json, error, pid, hostname, proc_start")

#: The ``traces`` columns of :func:`encode_trace`'s head and :func:`decode_trace`, in order.
TRACE_COLUMNS = ("meter, primary_channel, estimated, period_requested_s, n_samples, t_dtype, "
                 "t_codec, t_s, marks_json, gaps_json, meta_json")


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


def dumps(obj: Any) -> str:
    """Compact JSON of a stored column (numpy numbers, paths and ``to_dict`` objects allowed)."""
    return json.dumps(obj, default=_json_default, separators=(",", ":"))


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def damaged(run_id: Any, what: str, why: str) -> StoreError:
    """The error for a stored value that cannot be read back: names the run and the value."""
    return StoreError(f"run {str(run_id)[:12]} in the results store is damaged: {what} {why}; "
                      f"`inferlca store repair` recovers what can be read")


def read_json(run_id: Any, column: str, text: Any, kind: type | tuple[type, ...],
              optional: bool = True) -> Any:
    """A stored JSON column, checked: valid JSON of the expected type (``None`` when allowed)."""
    if text is None:
        if optional:
            return None
        raise damaged(run_id, column, "is missing")
    if not isinstance(text, (str, bytes)):
        raise damaged(run_id, column, f"holds a {type(text).__name__}, not JSON text")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise damaged(run_id, column, f"is not valid JSON ({str(exc)[:80]})") from None
    if value is None and optional:
        return None
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise damaged(run_id, column, f"holds a {type(value).__name__} where a {names} is expected")
    return value


def clean_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """Metrics as stored: floats by name; ``None`` (not applicable) dropped, ``NaN`` kept."""
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


def encode_trace(trace: PowerTrace) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """A trace as the values of its ``traces`` row (:data:`TRACE_COLUMNS`) and its
    ``trace_arrays`` rows ``(role, name, position, dtype, codec, data)``."""
    parts = trace_parts(trace)
    rows: list[tuple[Any, ...]] = []
    for role, group in (("channel", parts.channels), ("counter", parts.counters)):
        for pos, (name, values) in enumerate(group.items()):
            dtype, codec, _, blob = encode_array(values)
            rows.append((role, name, pos, dtype, codec, blob))
    t_dtype, t_codec, n, t_blob = encode_array(parts.t_s)
    h = parts.header
    head = (h["meter"], h["primary"], int(h["estimated"]), h["period_requested_s"], n, t_dtype,
            t_codec, t_blob, dumps(h["marks"]), dumps(h["gaps"]), dumps(h["meta"]))
    return head, rows


def decode_trace(head: Sequence[Any], array_rows: Sequence[Sequence[Any]]) -> PowerTrace:
    """The trace of a ``traces`` row (:data:`TRACE_COLUMNS`) and its ``trace_arrays`` rows
    ``(role, name, dtype, codec, data)`` in stored order."""
    meter, primary, estimated, period, n, t_dtype, t_codec, t_blob, marks, gaps, meta = head
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise StoreError(f"a stored trace is damaged: its sample count is {n!r}")
    for v in (t_blob, *(r[4] for r in array_rows)):
        if not isinstance(v, bytes):
            raise StoreError(f"a stored trace is damaged: an array holds a {type(v).__name__}")
    channels: dict[str, np.ndarray] = {}
    counters: dict[str, np.ndarray] = {}
    for role, name, dtype, codec, blob in array_rows:
        (channels if role == "channel" else counters)[name] = decode_array(dtype, codec, n, blob)
    header = {"meter": meter, "primary": primary, "estimated": bool(estimated),
              "period_requested_s": period,
              "marks": read_json("?", "trace marks", marks, list, optional=False),
              "gaps": read_json("?", "trace gaps", gaps, list, optional=False),
              "meta": read_json("?", "trace meta", meta, dict, optional=False)}
    return trace_from_parts(header, decode_array(t_dtype, t_codec, n, t_blob), channels, counters)


def run_record(row: Sequence[Any]) -> RunRecord:
    """A :class:`RunRecord` (without repetitions) from a ``runs`` row (:data:`RUN_COLUMNS`)."""
    (run_id, created_at, finished_at, status, kind, estimated, workload, scenario, backend,
     queries, device_id, device_name, meter, label, spec_json, env_json, summary_json, error,
     pid, hostname, proc_start) = row
    if not isinstance(run_id, str) or not run_id:
        raise damaged(run_id, "its id", "is not text")
    if status not in RUN_STATUSES:
        raise damaged(run_id, "its status", f"is {status!r} (known: {', '.join(RUN_STATUSES)})")
    if kind not in KINDS:
        raise damaged(run_id, "its kind", f"is {kind!r} (known: {', '.join(KINDS)})")
    for column, v in (("created_at", created_at), ("finished_at", finished_at), ("label", label),
                      ("workload", workload), ("device_id", device_id), ("device_name", device_name),
                      ("meter", meter), ("error", error), ("scenario", scenario), ("backend", backend)):
        if v is not None and not isinstance(v, str):
            raise damaged(run_id, column, f"holds a {type(v).__name__}, not text")
    if queries is not None and (isinstance(queries, bool) or not isinstance(queries, int)):
        raise damaged(run_id, "queries", f"is {queries!r}, not an integer")
    if pid is not None and not isinstance(pid, int):
        pid = None  # an owner that cannot be read: treated as gone
    spec = read_json(run_id, "spec_json", spec_json, dict)
    env = read_json(run_id, "environment_json", env_json, dict)
    summary = read_json(run_id, "summary_json", summary_json, dict)
    effective, note = status_as_read(status, pid, hostname, proc_start)
    return RunRecord(
        run_id=run_id, created_at=created_at, finished_at=finished_at, status=effective,
        stored_status=status, kind=kind, estimated=bool(estimated), workload=workload,
        scenario=scenario, backend=backend, queries=queries, device_id=device_id,
        device_name=device_name, meter=meter, label=label, spec=spec or {},
        environment=env or {}, summary=summary, error=error,
        pid=pid, hostname=hostname, status_note=note)


def run_filter(**equal: str | None) -> tuple[list[str], list[Any]]:
    """SQL conditions and their arguments selecting runs whose columns equal the values given
    (``None`` = any). ``device`` matches the stored id or name in any case, and the catalog id of
    an alias (``H100``, ``Orin``)."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in equal.items():
        if value is None:
            continue
        if column != "device":
            where.append(f"{column} = ?")
            args.append(value)
            continue
        names = [value]
        known_id = catalog_id(value)
        if known_id is not None:
            names.append(known_id)
        alternatives = " OR ".join("lower(device_id) = lower(?) OR lower(device_name) = lower(?)"
                                   for _ in names)
        where.append(f"({alternatives})")
        args += [n for name in names for n in (name, name)]
    return where, args


def catalog_id(name: str) -> str | None:
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


def attach_repetitions(conn: sqlite3.Connection, records: list[RunRecord]) -> None:
    """Read the repetitions (not their arrays) of runs into their records."""
    if not records:
        return
    by_id = {r.run_id: r for r in records}
    c = conn
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
            if isinstance(idx, bool) or not isinstance(idx, int):
                raise damaged(rid, "a repetition number", f"is {idx!r}, not an integer")
            if st not in REPETITION_STATUSES:
                raise damaged(rid, f"the status of repetition {idx}",
                              f"is {st!r} (known: {', '.join(REPETITION_STATUSES)})")
            metrics = read_json(rid, f"the metrics of repetition {idx}", m_json, dict) or {}
            if not all(isinstance(v, (int, float)) and not isinstance(v, bool) or v is None
                       for v in metrics.values()):
                raise damaged(rid, f"the metrics of repetition {idx}", "hold a value that is "
                              "not a number")
            by_id[rid].repetitions.append(RepetitionRecord(
                index=idx, status=st, created_at=created, metrics=metrics,
                impact=read_json(rid, f"the impact of repetition {idx}", i_json, dict),
                loadgen=read_json(rid, f"the LoadGen results of repetition {idx}", lg_json, dict),
                has_trace=n_samples is not None, trace_samples=int(n_samples or 0),
                n_latencies=int(n_lat or 0), series=series.get((rid, idx), [])))
