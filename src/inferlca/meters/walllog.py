"""Wall-meter (node-scope) logs people already have: Grid'5000 Kwollect exports and any timestamped
CSV of watts.

* Kwollect (the Grid'5000 metrics service, ``/metrics`` API): a JSON list of records
  ``{"timestamp", "device_id", "metric_id", "value", "labels"}`` (timestamps ISO 8601 with offset,
  or epoch seconds), or the same fields as CSV columns. The power metric is
  ``wattmetre_power_watt`` (the site wattmeters, the study's testbed) when present, else
  ``pdu_outlet_power_watt``, else ``bmc_node_power_watt``; ``metric=`` chooses another. One node
  per trace: a log of several nodes needs ``node=``.
* Generic CSV: ``time_col`` (ISO 8601 dates, or numbers in ``time_unit`` s/ms/us/ns) and
  ``power_col`` in ``power_unit`` (W, mW, kW); without ``power_unit`` the unit is read from the
  column name (``power [W]``, ``power (kW)``, ``power_mw``...), and a column without a known unit
  is refused rather than guessed.

Times must be in order (a log that goes back in time is refused with the row), power is never
invented (an empty cell is a gap).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from datetime import datetime
from typing import Any

import numpy as np

from inferlca.errors import InputFileError
from inferlca.traces.scope import scope_meta
from inferlca.traces.trace import Gap, PowerTrace

KWOLLECT_POWER = ("wattmetre_power_watt", "pdu_outlet_power_watt", "bmc_node_power_watt")
POWER_UNITS = {"w": 1.0, "mw": 1e-3, "kw": 1e3, "watt": 1.0, "watts": 1.0}
TIME_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def _time_s(v: Any, unit: float = 1.0) -> float:
    if isinstance(v, (int, float)):
        return float(v) * unit
    s = str(v).strip()
    try:
        return float(s) * unit
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise ValueError(f"not a time: {s!r} (ISO 8601, or a number of seconds)") from None


def is_kwollect(text: str) -> bool:
    head = text.lstrip()[:4000]
    return "metric_id" in head and ("device_id" in head) and (
        head.startswith(("[", "{")) or head.split("\n", 1)[0].count(",") >= 2
    )


def _kwollect_records(text: str, path: object) -> list[dict[str, Any]]:
    s = text.lstrip()
    if s.startswith(("[", "{")):
        try:
            data = json.loads(s)
        except json.JSONDecodeError as exc:
            raise InputFileError(path, f"not valid JSON: {exc.msg}", line=exc.lineno) from None
        if isinstance(data, dict):
            data = data.get("items") or data.get("data") or [data]
        if not isinstance(data, list):
            raise InputFileError(path, "Kwollect JSON must be a list of metric records")
        return [r for r in data if isinstance(r, dict)]
    return list(csv.DictReader(io.StringIO(text)))


def parse_kwollect(
    text: str, path: object = "<kwollect>", metric: str | None = None, node: str | None = None
) -> PowerTrace:
    """A Kwollect export (JSON or CSV) as a node-scope trace.

    Raises:
        InputFileError: no power metric, several nodes without ``node``, bad values, times out of
            order.
    """
    records = _kwollect_records(text, path)
    metrics = sorted({str(r.get("metric_id")) for r in records})
    if metric is None:
        metric = next((m for m in KWOLLECT_POWER if m in metrics), None)
        if metric is None:
            raise InputFileError(
                path,
                f"no power metric in this Kwollect export (metrics: {', '.join(metrics) or 'none'};"
                f" expected one of {', '.join(KWOLLECT_POWER)})",
            )
    rows = [r for r in records if r.get("metric_id") == metric]
    if not rows:
        raise InputFileError(path, f"no record of metric {metric!r} (metrics: {', '.join(metrics)})")
    devices = sorted({str(r.get("device_id")) for r in rows})
    if node is None:
        if len(devices) > 1:
            raise InputFileError(
                path, f"records of several nodes ({', '.join(devices)}): choose one with --node"
            )
        node = devices[0]
    rows = [r for r in rows if str(r.get("device_id")) == node]
    if not rows:
        raise InputFileError(path, f"no record of node {node!r} (nodes: {', '.join(devices)})")
    t: list[float] = []
    w: list[float] = []
    for i, r in enumerate(rows, start=1):
        try:
            t.append(_time_s(r.get("timestamp")))
            v = r.get("value")
            w.append(math.nan if v in (None, "") else float(v))
        except (TypeError, ValueError) as exc:
            raise InputFileError(path, f"record {i}: {exc}") from None
    trace = _trace(np.asarray(t), np.asarray(w), path, "replay:kwollect", "record")
    trace.meta.update(
        {
            "kwollect_metric": metric,
            "node": node,
            "device_name": node,
            "power_note": "Grid'5000 wattmeter readings (about one per second or faster)"
            if metric == "wattmetre_power_watt"
            else f"Kwollect metric {metric}",
        }
    )
    return trace


def _unit_from_name(col: str) -> float | None:
    m = re.search(r"[\[(]\s*(k?m?w|watts?)\s*[\])]\s*$", col.strip(), re.IGNORECASE)
    if m:
        return POWER_UNITS.get(m.group(1).lower())
    m = re.search(r"_(kw|mw|w|watts?)$", col.strip(), re.IGNORECASE)
    if m:
        return POWER_UNITS.get(m.group(1).lower())
    return None


def parse_wall_csv(
    text: str,
    path: object = "<csv>",
    time_col: str | None = None,
    power_col: str | None = None,
    power_unit: str | None = None,
    time_unit: str = "s",
) -> PowerTrace:
    """A generic timestamped CSV of watts as a node-scope trace (see the module doc).

    Raises:
        InputFileError: a missing column, an unknown unit, a bad value, times out of order.
    """
    if not time_col or not power_col:
        raise InputFileError(path, "a wall-meter CSV needs --time-col and --power-col")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    except csv.Error:
        reader = csv.DictReader(io.StringIO(text))
    cols = reader.fieldnames or []
    for c in (time_col, power_col):
        if c not in cols:
            raise InputFileError(path, f"no column {c!r} (columns: {', '.join(cols)})", line=1)
    if power_unit is not None:
        scale = POWER_UNITS.get(power_unit.strip().lower())
        if scale is None:
            raise InputFileError(
                path, f"unknown power unit {power_unit!r} (accepted: W, mW, kW)", line=1
            )
    else:
        unit = _unit_from_name(power_col)
        if unit is None:
            raise InputFileError(
                path,
                f"unknown units of column {power_col!r}: give --power-unit W, mW or kW",
                line=1,
            )
        scale = unit
    tscale = TIME_UNITS.get(time_unit.strip().lower())
    if tscale is None:
        raise InputFileError(path, f"unknown time unit {time_unit!r} (accepted: s, ms, us, ns)")
    t: list[float] = []
    w: list[float] = []
    for no, row in enumerate(reader, start=2):
        tv, pv = (row.get(time_col) or "").strip(), (row.get(power_col) or "").strip()
        if not tv and not pv:
            continue
        try:
            t.append(_time_s(tv, tscale))
        except ValueError as exc:
            raise InputFileError(path, str(exc), line=no) from None
        try:
            w.append(math.nan if pv == "" else float(pv) * scale)
        except ValueError:
            raise InputFileError(path, f"bad power value {pv!r}", line=no) from None
    trace = _trace(np.asarray(t), np.asarray(w), path, "replay:wall-csv", "row", first_line=2)
    trace.meta.update({"time_col": time_col, "power_col": power_col,
                       "power_unit_scale": scale, "device_name": None})
    return trace


def _trace(
    t: np.ndarray, w: np.ndarray, path: object, meter: str, what: str, first_line: int = 1
) -> PowerTrace:
    if t.size < 2:
        raise InputFileError(path, f"fewer than two {what}s: nothing to integrate")
    back = np.flatnonzero(np.diff(t) < 0)
    if back.size:
        i = int(back[0]) + 1
        raise InputFileError(
            path,
            f"times are not in order: {what} {i + first_line} is earlier than the one before "
            "(sort the log by time first)",
        )
    start = float(t[0])
    ts = t - start
    gaps: list[Gap] = []
    bad = np.isnan(w)
    for k in np.flatnonzero(bad).tolist():
        gaps.append(Gap(float(ts[k]), float(ts[k]), "no value in the log", "node"))
    step = float(np.median(np.diff(ts))) if ts.size > 1 else None
    return PowerTrace(
        t_s=ts,
        channels={"node": w.astype(float)},
        primary="node",
        meter=meter,
        gaps=gaps,
        period_requested_s=step,
        meta={
            "start_time": datetime.fromtimestamp(start).isoformat() if start > 1e8 else None,
            "sensor_update_s": step,
            **scope_meta({"node": "node"}, {"node": "node"}),
        },
    )
