"""One-at-a-time sensitivity of a criterion per query (the tornado chart; GWP by default).

For one run, the impact model of the lca layer (:meth:`ImpactContext.resolve` and
:func:`compute_impact`, docs/method.md "The impact of one workload") is evaluated again with the run's mean energy and
duration, moving one assumption at a time between two ends while the others keep the run's own
settings (nominal values):

* grid intensity: France -> world average (``region="FR"`` / ``"WORLD"``, from the lca grid data);
* PUE: 1.0 -> 1.6;
* lifetime: 3 -> 7 years;
* manufacturing scope: chip -> server-share (``scope``; left out where the device has no data
  for the wider scope);
* per-node manufacturing factor: the lowest -> the highest source (``node_source="low"/"high"``);
* per-node factor basis: as published -> per good die (``node_basis``).

The criterion is an input too: ``gwp`` (gCO2e) or ``water``, ``pe``, ``adpe``
(:mod:`inferlca.lca.criteria`, from the same re-evaluated impact). A parameter a criterion does
not depend on (the scope for water, where only GWP has scope data) gives a bar of no effect.
The model itself is never re-implemented here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from inferlca.errors import InvalidValueError, UsageError
from inferlca.report.data import RunView, charged_device

DEFAULT_PUE = (1.0, 1.6)
DEFAULT_LIFETIME_Y = (3.0, 7.0)
DEFAULT_REGIONS = ("FR", "WORLD")
DEFAULT_SCOPES = ("chip", "server-share")


@dataclass(frozen=True)
class Bar:
    """One parameter of the tornado: the criterion per query at its two ends (``*_g`` names
    kept from when GWP was the only criterion; the unit is the tornado's)."""

    parameter: str
    low_label: str
    high_label: str
    at_low_g: float
    at_high_g: float

    @property
    def swing_g(self) -> float:
        return abs(self.at_high_g - self.at_low_g)

    def to_dict(self, criterion: str = "gwp") -> dict[str, Any]:
        d: dict[str, Any] = {"parameter": self.parameter, "low": self.low_label,
                             "high": self.high_label, "per_query_at_low": self.at_low_g,
                             "per_query_at_high": self.at_high_g}
        if criterion == "gwp":
            d["gwp_per_query_at_low_gco2e"] = self.at_low_g
            d["gwp_per_query_at_high_gco2e"] = self.at_high_g
        return d


@dataclass(frozen=True)
class Tornado:
    """The sensitivity of one run: its GWP per query at the run's settings and the bars."""

    run: RunView
    base_g: float
    bars: tuple[Bar, ...]
    sources: tuple[str, ...] = field(default=())
    criterion: str = "gwp"
    unit: str = "gCO2e"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"run_id": self.run.run_id, "device": self.run.device_name,
                             "criterion": self.criterion, "unit": self.unit,
                             "base_per_query": self.base_g}
        if self.criterion == "gwp":
            d["base_gwp_per_query_gco2e"] = self.base_g
        d["bars"] = [b.to_dict(self.criterion) for b in self.bars]
        d["sources"] = list(self.sources)
        return d


