"""The estimator's library entry points: estimate a model on several devices, store the results.

:func:`estimate` resolves the model and devices, counts FLOPs and bytes by both methods, picks the
efficiency (user value > calibration from the store > 1, the lower bound), and estimates each
device (time, power, energy, GWP through ``inferlca.lca.impact``). :func:`save_estimates` writes
each device's estimate to the results store as a run of kind ``estimated`` with the same metric
keys as measured runs (docs/CONTRACTS.md), so reports, compare and recommend read both alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inferlca.errors import InvalidValueError, named
from inferlca.estimate.calibration import Calibration, calibrate
from inferlca.estimate.estimator import (
    EFFICIENCY_LOWER_BOUND,
    DeviceEstimate,
    estimate_device,
)
from inferlca.estimate.flops import METHODS, QueryCost, query_cost
from inferlca.estimate.models import ModelFacts, load_model
from inferlca.uncertainty import UValue

#: Estimator model -> the workload name its measured runs carry (so both sit in one comparison).
MODEL_WORKLOADS: dict[str, tuple[str, str | None]] = {
    "bert-large": ("bert-large-squad", None),
    "bert-base": ("bert-base-squad", None),
    "bert-tiny": ("bert-base-squad", "tiny"),  # the BERT workloads' --preset tiny
    "minilm-l6": ("minilm-embed", None),
    "gpt2": ("llm-generate", "gpt2"),
    "llm-tiny": ("llm-generate", "tiny"),
}


@dataclass
class EstimateResult:
    """Both methods' counts, the per-device estimates and the calibration used."""

    model: ModelFacts
    method: str
    costs: dict[str, QueryCost]
    devices: list[DeviceEstimate]
    calibration: Calibration | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def cost(self) -> QueryCost:
        return self.costs[self.method]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.to_dict(), "method": self.method,
            "costs": {k: c.to_dict() for k, c in self.costs.items()},
            "devices": [d.to_dict() for d in self.devices],
            "calibration": self.calibration.to_dict() if self.calibration else None,
            "notes": list(self.notes),
        }


def estimate(model: str | ModelFacts, devices: list[Any], *, method: str = "faithful",
             precision: str | None = None, seq_len: int | None = None,
             tokens_in: int | None = None, tokens_out: int | None = None, queries: int = 1,
             efficiency: UValue | None = None, power_model: str = "tdp",
             idle_fraction: UValue | None = None, peak_flops: float | None = None,
             bandwidth_gbs: float | None = None, tdp_w: float | None = None,
             region: str | None = "FR", grid: UValue | None = None, pue: UValue | None = None,
             lifetime_years: UValue | None = None, memory_method: str = "per-gb",
             store: Any = None, catalog: Any = None, with_impact: bool = True,
             traffic: str = "fused", batch: int | None = None, sparse: bool = False,
             whole_run: bool = False, load_gbs: UValue | None = None,
             idle_s: float = 0.0, calibration: Any = None, scope: str = "chip") -> EstimateResult:
    """Estimate one query (and ``queries``) of ``model`` on each of ``devices``.

    ``precision`` None: each device's usual serving precision (:func:`rates.default_precision`,
    said in the notes). ``batch``: sequences per pass for encoders (a batch the device memory
    cannot hold is an error saying how much it needs). ``whole_run`` adds the load phase (and
    ``idle_s`` of idle) to the compute phase. ``peak_flops``, ``bandwidth_gbs`` and ``tdp_w``
    fill values the catalog lacks; with a single device they also override the catalog's. With a
    ``store`` and no ``efficiency``, measured runs calibrate the efficiency (see
    :mod:`inferlca.estimate.calibration`); ``calibration`` passes a fit made elsewhere (e.g. on
    published results).
    """
    from inferlca.estimate.flops import check_traffic
    from inferlca.estimate.memory import check_memory
    from inferlca.estimate.rates import check_precision, default_precision, peak_for

    facts = model if isinstance(model, ModelFacts) else load_model(model)
    if method not in METHODS:
        from inferlca.errors import UnknownNameError

        raise UnknownNameError("estimate method", method, METHODS,
                               f"(accepted: {', '.join(METHODS)})")
    if not devices:
        raise InvalidValueError(f"give at least one device ({named('devices')})")
    check_traffic(traffic)
    if precision is not None:
        check_precision(precision)
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise InvalidValueError(f"{named('batch')} must be an integer >= 1, got {batch!r}")
    if batch is not None and batch > 1 and facts.arch == "decoder":
        raise InvalidValueError(f"{facts.name} is a decoder: give its concurrent sequences with "
                                f"{named('concurrency')} (continuous batching), not {named('batch')}")
    lengths = {"seq_len": seq_len, "tokens_in": tokens_in, "tokens_out": tokens_out}
    precisions: dict[str, tuple[str, str]] = {}
    for dev in devices:
        precisions[dev.id] = ((precision, "--precision") if precision is not None
                              else default_precision(dev))
    shown = precisions[devices[0].id][0]
    costs = {m: query_cost(facts, m, shown, traffic=traffic, batch=batch or 1, **lengths)
             for m in METHODS}
    single = len(devices) == 1
    roof_overrides = {dev.id: {
        "peak_flops": peak_flops if single or peak_for(dev, precisions[dev.id][0]) is None
        else None,
        "bandwidth_gbs": bandwidth_gbs if single or not dev.bandwidth_gbs else None,
        "tdp_w": tdp_w if single or not dev.tdp_w else None,
    } for dev in devices}
    cal = calibration
    if cal is None and store is not None and efficiency is None and catalog is not None:
        # the values the user gave for a device also place its measured runs under a roof
        cal = calibrate(store, catalog, method=method, overrides=roof_overrides)
    results: list[DeviceEstimate] = []
    notes: list[str] = []
    for dev in devices:
        prec, why = precisions[dev.id]
        notes.append(f"{dev.name}: precision {prec} ({why})")
        cost = costs[method] if prec == shown else query_cost(
            facts, method, prec, traffic=traffic, batch=batch or 1, **lengths)
        if facts.arch == "decoder":
            t_in = cost.tokens_in or 1
            t_out = cost.tokens_out or 1
            mem = check_memory(facts, dev, prec, tokens=t_in, context=t_in + t_out, batch=1)
        else:
            s_len = cost.seq_len or 1
            mem = check_memory(facts, dev, prec, tokens=s_len, context=s_len, batch=batch or 1)
        if batch is not None and batch > 1 and mem.fits is False:
            raise InvalidValueError(
                f"--batch {batch} does not fit {dev.name} at {prec}: {mem.summary()}; at most "
                f"{mem.max_batch} fit")
        eff, eff_note = efficiency, "user input (--efficiency)"
        if eff is None and cal is not None:
            found = cal.efficiency_for(dev.id, dev.category or "", dev.kind or "gpu")
            if found is not None:
                eff, eff_note = found
        if eff is None:
            eff, eff_note = EFFICIENCY_LOWER_BOUND, "1 (roofline lower bound, as in the study)"
        overrides = roof_overrides[dev.id]
        ctx = None
        if with_impact:
            from inferlca.lca.impact import ImpactContext

            ctx = ImpactContext.resolve(dev, region=region or "FR", grid=grid, pue=pue,
                                        lifetime_years=lifetime_years,
                                        memory_method=memory_method, scope=scope)
        results.append(estimate_device(
            cost, dev, efficiency=eff, efficiency_source=eff_note,
            power_model=power_model, idle_fraction=idle_fraction, queries=queries,
            impact_context=ctx, sparse=sparse, memory=mem, load_gbs=load_gbs, idle_s=idle_s,
            with_load=whole_run, **overrides))
    if idle_fraction is None:
        from inferlca.estimate.power import recorded_idle_devices

        recorded = set(recorded_idle_devices())
        on_fraction = [dev.name for dev in devices if dev.id not in recorded]
        if on_fraction:
            notes.append("idle power still from the default fraction of TDP (no recorded idle "
                         f"power in data/device_idle.csv): {', '.join(on_fraction)}")
    return EstimateResult(facts, method, costs, results, cal, notes)


