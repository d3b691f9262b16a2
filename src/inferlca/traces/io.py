"""PowerTrace files: CSV (readable, diffable) and Parquet (compact), both lossless round trips.

CSV layout::

    # inferlca-trace 1
    # {"primary": "gpu0", "meter": "nvml", "estimated": false, "period_requested_s": 0.01,
    #  "marks": [[0.0, "load"], ...], "gaps": [[1.0, 1.2, "NVML: GPU is lost", "gpu0"]], "meta": {...}}
    t_s,power_w:gpu0,energy_j:gpu0
    0.0,81.25,0.0

Power columns are ``power_w:<channel>`` (watts), counter columns ``energy_j:<channel>`` (cumulative
joules); an empty cell is a gap (``NaN``), never a zero. Floats are written with ``repr`` so they
read back bit for bit. Parquet holds the same columns and the same JSON header in the schema
metadata (key ``inferlca``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inferlca.errors import InputFileError, InvalidValueError
from inferlca.traces.trace import Gap, Mark, PowerTrace

MAGIC = "# inferlca-trace 1"
P_PREFIX = "power_w:"
E_PREFIX = "energy_j:"


def _jsonable(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


# ---- the stored form: one place that takes a trace apart and puts it back together -----------


@dataclass(frozen=True)
class TraceParts:
    """A trace taken apart for storage: a JSON-friendly header and its float64 columns.

    Every stored form of a trace (CSV, Parquet, the results store's BLOBs, the JSON of an unsaved
    repetition) is made with :func:`trace_parts` and read back with :func:`trace_from_parts`; the
    forms differ only in how they write the numbers.

    ``header`` holds ``primary``, ``meter``, ``estimated``, ``period_requested_s``, ``marks``
    (``[[t_s, name], ...]``), ``gaps`` (``[[start_s, end_s, reason, channel or None], ...]``) and
    ``meta``.
    """

    header: dict[str, Any]
    t_s: np.ndarray
    channels: dict[str, np.ndarray]
    counters: dict[str, np.ndarray]


def trace_parts(trace: PowerTrace) -> TraceParts:
    """Take a trace apart (see :class:`TraceParts`).

    Raises:
        InvalidValueError: a channel or counter whose length differs from the timestamps'.
    """
    t = np.asarray(trace.t_s, dtype=np.float64).ravel()
    groups: dict[str, dict[str, np.ndarray]] = {"channel": {}, "counter": {}}
    for role, source in (("channel", trace.channels), ("counter", trace.counters)):
        for name, values in source.items():
            a = np.asarray(values, dtype=np.float64).ravel()
            if a.size != t.size:
                raise InvalidValueError(
                    f"trace {role} {name!r} has {a.size} values for {t.size} timestamps"
                )
            groups[role][str(name)] = a
    header = {
        "primary": str(trace.primary),
        "meter": str(trace.meter),
        "estimated": bool(trace.estimated),
        "period_requested_s": None
        if trace.period_requested_s is None
        else float(trace.period_requested_s),
        "marks": [[float(m[0]), str(m[1])] for m in trace.marks],
        "gaps": [
            [float(g[0]), float(g[1]), str(g[2]), None if len(g) < 4 or g[3] is None else str(g[3])]
            for g in trace.gaps
        ],
        "meta": trace.meta or {},
    }
    return TraceParts(header, t, groups["channel"], groups["counter"])


def trace_from_parts(
    header: dict[str, Any],
    t_s: np.ndarray,
    channels: dict[str, np.ndarray],
    counters: dict[str, np.ndarray],
) -> PowerTrace:
    """Put a trace back together from the parts made by :func:`trace_parts`."""
    period = header.get("period_requested_s")
    return PowerTrace(
        t_s=t_s,
        channels=channels,
        counters=counters,
        primary=header["primary"],
        meter=header["meter"],
        estimated=bool(header.get("estimated", False)),
        marks=[Mark(float(m[0]), str(m[1])) for m in header.get("marks") or []],
        gaps=[
            Gap(float(g[0]), float(g[1]), str(g[2]), g[3] if len(g) > 3 else None)
            for g in header.get("gaps") or []
        ],
        period_requested_s=None if period is None else float(period),
        meta=header.get("meta") or {},
    )


def trace_to_json(trace: PowerTrace) -> dict[str, Any]:
    """The trace as one JSON-friendly dict: the header's keys plus ``t_s``, ``channels`` and
    ``counters`` as lists of floats (``json`` writes them exactly; ``NaN`` gaps as ``NaN``)."""
    parts = trace_parts(trace)
    return {
        **parts.header,
        "t_s": parts.t_s.tolist(),
        "channels": {k: v.tolist() for k, v in parts.channels.items()},
        "counters": {k: v.tolist() for k, v in parts.counters.items()},
    }


def trace_from_json(doc: dict[str, Any]) -> PowerTrace:
    """Read back a dict made by :func:`trace_to_json`."""
    return trace_from_parts(
        doc,
        np.array(doc["t_s"], dtype=np.float64),
        {k: np.array(v, dtype=np.float64) for k, v in (doc.get("channels") or {}).items()},
        {k: np.array(v, dtype=np.float64) for k, v in (doc.get("counters") or {}).items()},
    )


def _columns(trace: PowerTrace) -> tuple[dict[str, Any], list[tuple[str, np.ndarray]]]:
    """The header and the file columns (``t_s``, ``power_w:<ch>``..., ``energy_j:<ch>``...)."""
    parts = trace_parts(trace)
    cols = [("t_s", parts.t_s)]
    cols += [(P_PREFIX + k, v) for k, v in parts.channels.items()]
    cols += [(E_PREFIX + k, v) for k, v in parts.counters.items()]
    return parts.header, cols


def _cell(x: float) -> str:
    return "" if math.isnan(x) else repr(float(x))


def write_csv(trace: PowerTrace, path: str | os.PathLike[str]) -> Path:
    """Write a trace as CSV (see module doc); returns the path."""
    p = Path(path)
    header, cols = _columns(trace)
    buf = io.StringIO()
    buf.write(MAGIC + "\n")
    buf.write("# " + json.dumps(header, default=_jsonable, allow_nan=True) + "\n")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([name for name, _ in cols])
    arrays = [c for _, c in cols]
    for i in range(arrays[0].size):
        w.writerow([_cell(a[i]) for a in arrays])
    p.write_text(buf.getvalue())
    return p


def is_inferlca_csv(text_head: str) -> bool:
    return text_head.startswith(MAGIC)


def read_csv(path: str | os.PathLike[str]) -> PowerTrace:
    """Read a trace written by :func:`write_csv`.

    Raises:
        InputFileError: not our format, malformed header, bad number, wrong column count,
            decreasing time, or a truncated last row; with the line number.
    """
    p = Path(path)
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(p, f"cannot read: {exc}") from None
    return parse_csv(text, p)


def parse_csv(text: str, path: object = "<csv>") -> PowerTrace:
    lines = text.splitlines()
    if not lines or lines[0].strip() != MAGIC:
        raise InputFileError(
            path, f"not an inferlca trace CSV (first line must be {MAGIC!r})", line=1
        )
    if len(lines) < 3 or not lines[1].startswith("# "):
        raise InputFileError(path, "missing the JSON header line", line=2)
    try:
        header = json.loads(lines[1][2:])
        for key in ("primary", "meter"):
            header[key]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputFileError(path, f"malformed JSON header: {exc}", line=2) from None
    names = next(csv.reader([lines[2]]))
    if not names or names[0] != "t_s":
        raise InputFileError(path, "the column header must start with t_s", line=3)
    for n in names[1:]:
        if not n.startswith((P_PREFIX, E_PREFIX)):
            raise InputFileError(
                path,
                f"unknown column {n!r} (expected power_w:<channel> or energy_j:<channel>)",
                line=3,
            )
    rows: list[list[float]] = []
    for no, row in enumerate(csv.reader(lines[3:]), start=4):
        if not row:
            continue
        if len(row) != len(names):
            what = "truncated row" if len(row) < len(names) else "too many values"
            raise InputFileError(
                path, f"{what}: {len(row)} values for {len(names)} columns", line=no
            )
        try:
            vals = [float(c) if c.strip() else math.nan for c in row]
        except ValueError:
            bad = next(c for c in row if c.strip() and not _isfloat(c))
            raise InputFileError(path, f"not a number: {bad!r}", line=no) from None
        if math.isnan(vals[0]):
            raise InputFileError(path, "missing timestamp", line=no)
        if rows and vals[0] < rows[-1][0]:
            raise InputFileError(path, f"time goes backwards ({vals[0]} < {rows[-1][0]})", line=no)
        rows.append(vals)
    data = np.array(rows, dtype=float).reshape(len(rows), len(names))
    channels = {
        n[len(P_PREFIX) :]: data[:, i].copy() for i, n in enumerate(names) if n.startswith(P_PREFIX)
    }
    counters = {
        n[len(E_PREFIX) :]: data[:, i].copy() for i, n in enumerate(names) if n.startswith(E_PREFIX)
    }
    return trace_from_parts(header, data[:, 0].copy(), channels, counters)


def _isfloat(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def write_parquet(trace: PowerTrace, path: str | os.PathLike[str]) -> Path:
    """Write a trace as Parquet (same columns; header JSON in the schema metadata)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    p = Path(path)
    header, cols = _columns(trace)
    table = pa.table({name: pa.array(col, type=pa.float64()) for name, col in cols})
    meta = {b"inferlca": json.dumps(header, default=_jsonable, allow_nan=True).encode()}
    table = table.replace_schema_metadata(meta)
    pq.write_table(table, p)
    return p


