"""One summary of a trace over a window: energy (primary and per channel), power, diagnostics,
static/dynamic split; what ``inferlca measure`` and ``inferlca trace import`` print."""

from __future__ import annotations

import math
from typing import Any

from inferlca.traces.diagnostics import diagnose
from inferlca.traces.energy import baseline_split, energy, phases, power_stats, trace_span
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
    out["phases"] = [
        {
            "name": name,
            "start_s": s,
            "end_s": e,
            "duration_s": e - s,
            "energy_j": _finite(energy(trace, s, e).energy_j),
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
