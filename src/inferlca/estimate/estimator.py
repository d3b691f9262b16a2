"""From a query's FLOPs and bytes to time, power, energy and GWP on one device.

The chain for each device (every step kept in :class:`DeviceEstimate` so reports can show it)::

    QueryCost (flops.py) --roof_for/place (roofline.py)--> time lower bound per pass
      / efficiency e                                      --> time per query (ttft, tpot)
      x power (power.py: tdp or utilisation model)        --> energy per query
      x queries, through inferlca.lca.impact              --> GWP use + embodied (intervals)

Energy with the utilisation model is ``E = TDP * t_lb * (idle + (1 - idle) e) / e``: it falls
as ``e`` rises and grows with ``idle``, so its interval pairs the high efficiency with the low idle
fraction (low end) and the reverse (high end), instead of multiplying two correlated intervals.
The idle fraction is the device's own (recorded idle power / TDP, ``data/device_idle.csv``) where
one is recorded, else the default range.

**What the numbers are.** With efficiency 1 the time is the roofline **lower bound**; with a
calibrated efficiency it is the **expected** value, its interval the spread of the calibration
residuals (``kind`` says which). A calibrated efficiency above 1 (a measurement faster than the
bound) is kept, not clipped, and reported as a model error.

**A whole run** (:attr:`DeviceEstimate.phases`), as a measured run has: ``load`` (weights read
at the storage bandwidth of the device class, ``data/load_bandwidth.csv``, while the device draws
its idle power), ``compute`` (the queries) and ``idle`` (``idle_s`` seconds at idle power, e.g.
think time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.estimate.flops import QueryCost
from inferlca.estimate.power import (
    POWER_MODELS,
    idle_power_w,
    load_bandwidth_gbs,
    tdp_power_w,
    utilisation_power_w,
)
from inferlca.estimate.roofline import DeviceLike, Roof, RooflinePoint, place, roof_for
from inferlca.uncertainty import UValue

EFFICIENCY_LOWER_BOUND = UValue.exact(1.0, "", ("roofline lower bound (efficiency 1, the study)",),
                                      "default")


@dataclass
class DeviceEstimate:
    """Everything estimated for one device; units in the names, intervals as UValue."""

    device: Any
    roof: Roof
    cost: QueryCost
    points: dict[str, RooflinePoint]
    efficiency: UValue
    efficiency_source: str
    time_per_query_s: UValue
    ttft_s: UValue | None
    tpot_s: UValue | None
    power_w: dict[str, UValue]
    energy_per_query_j: dict[str, UValue]
    power_model: str
    queries: int
    impact: Any = None
    notes: list[str] = field(default_factory=list)
    batch: int = 1
    kind: str = "lower bound"
    memory: Any = None
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def fits(self) -> bool:
        """False when the memory check says the workload does not fit the device."""
        return not (self.memory is not None and self.memory.fits is False)

    @property
    def bound(self) -> str:
        """``compute``/``memory``; for decoders ``prefill:<b>, decode:<b>``."""
        if len(self.points) == 1:
            return next(iter(self.points.values())).bound
        return ", ".join(f"{k.replace('_step', '')}:{p.bound}" for k, p in self.points.items())

    @property
    def energy_j(self) -> UValue:
        """Energy per query with the selected power model (J)."""
        return self.energy_per_query_j[self.power_model]

    def metrics(self) -> dict[str, float]:
        """The store's metric keys (docs/CONTRACTS.md) for the whole workload of ``queries``."""
        n = self.queries
        t = self.time_per_query_s.value
        e = self.energy_j.value
        t_compute = t * n / self.batch
        load = self.phases.get("load", {})
        idle = self.phases.get("idle", {})
        t_load = load["duration_s"].value if load else 0.0
        e_load = load["energy_j"].value if load else 0.0
        t_idle = idle["duration_s"].value if idle else 0.0
        e_idle = idle["energy_j"].value if idle else 0.0
        m: dict[str, float] = {
            "duration_s": t_load + t_compute + t_idle, "load_duration_s": t_load,
            "compute_duration_s": t_compute, "idle_duration_s": t_idle,
            "energy_total_j": e_load + e * n + e_idle, "energy_load_j": e_load,
            "energy_compute_j": e * n, "energy_idle_j": e_idle, "energy_per_query_j": e,
            "energy_per_query_compute_j": e,
            "queries": float(n), "samples": float(n), "throughput_qps": self.batch / t,
            "mean_power_w": self.power_w[self.power_model].value,
            "peak_power_w": self.power_w[self.power_model].value,
            "latency_min_s": t, "latency_mean_s": t, "latency_p50_s": t, "latency_p90_s": t,
            "latency_p99_s": t, "latency_max_s": t,
        }
        c = self.cost
        if self.ttft_s is not None and self.tpot_s is not None and c.tokens_out:
            steps = c.decode_steps
            e_prefill = e * self.ttft_s.value / t
            m.update({
                "tokens_in": float(c.tokens_in or 0), "tokens_out": float(c.tokens_out),
                "ttft_p50_s": self.ttft_s.value, "ttft_p99_s": self.ttft_s.value,
                "tpot_p50_s": self.tpot_s.value, "tpot_p99_s": self.tpot_s.value,
                "tokens_per_s": c.tokens_out / t, "energy_per_token_j": e / c.tokens_out,
                "energy_prefill_j": e_prefill * n,
                "energy_decode_j": (e - e_prefill) * n if steps else 0.0,
            })
        return m

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "device": self.roof.device_id, "device_name": self.roof.device_name,
            "category": self.roof.category, "roof": self.roof.to_dict(),
            "method": self.cost.method, "precision": self.cost.precision,
            "flops": self.cost.flops, "bytes": self.cost.bytes,
            "intensity_flop_per_byte": self.cost.intensity, "bound": self.bound,
            "points": {k: p.to_dict() for k, p in self.points.items()},
            "efficiency": self.efficiency.to_dict(), "efficiency_source": self.efficiency_source,
            "time_per_query_s": self.time_per_query_s.to_dict(),
            "ttft_s": self.ttft_s.to_dict() if self.ttft_s else None,
            "tpot_s": self.tpot_s.to_dict() if self.tpot_s else None,
            "power_model": self.power_model,
            "power_w": {k: v.to_dict() for k, v in self.power_w.items()},
            "energy_per_query_j": {k: v.to_dict() for k, v in self.energy_per_query_j.items()},
            "queries": self.queries, "batch": self.batch, "kind": self.kind,
            "energy_workload_j": (self.energy_j * self.queries).to_dict(),
            "phases": {k: {kk: (vv.to_dict() if hasattr(vv, "to_dict") else vv)
                           for kk, vv in v.items()} for k, v in self.phases.items()},
            "memory": self.memory.to_dict() if self.memory is not None else None,
            "fits": self.fits,
            "metrics": self.metrics(), "notes": list(self.notes),
        }
        if not self.fits and self.cost.method != "thesis":
            # it does not fit: no time or energy is printed as if it ran (the thesis method keeps
            # its numbers, with the warning in the notes)
            for k in ("time_per_query_s", "ttft_s", "tpot_s", "energy_per_query_j",
                      "energy_workload_j", "metrics", "power_w"):
                d[k] = None
        if self.impact is not None:
            d["impact"] = self.impact.to_dict() if hasattr(self.impact, "to_dict") else self.impact
        return d


