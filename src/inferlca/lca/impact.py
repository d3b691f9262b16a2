"""Impact of one workload: use phase + allocated manufacturing footprint, with every intermediate.

:meth:`ImpactContext.resolve` fills in the defaults (grid of the region, PUE by device category,
lifetime 7 years) and the device's embodied footprint once; :func:`compute_impact` then turns an
energy and a duration into an :class:`Impact` (formulas in :mod:`inferlca.lca.use`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from inferlca.errors import InvalidValueError, UnitError, UnknownNameError, named
from inferlca.hardware.catalog import Device, get_catalog
from inferlca.lca import use
from inferlca.lca.defaults import (
    LIFETIME_BOUNDS,
    PUE_BOUNDS,
    check_plausible,
    default_lifetime_years,
    default_pue,
)
from inferlca.lca.embodied import (
    DEFAULT_SCOPE,
    KG,
    MEMORY_METHODS,
    Embodied,
    EmbodiedUnavailableError,
    check_scope,
    embodied_footprint,
)
from inferlca.lca.grid import DEFAULT_REGION, G_PER_KWH, custom_grid, get_region
from inferlca.uncertainty import UValue, parse_bounded

#: the keys of :meth:`Impact.to_dict` and of ``inferlca impact --json``
IMPACT_KEYS = ("scope", "use_gco2e", "embodied_gco2e", "total_gco2e", "per_query_gco2e",
               "allocation",
               "device_embodied_kgco2e", "energy_kwh", "grid_gco2e_per_kwh", "pue",
               "lifetime_years", "sources")

Numeric = float | int | str | UValue


@dataclass(frozen=True)
class ImpactContext:
    """Everything but the energy and duration: device, grid, PUE, lifetime, embodied footprint.

    Attributes:
        device: the catalog device, or ``None`` (then embodied emissions are zero, with a note).
        region: ISO alpha-2 code of the grid region, or ``"custom"`` for a given ``grid``.
        region_name: display name of the region.
        grid_gco2e_per_kwh: carbon intensity, gCO2e/kWh.
        pue: power usage effectiveness (>= 1).
        lifetime_years: device lifetime, years.
        memory_method: ``per-gb`` or ``area``.
        embodied: the device's manufacturing footprint, or ``None`` when unavailable.
        notes: why something is missing or assumed.
    """

    device: Device | None
    region: str
    region_name: str
    grid_gco2e_per_kwh: UValue
    pue: UValue
    lifetime_years: UValue
    memory_method: str = "per-gb"
    embodied: Embodied | None = None
    notes: tuple[str, ...] = ()
    scope: str = DEFAULT_SCOPE

    @property
    def embodied_available(self) -> bool:
        return self.embodied is not None

    @classmethod
    def resolve(cls, device: Device | str | None, region: str | None = DEFAULT_REGION,
                grid: Numeric | None = None, pue: Numeric | None = None,
                lifetime_years: Numeric | None = None, memory_method: str = "per-gb", *,
                node_source: str | None = None, packaging: bool = False,
                scope: str = DEFAULT_SCOPE, node_basis: str = "as-published",
                grid_year: int | str | None = None) -> ImpactContext:
        """Fill in the defaults.

        Args:
            device: a :class:`Device`, a catalog name, or ``None`` (unknown device).
            region: ISO code or country name for the grid intensity (default ``FR``).
            grid: a custom intensity in gCO2e/kWh (number or ``"lo..hi"``); overrides ``region``.
            pue: PUE (number or ``"1.1..1.6"``, >= 1); default by device category.
            lifetime_years: lifetime (number or ``"4..7"``, > 0); default 7 [3 - 7] years.
            memory_method: ``per-gb`` or ``area`` for the embodied memory term.
            node_source: per-node factor source for sensitivity (``low``, ``high``, a source id).
            packaging: add the optional packaging overhead to the embodied footprint.
            scope: what the manufacturing footprint covers: ``chip`` (default), ``card`` or
                ``server-share`` (see :mod:`inferlca.lca.embodied`).
            node_basis: ``as-published`` (default) or ``good-die`` per-node factors.
            grid_year: the region's intensity of that year (its rows of that year), not its
                default; not with ``grid``.
        """
        notes: list[str] = []
        check_scope(scope)
        if isinstance(device, str):
            device = get_catalog().get(device)
        if memory_method not in MEMORY_METHODS:
            raise UnknownNameError("memory method", memory_method, MEMORY_METHODS,
                                   f"(accepted: {', '.join(MEMORY_METHODS)})")
        if grid is not None:
            if grid_year is not None:
                raise InvalidValueError(f"{named('grid_year')} picks a year of the region's "
                                        f"intensity; not with {named('grid')}",
                                        param="grid_year")
            grid_v = custom_grid(grid)
            region_code, region_name = "custom", "custom grid intensity"
        else:
            reg = get_region(region or DEFAULT_REGION)
            if grid_year is not None:
                reg = reg.for_year(grid_year)
            grid_v, region_code, region_name = reg.intensity, reg.iso2, reg.name
        if pue is None:
            pue_v = default_pue(device.category if device else None)
            if device is None:
                notes.append("device unknown: PUE 1.0 assumed (no facility overhead)")
            elif device.archetype is not None:
                notes.append(f"PUE {pue_v.value:g} ASSUMED from the archetype's category "
                             f"({device.category}: {device.archetype})")
        else:
            pue_v = check_plausible("pue", parse_bounded("pue", pue, PUE_BOUNDS), pue)
        if lifetime_years is None:
            life_v = default_lifetime_years()
        else:
            life_v = check_plausible("lifetime_years", parse_bounded(
                "lifetime_years", lifetime_years, LIFETIME_BOUNDS), lifetime_years)
        embodied: Embodied | None = None
        if device is None:
            notes.append("device unknown: embodied emissions not counted (zero)")
        else:
            try:
                embodied = embodied_footprint(device, memory_method, node_source=node_source,
                                              packaging=packaging, scope=scope,
                                              node_basis=node_basis)
                notes.extend(embodied.notes)
            except EmbodiedUnavailableError as exc:
                notes.append(f"{exc}; embodied emissions not counted (zero)")
        return cls(device, region_code, region_name, grid_v.with_unit(G_PER_KWH),
                   pue_v.with_unit(""), life_v.with_unit("years"), memory_method, embodied,
                   tuple(notes), scope)


@dataclass(frozen=True)
class Impact:
    """The impact of one workload, every intermediate with unit, interval and sources."""

    energy_j: UValue
    duration_s: float
    queries: int | None
    energy_kwh: UValue
    grid_gco2e_per_kwh: UValue
    pue: UValue
    lifetime_years: UValue
    use_gco2e: UValue
    allocation: UValue
    device_embodied_kgco2e: UValue
    embodied_gco2e: UValue
    total_gco2e: UValue
    per_query_gco2e: UValue | None
    embodied_available: bool
    device_id: str | None
    region: str
    memory_method: str
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    scope: str = DEFAULT_SCOPE

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``inferlca impact --json`` (the keys of :data:`IMPACT_KEYS`;
        ``per_query_gco2e`` only when the number of queries is known)."""
        d: dict[str, Any] = {
            "scope": self.scope,
            "use_gco2e": self.use_gco2e.to_dict(),
            "embodied_gco2e": self.embodied_gco2e.to_dict(),
            "total_gco2e": self.total_gco2e.to_dict(),
        }
        if self.per_query_gco2e is not None:
            d["per_query_gco2e"] = self.per_query_gco2e.to_dict()
        d.update({
            "allocation": self.allocation.to_dict(),
            "device_embodied_kgco2e": self.device_embodied_kgco2e.to_dict(),
            "energy_kwh": self.energy_kwh.to_dict(),
            "grid_gco2e_per_kwh": self.grid_gco2e_per_kwh.to_dict(),
            "pue": self.pue.to_dict(),
            "lifetime_years": self.lifetime_years.to_dict(),
            "sources": list(self.sources),
        })
        return d

    def to_full_dict(self) -> dict[str, Any]:
        """Everything, with units and per-value sources (for reports)."""
        steps = {k: getattr(self, k).to_full_dict() for k in (
            "energy_j", "energy_kwh", "grid_gco2e_per_kwh", "pue", "use_gco2e",
            "lifetime_years", "allocation", "device_embodied_kgco2e", "embodied_gco2e",
            "total_gco2e")}
        if self.per_query_gco2e is not None:
            steps["per_query_gco2e"] = self.per_query_gco2e.to_full_dict()
        return {"steps": steps, "duration_s": self.duration_s, "queries": self.queries,
                "embodied_available": self.embodied_available, "device": self.device_id,
                "region": self.region, "memory_method": self.memory_method,
                "scope": self.scope, "sources": list(self.sources), "notes": list(self.notes)}


