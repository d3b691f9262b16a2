"""Recorded traces in, :class:`PowerTrace` out: importers and a replay meter.

Formats (``detect_format`` picks one from the file's first lines):

* ``inferlca``: our CSV (:mod:`inferlca.traces.io`) or Parquet.
* ``nvidia-smi``: ``nvidia-smi --query-gpu=...,power.draw[,power.draw.instant] --format=csv``
  logs, and ``dmon``: ``nvidia-smi dmon`` text (see :mod:`inferlca.meters.nvsmi_log`).
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
from pathlib import Path
from typing import Any

import numpy as np

from inferlca.errors import (
    InputFileError,
    InvalidValueError,
    MeterUnavailableError,
    UnknownNameError,
)
from inferlca.meters.base import PowerMeter, Reading
from inferlca.meters.nvsmi_log import (
    looks_headerless_smi,
    parse_dmon,
    parse_nvidia_smi_csv,
    unquote,
)
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
_STAMP_RE = re.compile(r"^\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2} ")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {exc.strerror or exc}") from None


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
    if looks_headerless_smi(first):
        return "nvidia-smi"  # headerless: parse_nvidia_smi_csv names it
    unq = [unquote(ln).strip() for ln in lines[:5]]
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
