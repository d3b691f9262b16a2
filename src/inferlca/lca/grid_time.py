"""Grid carbon intensity in time: a user's timestamped file integrated over a run's timeline.

File format (CSV, UTF-8; an export from a utility or Electricity Maps reshaped to this form)::

    # unit: gCO2e/kWh
    # timezone: Europe/Paris
    timestamp,average,marginal
    2026-03-01T00:00,52.0,310.0
    2026-03-01T01:00,49.5,305.0

* ``timestamp``: ISO 8601. A timestamp with an offset (``Z``, ``+01:00``) is absolute; a naive
  one is read in the ``# timezone:`` of the file or the ``tz`` given (an IANA name or ``UTC``).
* One intensity column per signal: ``average`` (the mix's average intensity) and/or ``marginal``
  (the intensity of the marginal plant). A single column may be called ``gco2e_per_kwh``
  (average). **Average is the default**: the attributional, inventory-style choice consistent with
  the yearly table; ``marginal`` is the consequential choice ("what an extra kWh at that hour
  causes") and is taken only when asked for.
* Unit from ``# unit:`` or the ``unit`` given: ``gCO2e/kWh`` (= ``kgCO2e/MWh``), ``kgCO2e/kWh``,
  ``lbCO2e/MWh``.
* Each row holds from its timestamp to the next; the last row holds for one step. Rows are
  hourly or finer, strictly increasing, without gaps (a step longer than 1.5 x the median step).

The intensity of a run is the energy-weighted mean over its own samples: each interval between
two power samples (trapezoid energy) takes the intensity in force at its midpoint, placed on the
wall clock by the trace's origin (``meta["t0_unix_s"]``). Nothing is fetched at run time.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from inferlca.errors import InputFileError, InvalidValueError

SIGNALS = ("average", "marginal")
#: factors to gCO2e/kWh
UNITS = {"gco2e/kwh": 1.0, "gco2eq/kwh": 1.0, "gco2/kwh": 1.0, "g/kwh": 1.0,
         "kgco2e/mwh": 1.0, "kgco2eq/mwh": 1.0, "kg/mwh": 1.0,
         "kgco2e/kwh": 1000.0, "kgco2eq/kwh": 1000.0, "kg/kwh": 1000.0,
         "lbco2e/mwh": 0.45359237, "lb/mwh": 0.45359237}
MAX_STEP_S = 3600.0


@dataclass(frozen=True)
class GridSeries:
    """A time-varying intensity: row ``i`` holds from ``start_s[i]`` to ``end_s[i]`` (Unix s)."""

    start_s: np.ndarray
    end_s: np.ndarray
    gco2e_per_kwh: np.ndarray
    path: str
    signal: str
    step_s: float
    timezone: str
    notes: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        return (f"grid file {self.path} ({self.signal} intensity, step {self.step_s:g} s, "
                f"time zone {self.timezone})")

    def covers(self, a_unix: float, b_unix: float) -> bool:
        return bool(self.start_s[0] <= a_unix and b_unix <= self.end_s[-1])

    def at(self, unix_s: np.ndarray) -> np.ndarray:
        """The intensity in force at each time (times must be covered)."""
        idx = np.searchsorted(self.start_s, unix_s, side="right") - 1
        return self.gco2e_per_kwh[np.clip(idx, 0, len(self.start_s) - 1)]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _tzinfo(name: str, where: str) -> Any:
    if name.strip().upper() in ("UTC", "Z", "GMT"):
        return timezone.utc
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValueError(f"{where}: unknown time zone {name!r}; give an IANA name such "
                                "as Europe/Paris or UTC") from None


def read_grid_file(path: str | Path, *, unit: str | None = None, tz: str | None = None,
                   signal: str = "average") -> GridSeries:
    """Read and check a grid intensity file (format in the module docstring).

    Raises:
        InputFileError: unreadable file, bad timestamp or number (with the line), unsorted or
            overlapping times, a gap, a step longer than an hour, no intensity column.
        InvalidValueError: unknown unit, unknown or missing time zone, unknown signal.
    """
    p = Path(path)
    if signal not in SIGNALS:
        raise InvalidValueError(f"unknown grid signal {signal!r} (accepted: average, marginal)")
    try:
        lines = p.read_text("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(p, f"cannot read the grid file: {exc}") from None
    meta: dict[str, str] = {}
    body: list[tuple[int, str]] = []
    for i, line in enumerate(lines, start=1):
        s = line.strip()
        if s.startswith("#"):
            key, sep, val = s.lstrip("#").partition(":")
            if sep:
                meta[key.strip().lower()] = val.strip()
        elif s:
            body.append((i, line))
    if not body:
        raise InputFileError(p, "no header and no rows")
    unit_text = unit or meta.get("unit")
    if not unit_text:
        raise InvalidValueError(f"{p}: the unit of the intensities is not stated; add a line "
                                "'# unit: gCO2e/kWh' or give it (--grid-unit)")
    factor = UNITS.get(unit_text.replace(" ", "").replace("₂", "2").lower())
    if factor is None:
        raise InvalidValueError(f"{p}: unknown unit {unit_text!r} (accepted: gCO2e/kWh, "
                                "kgCO2e/MWh, kgCO2e/kWh, lbCO2e/MWh)")
    tz_text = tz or meta.get("timezone") or meta.get("time zone") or meta.get("tz")
    reader = csv.reader([b for _, b in body])
    header = [h.strip().lower() for h in next(reader)]
    tcol = next((header.index(c) for c in ("timestamp", "datetime", "time") if c in header), None)
    if tcol is None:
        raise InputFileError(p, "no 'timestamp' column", body[0][0])
    names = {"average": ("average", "gco2e_per_kwh", "intensity"), "marginal": ("marginal",)}
    vcol = next((header.index(c) for c in names[signal] if c in header), None)
    if vcol is None:
        raise InputFileError(p, f"no {signal!r} column (columns: {', '.join(header)}); "
                                "choose the signal the file has (--grid-signal)", body[0][0])
    notes = []
    if signal == "average" and "marginal" in header:
        notes.append("grid file gives average and marginal intensities: average used "
                     "(--grid-signal marginal for the consequential view)")
    tzinfo = _tzinfo(tz_text, str(p)) if tz_text else None
    times: list[float] = []
    values: list[float] = []
    naive_seen = False
    for (lineno, _), row in zip(body[1:], reader):
        if len(row) <= max(tcol, vcol):
            raise InputFileError(p, f"expected {len(header)} columns, got {len(row)}", lineno)
        try:
            dt = datetime.fromisoformat(row[tcol].strip().replace("Z", "+00:00"))
        except ValueError:
            raise InputFileError(p, f"bad timestamp {row[tcol]!r} (ISO 8601 expected)",
                                 lineno) from None
        if dt.tzinfo is None:
            naive_seen = True
            if tzinfo is None:
                raise InvalidValueError(f"{p}, line {lineno}: timestamp {row[tcol]!r} has no "
                                        "offset and the file states no time zone; add "
                                        "'# timezone: <IANA name or UTC>' or give --grid-tz")
            dt = dt.replace(tzinfo=tzinfo)
        try:
            v = float(row[vcol]) * factor
        except ValueError:
            raise InputFileError(p, f"bad intensity {row[vcol]!r}", lineno) from None
        if not math.isfinite(v) or v < 0:
            raise InputFileError(p, f"intensity must be a finite number >= 0, got {row[vcol]!r}",
                                 lineno)
        t = dt.timestamp()
        if times and t <= times[-1]:
            what = "repeated (overlapping)" if t == times[-1] else "earlier than the line before"
            raise InputFileError(p, f"timestamp {row[tcol]!r} is {what}: rows must be sorted "
                                    "with strictly increasing times", lineno)
        times.append(t)
        values.append(v)
    if len(times) < 2:
        raise InputFileError(p, "at least two rows are needed (the step of the file)")
    t_arr = np.asarray(times)
    steps = np.diff(t_arr)
    step = float(np.median(steps))
    if step > MAX_STEP_S:
        raise InputFileError(p, f"rows are {step:g} s apart; hourly or finer is needed")
    big = np.nonzero(steps > 1.5 * step)[0]
    if big.size:
        k = int(big[0])
        raise InputFileError(p, f"gap between {_iso(t_arr[k])} and {_iso(t_arr[k + 1])} "
                                f"(step {step:g} s); fill it or cut the file")
    end = np.append(t_arr[1:], t_arr[-1] + step)
    tz_label = tz_text if (naive_seen or tz_text) else "offsets in the file"
    return GridSeries(t_arr, end, np.asarray(values), str(p), signal, step, str(tz_label),
                      tuple(notes))


@dataclass(frozen=True)
class TimedIntensity:
    """The intensity a run met: energy-weighted over its samples."""

    gco2e_per_kwh: float
    start_unix_s: float
    end_unix_s: float
    energy_j: float
    source: str
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"gco2e_per_kwh": self.gco2e_per_kwh, "start": _iso(self.start_unix_s),
                "end": _iso(self.end_unix_s), "energy_j": self.energy_j, "source": self.source,
                "notes": list(self.notes)}


def _weights(t_s: np.ndarray, power_w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trapezoid energy of each interval between samples and the interval midpoints."""
    dt = np.diff(t_s)
    e = 0.5 * (power_w[1:] + power_w[:-1]) * dt
    return e, 0.5 * (t_s[1:] + t_s[:-1])


