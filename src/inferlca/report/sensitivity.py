"""One-at-a-time sensitivity of GWP per query (the tornado chart).

For one run, the impact model of the lca layer (:meth:`ImpactContext.resolve` and
:func:`compute_impact`, docs/method.md "The impact of one workload") is evaluated again with the run's mean energy and
duration, moving one assumption at a time between two ends while the others keep the run's own
settings (nominal values):

* grid intensity: France -> world average (``region="FR"`` / ``"WORLD"``, from the lca grid data);
* PUE: 1.0 -> 1.6;
* lifetime: 3 -> 7 years;
* per-node manufacturing factor: the lowest -> the highest source (``node_source="low"/"high"``).

The model itself is never re-implemented here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inferlca.errors import InvalidValueError, UsageError
from inferlca.report.data import RunView

DEFAULT_PUE = (1.0, 1.6)
DEFAULT_LIFETIME_Y = (3.0, 7.0)
DEFAULT_REGIONS = ("FR", "WORLD")


@dataclass(frozen=True)
class Bar:
    """One parameter of the tornado: GWP per query (gCO2e) at its two ends."""

    parameter: str
    low_label: str
    high_label: str
    at_low_g: float
    at_high_g: float

    @property
    def swing_g(self) -> float:
        return abs(self.at_high_g - self.at_low_g)

    def to_dict(self) -> dict[str, Any]:
        return {"parameter": self.parameter, "low": self.low_label, "high": self.high_label,
                "gwp_per_query_at_low_gco2e": self.at_low_g,
                "gwp_per_query_at_high_gco2e": self.at_high_g}


@dataclass(frozen=True)
class Tornado:
    """The sensitivity of one run: its GWP per query at the run's settings and the bars."""

    run: RunView
    base_g: float
    bars: tuple[Bar, ...]
    sources: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run.run_id, "device": self.run.device_name,
                "base_gwp_per_query_gco2e": self.base_g,
                "bars": [b.to_dict() for b in self.bars], "sources": list(self.sources)}


def _settings(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The run's own impact settings, as :meth:`ImpactContext.resolve` takes them."""
    return {"region": spec.get("region") or "FR", "grid": spec.get("grid_gco2e_per_kwh"),
            "pue": spec.get("pue"), "lifetime_years": spec.get("lifetime_years"),
            "memory_method": spec.get("memory_method") or "per-gb",
            "scope": spec.get("scope") or "chip"}


def tornado(run: RunView, *, pue: tuple[float, float] = DEFAULT_PUE,
            lifetime_years: tuple[float, float] = DEFAULT_LIFETIME_Y,
            regions: tuple[str, str] = DEFAULT_REGIONS) -> Tornado:
    """The tornado of GWP per query (gCO2e) for one run, sorted by swing (largest first).

    Args:
        run: a run with ``energy_total_j``, ``duration_s`` and a query count.
        pue: the PUE ends.
        lifetime_years: the lifetime ends, in years.
        regions: the grid ends (region codes of the lca grid data).

    Raises:
        InvalidValueError: the run lacks energy, duration or queries.
    """
    from inferlca.hardware.catalog import get_catalog
    from inferlca.lca.grid import get_region
    from inferlca.lca.impact import ImpactContext, compute_impact

    energy = run.metric("energy_total_j")
    duration = run.metric("duration_s")
    q = run.queries
    if energy is None or duration is None or not q or energy.value <= 0 or duration.value <= 0:
        raise InvalidValueError(f"run {run.short_id} lacks the energy, duration or query count a "
                                "sensitivity needs")
    cat = get_catalog()
    device = cat.find(run.device_id or "") or cat.find(run.device_name)
    base_settings = _settings(run.spec)

    def per_query_g(**override: Any) -> float:
        ctx = ImpactContext.resolve(device, **{**base_settings, **override})
        imp = compute_impact(energy.value, duration.value, ctx, q)
        assert imp.per_query_gco2e is not None
        return imp.per_query_gco2e.value

    bars = []
    sources: list[str] = []
    lo_r, hi_r = (get_region(r) for r in regions)
    for reg in (lo_r, hi_r):
        iv = reg.intensity
        sources += list(iv.sources)
    bars.append(Bar(f"grid intensity ({lo_r.name} -> {hi_r.name})",
                    f"{lo_r.iso2} {lo_r.intensity.value:.4g}",
                    f"{hi_r.iso2} {hi_r.intensity.value:.4g} g/kWh",
                    per_query_g(region=lo_r.iso2, grid=None),
                    per_query_g(region=hi_r.iso2, grid=None)))
    bars.append(Bar(f"PUE ({pue[0]:g} -> {pue[1]:g})", f"PUE {pue[0]:g}", f"PUE {pue[1]:g}",
                    per_query_g(pue=pue[0]), per_query_g(pue=pue[1])))
    bars.append(Bar(f"lifetime ({lifetime_years[0]:g} -> {lifetime_years[1]:g} y)",
                    f"{lifetime_years[0]:g} y", f"{lifetime_years[1]:g} y",
                    per_query_g(lifetime_years=lifetime_years[0]),
                    per_query_g(lifetime_years=lifetime_years[1])))
    ctx0 = ImpactContext.resolve(device, **base_settings)
    if ctx0.embodied is not None:
        try:
            bars.append(Bar("per-node factor (low -> high source)", "lowest",
                            "highest source", per_query_g(node_source="low"),
                            per_query_g(node_source="high")))
        except UsageError:
            pass  # a single source for this node: no spread to show
    bars.sort(key=lambda b: b.swing_g, reverse=True)
    return Tornado(run, per_query_g(), tuple(bars), tuple(dict.fromkeys(sources)))
