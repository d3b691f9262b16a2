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

from inferlca.errors import InvalidValueError
from inferlca.store.arrays import decode as decode_array
from inferlca.store.arrays import encode as encode_array
from inferlca.store.owner import status_as_read
from inferlca.store.records import RepetitionRecord, RunRecord
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
    channels: dict[str, np.ndarray] = {}
    counters: dict[str, np.ndarray] = {}
    for role, name, dtype, codec, blob in array_rows:
        (channels if role == "channel" else counters)[name] = decode_array(dtype, codec, n, blob)
    header = {"meter": meter, "primary": primary, "estimated": bool(estimated),
              "period_requested_s": period, "marks": loads(marks), "gaps": loads(gaps),
              "meta": loads(meta)}
    return trace_from_parts(header, decode_array(t_dtype, t_codec, n, t_blob), channels, counters)


def run_record(row: Sequence[Any]) -> RunRecord:
    """A :class:`RunRecord` (without repetitions) from a ``runs`` row (:data:`RUN_COLUMNS`)."""
    (run_id, created_at, finished_at, status, kind, estimated, workload, scenario, backend,
     queries, device_id, device_name, meter, label, spec_json, env_json, summary_json, error,
     pid, hostname, proc_start) = row
    effective, note = status_as_read(status, pid, hostname, proc_start)
    return RunRecord(
        run_id=run_id, created_at=created_at, finished_at=finished_at, status=effective,
        stored_status=status, kind=kind, estimated=bool(estimated), workload=workload,
        scenario=scenario, backend=backend, queries=queries, device_id=device_id,
        device_name=device_name, meter=meter, label=label, spec=loads(spec_json) or {},
        environment=loads(env_json) or {}, summary=loads(summary_json), error=error,
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
            by_id[rid].repetitions.append(RepetitionRecord(
                index=idx, status=st, created_at=created, metrics=loads(m_json) or {},
                impact=loads(i_json), loadgen=loads(lg_json),
                has_trace=n_samples is not None, trace_samples=int(n_samples or 0),
                n_latencies=int(n_lat or 0), series=series.get((rid, idx), [])))
