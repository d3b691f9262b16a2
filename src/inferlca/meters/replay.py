"""Recorded traces in, :class:`PowerTrace` out: importers and a replay meter.

Formats (``detect_format`` picks one from the file's first lines):

* ``inferlca``: our CSV (:mod:`inferlca.traces.io`) or Parquet.
* ``nvidia-smi``: ``nvidia-smi --query-gpu=timestamp,...,power.draw[,power.draw.instant]
  --format=csv[,nounits] -lms N``. Without a ``timestamp`` column one poll per given interval
  (assumed 1 s otherwise), as for dmon; said in the trace meta and diagnostics. A ``noheader`` log
  is refused by name (its columns cannot be told apart). Values with or without units; ``[N/A]``/``[Not Supported]`` are
  gaps. ``power.draw.instant`` is preferred when present (``power.draw`` is a ~1 s average on recent
  drivers). Several GPUs (an ``index``, ``uuid`` or ``pci.bus_id`` column) become one channel each
  plus their sum ``gpus``.
* ``dmon``: ``nvidia-smi dmon`` text (with ``-s p`` for the ``pwr`` column; ``-o T``/``-o DT`` for
  times, else one line per ``--interval``, 1 s by default). Lines quoted with ``> `` and ``\\#``
  (copied from an issue or e-mail) are unquoted first. ``-`` is a gap.
* ``tegrastats``: a Jetson tegrastats log (see :mod:`inferlca.meters.tegrastats`).
* ``powermetrics``: macOS ``powermetrics`` text (see :mod:`inferlca.meters.apple`).
* ``kwollect`` (Grid'5000 metrics JSON/CSV) and ``wall-csv`` (any timestamped CSV of watts, with
  ``--time-col``/``--power-col``/``--power-unit``): node-scope wall logs
  (:mod:`inferlca.meters.walllog`).

A log without any power column or rail is an error that says so: power is never invented.
"""

from __future__ import annotations

import math
import os
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from inferlca.errors import (
    InputFileError,
    InvalidValueError,
    MeterUnavailableError,
    UnknownNameError,
    named,
)
from inferlca.meters.base import PowerMeter, Reading
from inferlca.meters.tegrastats import (
    derive,
    derived_rules,
    has_unreadable_power,
    is_tegrastats_line,
    line_times_s,
    parse_log,
)
from inferlca.traces import io as trace_io
from inferlca.traces.trace import Gap, PowerTrace

FORMATS = (
    "auto", "inferlca", "nvidia-smi", "dmon", "tegrastats", "powermetrics", "kwollect", "wall-csv"
)
_SMI_TIME = re.compile(r"^\d{4}[/-]\d{2}[/-]\d{2}[ T]\d{2}:\d{2}:\d{2}")
_STAMP_RE = re.compile(r"^\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2} ")
_NA = re.compile(r"^\[.*\]$")  # [N/A], [Not Supported], [Unknown Error]...


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror or exc}") from None


def _unquote(line: str) -> str:
    s = line.rstrip("\n")
    if s.startswith(">"):
        s = s[1:]
        s = s.removeprefix(" ")
    if s.lstrip().startswith("\\#"):
        s = s.replace("\\#", "#", 1)
    return s


def detect_format(path: str | os.PathLike[str]) -> str:
    """Guess the format of a recorded power log from its first lines.

    Raises:
        InputFileError: empty file or a format we cannot read.
    """
    p = Path(path)
    if p.suffix.lower() in (".parquet", ".pq"):
        return "inferlca"
    try:
        with open(p, "rb") as fh:
            head = fh.read(16384)
    except OSError as exc:
        raise InputFileError(p, f"cannot read: {exc.strerror or exc}") from None
    if head.startswith(b"PAR1"):
        return "inferlca"
    text = head.decode(errors="replace")
    if not text.strip():
        raise InputFileError(p, "the file is empty", line=1)
    if trace_io.is_inferlca_csv(text):
        return "inferlca"
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if any(is_tegrastats_line(ln.strip()) for ln in lines[:10]):
        return "tegrastats"
    from inferlca.meters.apple import is_powermetrics

    if is_powermetrics(text):
        return "powermetrics"
    from inferlca.meters.walllog import is_kwollect

    if is_kwollect(text):
        return "kwollect"
    first = lines[0].strip().lower()
    if first.startswith("timestamp") or ("power.draw" in first and "," in first):
        return "nvidia-smi"
    if _SMI_TIME.match(first) or ("," in first and _looks_headerless(_split_csv(first))):
        return "nvidia-smi"  # headerless: parse_nvidia_smi_csv names it
    unq = [_unquote(ln).strip() for ln in lines[:5]]
    if any(u.startswith("#") and ("gpu" in u.lower() or "idx" in u.lower()) for u in unq):
        return "dmon"
    if unq[0].startswith("#") and "nvidia-smi" in unq[0]:
        return "dmon"
    raise InputFileError(
        p,
        "unknown power log format; accepted: inferlca CSV/Parquet, nvidia-smi "
        "--query-gpu CSV, nvidia-smi dmon, tegrastats, powermetrics, Kwollect JSON/CSV; "
        "any timestamped CSV with --time-col and --power-col",
        line=1,
    )