def _settings(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The run's own impact settings, as :meth:`ImpactContext.resolve` takes them."""
    return {"region": spec.get("region") or "FR", "grid": spec.get("grid_gco2e_per_kwh"),
            "grid_year": spec.get("grid_year"),
            "pue": spec.get("pue"), "lifetime_years": spec.get("lifetime_years"),
            "memory_method": spec.get("memory_method") or "per-gb",
            "scope": spec.get("scope") or "chip"}


def tornado(run: RunView, *, pue: tuple[float, float] = DEFAULT_PUE,
            lifetime_years: tuple[float, float] = DEFAULT_LIFETIME_Y,
            regions: tuple[str, str] = DEFAULT_REGIONS,
            scopes: tuple[str, str] = DEFAULT_SCOPES, factor_source: bool = True,
            criterion: str = "gwp") -> Tornado:
    """The tornado of a criterion per query for one run, sorted by swing (largest first).

    Args:
        run: a run with ``energy_total_j``, ``duration_s`` and a query count.
        pue: the PUE ends.
        lifetime_years: the lifetime ends, in years.
        regions: the grid ends (region codes of the lca grid data).
        scopes: the manufacturing-scope ends (:data:`inferlca.lca.embodied.SCOPES`).
        factor_source: add the per-node factor's source (lowest -> highest) and basis
            (as published -> per good die) bars.
        criterion: ``gwp`` (gCO2e), ``water`` (L), ``pe`` (MJ) or ``adpe`` (kgSbeq).

    Raises:
        InvalidValueError: the run lacks energy, duration or queries, or has no data for the
            criterion at its own settings (e.g. PE under a custom grid intensity).
        UnknownNameError: an unknown criterion or scope.
    """
    from inferlca.lca.criteria import UNITS, compute_criteria, parse_criteria
    from inferlca.lca.embodied import check_scope
    from inferlca.lca.grid import get_region
    from inferlca.lca.impact import ImpactContext, compute_impact

    (criterion,) = parse_criteria(criterion, param="criterion")[:1]
    for sc in scopes:
        check_scope(sc)

    energy = run.metric("energy_total_j")
    duration = run.metric("duration_s")
    q = run.queries
    if energy is None or duration is None or not q or energy.value <= 0 or duration.value <= 0:
        raise InvalidValueError(f"run {run.short_id} lacks the energy, duration or query count a "
                                "sensitivity needs")
    device = charged_device(run)  # a catalog device, or the archetype's share the run was charged
    base_settings = _settings(run.spec)

    def per_query_g(**override: Any) -> float:
        ctx = ImpactContext.resolve(device, **{**base_settings, **override})
        imp = compute_impact(energy.value, duration.value, ctx, q)
        if criterion == "gwp":
            assert imp.per_query_gco2e is not None
            return imp.per_query_gco2e.value
        c = compute_criteria(imp, ctx, (criterion,))[criterion]
        if c.total is None:
            raise InvalidValueError(f"run {run.short_id}: no {criterion} data at "
                                    f"{override or 'its settings'}: {'; '.join(c.notes)}")
        return c.total.value / q

    base = per_query_g()  # no data for the criterion at the run's own settings: no tornado

    bars = []
    sources: list[str] = []
    lo_r, hi_r = (get_region(r) for r in regions)
    for reg in (lo_r, hi_r):
        iv = reg.intensity
        sources += list(iv.sources)
    bars.append(Bar(f"grid intensity ({lo_r.name} -> {hi_r.name})",
                    f"{lo_r.iso2} {lo_r.intensity.value:.4g}",
                    f"{hi_r.iso2} {hi_r.intensity.value:.4g} g/kWh",
                    per_query_g(region=lo_r.iso2, grid=None, grid_year=None),
                    per_query_g(region=hi_r.iso2, grid=None, grid_year=None)))
    bars.append(Bar(f"PUE ({pue[0]:g} -> {pue[1]:g})", f"PUE {pue[0]:g}", f"PUE {pue[1]:g}",
                    per_query_g(pue=pue[0]), per_query_g(pue=pue[1])))
    bars.append(Bar(f"lifetime ({lifetime_years[0]:g} -> {lifetime_years[1]:g} y)",
                    f"{lifetime_years[0]:g} y", f"{lifetime_years[1]:g} y",
                    per_query_g(lifetime_years=lifetime_years[0]),
                    per_query_g(lifetime_years=lifetime_years[1])))
    ctx0 = ImpactContext.resolve(device, **base_settings)
    if ctx0.embodied is not None:
        try:
            bars.append(Bar(f"manufacturing scope ({scopes[0]} -> {scopes[1]})", scopes[0],
                            scopes[1], per_query_g(scope=scopes[0]),
                            per_query_g(scope=scopes[1])))
        except UsageError:
            pass  # no data for this device at one of the scopes
        if factor_source:
            try:
                bars.append(Bar("per-node factor (low -> high source)", "lowest",
                                "highest source", per_query_g(node_source="low"),
                                per_query_g(node_source="high")))
            except UsageError:
                pass  # a single source for this node: no spread to show
            try:
                bars.append(Bar("per-node factor basis (as published -> good die)",
                                "as published", "per good die",
                                per_query_g(node_basis="as-published"),
                                per_query_g(node_basis="good-die")))
            except UsageError:
                pass
    bars.sort(key=lambda b: b.swing_g, reverse=True)
    return Tornado(run, base, tuple(bars), tuple(dict.fromkeys(sources)), criterion,
                   UNITS[criterion])
