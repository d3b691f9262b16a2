"""Measurement scope: what part of the machine a trace's channels cover, and each scope's total.

Three scopes, from the inside out:

* ``accelerator``: GPU or SoC rails (NVML, Jetson rails, amdgpu/i915/xe hwmon, Apple SoC);
* ``host``: the CPU packages and DRAM (RAPL, the modelled CPU meter);
* ``node``: the whole server or board at its power input (BMC through IPMI/Redfish, wall meter).

This module is the one place where the total of each scope is defined:

* a trace records ``meta["channel_scopes"]`` (channel -> scope) and ``meta["scope_totals"]``
  (scope -> the channel that is that scope's total). A single meter's total is its primary
  channel; a composite meter (``--meter nvml+rapl``) adds one channel per scope, named after the
  scope, that sums its members' primaries of that scope (never two meters on one rail: the
  registry refuses that).
* traces written before scopes were recorded (and imported logs) get them from the meter name.
* the run's measurement scope is the ``+``-joined list of scopes measured (``accelerator``,
  ``accelerator+host``, ``node``...). A node reading already contains the others: where ``node``
  is measured it is the run's total, else the sum of the other scopes' totals.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from inferlca.traces.trace import PowerTrace

SCOPES = ("accelerator", "host", "node")

#: meter name (before any ``replay:`` prefix) -> scope of its channels
METER_SCOPES: dict[str, str] = {
    "nvml": "accelerator",
    "nvidia-smi": "accelerator",
    "dmon": "accelerator",
    "tegrastats": "accelerator",
    "ina3221": "accelerator",
    "amdgpu": "accelerator",
    "amdsmi": "accelerator",
    "intel-gpu": "accelerator",
    "powermetrics": "accelerator",
    "zeus-apple": "accelerator",
    "rapl": "host",
    "modelled": "host",
    "ipmi": "node",
    "redfish": "node",
    "kwollect": "node",
    "wall-csv": "node",
}


def scope_of_meter(meter: str) -> str | None:
    """Scope of a meter name (``replay:tegrastats``, ``remote:nvml`` -> ``accelerator``); None
    when unknown."""
    key = meter.split(":", 1)[1] if meter.startswith(("replay:", "remote:")) else meter
    return METER_SCOPES.get(key)


def label(scopes: list[str] | tuple[str, ...] | set[str]) -> str:
    """``{"host", "accelerator"}`` -> ``"accelerator+host"`` (fixed order)."""
    return "+".join(s for s in SCOPES if s in scopes)


def channel_scopes(trace: PowerTrace) -> dict[str, str]:
    """Channel -> scope, from the trace meta or, for older traces, from the meter name."""
    recorded = trace.meta.get("channel_scopes")
    if isinstance(recorded, dict) and recorded:
        return {str(k): str(v) for k, v in recorded.items()}
    s = scope_of_meter(trace.meter)
    if s is None:
        return {}
    return {c: s for c in [*trace.channels, *trace.counters]}


def scope_totals(trace: PowerTrace) -> dict[str, str]:
    """Scope -> the channel that is that scope's total (see the module doc)."""
    recorded = trace.meta.get("scope_totals")
    if isinstance(recorded, dict) and recorded:
        return {str(k): str(v) for k, v in recorded.items()}
    scopes = channel_scopes(trace)
    s = scopes.get(trace.primary)
    return {s: trace.primary} if s else {}


def measurement_scope(trace: PowerTrace) -> str | None:
    """The run's measurement scope label, or None when the meter is unknown."""
    totals = scope_totals(trace)
    return label(list(totals)) or None


def run_total_channel(trace: PowerTrace) -> str:
    """The channel standing for everything measured (``node`` if measured, else the primary)."""
    totals = scope_totals(trace)
    return totals.get("node", trace.primary)


def scope_meta(channels: dict[str, str], totals: dict[str, str]) -> dict[str, Any]:
    """What a meter stores in a trace's meta about its scopes."""
    return {
        "channel_scopes": dict(channels),
        "scope_totals": dict(totals),
        "measurement_scope": label(list(totals)),
    }


def scope_energies(trace: PowerTrace, start_s: float, end_s: float) -> dict[str, float]:
    """Energy in joules of each scope's total channel over ``[start_s, end_s]``."""
    from inferlca.traces.energy import energy

    out: dict[str, float] = {}
    for s, ch in scope_totals(trace).items():
        if ch in trace.channels or ch in trace.counters:
            out[s] = energy(trace, start_s, end_s, ch).energy_j
    return out


def sum_channels(parts: list[np.ndarray]) -> np.ndarray:
    """Element-wise sum, NaN where any part is NaN (a gap stays a gap)."""
    return np.sum(np.vstack(parts), axis=0)


def scope_metrics(trace: PowerTrace, queries: float) -> dict[str, float]:
    """Per-scope energy of a run's load+compute window and per query, when a trace measures more
    than one scope (``energy_total_host_j``, ``energy_per_query_accelerator_j``...)."""
    from inferlca.errors import InferlcaError
    from inferlca.traces.energy import window_of

    totals = scope_totals(trace)
    if len(totals) < 2:
        return {}
    try:
        a, _ = window_of(trace, "load")
        _, b = window_of(trace, "compute")
    except InferlcaError:
        return {}
    out: dict[str, float] = {}
    for s, e in scope_energies(trace, a, b).items():
        out[f"energy_total_{s}_j"] = e
        if queries > 0:
            out[f"energy_per_query_{s}_j"] = e / queries
    return out