def _positive(name: str, value: float, accepted: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= 0:
        raise InvalidValueError(f"{named(name)} must be {accepted}, got {value!r}")
    return float(value)


def compute_impact(energy_j: float | UValue, duration_s: float, ctx: ImpactContext,
                   queries: int | None = None) -> Impact:
    """Impact of a workload that used ``energy_j`` over ``duration_s`` in context ``ctx``.

    Args:
        energy_j: energy of the device during the workload, J (>= 0; an interval is accepted).
            Zero is accepted here (a run is never lost to a zero reading); the CLI rejects it.
        duration_s: wall-clock duration of the workload, s (> 0), for the allocation.
        ctx: see :meth:`ImpactContext.resolve`.
        queries: number of queries, for ``per_query_gco2e`` (> 0).

    Raises:
        InvalidValueError: a negative, NaN or infinite energy; a zero, negative, NaN or infinite
            duration; a query count that is not a whole number > 0.
    """
    if isinstance(energy_j, UValue):
        if not (math.isfinite(energy_j.high) and energy_j.low >= 0):
            raise InvalidValueError(f"{named('energy_j')} must be a finite number of J >= 0, "
                                    f"got {energy_j}")
        if energy_j.unit not in ("", "J"):  # a value without a unit is read in J, as a number is
            raise UnitError(f"energy must be in J, got {energy_j.format()}: convert it first "
                            "(e.g. energy.scaled(3600, 'J') for Wh)")
        e_j = energy_j.with_unit("J")
    else:
        if isinstance(energy_j, bool) or not isinstance(energy_j, (int, float)) \
                or not math.isfinite(energy_j) or energy_j < 0:
            raise InvalidValueError(f"{named('energy_j')} must be a finite number of J >= 0, "
                                    f"got {energy_j!r}")
        e_j = UValue.exact(float(energy_j), "J", ("measured or estimated energy",), kind="input")
    t_s = _positive("duration_s", duration_s, "a finite number of seconds > 0")
    if queries is not None and (isinstance(queries, bool) or not isinstance(queries, int)
                                or queries <= 0):
        raise InvalidValueError(f"{named('queries')} must be a whole number > 0, "
                                f"got {queries!r}")

    kwh = use.energy_kwh(e_j)
    use_g = use.use_phase_gco2e(kwh, ctx.grid_gco2e_per_kwh, ctx.pue)
    alloc = use.allocation(UValue.exact(t_s, "s", kind="input"), ctx.lifetime_years)
    if ctx.embodied is not None:
        device_kg = ctx.embodied.total_kg
    else:
        device_kg = UValue.exact(0.0, KG, ("embodied footprint unavailable",), kind="default")
    emb_g = use.embodied_share_gco2e(alloc, device_kg)
    total = use.total_gco2e(use_g, emb_g)
    per_q = use.per_query_gco2e(total, queries) if queries else None
    sources = tuple(dict.fromkeys(
        [*ctx.grid_gco2e_per_kwh.sources, *ctx.pue.sources, *ctx.lifetime_years.sources,
         *(ctx.embodied.sources if ctx.embodied else ())]))
    return Impact(
        energy_j=e_j, duration_s=t_s, queries=queries, energy_kwh=kwh,
        grid_gco2e_per_kwh=ctx.grid_gco2e_per_kwh, pue=ctx.pue,
        lifetime_years=ctx.lifetime_years, use_gco2e=use_g, allocation=alloc,
        device_embodied_kgco2e=device_kg.with_unit(KG), embodied_gco2e=emb_g,
        total_gco2e=total, per_query_gco2e=per_q, embodied_available=ctx.embodied is not None,
        device_id=ctx.device.id if ctx.device else None, region=ctx.region,
        memory_method=ctx.memory_method, sources=sources, notes=ctx.notes, scope=ctx.scope)
