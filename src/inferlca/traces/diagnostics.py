"""Sensor diagnostics: how fast the sensor really updates, repeats, coverage, and warnings.

A power sensor often updates slower than it is polled (NVML's averaged power about every 100 ms
to 1 s, tegrastats at its interval), so a 10 ms trace can hold runs of identical values. The real
update period is estimated from the times at which the value *changes*; a window shorter than
about ten updates cannot be trusted to a few percent, and a trace of mostly repeats says the same.

The sampler's own record is checked too (:func:`sampling_report`): a mean period more than 20 %
over the request, a sampler process that could not be used or died, readings dropped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inferlca.traces.energy import covered_s, trace_span
from inferlca.traces.trace import PowerTrace

#: a window shorter than this many sensor updates gets a warning
MIN_UPDATES = 10
#: share of repeated values above which the polling is called much faster than the sensor
REPEAT_WARN = 0.5


@dataclass
class Diagnostics:
    """Quality of one channel of a trace over a window.

    Attributes:
        samples: good samples in the window.
        period_achieved_s: mean time between samples.
        update_period_s: estimated real sensor update period (median time between value changes),
            ``None`` when the value never changes.
        repeat_fraction: share of samples equal to the previous one.
        coverage: share of the window between two good samples.
        longest_gap_s: the longest time between two good samples.
    """

    channel: str
    samples: int
    period_achieved_s: float | None
    update_period_s: float | None
    repeat_fraction: float
    coverage: float
    longest_gap_s: float
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "samples": self.samples,
            "period_achieved_s": self.period_achieved_s,
            "update_period_s": self.update_period_s,
            "repeat_fraction": self.repeat_fraction,
            "coverage": self.coverage,
            "longest_gap_s": self.longest_gap_s,
            "warnings": list(self.warnings),
        }


def estimate_update_period_s(t_s: np.ndarray, power_w: np.ndarray) -> float | None:
    """Median time between changes of the value (good samples only); None if it never changes."""
    good = ~np.isnan(power_w)
    t, p = np.asarray(t_s)[good], np.asarray(power_w)[good]
    if t.size < 3:
        return None
    change = np.flatnonzero(np.diff(p) != 0) + 1
    if change.size < 2:
        return None
    return float(np.median(np.diff(t[change])))


def diagnose(
    trace: PowerTrace,
    channel: str | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
) -> Diagnostics:
    """Diagnostics of one channel (default primary) over a window (default the whole trace)."""
    ch = channel or trace.primary
    t0, t1 = trace_span(trace)
    a = t0 if start_s is None else start_s
    b = t1 if end_s is None else end_s
    p = trace.channels.get(ch)
    if p is None:  # counter-only channel
        p = trace.counters[ch]
    sel = (trace.t_s >= a) & (trace.t_s <= b)
    t, v = trace.t_s[sel], p[sel]
    good = ~np.isnan(v)
    n_good = int(good.sum())
    period = float(np.mean(np.diff(t))) if t.size > 1 else None
    update = estimate_update_period_s(t, v)
    gv = v[good]
    repeats = float(np.mean(gv[1:] == gv[:-1])) if gv.size > 1 else 0.0
    window = b - a
    coverage = (covered_s(trace.t_s, p, a, b) / window) if window > 0 else (1.0 if n_good else 0.0)
    tg = t[good]
    longest = float(np.max(np.diff(tg))) if tg.size > 1 else (window if window > 0 else 0.0)
    warns: list[str] = []
    if n_good < 2:
        warns.append(f"{ch}: fewer than two good samples in the window: its energy is unknown")
    sensor = update or trace.meta.get("sensor_update_s") or trace.meta.get("power_averaging_s")
    if sensor and window > 0 and window < MIN_UPDATES * sensor:
        warns.append(
            f"{ch}: the window ({window:.3g} s) spans fewer than {MIN_UPDATES} sensor updates "
            f"(~{sensor:.3g} s each): energy is uncertain; measure longer or use an energy counter"
        )
    if repeats > REPEAT_WARN and gv.size > 10:
        warns.append(
            f"{ch}: {repeats:.0%} of samples repeat the previous value: the sensor updates slower "
            f"(~{update:.3g} s) than the sampling period"
            if update
            else f"{ch}: {repeats:.0%} of samples repeat the previous value"
        )
    if coverage < 0.999 and window > 0:
        # runs of failed (NaN) samples in the window: a CSV with empty cells has no gap records
        bad = (~good).astype(np.int8)
        nan_runs = int(np.count_nonzero(np.diff(np.concatenate(([0], bad))) == 1))
        recorded = sum(
            1 for g in trace.gaps if g.channel in (ch, None) and g.end_s >= a and g.start_s <= b
        )
        warns.append(
            f"{ch}: good samples cover {coverage:.1%} of the window (gaps: "
            f"{max(nan_runs, recorded)})"
        )
    impossible = (trace.meta.get("impossible_readings") or {}).get(ch)
    if impossible:
        warns.append(f"{ch}: {impossible} sample(s) of the log were negative, infinite or empty: "
                     "kept as gaps, not integrated")
    if trace.meta.get("times_assumed"):
        warns.append(f"{ch}: sample times were not recorded: {trace.meta.get('times', 'assumed')}")
    if trace.estimated:
        warns.append(f"{ch}: ESTIMATED by a model ({trace.meter}), not measured by a sensor")
    warns += sampling_warnings(trace)
    return Diagnostics(
        ch,
        n_good,
        period,
        update,
        repeats,
        min(1.0, coverage) if math.isfinite(coverage) else 0.0,
        longest,
        warns,
    )


# ---- the sampler's own record: asked vs achieved period, jitter, missed ticks, which sampler -----

#: an achieved mean period more than this share over the request is called out
PERIOD_OVER_WARN = 0.20


def sampling_report(trace: PowerTrace) -> dict[str, Any]:
    """What the sampler recorded about itself (from ``trace.meta``), with ``slow`` set when the
    achieved mean period is more than :data:`PERIOD_OVER_WARN` over the request."""
    meta = trace.meta
    asked = trace.period_requested_s
    achieved = meta.get("period_achieved_s")
    over = (achieved / asked - 1.0) if asked and achieved else None
    return {
        "sampler": meta.get("sampler"),
        "period_requested_s": asked,
        "period_achieved_s": achieved,
        "period_over": over,
        "jitter_p99_s": meta.get("jitter_p99_s"),
        "missed_ticks": meta.get("missed_ticks"),
        "dropped_readings": meta.get("dropped_readings", 0),
        "sampler_fallback": meta.get("sampler_fallback"),
        "sampler_died": meta.get("sampler_died"),
        "agent_lost": meta.get("agent_lost"),  # a remote meter whose agent went away
        "slow": over is not None and over > PERIOD_OVER_WARN,
    }


def sampling_warnings(trace: PowerTrace) -> list[str]:
    """One line per problem of the sampling itself (empty when it kept its period)."""
    r = sampling_report(trace)
    out: list[str] = []
    if r["slow"]:
        jitter = r["jitter_p99_s"]
        out.append(
            f"sampling slower than asked: {r['period_achieved_s'] * 1000:.3g} ms achieved for "
            f"{r['period_requested_s'] * 1000:.3g} ms requested (+{r['period_over']:.0%}"
            + (f", p99 jitter {jitter * 1000:.3g} ms" if jitter is not None else "")
            + (f", {r['missed_ticks']} missed ticks" if r["missed_ticks"] else "")
            + (f"; {r['sampler']} sampler" if r["sampler"] else "") + ")"
        )
    if r["sampler_fallback"]:
        out.append(f"sampled from a thread of the measured process: {r['sampler_fallback']}")
    if r["sampler_died"]:
        out.append(f"{r['sampler_died']}: the trace has a gap from then to the end")
    if r["agent_lost"]:
        out.append(f"{r['agent_lost']}: the trace has a gap (no readings, never zeros) until the "
                   "agent came back or the end")
    if r["dropped_readings"]:
        out.append(f"{r['dropped_readings']} power readings dropped (the sampler's ring buffer "
                   "overflowed): gaps in the trace")
    return out


def sampling_notes(traces: list[PowerTrace | None]) -> list[str]:
    """Run notes from the repetitions' traces: each kind of problem once (as first seen), with
    the repetitions it happened in."""
    first: dict[str, str] = {}
    where: dict[str, list[int]] = {}
    for k, trace in enumerate(traces):
        if trace is None:
            continue
        for w in sampling_warnings(trace):
            kind = w.split(":")[0]  # the same kind of problem, figures aside
            first.setdefault(kind, w)
            where.setdefault(kind, []).append(k)
    notes = []
    for kind, line in first.items():
        reps = where[kind]
        notes.append(line + (f" (repetition {reps[0]})" if len(reps) == 1
                             else f" (repetitions {', '.join(map(str, reps))}; the first shown)"))
    return notes
