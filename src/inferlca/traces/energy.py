"""From a power trace to energy: trapezoid, hardware counters, windows, phases, baselines.

Rules (docs/method.md, "Measuring a run", and "never a silent zero"):

* Power samples are integrated with the trapezoidal rule over their own (irregular) timestamps.
  A window ``[start_s, end_s]`` is clipped with the power linearly interpolated at its edges.
* A channel with a cumulative energy counter (NVML total energy, RAPL) takes its energy from the
  counter: ``E(end) - E(start)``, the counter linearly interpolated at the edges. The trapezoid of
  the power samples is still computed and the difference reported (``Energy.counter_vs_trapezoid``).
* ``NaN`` samples (failed reads) are never read as zero. The trapezoid bridges them linearly
  between the neighbouring good samples and the bridged time is reported as not covered
  (``Energy.coverage`` < 1, with a warning). A counter spans gaps exactly.
* Phases run from their mark to the next mark (or the end of the trace); a mark named ``end`` or
  ``stop`` only closes the previous phase.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.traces.trace import Mark, PowerTrace

#: Mark names that close the previous phase without opening a new one.
TERMINATORS = ("end", "stop")


@dataclass
class Energy:
    """Energy of one channel over a window, with how it was obtained.

    Attributes:
        energy_j: the energy in joules (from the counter when there is one, else the trapezoid).
        source: ``"counter"`` or ``"trapezoid"``.
        trapezoid_j: trapezoid of the power samples over the window.
        counter_j: counter delta over the window, or ``None`` without a counter.
        counter_vs_trapezoid: ``(trapezoid - counter) / counter`` or ``None``.
        coverage: fraction of the window covered by good samples (1.0 = no gap, no missing edge).
    """

    energy_j: float
    source: str
    channel: str
    start_s: float
    end_s: float
    trapezoid_j: float
    counter_j: float | None
    coverage: float
    estimated: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def mean_power_w(self) -> float:
        return self.energy_j / self.duration_s if self.duration_s > 0 else math.nan

    @property
    def counter_vs_trapezoid(self) -> float | None:
        if self.counter_j is None or self.counter_j == 0 or math.isnan(self.counter_j):
            return None
        return (self.trapezoid_j - self.counter_j) / self.counter_j

    def to_dict(self) -> dict[str, Any]:
        return {
            "energy_j": self.energy_j,
            "energy_wh": self.energy_j / 3600.0,
            "source": self.source,
            "channel": self.channel,
            "start_s": self.start_s,
            "end_s": self.end_s,
            "duration_s": self.duration_s,
            "mean_power_w": _finite_or_none(self.mean_power_w),
            "trapezoid_j": self.trapezoid_j,
            "counter_j": self.counter_j,
            "counter_vs_trapezoid": self.counter_vs_trapezoid,
            "coverage": self.coverage,
            "estimated": self.estimated,
            "warnings": list(self.warnings),
        }


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


# ---- low-level integration -------------------------------------------------------------------
def trapezoid_window_j(t_s: np.ndarray, power_w: np.ndarray, start_s: float, end_s: float) -> float:
    """Trapezoid of good (non-NaN) samples over ``[start_s, end_s]``, edges interpolated.

    Parts of the window outside the first/last good sample are not integrated (see coverage).
    """
    t = np.asarray(t_s, dtype=float)
    p = np.asarray(power_w, dtype=float)
    good = ~np.isnan(p)
    t, p = t[good], p[good]
    if t.size < 2:  # one sample gives no energy, not even over an empty window: unknown, not 0
        return math.nan
    if end_s <= start_s:
        return 0.0
    a = max(start_s, t[0])
    b = min(end_s, t[-1])
    if b <= a:
        return 0.0
    inside = (t > a) & (t < b)
    ts = np.concatenate(([a], t[inside], [b]))
    ps = np.concatenate(
        ([_edge_value(t, p, a, right=True)], p[inside], [_edge_value(t, p, b, right=False)])
    )
    return float(np.sum(0.5 * (ps[1:] + ps[:-1]) * np.diff(ts)))


def _edge_value(t: np.ndarray, p: np.ndarray, x: float, right: bool) -> float:
    """Linear interpolation at ``x``; at a step (two samples at the same time) the value on the
    inside of the window: the later sample at a window start, the earlier one at a window end."""
    if right:
        i = int(np.searchsorted(t, x, side="right")) - 1
        if t[i] == x or i + 1 >= t.size:
            return float(p[i])
        j = i + 1
    else:
        j = int(np.searchsorted(t, x, side="left"))
        if j < t.size and t[j] == x or j == 0:
            return float(p[min(j, t.size - 1)])
        i = j - 1
    w = (x - t[i]) / (t[j] - t[i])
    return float(p[i] + w * (p[j] - p[i]))


def counter_window_j(t_s: np.ndarray, counter_j: np.ndarray, start_s: float, end_s: float) -> float:
    """Cumulative-counter delta over the window (clipped to the counter's span); NaN if unread."""
    t = np.asarray(t_s, dtype=float)
    c = np.asarray(counter_j, dtype=float)
    good = ~np.isnan(c)
    t, c = t[good], c[good]
    if t.size < 2:
        return math.nan
    a = max(start_s, t[0])
    b = min(end_s, t[-1])
    if b <= a:
        return 0.0
    return float(np.interp(b, t, c) - np.interp(a, t, c))


def covered_s(t_s: np.ndarray, values: np.ndarray, start_s: float, end_s: float) -> float:
    """Seconds of ``[start_s, end_s]`` lying between two consecutive good samples."""
    t = np.asarray(t_s, dtype=float)
    ok = ~np.isnan(np.asarray(values, dtype=float))
    if t.size < 2:
        return 0.0
    seg_ok = ok[1:] & ok[:-1]
    lo = np.clip(t[:-1], start_s, end_s)
    hi = np.clip(t[1:], start_s, end_s)
    return float(np.sum((hi - lo)[seg_ok]))


# ---- windows and phases ----------------------------------------------------------------------
def trace_span(trace: PowerTrace) -> tuple[float, float]:
    if trace.t_s.size == 0:
        raise InvalidValueError("the trace has no samples")
    return float(trace.t_s[0]), float(trace.t_s[-1])


def duration_s(trace: PowerTrace) -> float:
    """Seconds from the first to the last sample (0 for fewer than two samples)."""
    return float(trace.t_s[-1] - trace.t_s[0]) if trace.t_s.size > 1 else 0.0


def phases(trace: PowerTrace) -> list[tuple[str, float, float]]:
    """``(name, start_s, end_s)`` for every phase, in time order (terminator marks excluded)."""
    if trace.t_s.size == 0:
        return []
    _, t_end = trace_span(trace)
    marks = sorted(trace.marks, key=lambda m: m.t_s)
    out = []
    for i, m in enumerate(marks):
        if m.name in TERMINATORS:
            continue
        end = marks[i + 1].t_s if i + 1 < len(marks) else max(t_end, m.t_s)
        out.append((m.name, float(m.t_s), float(end)))
    return out


def window_of(trace: PowerTrace, phase: str) -> tuple[float, float]:
    """``(start_s, end_s)`` of a phase; for a repeated phase, from its first start to its last end.

    Raises:
        UnknownNameError: no mark of that name in the trace.
    """
    spans = [(s, e) for name, s, e in phases(trace) if name == phase]
    if not spans:
        known = sorted({m.name for m in trace.marks} - set(TERMINATORS))
        raise UnknownNameError(
            "phase",
            phase,
            known,
            hint="(phases come from the marks of the trace; "
            + (f"accepted: {', '.join(known)})" if known else "this trace has none)"),
        )
    return spans[0][0], spans[-1][1]


def _channel(trace: PowerTrace, channel: str | None) -> str:
    ch = channel or trace.primary
    if ch not in trace.channels and ch not in trace.counters:
        raise UnknownNameError("channel", ch, list(trace.channels))
    return ch


def energy(
    trace: PowerTrace,
    start_s: float | None = None,
    end_s: float | None = None,
    channel: str | None = None,
    prefer_counter: bool = True,
) -> Energy:
    """Energy of one channel (default: the primary) over a window (default: the whole trace)."""
    ch = _channel(trace, channel)
    t0, t1 = trace_span(trace)
    a = t0 if start_s is None else float(start_s)
    b = t1 if end_s is None else float(end_s)
    if not (math.isfinite(a) and math.isfinite(b)) or b < a:
        raise InvalidValueError(f"energy window must have start <= end, got [{a}, {b}]")
    window_s = b - a
    warns: list[str] = []
    power = trace.channels.get(ch)
    trap_j = trapezoid_window_j(trace.t_s, power, a, b) if power is not None else math.nan
    counter = trace.counters.get(ch)
    counter_j = None
    if counter is not None and np.count_nonzero(~np.isnan(counter)) >= 2:
        counter_j = counter_window_j(trace.t_s, counter, a, b)
    if prefer_counter and counter_j is not None and counter is not None:
        value, source = counter_j, "counter"
        good_t = trace.t_s[~np.isnan(counter)]
        cov_s = max(0.0, min(b, float(good_t[-1])) - max(a, float(good_t[0])))
    else:
        if power is None:
            raise InvalidValueError(f"channel {ch!r} has neither power samples nor a counter")
        value, source = trap_j, "trapezoid"
        cov_s = covered_s(trace.t_s, power, a, b)
    coverage = 1.0 if window_s == 0 else min(1.0, cov_s / window_s)
    if math.isnan(value):
        warns.append(f"channel {ch!r} has fewer than two good samples: energy unknown")
    values = counter if source == "counter" else power
    good_t = trace.t_s[~np.isnan(values)] if values is not None else trace.t_s[:0]
    if window_s > 0 and good_t.size >= 2:
        missing_s = max(0.0, float(good_t[0]) - a) + max(0.0, b - float(good_t[-1]))
        if missing_s > 0.001 * window_s:
            warns.append(
                f"channel {ch!r}: no good sample in {missing_s:.3g} s at the edge(s) of the "
                f"window: that time is not counted (nothing is made up there), so "
                f"{value:.4g} J is a lower bound"
            )
    if coverage < 0.999 and window_s > 0:
        warns.append(
            f"channel {ch!r}: only {coverage:.1%} of the window is covered by good samples "
            "(gaps bridged linearly or window beyond the trace)"
        )
    if counter_j is not None and trap_j and not math.isnan(trap_j) and counter_j > 0:
        rel = (trap_j - counter_j) / counter_j
        if abs(rel) > 0.05:
            warns.append(
                f"channel {ch!r}: power samples integrate to {rel:+.1%} vs the energy counter"
            )
    return Energy(value, source, ch, a, b, trap_j, counter_j, coverage, trace.estimated, warns)


def energy_j(
    trace: PowerTrace,
    start_s: float | None = None,
    end_s: float | None = None,
    channel: str | None = None,
) -> float:
    """Energy in joules of a channel (default primary) over a window (counter first)."""
    return energy(trace, start_s, end_s, channel).energy_j


def phase_energies_j(trace: PowerTrace, channel: str | None = None) -> dict[str, float]:
    """Joules per phase name (repeated phases summed), in order of first appearance."""
    out: dict[str, float] = {}
    for name, s, e in phases(trace):
        out[name] = out.get(name, 0.0) + energy_j(trace, s, e, channel)
    return out


def phase_energies(trace: PowerTrace, channel: str | None = None) -> list[tuple[str, Energy]]:
    """The :class:`Energy` of each phase occurrence, in time order."""
    return [(name, energy(trace, s, e, channel)) for name, s, e in phases(trace)]


def power_stats(
    trace: PowerTrace, channel: str, start_s: float | None = None, end_s: float | None = None
) -> dict[str, float | None]:
    """Mean (energy / time) and peak (max good sample) power of a channel in watts."""
    e = (
        energy(trace, start_s, end_s, channel, prefer_counter=False)
        if channel in trace.channels
        else None
    )
    p = trace.channels.get(channel)
    peak = None
    if p is not None:
        a, b = (e.start_s, e.end_s) if e else trace_span(trace)
        sel = (trace.t_s >= a) & (trace.t_s <= b) & ~np.isnan(p)
        peak = float(np.max(p[sel])) if np.any(sel) else None
    mean = e.mean_power_w if e else None
    return {
        "mean_power_w": mean if mean is not None and math.isfinite(mean) else None,
        "peak_power_w": peak,
    }


# ---- idle baseline ---------------------------------------------------------------------------
@dataclass
class BaselineSplit:
    """Static (idle baseline x time) and dynamic (the rest) energy of a window, in joules."""

    total_j: float
    static_j: float
    dynamic_j: float
    idle_power_w: float
    idle_window_s: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_j": self.total_j,
            "static_j": self.static_j,
            "dynamic_j": self.dynamic_j,
            "idle_power_w": self.idle_power_w,
            "idle_window_s": list(self.idle_window_s),
        }