def read_parquet(path: str | os.PathLike[str]) -> PowerTrace:
    """Read a trace written by :func:`write_parquet`.

    Raises:
        InputFileError: not a Parquet file, or not one written by inferlca.
    """
    import pyarrow.parquet as pq
    from pyarrow.lib import ArrowInvalid

    p = Path(path)
    try:
        table = pq.read_table(p)
    except (OSError, ArrowInvalid) as exc:
        raise InputFileError(p, f"not a readable Parquet file: {exc}") from None
    md = table.schema.metadata or {}
    if b"inferlca" not in md:
        raise InputFileError(p, "Parquet file has no inferlca trace header")
    header = json.loads(md[b"inferlca"])
    cols = {
        name: table.column(name).to_numpy(zero_copy_only=False).astype(float)
        for name in table.column_names
    }
    if "t_s" not in cols:
        raise InputFileError(p, "Parquet trace has no t_s column")
    channels = {k[len(P_PREFIX) :]: v for k, v in cols.items() if k.startswith(P_PREFIX)}
    counters = {k[len(E_PREFIX) :]: v for k, v in cols.items() if k.startswith(E_PREFIX)}
    return trace_from_parts(header, cols["t_s"], channels, counters)


def write_trace(trace: PowerTrace, path: str | os.PathLike[str]) -> Path:
    """Write by extension: ``.parquet``/``.pq`` -> Parquet, anything else -> CSV."""
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        return write_parquet(trace, p)
    return write_csv(trace, p)