def _utilisation_energy_j(tdp_w: float, t_lb_s: float, eff: UValue, idle: UValue) -> UValue:
    def e(idle_f: float, u: float) -> float:
        # utilisation saturates at 1: a calibrated efficiency above 1 is a model error, not a
        # device drawing more than its TDP
        return tdp_w * t_lb_s * (idle_f + (1.0 - idle_f) * min(u, 1.0)) / u

    return UValue(e(idle.value, eff.value), e(idle.low, eff.high), e(idle.high, eff.low), "J",
                  (*eff.sources, *idle.sources), "derived")


def estimate_device(cost: QueryCost, device: DeviceLike, *, efficiency: UValue | None = None,
                    efficiency_source: str = "", power_model: str = "tdp",
                    idle_fraction: UValue | None = None, queries: int = 1,
                    peak_flops: float | None = None, bandwidth_gbs: float | None = None,
                    tdp_w: float | None = None, impact_context: Any = None,
                    sparse: bool = False, memory: Any = None, load_gbs: UValue | None = None,
                    idle_s: float = 0.0, with_load: bool = False) -> DeviceEstimate:
    """Estimate one query (and ``queries`` of them) of ``cost`` on ``device``.

    Args:
        efficiency: fraction of the roof reached, > 0; default 1 (the lower bound). Above 1
            only from calibration (a measurement beat the bound: noted as a model error).
        power_model: ``tdp`` (the study) or ``utilisation`` (idle + dynamic share).
        idle_fraction: idle power / TDP (overrides the device's recorded idle power).
        sparse: use the 2:4 structured-sparsity rate (never the default).
        memory: an :class:`inferlca.estimate.memory.MemoryCheck` to carry and warn on.
        load_gbs: bandwidth the weights load at (default: the device class's, data file).
        idle_s: seconds of idle in the run (think time); with_load: include the load phase.
        queries: queries in the workload (the study's user profiles: 16 ... 256).
        peak_flops / bandwidth_gbs / tdp_w: values for devices the catalog lacks them for.
        impact_context: an ``inferlca.lca.impact.ImpactContext``; GWP is left out when None.
    """
    if power_model not in POWER_MODELS:
        raise UnknownNameError("power model", power_model, POWER_MODELS,
                               f"(accepted: {', '.join(POWER_MODELS)})")
    if isinstance(queries, bool) or not isinstance(queries, int) or queries < 1:
        raise InvalidValueError(f"queries must be an integer >= 1, got {queries!r}")
    eff = efficiency if efficiency is not None else EFFICIENCY_LOWER_BOUND
    if not eff.low > 0:
        raise InvalidValueError(f"efficiency must be > 0, got {eff.format()}")
    roof = roof_for(device, cost.precision, peak_flops=peak_flops, bandwidth_gbs=bandwidth_gbs,
                    tdp_w=tdp_w, sparse=sparse)
    idle_w, idle_note = idle_power_w(roof.device_id, roof.tdp_w, idle_fraction)
    idle_frac = (idle_w / roof.tdp_w).with_unit("")
    points = {name: place(name, p.flops, p.bytes, roof) for name, p in cost.passes.items()}
    # one pass set serves ``batch`` queries: its time is the latency of each of them
    t_lb = sum(pt.time_lower_bound_s * cost._repeat(name) for name, pt in points.items())
    time_s = (UValue.exact(t_lb, "s") / eff).with_unit("s")
    ttft = tpot = None
    if "prefill" in points:
        ttft = (UValue.exact(points["prefill"].time_lower_bound_s) / eff).with_unit("s")
        tpot = (UValue.exact(points["decode_step"].time_lower_bound_s) / eff).with_unit("s")
    u = UValue(min(eff.value, 1.0), min(eff.low, 1.0), min(eff.high, 1.0), "", eff.sources,
               "derived")
    b = cost.batch
    power = {"tdp": tdp_power_w(roof.tdp_w),
             "utilisation": utilisation_power_w(roof.tdp_w, u, idle_frac)}
    energy = {"tdp": (time_s * (roof.tdp_w / b)).with_unit("J"),
              "utilisation": (_utilisation_energy_j(roof.tdp_w, t_lb, eff, idle_frac)
                              / b).with_unit("J")}
    notes = list(cost.notes)
    notes.append(f"{roof.device_name}: idle power {idle_w.format('W')} ({idle_note})")
    if eff.value > 1:
        notes.append(f"{roof.device_name}: calibrated efficiency {eff.format()} exceeds 1: the "
                     "published/measured runs beat this roofline bound by "
                     f"x{eff.value:.3g} (a model error: peak, traffic or length assumptions), "
                     "kept, not clipped")
    if sparse:
        notes.append(f"{roof.device_name}: 2:4 structured-sparsity rate used (--sparse); "
                     "needs a pruned model")
    if memory is not None and memory.fits is False:
        tail = "; ".join(memory.advice[1:])
        what = ("the thesis numbers are kept, but it could not run as counted" if
                cost.method == "thesis" else "no time or energy is given")
        notes.append(f"{roof.device_name}: DOES NOT FIT in memory: {memory.summary()}; {what}; "
                     f"{tail}")
    phases: dict[str, dict[str, Any]] = {}
    if with_load and memory is not None:
        bw, bw_note = (load_gbs, "--load-gbs") if load_gbs is not None else load_bandwidth_gbs(
            roof.category)
        t_load = (UValue.exact(memory.weight_bytes / 1e9, "GB") / bw).with_unit("s")
        phases["load"] = {"duration_s": t_load, "energy_j": (t_load * idle_w).with_unit("J"),
                          "power_w": idle_w, "note": f"weights {memory.weight_bytes / 1e9:.4g} GB"
                          f" at {bw.format('GB/s')} ({bw_note}); at idle power; runtime start-up "
                          "(CUDA context, engine build) not counted"}
    n_pass = queries / b
    phases["compute"] = {"duration_s": (time_s * n_pass).with_unit("s"),
                         "energy_j": (energy[power_model] * queries).with_unit("J"),
                         "power_w": power[power_model], "note": f"{queries} queries"}
    if idle_s > 0:
        t_i = UValue.exact(idle_s, "s")
        phases["idle"] = {"duration_s": t_i, "energy_j": (idle_w * idle_s).with_unit("J"),
                          "power_w": idle_w, "note": "--idle-s at idle power"}
    if roof.given:
        shown = {"peak_flops": f"peak {roof.peak_flops:g} FLOP/s",
                 "bandwidth_gbs": f"bandwidth {roof.bandwidth_bps / 1e9:g} GB/s",
                 "tdp_w": f"TDP {roof.tdp_w:g} W"}
        notes.append(f"{roof.device_name}: user-supplied device values: "
                     + ", ".join(shown.get(k, k) for k in roof.given))
    kind = "lower bound" if (eff.value == 1.0 and eff.low == eff.high) else "expected"
    est = DeviceEstimate(device, roof, cost, points, eff,
                         efficiency_source or (", ".join(eff.sources) or "user input"),
                         time_s, ttft, tpot, power, energy, power_model, queries, notes=notes,
                         batch=b, kind=kind, memory=memory, phases=phases)
    if impact_context is not None:
        from inferlca.lca.impact import compute_impact

        # the compute phase, as the study's estimate; with the load (and idle) phases, the
        # whole run, as the study counted measured runs
        energy_run = (est.energy_j * queries).with_unit("J")
        duration = t_lb / eff.value * n_pass
        for ph in ("load", "idle"):
            if ph in phases:
                energy_run = (energy_run + phases[ph]["energy_j"]).with_unit("J")
                duration += phases[ph]["duration_s"].value
        est.impact = compute_impact(energy_run, duration, impact_context, queries)
    return est
