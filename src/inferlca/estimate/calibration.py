"""Calibration: how far roofline estimates land from measurements, and a fitted efficiency.

For every complete **measured** run (kind ``measured``: its queries were timed by LoadGen) in the
store whose workload maps to a model the estimator
knows (:func:`model_for_run`) and whose device has a roof in the catalog, the run's measured time
and energy per query are set beside the estimate at efficiency 1 (the lower bound) with the
same method and precision::

    time ratio    r_t = measured time per query / estimated lower bound       (>= 1 if the roof holds)
    energy ratio  r_e = measured energy per query / (lower-bound time x TDP)
    efficiency    e   = 1 / r_t  (the fraction of the roof the run reached)

A run faster than the bound (``r_t < 1``, ``e > 1``) is a **model error** (the peak, the traffic
count or the lengths are wrong for it): it is kept as it is and flagged (``beats_bound``), never
clipped to 1, so the fit and the printed ratios show it.

Encoders are estimated at their workload's sequence length: 384 for the BERT SQuAD workloads
(128 for their ``tiny`` preset), ``spec["extra"]["seq_len"]`` when a run records one, else the
estimator's default (384). Time per query is the run's ``latency_mean_s`` (for decoders, ``ttft_p50_s + (tokens_out - 1) x
tpot_p50_s`` when there is no mean latency); energy per query is the compute phase's
``energy_per_query_compute_j`` (the estimate has no model loading in it), else
``energy_per_query_j`` (for decoders without either, ``energy_per_token_j x tokens_out``). A run whose power was modelled (no
sensor; ``estimated`` set) gives its time ratio but no energy ratio.

**The fit.** Efficiencies are pooled per device class (``edge``, ``desktop``, ``gaming``,
``datacenter``; CPUs form their own classes, e.g. ``datacenter cpu``) by their geometric mean (ratios average multiplicatively); the residual spread,
the smallest and largest efficiency of the class, becomes the interval. A class with a single
pair gets the interval ``[e / 2, min(1, 2 e)]`` (an inferlca assumption, said in the note),
because one pair shows no spread. A device that was measured itself uses its own pairs.

**Applying it.** :meth:`Calibration.efficiency_for` returns the efficiency (with interval and a
note saying where it came from) for a device: its own fit, else its class's fit, else ``None``
(the caller falls back to the user's ``--efficiency`` or the lower bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from inferlca.errors import InferlcaError
from inferlca.estimate.flops import query_cost
from inferlca.estimate.models import PRESETS, ModelFacts, load_model
from inferlca.estimate.roofline import place, roof_for
from inferlca.uncertainty import UValue

#: Workload names of measured runs -> estimator model presets.
WORKLOAD_MODELS: dict[str, str] = {
    "bert-large-squad": "bert-large",
    "bert-base-squad": "bert-base",
    "minilm-embed": "minilm-l6",
    "llm-generate": "gpt2",
}
#: ``llm-generate --preset`` -> estimator preset.
LLM_PRESETS: dict[str, str] = {"gpt2": "gpt2", "gpt2-small": "gpt2", "default": "gpt2",
                               "tiny": "llm-tiny"}


def device_class(category: str | None, kind: str | None) -> str:
    """The class calibration pools over: the category (``datacenter``, ``edge``...), with CPUs
    apart (``datacenter cpu``): a CPU's fraction of its roof says nothing about a GPU's."""
    cat = category or "unknown"
    return f"{cat} cpu" if kind == "cpu" else cat


@dataclass(frozen=True)
class Pair:
    """One measured run beside its estimate (units in the names)."""

    run_id: str
    device_id: str
    device_name: str
    category: str
    workload: str
    model: str
    measured_time_s: float
    estimated_time_s: float
    measured_energy_j: float | None
    estimated_energy_j: float
    flops: float = 0.0
    intensity: float = 0.0
    kind: str = "gpu"

    @property
    def device_class(self) -> str:
        return device_class(self.category, self.kind)

    @property
    def achieved_flops(self) -> float:
        """FLOP/s the measured run reached by this count (FLOPs / measured time)."""
        return self.flops / self.measured_time_s

    @property
    def time_ratio(self) -> float:
        return self.measured_time_s / self.estimated_time_s

    @property
    def energy_ratio(self) -> float | None:
        if self.measured_energy_j is None:
            return None
        return self.measured_energy_j / self.estimated_energy_j

    @property
    def efficiency(self) -> float:
        """``bound / measured``; above 1 the run beat the roofline bound (a model error, kept)."""
        return self.estimated_time_s / self.measured_time_s

    @property
    def beats_bound(self) -> bool:
        return self.measured_time_s < self.estimated_time_s

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "device": self.device_id, "device_name": self.device_name,
                "category": self.category, "kind": self.kind,
                "device_class": self.device_class, "workload": self.workload, "model": self.model,
                "measured_time_s": self.measured_time_s, "estimated_time_s": self.estimated_time_s,
                "time_ratio": self.time_ratio, "measured_energy_j": self.measured_energy_j,
                "estimated_energy_j": self.estimated_energy_j, "energy_ratio": self.energy_ratio,
                "efficiency": self.efficiency, "beats_bound": self.beats_bound,
                "flops": self.flops,
                "intensity_flop_per_byte": self.intensity, "achieved_flops": self.achieved_flops}


@dataclass(frozen=True)
class Fit:
    """The efficiency fitted over a group of pairs (a device or a device class)."""

    group: str
    efficiency: UValue
    n: int
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"group": self.group, "efficiency": self.efficiency.to_dict(), "n": self.n,
                "note": self.note}


def fit_efficiency(group: str, efficiencies: list[float]) -> Fit:
    """Geometric mean of ``efficiencies`` with their min..max spread (see the module docstring)."""
    if not efficiencies:
        raise ValueError("fit_efficiency needs at least one efficiency")
    geo = math.exp(sum(math.log(e) for e in efficiencies) / len(efficiencies))
    src = f"calibrated on {len(efficiencies)} measured run(s) of {group}"
    if len(efficiencies) == 1:
        e = efficiencies[0]
        return Fit(group, UValue(e, e / 2, 2 * e, "", (src,), "derived"), 1,
                   "one measured run: interval x/÷ 2 (inferlca assumption)")
    return Fit(group, UValue(geo, min(efficiencies), max(efficiencies), "", (src,), "derived"),
               len(efficiencies), "geometric mean, interval = spread of the runs")


@dataclass
class Calibration:
    """Measured/estimated pairs and the efficiencies fitted from them."""

    method: str
    pairs: list[Pair] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def by_device(self) -> dict[str, Fit]:
        groups: dict[str, list[float]] = {}
        for p in self.pairs:
            groups.setdefault(p.device_id, []).append(p.efficiency)
        return {k: fit_efficiency(f"device {k}", v) for k, v in groups.items()}

    def by_class(self) -> dict[str, Fit]:
        groups: dict[str, list[float]] = {}
        for p in self.pairs:
            groups.setdefault(p.device_class, []).append(p.efficiency)
        return {k: fit_efficiency(f"class {k}", v) for k, v in groups.items()}

    def efficiency_for(self, device_id: str, category: str,
                       kind: str = "gpu") -> tuple[UValue, str] | None:
        """The efficiency to apply to ``device_id``, and a note on where it comes from."""
        own = self.by_device().get(device_id)
        if own is not None:
            return own.efficiency, f"calibrated on this device ({own.n} run(s)); {own.note}"
        klass = device_class(category, kind)
        cls = self.by_class().get(klass)
        if cls is not None:
            return cls.efficiency, (f"calibrated on {cls.n} run(s) of other {klass} devices "
                                    f"(never measured itself); {cls.note}")
        return None

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "pairs": [p.to_dict() for p in self.pairs],
                "by_device": {k: f.to_dict() for k, f in self.by_device().items()},
                "by_class": {k: f.to_dict() for k, f in self.by_class().items()},
                "skipped": list(self.skipped)}


def model_for_run(spec: dict[str, Any]) -> tuple[ModelFacts, dict[str, int]] | None:
    """The estimator model and lengths for a stored run's spec, or ``None`` if unknown.

    Estimated runs written by inferlca carry ``spec["extra"]["estimate"]``; measured runs are
    mapped by workload name (:data:`WORKLOAD_MODELS`), weights folder, or ``llm-generate`` preset.
    """
    extra = spec.get("extra") or {}
    est = extra.get("estimate") if isinstance(extra, dict) else None
    lengths: dict[str, int]
    if isinstance(est, dict) and est.get("model"):
        lengths = {k: int(est[k]) for k in ("seq_len", "tokens_in", "tokens_out")
                   if isinstance(est.get(k), int)}
        return load_model(str(est["model"])), lengths
    workload = str(spec.get("workload") or "")
    if workload not in WORKLOAD_MODELS:
        return None
    model: ModelFacts
    if spec.get("weights"):
        try:
            model = load_model(str(spec["weights"]))
        except InferlcaError:
            return None
    elif workload == "llm-generate":
        model = PRESETS[LLM_PRESETS.get(str(spec.get("preset") or "gpt2"), "gpt2")]
    elif workload.startswith("bert-") and spec.get("preset") == "tiny":
        model = PRESETS["bert-tiny"]
    else:
        model = PRESETS[WORKLOAD_MODELS[workload]]
    lengths = {}
    if model.name == "bert-tiny":
        lengths["seq_len"] = 128  # the tiny preset's sequence length
    seq = extra.get("seq_len") if isinstance(extra, dict) else None
    if isinstance(seq, int) and model.arch == "encoder":
        lengths["seq_len"] = seq
    if model.arch == "decoder" and isinstance(spec.get("max_new_tokens"), int):
        lengths["tokens_out"] = int(spec["max_new_tokens"])
    return model, lengths


def _measured_time_s(run: Any, tokens_out: int | None) -> float | None:
    t = run.metric("latency_mean_s")
    if t:
        return t
    ttft, tpot = run.metric("ttft_p50_s"), run.metric("tpot_p50_s")
    if ttft and tpot is not None and tokens_out:
        return ttft + (tokens_out - 1) * tpot
    return None


def _measured_energy_j(run: Any, tokens_out: int | None) -> float | None:
    # the compute phase's energy: the estimate has no model loading in it
    e = run.metric("energy_per_query_compute_j") or run.metric("energy_per_query_j")
    if e:
        return e
    per_token = run.metric("energy_per_token_j")
    if per_token and tokens_out:
        return per_token * tokens_out
    return None


def calibrate(store: Any, catalog: Any, method: str = "faithful",
              precision: str | None = None,
              overrides: dict[str, dict[str, float | None]] | None = None) -> Calibration:
    """Pair every usable measured run of ``store`` with its estimate (see the module docstring).

    Args:
        store: an open ``inferlca.store.sqlite.Store``.
        catalog: the hardware catalog (``Catalog.find(name)``).
        method: FLOP counting method for the estimates.
        precision: override the runs' precision (default: each run's own, else fp32).
        overrides: per catalog device id, roof values that fill or replace the catalog's
            (``peak_flops``, ``bandwidth_gbs``, ``tdp_w``, as in :func:`roof_for`): how runs on a
            device the catalog lacks a peak for (CPUs) can be calibrated.
    """
    cal = Calibration(method)
    # kind "measured": LoadGen timed the queries; with a modelled power meter (run.estimated)
    # the time still counts, the energy does not
    for run in store.list_runs(kind="measured", status="complete"):
        tag = f"run {run.short_id} ({run.workload} on {run.device})"
        mapped = model_for_run(run.spec)
        if mapped is None:
            cal.skipped.append(f"{tag}: workload has no estimator model")
            continue
        model, lengths = mapped
        device = None
        for name in (run.device_id, run.device_name):
            if name:
                device = catalog.find(name)
                if device is not None:
                    break
        if device is None:
            cal.skipped.append(f"{tag}: device not in the catalog")
            continue
        hw = (run.environment or {}).get("hardware_detected") or {}
        if hw.get("declared_elsewhere"):
            # `--device t4` on a CPU-only machine timed the CPU: it says nothing of a T4
            cal.skipped.append(f"{tag}: declared with --device but ran on {hw.get('name')!r}")
            continue
        prec = precision or str(run.spec.get("precision") or "fp32")
        if model.arch == "decoder":
            t_in = run.metric("tokens_in")
            t_out = run.metric("tokens_out")
            if t_in:
                lengths["tokens_in"] = max(1, round(t_in))
            if t_out:
                lengths["tokens_out"] = max(1, round(t_out))
        try:
            cost = query_cost(model, method, prec, seq_len=lengths.get("seq_len"),
                              tokens_in=lengths.get("tokens_in"),
                              tokens_out=lengths.get("tokens_out"))
            given = (overrides or {}).get(device.id, {})
            roof = roof_for(device, prec, peak_flops=given.get("peak_flops"),
                            bandwidth_gbs=given.get("bandwidth_gbs"), tdp_w=given.get("tdp_w"))
        except InferlcaError as exc:
            cal.skipped.append(f"{tag}: {exc}")
            continue
        t_lb = sum(place(n, p.flops, p.bytes, roof).time_lower_bound_s * cost._repeat(n)
                   for n, p in cost.passes.items())
        measured_t = _measured_time_s(run, lengths.get("tokens_out"))
        if not measured_t:
            cal.skipped.append(f"{tag}: no latency metric")
            continue
        cal.pairs.append(Pair(
            run.run_id, device.id, device.name, device.category or "unknown",
            str(run.workload), model.name, measured_t, t_lb,
            None if run.estimated else _measured_energy_j(run, lengths.get("tokens_out")),
            t_lb * roof.tdp_w,
            cost.flops, cost.intensity, device.kind or "gpu"))
    return cal
