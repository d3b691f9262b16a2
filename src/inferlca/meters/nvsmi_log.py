"""``nvidia-smi`` logs in, :class:`PowerTrace` out: ``--query-gpu`` CSV and ``dmon`` text.

* ``--query-gpu=timestamp,...,power.draw[,power.draw.instant] --format=csv[,nounits] -lms N``:
  without a ``timestamp`` column one poll per given interval (assumed 1 s otherwise), said in the
  trace meta and diagnostics; a ``noheader`` log is refused by name (its columns cannot be told
  apart); values with or without units; ``[N/A]``/``[Not Supported]`` are gaps;
  ``power.draw.instant`` is preferred when present (``power.draw`` is a ~1 s average on recent
  drivers); several GPUs (an ``index``, ``uuid`` or ``pci.bus_id`` column) become one channel
  each plus their sum ``gpus``.
* ``dmon`` (with ``-s p`` for the ``pwr`` column; ``-o T``/``-o DT`` for times, else one line per
  ``--interval``, 1 s by default); lines quoted with ``> `` and ``\\#`` (copied from an issue or
  e-mail) are unquoted first; ``-`` is a gap.

:func:`inferlca.meters.replay.import_trace` picks these by the file's first lines.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any

import numpy as np

from inferlca.errors import InputFileError, named
from inferlca.traces.trace import Gap, PowerTrace

_SMI_TIME = re.compile(r"^\d{4}[/-]\d{2}[/-]\d{2}[ T]\d{2}:\d{2}:\d{2}")
_NA = re.compile(r"^\[.*\]$")  # [N/A], [Not Supported], [Unknown Error]...


def unquote(line: str) -> str:
    """A log line as written, without the ``> `` and ``\\#`` of a copy from an issue or e-mail."""
    s = line.rstrip("\n")
    if s.startswith(">"):
        s = s[1:]
        s = s.removeprefix(" ")
    if s.lstrip().startswith("\\#"):
        s = s.replace("\\#", "#", 1)
    return s


def looks_headerless_smi(first_line: str) -> bool:
    """Whether a log's first line (lowercased) is an ``nvidia-smi`` CSV row without its header
    (a timestamp first, or comma-separated values that look like one)."""
    return bool(_SMI_TIME.match(first_line)) or (
        "," in first_line and _looks_headerless(_split_csv(first_line)))


# ---- nvidia-smi --query-gpu CSV ---------------------------------------------------------------
def _split_csv(line: str) -> list[str]:
    return [c.strip() for c in line.split(",")]


def _col_key(header_cell: str) -> str:
    return header_cell.split(" [", 1)[0].strip().lower()


def _number(cell: str) -> float | None:
    """``'19.90 W'``, ``'80.61'`` -> float; ``[N/A]`` -> None (a gap); raises ValueError otherwise."""
    c = cell.strip()
    if not c or _NA.match(c) or c.upper() in ("N/A", "-"):
        return None
    return float(c.split()[0])


def _parse_stamp(s: str) -> datetime:
    for fmt in (
        "%Y/%m/%d %H:%M:%S.%f",
        "%Y/%m/%d %H:%M:%S",
        "%Y-%m-%d %H:%M:%S.%f",
        "%Y-%m-%dT%H:%M:%S.%f",
    ):
        try:
            return datetime.strptime(s.strip(), fmt)
        except ValueError:
            continue
    raise ValueError(s)


def _looks_headerless(cells: list[str]) -> bool:
    """A first line made of values (a time, numbers, ``[N/A]``) rather than column names."""

    def value_like(c: str) -> bool:
        c = c.strip()
        if not c or _NA.match(c) or _SMI_TIME.match(c):
            return True
        try:
            float(c.split()[0])
        except ValueError:
            return False
        return True

    return bool(cells) and all(value_like(c) for c in cells)