def _check_timeline(t_s: ArrayLike, power_w: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(t_s, dtype=float)
    p = np.asarray(power_w, dtype=float)
    if t.ndim != 1 or t.shape != p.shape or t.size < 2:
        raise InvalidValueError("a run timeline needs at least two samples of time and power")
    if np.any(np.diff(t) <= 0):
        raise InvalidValueError("the run's sample times must be strictly increasing")
    p = np.where(np.isfinite(p), p, 0.0)
    return t, np.clip(p, 0.0, None)


def integrate(series: GridSeries, t0_unix_s: float, t_s: ArrayLike,
              power_w: ArrayLike) -> TimedIntensity:
    """The energy-weighted intensity over a run, sample by sample.

    Args:
        series: the grid file.
        t0_unix_s: the wall-clock time (Unix s) of ``t_s = 0``.
        t_s: the sample times of the run (s, strictly increasing).
        power_w: the power at each sample (W); NaN counts as 0.

    Raises:
        InvalidValueError: the file does not cover the run (the message names the missing part).
    """
    t, p = _check_timeline(t_s, power_w)
    a, b = t0_unix_s + float(t[0]), t0_unix_s + float(t[-1])
    if not series.covers(a, b):
        parts = []
        if a < series.start_s[0]:
            parts.append(f"{_iso(a)} to {_iso(min(b, float(series.start_s[0])))} (before the file)")
        if b > series.end_s[-1]:
            parts.append(f"{_iso(max(a, float(series.end_s[-1])))} to {_iso(b)} (after the file)")
        raise InvalidValueError(
            f"grid file {series.path} covers {_iso(series.start_s[0])} to "
            f"{_iso(series.end_s[-1])} but the run ran {_iso(a)} to {_iso(b)}: "
            f"{' and '.join(parts)} not covered; nothing was assumed for it (give a file that "
            "covers the whole run, or use --region/--grid)")
    e, mid = _weights(t, p)
    inten = series.at(t0_unix_s + mid)
    total = float(e.sum())
    notes = list(series.notes)
    if total > 0:
        value = float((e * inten).sum() / total)
    else:  # no energy: the time-weighted mean (the figure does not change a zero impact)
        dt = np.diff(t)
        value = float((dt * inten).sum() / dt.sum())
        notes.append("no energy in the timeline: time-weighted intensity")
    return TimedIntensity(value, a, b, total, series.source, tuple(notes))


def constant_power_timeline(duration_s: float, n: int = 3601) -> tuple[np.ndarray, np.ndarray]:
    """A timeline for a workload known only by its energy and duration: constant power
    (``n`` samples; the intensity is then the time-weighted mean over the duration)."""
    if not math.isfinite(duration_s) or duration_s <= 0:
        raise InvalidValueError(f"duration must be a finite number of seconds > 0, got {duration_s!r}")
    return np.linspace(0.0, duration_s, n), np.ones(n)


def day_extremes(series: GridSeries, t0_unix_s: float, t_s: ArrayLike,
                 power_w: ArrayLike) -> dict[str, Any] | None:
    """The same run started at each whole hour of the UTC day it started in, where the file
    covers it: the best and the worst hour (``None`` when no hour of that day is covered)."""
    t, p = _check_timeline(t_s, power_w)
    start = t0_unix_s + float(t[0])
    day0 = math.floor(start / 86400.0) * 86400.0
    found: list[tuple[float, float]] = []
    for h in range(24):
        origin = day0 + 3600.0 * h - float(t[0])
        try:
            ti = integrate(series, origin, t, p)
        except InvalidValueError:
            continue
        found.append((ti.gco2e_per_kwh, day0 + 3600.0 * h))
    if not found:
        return None
    best = min(found)
    worst = max(found)
    return {"best": {"start": _iso(best[1]), "gco2e_per_kwh": best[0]},
            "worst": {"start": _iso(worst[1]), "gco2e_per_kwh": worst[0]},
            "hours_covered": len(found)}


def trace_intensity(series: GridSeries, trace: Any, start_s: float | None = None,
                    end_s: float | None = None) -> TimedIntensity:
    """:func:`integrate` over a power trace (``t_s``, ``channels[primary]``, and the wall-clock
    origin ``meta["t0_unix_s"]`` the sampler records), optionally within ``[start_s, end_s]``."""
    t0 = (getattr(trace, "meta", None) or {}).get("t0_unix_s")
    if t0 is None:
        raise InvalidValueError("the trace has no wall-clock origin (meta t0_unix_s; traces "
                                "recorded before it was stored): a grid file cannot place it")
    t = np.asarray(trace.t_s, dtype=float)
    p = np.asarray(trace.channels[trace.primary], dtype=float)
    keep = np.ones(t.shape, dtype=bool)
    if start_s is not None:
        keep &= t >= start_s
    if end_s is not None:
        keep &= t <= end_s
    return integrate(series, float(t0), t[keep], p[keep])


def trace_grid(series: GridSeries, trace: Any) -> dict[str, Any]:
    """What a run's repetition met on the grid of ``series``: the effective (energy-weighted)
    intensity over its power trace, sample by sample, and the same trace started at the best and
    the worst whole hour of its UTC day (:func:`day_extremes`)."""
    ti = trace_intensity(series, trace)
    t = np.asarray(trace.t_s, dtype=float)
    p = np.asarray(trace.channels[trace.primary], dtype=float)
    out = ti.to_dict()
    out["signal"] = series.signal
    ext = day_extremes(series, float(trace.meta["t0_unix_s"]), t, p)
    if ext is not None:
        out["best_hour"], out["worst_hour"] = ext["best"], ext["worst"]
        out["hours_covered"] = ext["hours_covered"]
    return out


def score_hours(grid: dict[str, Any], impact: dict[str, Any]) -> dict[str, Any]:
    """``grid`` (:func:`trace_grid`) with the repetition's use-phase and total GWP at its best
    and worst hour: the use phase is proportional to the intensity (energy x PUE x grid), the
    embodied share does not move. ``impact`` is the repetition's ``Impact.to_dict()``."""
    eff = float(grid["gco2e_per_kwh"])
    use = (impact.get("use_gco2e") or {}).get("value")
    emb = (impact.get("embodied_gco2e") or {}).get("value") or 0.0
    out = dict(grid)
    for key in ("best_hour", "worst_hour"):
        h = out.get(key)
        if h is None or use is None or eff <= 0:
            continue
        use_h = float(use) * float(h["gco2e_per_kwh"]) / eff
        out[key] = {**h, "use_gco2e": use_h, "total_gco2e": use_h + float(emb)}
    return out