def _flag_impossible_readings(trace: PowerTrace) -> None:
    """A recorded power below 0 W or infinite is a sensor or logging fault, not a reading: it
    becomes NaN (a gap, so energy never integrates it) with a gap entry saying why, and the
    count goes to ``trace.meta["impossible_readings"]`` (shown by the diagnostics). Samples
    that were already NaN in the log get a gap entry too when none covers them."""

    t = np.asarray(trace.t_s, dtype=float)
    counts: dict[str, int] = {}
    for name, w in trace.channels.items():
        watts = np.asarray(w, dtype=float)
        bad = np.isinf(watts) | (watts < 0)
        missing = np.isnan(watts) & ~bad
        covered = np.zeros_like(missing)
        for g in trace.gaps:
            if g.channel in (None, name):
                covered |= (t >= g.start_s) & (t <= g.end_s)
        for mask, reason in ((bad, "impossible reading in the log (negative or infinite W)"),
                             (missing & ~covered, "no value in the log (NaN)")):
            idx = np.flatnonzero(mask)
            if idx.size == 0:
                continue
            counts[name] = counts.get(name, 0) + int(idx.size)
            # one gap per run of consecutive samples
            starts = idx[np.r_[True, np.diff(idx) > 1]]
            ends = idx[np.r_[np.diff(idx) > 1, True]]
            for a, b in zip(starts, ends):
                trace.gaps.append(Gap(float(t[a]), float(t[b]), reason, name))
        if bad.any():
            watts = watts.copy()
            watts[bad] = np.nan
            trace.channels[name] = watts
    if counts:
        trace.meta["impossible_readings"] = counts


def import_trace(
    path: str | os.PathLike[str],
    fmt: str = "auto",
    interval_s: float | None = None,
    **options: Any,
) -> PowerTrace:
    """Read a recorded power log of any supported format into a :class:`PowerTrace`.

    Args:
        path: the file.
        fmt: ``auto`` or one of ``inferlca``, ``nvidia-smi``, ``dmon``, ``tegrastats``.
        interval_s: logging interval in seconds for formats without sub-second timestamps
            (tegrastats ``--interval``, dmon ``-d``); inferred or assumed otherwise (said in meta).
        options: for ``wall-csv``: ``time_col``, ``power_col``, ``power_unit``, ``time_unit``;
            for ``kwollect``: ``metric``, ``node`` (see :mod:`inferlca.meters.walllog`).
    """
    p = Path(path)
    if fmt not in FORMATS:
        raise UnknownNameError(
            "trace format", fmt, FORMATS, hint=f"(accepted: {', '.join(FORMATS)})"
        )
    if not p.exists():
        raise InputFileError(p, "no such file")
    if interval_s is not None and (not math.isfinite(interval_s) or interval_s <= 0):
        raise InvalidValueError(f"interval must be > 0, got {interval_s}")
    if fmt == "auto" and (options.get("time_col") or options.get("power_col")):
        fmt = "wall-csv"
    kind = detect_format(p) if fmt == "auto" else fmt
    if kind == "inferlca":
        if p.suffix.lower() in (".parquet", ".pq") or p.read_bytes()[:4] == b"PAR1":
            trace = trace_io.read_parquet(p)
        else:
            trace = trace_io.read_csv(p)
    elif kind == "nvidia-smi":
        trace = parse_nvidia_smi_csv(_read_text(p), p, interval_s)
    elif kind == "dmon":
        trace = parse_dmon(_read_text(p), p, interval_s)
    elif kind == "kwollect":
        from inferlca.meters.walllog import parse_kwollect

        trace = parse_kwollect(
            _read_text(p), p, metric=options.get("metric"), node=options.get("node")
        )
    elif kind == "wall-csv":
        from inferlca.meters.walllog import parse_wall_csv

        trace = parse_wall_csv(
            _read_text(p),
            p,
            time_col=options.get("time_col"),
            power_col=options.get("power_col"),
            power_unit=options.get("power_unit"),
            time_unit=options.get("time_unit") or "s",
        )
    elif kind == "powermetrics":
        from inferlca.meters.apple import powermetrics_trace

        trace = powermetrics_trace(_read_text(p), p)
    else:
        trace = parse_tegrastats(_read_text(p), p, interval_s)
    trace.meta.setdefault("source_file", str(p))
    trace.meta.setdefault("format", kind)
    _flag_impossible_readings(trace)
    if "channel_scopes" not in trace.meta:
        from inferlca.traces.scope import channel_scopes, scope_meta, scope_totals

        if channel_scopes(trace):
            trace.meta.update(scope_meta(channel_scopes(trace), scope_totals(trace)))
    return trace


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
        s = _unquote(raw).strip()
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
def parse_tegrastats(
    text: str, path: object = "<tegrastats>", interval_s: float | None = None
) -> PowerTrace:
    log = parse_log(text, path)
    if not log.rails and any(
        has_unreadable_power(_STAMP_RE.sub("", ln, count=1)) for ln in text.splitlines()[:50]
    ):
        raise InputFileError(
            path,
            "this tegrastats log shows power fields in a form not understood (expected "
            "'NAME 5542mW', 'NAME 5542mW/5542mW' or 'NAME 5542mW/5542mW/6000mW'); "
            "please report the line",
        )
    if not log.rails:
        raise InputFileError(
            path,
            "this tegrastats log has no power rails (no 'VDD_IN 5542mW/5542mW'-like "
            "fields; the INA3221 was not visible, try sudo tegrastats): nothing to "
            "integrate, and power is never invented",
        )
    times, interval, how = line_times_s(log, interval_s)
    rules = derived_rules(log.rails)
    rows = [derive(ln.rails_w, rules) for ln in log.lines]
    names = list(rows[0])
    channels = {n: np.array([r[n] for r in rows], dtype=float) for n in names}
    t = np.asarray(times, dtype=float)
    gaps = []
    dt = np.diff(t)
    for i in np.flatnonzero(dt > 1.5 * interval):
        gaps.append(
            Gap(
                float(t[i]),
                float(t[i + 1]),
                f"{dt[i]:.1f} s between lines (log lines missing)",
                None,
            )
        )
    first = log.lines[0].stamp
    meta: dict[str, Any] = {
        "rails": log.rails,
        **rules,
        "interval_s": interval,
        "times": how,
        "sensor_update_s": interval,
        "device_name": "NVIDIA Jetson",
        "skipped_header_lines": [f"{no}: {s}" for no, s in log.skipped],
    }
    if first is not None:
        meta["start_time"] = first.isoformat()
    return PowerTrace(
        t_s=t,
        channels=channels,
        primary="module" if "module" in channels else names[0],
        meter="replay:tegrastats",
        gaps=gaps,
        period_requested_s=interval,
        meta=meta,
    )