def parse_nvidia_smi_csv(
    text: str, path: object = "<nvidia-smi>", interval_s: float | None = None
) -> PowerTrace:
    """``nvidia-smi --query-gpu`` CSV. Without a ``timestamp`` column, one poll per ``interval_s``
    (the ``-lms``/``-l`` value; assumed 1 s when not given, said in the trace meta)."""
    lines = text.splitlines()
    if not lines:
        raise InputFileError(path, "the file is empty", line=1)
    header_line = lines[0]
    header = _split_csv(header_line)
    keys = [_col_key(h) for h in header]
    if _looks_headerless(header):
        raise InputFileError(
            path,
            "this nvidia-smi log has no header line (recorded with --format=csv,noheader): its "
            "columns cannot be named. Record without 'noheader', or add the --query-gpu list as "
            "the first line (e.g. 'timestamp, index, power.draw [W]')",
            line=1,
        )
    has_time = "timestamp" in keys
    if "power.draw.instant" in keys:
        pcol = "power.draw.instant"
    elif "power.draw" in keys:
        pcol = "power.draw"
    else:
        raise InputFileError(
            path,
            f"no power.draw column (columns: {', '.join(keys)}); nothing to integrate. "
            "Record with --query-gpu=timestamp,index,power.draw,power.draw.instant",
            line=1,
        )
    ti = keys.index("timestamp") if has_time else None
    pi = keys.index(pcol)
    gi = next((keys.index(k) for k in ("index", "uuid", "pci.bus_id") if k in keys), None)
    ni = keys.index("name") if "name" in keys else None
    polls: list[tuple[datetime | None, dict[str, float | None]]] = []
    gpu_names: dict[str, str] = {}
    order: list[str] = []
    repeats = 0
    for no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        if line.strip() == header_line.strip():  # appended runs (>>) repeat the header
            repeats += 1
            continue
        cells = _split_csv(line)
        if len(cells) != len(header):
            what = "truncated row" if len(cells) < len(header) else "too many values"
            raise InputFileError(
                path, f"{what}: {len(cells)} values for {len(header)} columns", line=no
            )
        stamp: datetime | None = None
        if ti is not None:
            try:
                stamp = _parse_stamp(cells[ti])
            except ValueError:
                raise InputFileError(
                    path,
                    f"bad timestamp {cells[ti]!r} (expected YYYY/MM/DD hh:mm:ss.mmm)",
                    line=no,
                ) from None
        try:
            watts = _number(cells[pi])
        except ValueError:
            raise InputFileError(path, f"bad {pcol} value {cells[pi]!r}", line=no) from None
        gpu = cells[gi] if gi is not None else "0"
        if gpu not in order:
            order.append(gpu)
            if ni is not None:
                gpu_names[gpu] = cells[ni]
        if not polls or gpu in polls[-1][1]:
            polls.append((stamp, {}))
        polls[-1][1][gpu] = watts
    if not polls:
        raise InputFileError(path, "no data rows after the header", line=2)
    channel_of = {g: (f"gpu{g}" if g.isdigit() else f"gpu{i}") for i, g in enumerate(order)}
    t0 = polls[0][0]
    step = interval_s or 1.0
    if t0 is None:
        t = np.arange(len(polls), dtype=float) * step
        how = (
            "no timestamp column: one poll per given interval"
            if interval_s
            else "no timestamp column: assumed 1 s per poll (nvidia-smi -l 1; give --interval-ms)"
        )
    else:
        t = np.array(
            [(s - t0).total_seconds() for s, _ in polls if s is not None], dtype=np.float64
        )
        how = "nvidia-smi timestamp column"
    if np.any(np.diff(t) < 0):
        bad = int(np.argmax(np.diff(t) < 0)) + 1
        raise InputFileError(path, f"timestamps go backwards at poll {bad + 1}")
    channels = {
        channel_of[g]: np.array(
            [math.nan if v.get(g) is None else v[g] for _, v in polls], dtype=float
        )
        for g in order
    }
    gaps: list[Gap] = []
    for ch, arr in channels.items():
        gaps += _nan_gaps(t, arr, ch, f"nvidia-smi reported no {pcol} value")
    primary = channel_of[order[0]]
    if len(order) > 1:
        stack = np.vstack([channels[channel_of[g]] for g in order])
        channels["gpus"] = stack.sum(axis=0)  # NaN if any GPU is missing in that poll
        primary = "gpus"
    meta: dict[str, Any] = {
        "power_column": pcol,
        "times": how,
        "times_assumed": t0 is None,
        "start_time": t0.isoformat() if t0 is not None else None,
        "device_name": ", ".join(dict.fromkeys(gpu_names.values())) or None,
        "gpus": {channel_of[g]: gpu_names.get(g) for g in order},
    }
    if pcol == "power.draw":
        meta["power_note"] = (
            "power.draw is a ~1 s average on recent drivers (power.draw.average); "
            "power.draw.instant was not recorded"
        )
        meta["power_averaging_s"] = 1.0
    if repeats:
        meta["repeated_headers"] = repeats
    return PowerTrace(
        t_s=t,
        channels=channels,
        primary=primary,
        meter="replay:nvidia-smi",
        estimated=False,
        gaps=gaps,
        period_requested_s=step if t0 is None else None,
        meta=meta,
    )


def _nan_gaps(t: np.ndarray, arr: np.ndarray, ch: str, reason: str) -> list[Gap]:
    gaps = []
    bad = np.isnan(arr)
    i = 0
    while i < bad.size:
        if bad[i]:
            j = i
            while j + 1 < bad.size and bad[j + 1]:
                j += 1
            gaps.append(Gap(float(t[i]), float(t[j]), reason, ch))
            i = j + 1
        else:
            i += 1
    return gaps