def baseline_split(
    trace: PowerTrace,
    start_s: float | None = None,
    end_s: float | None = None,
    idle_phase: str = "idle",
    channel: str | None = None,
) -> BaselineSplit:
    """Split the energy of a window into static and dynamic parts using an idle phase.

    The idle power is the energy of the (first) ``idle_phase`` divided by its duration; static
    energy is that power times the window's duration; dynamic is the remainder (it can be slightly
    negative when the workload draws less than the idle measurement: kept, not clipped).
    """
    i0, i1 = window_of(trace, idle_phase)
    if i1 <= i0:
        raise InvalidValueError(f"idle phase {idle_phase!r} has zero duration")
    idle_w = energy_j(trace, i0, i1, channel) / (i1 - i0)
    e = energy(trace, start_s, end_s, channel)
    static = idle_w * e.duration_s
    return BaselineSplit(e.energy_j, static, e.energy_j - static, idle_w, (i0, i1))


# ---- resampling ------------------------------------------------------------------------------
def resample(
    trace: PowerTrace, n: int = 100, start_s: float | None = None, end_s: float | None = None
) -> PowerTrace:
    """The trace on ``n`` evenly spaced points (linear interpolation of good samples).

    Grid points falling between two samples that are not both good stay ``NaN`` (no invented
    power inside a gap). Counters are interpolated (they are exact across gaps).
    """
    if not isinstance(n, int) or n < 2:
        raise InvalidValueError(f"resample needs n >= 2 points, got {n!r}")
    t0, t1 = trace_span(trace)
    a = t0 if start_s is None else float(start_s)
    b = t1 if end_s is None else float(end_s)
    grid = np.linspace(a, b, n)
    channels = {}
    for name, p in trace.channels.items():
        channels[name] = _interp_masked(trace.t_s, p, grid)
    counters = {}
    for name, c in trace.counters.items():
        good = ~np.isnan(c)
        counters[name] = (
            np.interp(grid, trace.t_s[good], c[good], left=np.nan, right=np.nan)
            if np.count_nonzero(good) >= 2
            else np.full(n, np.nan)
        )
    marks = [m for m in trace.marks if a <= m.t_s <= b]
    meta = dict(trace.meta)
    meta["resampled_from"] = int(trace.t_s.size)
    return replace(
        trace,
        t_s=grid,
        channels=channels,
        counters=counters,
        marks=marks,
        gaps=list(trace.gaps),
        meta=meta,
    )


