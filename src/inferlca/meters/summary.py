"""One summary of a trace over a window: energy (primary and per channel), power, diagnostics,
static/dynamic split; what ``inferlca measure`` and ``inferlca trace import`` print."""

from __future__ import annotations

import math
from typing import Any

from inferlca.traces.diagnostics import diagnose
from inferlca.traces.energy import baseline_split, energy, phases, power_stats, trace_span
from inferlca.traces.scope import measurement_scope, scope_energies, scope_totals
from inferlca.traces.trace import PowerTrace
from inferlca.units import J_PER_WH


def summarize(
    trace: PowerTrace,
    start_s: float | None = None,
    end_s: float | None = None,
    idle_phase: str | None = None,
) -> dict[str, Any]:
    """Energy and power of every channel over ``[start_s, end_s]`` (default: the whole trace).

    Returns a JSON-ready dict: ``energy`` (primary channel, :meth:`Energy.to_dict`), ``channels``
    (per channel ``energy_j``, ``mean_power_w``, ``peak_power_w``, ``source``, ``coverage``),
    ``diagnostics`` of the primary channel, ``baseline`` (static/dynamic) when ``idle_phase``
    is given and present, ``warnings`` (all, de-duplicated).
    """
    t0, t1 = trace_span(trace)
    a = t0 if start_s is None else start_s
    b = t1 if end_s is None else end_s
    main = energy(trace, a, b)
    channels: dict[str, Any] = {}
    warnings: list[str] = list(main.warnings)
    for ch in trace.channels:
        e = energy(trace, a, b, ch)
        stats = power_stats(trace, ch, a, b)
        channels[ch] = {
            "energy_j": _finite(e.energy_j),
            "energy_wh": _finite(e.energy_j / J_PER_WH),
            "source": e.source,
            "coverage": e.coverage,
            "mean_power_w": _finite(e.energy_j / e.duration_s) if e.duration_s > 0 else None,
            "peak_power_w": stats["peak_power_w"],
        }
    diag = diagnose(trace, trace.primary, a, b)
    warnings += diag.warnings
    if trace.meta.get("failed_reads"):
        warnings.append(
            f"{trace.meta['failed_reads']} of {trace.t_s.size} reads failed: kept as gaps "
            f"({len(trace.gaps)}), never as zeros"
        )
    elif trace.gaps:
        inside = [g for g in trace.gaps if g.end_s >= a and g.start_s <= b]
        if inside:
            g = inside[0]
            warnings.append(
                f"{len(inside)} gap(s) in the recording (first at {g.start_s:.4g} s: {g.reason}); "
                "power is bridged linearly across them, never read as zero"
            )
    if trace.meta.get("incomplete"):
        warnings.append("the measurement was interrupted: the trace is incomplete")
    out: dict[str, Any] = {
        "meter": trace.meter,
        "estimated": trace.estimated,
        "primary": trace.primary,
        "start_s": a,
        "end_s": b,
        "duration_s": b - a,
        "energy": main.to_dict(),
        "channels": channels,
        "diagnostics": diag.to_dict(),
        "samples": int(trace.t_s.size),
        "gaps": len(trace.gaps),
        "period_requested_s": trace.period_requested_s,
        # a recorded log has no sampler figures: its mean step between samples is the period
        "period_achieved_s": trace.meta.get("period_achieved_s", diag.period_achieved_s),
        "jitter_p99_s": trace.meta.get("jitter_p99_s"),
        "missed_ticks": trace.meta.get("missed_ticks"),
        "sampler": trace.meta.get("sampler"),  # process, thread; None for a recorded log
    }
    if "process_dynamic" in trace.channels:
        dyn = energy(trace, a, b, "process_dynamic").energy_j
        out["dynamic_energy_j"] = _finite(dyn)
        out["dynamic_energy_note"] = (
            "the measured process tree's own CPU energy above idle (ESTIMATED, modelled), beside "
            f"the machine's total {out['energy']['energy_j']:.4g} J"
            if math.isfinite(main.energy_j) else "ESTIMATED, modelled"
        )
    totals = scope_totals(trace)
    out["measurement_scope"] = measurement_scope(trace)
    per_scope = scope_energies(trace, a, b)
    out["scopes"] = {
        sc: {"channel": ch, "energy_j": _finite(per_scope[sc])}
        for sc, ch in totals.items()
        if sc in per_scope
    }
    if trace.meta.get("devices_measured"):
        out["devices_measured"] = trace.meta["devices_measured"]
    out["phases"] = [
        {
            "name": name,
            "start_s": s,
            "end_s": e,
            "duration_s": e - s,
            "energy_j": _finite(energy(trace, s, e).energy_j),
            **(
                {"scopes": {k: _finite(v) for k, v in scope_energies(trace, s, e).items()}}
                if len(totals) > 1
                else {}
            ),
        }
        for name, s, e in phases(trace)
    ]
    if idle_phase and any(m.name == idle_phase for m in trace.marks):
        out["baseline"] = baseline_split(trace, a, b, idle_phase).to_dict()
    if (
        trace.estimated
        and "idle_share_range" in trace.meta
        and "max_power_w" in trace.meta
        and math.isfinite(main.energy_j)
    ):
        from inferlca.meters.modelled import energy_interval_j

        lo, hi = energy_interval_j(trace.meta, main.energy_j, main.duration_s)
        out["energy_interval_j"] = {"value": main.energy_j, "low": lo, "high": hi}
    elif slow := slow_sensor_interval_j(trace, main.energy_j, main.duration_s):
        out["energy_interval_j"] = slow
        warnings.append(
            f"slow sensor (updates every ~{trace.meta['sensor_update_s']:.3g} s, "
            f"{trace.meta['resolution_w']:g} W steps): energy "
            f"{slow['low']:.4g} - {slow['high']:.4g} J over this {main.duration_s:.3g} s window"
        )
    out["warnings"] = list(dict.fromkeys(warnings))
    out["meta"] = trace.meta
    return json_safe(out)


def json_safe(obj: Any) -> Any:
    """Copy with NaN/inf floats as ``None`` and numpy scalars as Python numbers (strict JSON)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        try:
            obj = obj.item()
        except (TypeError, ValueError):
            return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


def slow_sensor_interval_j(
    trace: PowerTrace, energy_j: float, duration_s: float
) -> dict[str, float] | None:
    """Energy interval of a slow, coarse sensor (BMC readings: ``sensor_update_s`` about 1 s,
    ``resolution_w`` whole watts): the window's ends can each be off by up to one update of
    power, and every reading by its resolution, so the half-width is
    ``mean power x update period + resolution x duration``. None for other sensors."""
    upd, res = trace.meta.get("sensor_update_s"), trace.meta.get("resolution_w")
    if trace.estimated or not upd or res is None or not math.isfinite(energy_j) or duration_s <= 0:
        return None
    half = abs(energy_j) / duration_s * float(upd) + float(res) * duration_s
    return {"value": energy_j, "low": max(0.0, energy_j - half), "high": energy_j + half}