# ---- nvidia-smi dmon ---------------------------------------------------------------------------
def parse_dmon(text: str, path: object = "<dmon>", interval_s: float | None = None) -> PowerTrace:
    names: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    for no, raw in enumerate(text.splitlines(), start=1):
        s = unquote(raw).strip()
        if not s:
            continue
        if s.startswith("#"):
            tokens = s.lstrip("#").split()
            low = [x.lower() for x in tokens]
            if names is None and ("gpu" in low):
                names = low
            elif names is None and low and low[0] == "idx":
                raise InputFileError(
                    path,
                    "dmon output without its column-name header (only the units line "
                    f"{s!r}): cannot find a pwr column",
                    line=no,
                )
            continue
        if names is None:
            if "," in s:  # a CSV (nvidia-smi --query-gpu) given as dmon
                raise InputFileError(
                    path,
                    f"not nvidia-smi dmon output (a CSV line: {s[:60]!r}); "
                    f"try {named('fmt')} nvidia-smi or {named('fmt')} auto",
                    line=no,
                )
            if not s[:1].isdigit():
                raise InputFileError(
                    path, f"nvidia-smi reported an error, no data: {s[:80]!r}", line=no
                )
            raise InputFileError(
                path,
                f"nvidia-smi dmon output expected a '# gpu ...' header, got {s[:60]!r}",
                line=no,
            )
        if names is not None and not s[:1].isdigit() and not s.startswith("-"):
            if s.startswith("```"):  # a trailing markdown fence from a pasted log
                continue
            raise InputFileError(path, f"not a dmon data line: {s[:60]!r}", line=no)
        rows.append((no, s.split()))
    if names is None:
        raise InputFileError(path, "no '# gpu ...' header line: not nvidia-smi dmon output", line=1)
    if "pwr" not in names:
        raise InputFileError(
            path,
            f"no pwr column in this dmon output (columns: {' '.join(names)}); nothing to "
            "integrate. Record with: nvidia-smi dmon -s p -o T",
            line=1,
        )
    if not rows:
        raise InputFileError(path, "no data rows after the header")
    gi, pi = names.index("gpu"), names.index("pwr")
    has_time = "time" in names
    polls: list[tuple[float | None, int, dict[str, float | None]]] = []
    order: list[str] = []
    for no, cells in rows:
        if len(cells) != len(names):
            raise InputFileError(
                path,
                f"{len(cells)} values for {len(names)} columns (truncated or not dmon output)",
                line=no,
            )
        gpu = cells[gi]
        try:
            watts = None if cells[pi] == "-" else float(cells[pi])
        except ValueError:
            raise InputFileError(path, f"bad pwr value {cells[pi]!r}", line=no) from None
        stamp = None
        if has_time:
            hh, mm, ss = (int(x) for x in cells[names.index("time")].split(":"))
            stamp = hh * 3600.0 + mm * 60.0 + ss
        if gpu not in order:
            order.append(gpu)
        if not polls or gpu in polls[-1][2]:
            polls.append((stamp, no, {}))
        polls[-1][2][gpu] = watts
    step = interval_s or 1.0
    if has_time:
        t = np.array([p[0] for p in polls], dtype=float)
        t = t - t[0]
        t[t < 0] += 86400.0  # past midnight
        how = "dmon Time column (1 s resolution)"
    else:
        t = np.arange(len(polls), dtype=float) * step
        how = (
            "given interval"
            if interval_s
            else "assumed 1 s (dmon default -d 1; give --interval-ms)"
        )
    channels = {
        f"gpu{g}": np.array(
            [math.nan if v.get(g) is None else v[g] for _, _, v in polls], dtype=float
        )
        for g in order
    }
    gaps: list[Gap] = []
    for ch, arr in channels.items():
        gaps += _nan_gaps(t, arr, ch, "dmon reported '-' for pwr")
    primary = f"gpu{order[0]}"
    if len(order) > 1:
        channels["gpus"] = np.vstack([channels[f"gpu{g}"] for g in order]).sum(axis=0)
        primary = "gpus"
    meta = {
        "times": how,
        "times_assumed": not has_time,
        "power_column": "pwr",
        "power_averaging_s": 1.0,
        "power_note": "dmon pwr is an integer number of watts averaged by the driver",
    }
    return PowerTrace(
        t_s=t,
        channels=channels,
        primary=primary,
        meter="replay:dmon",
        gaps=gaps,
        period_requested_s=step if not has_time else None,
        meta=meta,
    )


# ---- tegrastats -------------------------------------------------------------------------------