def _interp_masked(t: np.ndarray, p: np.ndarray, grid: np.ndarray) -> np.ndarray:
    good = ~np.isnan(p)
    if np.count_nonzero(good) < 2:
        return np.full(grid.shape, np.nan)
    out = np.interp(grid, t[good], p[good], left=np.nan, right=np.nan)
    # a grid point inside a raw interval with a bad end is in a gap: NaN
    idx = np.searchsorted(t, grid, side="right") - 1
    idx = np.clip(idx, 0, t.size - 2)
    exact = np.isclose(grid, t[idx]) & good[idx]
    seg_ok = good[idx] & good[idx + 1]
    out[~(seg_ok | exact)] = np.nan
    return out


def mean_profile(
    traces: list[PowerTrace], n: int = 100, channel: str | None = None, phase: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Average power profile of repetitions on a common normalised grid (the study used 100 points).

    Each trace (or its ``phase`` window) is resampled to ``n`` points over its own duration, then
    the profiles are averaged point by point (NaN-aware). Returns ``(fraction, mean_w, std_w)``.
    """
    if not traces:
        raise InvalidValueError("mean_profile needs at least one trace")
    rows = []
    for tr in traces:
        a, b = window_of(tr, phase) if phase else trace_span(tr)
        r = resample(tr, n, a, b)
        rows.append(r.channels[_channel(tr, channel)])
    m = np.vstack(rows)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(m, axis=0)
            std = np.nanstd(m, axis=0)
    return np.linspace(0.0, 1.0, n), mean, std


def with_marks(trace: PowerTrace, marks: list[tuple[float, str]]) -> PowerTrace:
    """A copy of the trace with extra marks (sorted)."""
    allm = sorted([*trace.marks, *(Mark(float(t), str(n)) for t, n in marks)], key=lambda m: m.t_s)
    return replace(trace, marks=allm)


# ---- energy inside step windows ---------------------------------------------------------------
class StepWindow(Protocol):
    """A timed step of some engine: its window (s, on the engine's clock) and its phase name
    (for example a decoder LLM's ``prefill`` and ``decode`` forward passes)."""

    @property
    def start_s(self) -> float: ...

    @property
    def end_s(self) -> float: ...

    @property
    def phase(self) -> str: ...


def merge_windows(steps: Sequence[StepWindow], phase: str,
                  tolerance_s: float = 0.0) -> list[tuple[float, float]]:
    """The ``(start_s, end_s)`` windows of the steps of ``phase``, back-to-back steps joined.

    Two steps of the same phase are joined when the second starts at most ``tolerance_s`` after
    the first ends (the bookkeeping between two steps belongs to the phase).
    """
    windows: list[list[float]] = []
    for s in sorted((s for s in steps if s.phase == phase), key=lambda s: s.start_s):
        if windows and s.start_s - windows[-1][1] <= tolerance_s:
            windows[-1][1] = max(windows[-1][1], s.end_s)
        else:
            windows.append([s.start_s, s.end_s])
    return [(a, b) for a, b in windows]


def phase_energies_from_steps(trace: PowerTrace, steps: Sequence[StepWindow], offset_s: float = 0.0,
                              channel: str | None = None, tolerance_s: float = 1e-3,
                              phases: Sequence[str] | None = None) -> dict[str, float]:
    """Energy (J) of the trace inside the steps of each phase: ``energy_{phase}_j``.

    Meant for an engine that runs one step at a time, so the windows never overlap; each
    window's energy comes from :func:`energy_j` (a hardware counter when the trace has one, else
    the trapezoid with edges interpolated), windows clipped to the trace. ``offset_s`` converts
    the engine's clock to trace time (``t_trace = t + offset_s``). ``phases`` (default: every
    phase the steps name) sets the keys; a phase without steps has no key. The sum is at most
    the energy of the enclosing window: time between steps belongs to no phase.
    """
    t_s = np.asarray(trace.t_s, dtype=float)
    if t_s.size < 2:
        return {}
    lo, hi = float(t_s[0]), float(t_s[-1])
    if phases is None:
        phases = list(dict.fromkeys(s.phase for s in sorted(steps, key=lambda s: s.start_s)))
    out: dict[str, float] = {}
    for phase in phases:
        windows = merge_windows(steps, phase, tolerance_s)
        if not windows:
            continue
        total_j = 0.0
        for a, b in windows:
            a, b = min(max(a + offset_s, lo), hi), min(max(b + offset_s, lo), hi)
            if b > a:
                total_j += energy_j(trace, a, b, channel)
        out[f"energy_{phase}_j"] = total_j
    return out