def save_estimates(store: Any, result: EstimateResult, *, workload: str | None = None,
                   region: str | None = "FR", label: str | None = None) -> list[str]:
    """Store each device's estimate as a complete run of kind ``estimated``; return the run ids."""
    from inferlca.spec import RunSpec
    from inferlca.stats import summarize

    facts = result.model
    default_workload, preset = MODEL_WORKLOADS.get(facts.name, (facts.name, None))
    ids: list[str] = []
    for est in result.devices:
        if not est.fits and est.cost.method != "thesis":
            continue  # it cannot run there: nothing to store as if it did
        cost = est.cost
        estimate_facts = {
            "model": facts.name, "method": cost.method, "precision": cost.precision,
            "seq_len": cost.seq_len, "tokens_in": cost.tokens_in, "tokens_out": cost.tokens_out,
            "efficiency": est.efficiency.to_dict(), "efficiency_source": est.efficiency_source,
            "power_model": est.power_model, "flops": cost.flops, "bytes": cost.bytes,
            "bound": est.bound, "roof": est.roof.to_dict(), "traffic": cost.traffic,
            "batch": cost.batch, "kind": est.kind,
        }
        spec = RunSpec(workload=workload or default_workload, device=est.roof.device_id,
                       queries=est.queries, repetitions=1, meter="roofline",
                       region=region or "FR", precision=cost.precision,
                       max_new_tokens=cost.tokens_out or 1, preset=preset, label=label,
                       # the impact's own scope and memory method (compare reads them here)
                       scope=est.impact.scope if est.impact is not None else "chip",
                       memory_method=(est.impact.memory_method if est.impact is not None
                                      else "per-gb"),
                       extra={"estimate": estimate_facts}).validate()
        notes = [(f"estimated ({cost.method} roofline, {est.power_model} power model, efficiency "
                  f"{est.efficiency.format()}): no device was measured"), *est.notes]
        impact = est.impact.to_dict() if est.impact is not None else None
        rid = store.create_run(spec.to_dict(), kind="estimated", device_id=est.roof.device_id,
                               device_name=est.roof.device_name, meter="roofline", estimated=True,
                               environment={"estimator": "inferlca.estimate"}, label=label)
        metrics = est.metrics()
        store.add_repetition(rid, 0, metrics=metrics, impact=impact, status="complete")
        summary = summarize([metrics], [impact], measured=False, notes=notes)
        summary["estimate"] = {
            "time_per_query_s": est.time_per_query_s.to_dict(),
            "energy_per_query_j": est.energy_j.to_dict(),
            "ttft_s": est.ttft_s.to_dict() if est.ttft_s else None,
            "tpot_s": est.tpot_s.to_dict() if est.tpot_s else None,
        }
        store.finish_run(rid, "complete", summary)
        ids.append(rid)
    return ids


__all__ = ["EstimateResult", "estimate", "save_estimates"]