# ---- replay meter -----------------------------------------------------------------------------
class ReplayMeter(PowerMeter):
    """Plays a recorded trace back in real time: ``read()`` gives the power interpolated at the time
    elapsed since the meter opened (NaN inside the recording's gaps and after its end).

    Useful to run the measuring pipeline (sampler, phases, reports) on a recorded device.
    """

    name = "replay"
    estimated = False
    description = "plays back a recorded trace (inferlca CSV/Parquet, nvidia-smi, dmon, tegrastats)"

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        trace: PowerTrace | None = None,
        fmt: str = "auto",
        speed: float = 1.0,
        **_: Any,
    ) -> None:
        super().__init__()
        if trace is None:
            if path is None:
                raise MeterUnavailableError("the replay meter needs a recorded trace file")
            trace = import_trace(path, fmt)
        if not (math.isfinite(speed) and speed > 0):
            raise InvalidValueError(f"replay speed must be > 0, got {speed}")
        self.recorded = trace
        self.speed = speed
        self.channels = list(trace.channels)
        self.counter_channels = [c for c in trace.counters if c in trace.channels]
        self.primary = trace.primary
        self._t0 = time.monotonic()
        self._start = float(trace.t_s[0])
        self._end = float(trace.t_s[-1])

    @classmethod
    def probe(
        cls, path: str | os.PathLike[str] | None = None, trace: Any = None, **_: Any
    ) -> tuple[bool, str]:
        if trace is not None or (path is not None and Path(path).is_file()):
            return True, "replays a recorded trace"
        if path is not None:
            return False, f"no such file: {path} (give a recorded log with --replay FILE)"
        return False, (
            "replays a recorded trace: give a file (inferlca measure --meter replay --replay "
            "FILE, or inferlca trace import FILE)"
        )

    def read(self) -> Reading:
        from inferlca.traces.energy import _interp_masked

        x = self._start + (time.monotonic() - self._t0) * self.speed
        if x > self._end:
            return Reading.failed(
                self.channels, "past the end of the recording", self.counter_channels
            )
        grid = np.array([x])
        power = {
            c: float(_interp_masked(self.recorded.t_s, v, grid)[0])
            for c, v in self.recorded.channels.items()
        }
        energy = {}
        for c in self.counter_channels:
            v = self.recorded.counters[c]
            good = ~np.isnan(v)
            energy[c] = (
                float(np.interp(x, self.recorded.t_s[good], v[good]))
                if good.sum() >= 2
                else math.nan
            )
        errors: dict[str | None, str] = {
            c: "gap in the recording" for c, v in power.items() if math.isnan(v)
        }
        return Reading(power, energy, errors)

    def meta(self) -> dict[str, Any]:
        return {
            "replayed_from": self.recorded.meta.get("source_file"),
            "replay_speed": self.speed,
            "recorded_meter": self.recorded.meter,
            "device_name": self.recorded.meta.get("device_name"),
        }

    def channel_scopes(self) -> dict[str, str]:
        from inferlca.traces.scope import channel_scopes

        return channel_scopes(self.recorded)

    def scope_totals(self) -> dict[str, str]:
        from inferlca.traces.scope import scope_totals

        return scope_totals(self.recorded)
