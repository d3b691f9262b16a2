"""More than CO2: water, primary energy (PE) and abiotic depletion (ADPe) beside GWP.

Each criterion has a use phase and, where a sourced per-device figure exists, a manufacturing
share allocated by the same time rule as GWP (``allocation = t / lifetime``):

* ``pe``    use = ``energy_kwh x PUE x pe_mj_per_kwh(region)``                       [MJ]
* ``adpe``  use = ``energy_kwh x PUE x adpe_kgsbeq_per_kwh(region)``                  [kgSbeq]
* ``water`` use = ``energy_kwh x (WUE_on-site(category) + PUE x water_off-site(region))`` [L]
  (on-site: cooling water of the facility per kWh of IT energy; off-site: water consumed to
  generate a kWh of the region's electricity)
* manufacturing = ``allocation x device factor`` (``lca/data/criteria_embodied.csv``)
* ``gwp`` is the GWP of :class:`~inferlca.lca.impact.Impact` (use + embodied), unchanged.

All inputs are positive and every formula is monotonic in each of them, so an interval is the
formula at all low ends and at all high ends (the rule of :mod:`inferlca.uncertainty`). A factor
without data (a custom ``--grid`` has no PE, ADPe or water factor; a country missing from the
table; a device without a sourced manufacturing figure) gives ``None`` with the reason, never 0.

Data: ``lca/data/criteria_grid.csv`` (per country, ADEME Base Empreinte via EcoLogits; water per
kWh of electricity from WRI via EcoLogits), ``criteria_onsite.csv`` (on-site WUE by device
category), ``criteria_embodied.csv`` (per-device manufacturing figures), each row with its source.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from inferlca.errors import UnknownNameError
from inferlca.uncertainty import UValue

CRITERIA = ("gwp", "water", "pe", "adpe")
UNITS = {"gwp": "gCO2e", "water": "L", "pe": "MJ", "adpe": "kgSbeq"}
NAMES = {"gwp": "global warming potential", "water": "water consumption",
         "pe": "primary energy", "adpe": "abiotic depletion (elements)"}


def parse_criteria(text: str | None, param: str = "criteria") -> tuple[str, ...]:
    """``"gwp,water"`` -> ``("gwp", "water")`` (order kept, duplicates dropped); ``None`` or
    empty -> ``("gwp",)``. :class:`UnknownNameError` for an unknown criterion."""
    if text is None or not text.strip():
        return ("gwp",)
    out: dict[str, None] = {}
    for part in text.split(","):
        name = part.strip().lower()
        if not name:
            continue
        if name not in CRITERIA:
            raise UnknownNameError("criterion", name, CRITERIA,
                                   f"(accepted: {', '.join(CRITERIA)}, comma-separated)",
                                   param=param)
        out.setdefault(name, None)
    return tuple(out) or ("gwp",)


@dataclass(frozen=True)
class GridFactors:
    iso3: str
    adpe_kgsbeq_per_kwh: float
    pe_mj_per_kwh: float
    water_offsite_l_per_kwh: float
    source: str


@dataclass(frozen=True)
class _Row:
    value: UValue
    note: str


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("inferlca.lca").joinpath("data").joinpath(name).read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@lru_cache(maxsize=1)
def _grid_factors() -> dict[str, GridFactors]:
    return {r["iso3"]: GridFactors(r["iso3"], float(r["adpe_kgsbeq_per_kwh"]),
                                   float(r["pe_mj_per_kwh"]), float(r["water_offsite_l_per_kwh"]),
                                   r["source"]) for r in _read("criteria_grid.csv")}


@lru_cache(maxsize=1)
def _onsite() -> dict[str, _Row]:
    return {r["category"]: _Row(UValue(float(r["water_onsite_l_per_kwh"]), float(r["low"]),
                                       float(r["high"]), "L/kWh", (r["source"],), "default"),
                                r["note"]) for r in _read("criteria_onsite.csv")}


@lru_cache(maxsize=1)
def _embodied() -> dict[tuple[str, str], _Row]:
    return {(r["device_id"], r["criterion"]): _Row(
        UValue(float(r["value"]), float(r["low"]), float(r["high"]), r["unit"], (r["source"],),
               "default"), r["note"]) for r in _read("criteria_embodied.csv")}


def grid_factors(iso3: str) -> GridFactors | None:
    """PE, ADPe and off-site water per kWh for a country (ISO alpha-3, ``WLD`` for the world)."""
    return _grid_factors().get(iso3.upper())


def onsite_wue(category: str | None) -> UValue | None:
    """On-site water per kWh of IT energy for a device category (``None`` if not tabulated)."""
    row = _onsite().get(category or "")
    return row.value if row else None


def manufacturing_factor(device_id: str | None, criterion: str) -> UValue | None:
    """A device's sourced manufacturing figure for a criterion, or ``None``."""
    row = _embodied().get((device_id or "", criterion))
    return row.value if row else None


@dataclass(frozen=True)
class Criterion:
    """One criterion of one workload: use phase, manufacturing share and their sum.

    ``total`` is ``use + manufacturing`` when both are known (``scope`` ``use+manufacturing``),
    the use phase alone when manufacturing has no data (``scope`` ``use``, with the reason in
    ``notes``), ``None`` when even the use phase has no data.
    """

    name: str
    unit: str
    use: UValue | None
    manufacturing: UValue | None
    queries: int | None = None
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def total(self) -> UValue | None:
        if self.use is None:
            return None
        if self.manufacturing is None:
            return self.use
        return _add(self.use, self.manufacturing, self.unit)

    @property
    def scope(self) -> str | None:
        if self.use is None:
            return None
        return "use" if self.manufacturing is None else "use+manufacturing"

    def to_dict(self) -> dict[str, Any]:
        tot = self.total
        d: dict[str, Any] = {
            "criterion": self.name, "name": NAMES[self.name], "unit": self.unit,
            "value": tot.value if tot else None, "low": tot.low if tot else None,
            "high": tot.high if tot else None, "scope": self.scope,
            "use": self.use.to_dict() if self.use else None,
            "manufacturing": self.manufacturing.to_dict() if self.manufacturing else None,
        }
        if self.queries and tot is not None:
            d["per_query"] = _scale(tot, 1.0 / self.queries, self.unit).to_dict()
        d["sources"] = list(self.sources)
        d["notes"] = list(self.notes)
        return d


def _mul(*xs: UValue, unit: str) -> UValue:
    v, lo, hi = 1.0, 1.0, 1.0
    for x in xs:
        v, lo, hi = v * x.value, lo * x.low, hi * x.high
    return UValue(v, lo, hi, unit, _sources(*xs), "derived")


def _add(a: UValue, b: UValue, unit: str) -> UValue:
    return UValue(a.value + b.value, a.low + b.low, a.high + b.high, unit, _sources(a, b),
                  "derived")


def _scale(a: UValue, k: float, unit: str) -> UValue:
    return UValue(a.value * k, a.low * k, a.high * k, unit, a.sources, a.kind)


def _sources(*xs: UValue) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s for x in xs for s in x.sources if s))


def compute_criteria(impact: Any, ctx: Any, criteria: tuple[str, ...] = CRITERIA,
                     ) -> dict[str, Criterion]:
    """The criteria of a workload from its :class:`~inferlca.lca.impact.Impact` and context.

    Args:
        impact: the GWP impact (energy in kWh, allocation, GWP parts, queries).
        ctx: the :class:`~inferlca.lca.impact.ImpactContext` it was computed in (device, region,
            PUE).
        criteria: names from :data:`CRITERIA` (see :func:`parse_criteria`).
    """
    return _criteria(impact.energy_kwh, impact.pue, impact.allocation, impact.use_gco2e,
                     impact.embodied_gco2e if impact.embodied_available else None,
                     impact.queries, tuple(impact.sources), getattr(ctx, "device", None),
                     ctx.region, criteria)


def criteria_from_stored(impact: Mapping[str, Any], device: Any, region: str | None,
                         queries: int | None, criteria: tuple[str, ...] = CRITERIA,
                         ) -> dict[str, Criterion] | None:
    """The criteria of a stored repetition from its impact dict (``Impact.to_dict()``), the
    run's device (catalog :class:`Device` or ``None``) and grid region (``None``: custom grid).
    ``None`` when the dict lacks the energy, PUE or allocation."""
    def uv(key: str, unit: str = "") -> UValue | None:
        d = impact.get(key)
        if isinstance(d, Mapping) and {"value", "low", "high"} <= set(d):
            return UValue(float(d["value"]), float(d["low"]), float(d["high"]), unit)
        return None

    kwh, pue, alloc = uv("energy_kwh", "kWh"), uv("pue"), uv("allocation")
    use_g = uv("use_gco2e", "gCO2e")
    if kwh is None or pue is None or alloc is None or use_g is None:
        return None
    foot = uv("device_embodied_kgco2e")
    emb = uv("embodied_gco2e", "gCO2e") if foot is not None and foot.value > 0 else None
    srcs = tuple(str(x) for x in impact.get("sources") or () if isinstance(x, str))
    return _criteria(kwh, pue, alloc, use_g, emb, queries, srcs, device, region or "custom",
                     criteria)


def run_criteria(run: Any, criteria: tuple[str, ...] = CRITERIA) -> dict[str, dict[str, Any]]:
    """A stored run's criteria (a report ``RunView``): each repetition's criteria from its impact
    dict, combined by the run interval rule (:func:`inferlca.stats.combine_intervals`), per
    query when the run has a query count. A criterion without data is ``value: None`` with the
    notes of its repetitions."""
    from inferlca.hardware.catalog import get_catalog
    from inferlca.stats import combine_intervals, consistent_totals

    device = None
    device_id = getattr(run, "device_id", None)
    if device_id and device_id.startswith("archetype-"):  # a machine charged an archetype
        from inferlca.hardware.archetypes import archetype_device

        try:
            device = archetype_device(device_id.removeprefix("archetype-"))
        except UnknownNameError:
            device = None
    elif device_id:
        try:
            device = get_catalog().get(device_id)
        except UnknownNameError:  # a device no longer in the catalog: no category or manufacturing
            device = None
    spec = getattr(run, "spec", {}) or {}
    region = None if spec.get("grid_gco2e_per_kwh") is not None else (spec.get("region") or "FR")
    per_rep = [criteria_from_stored(r.impact, device, region, None, criteria)
               for r in run.repetitions if r.impact]
    per_rep_ok = [c for c in per_rep if c is not None]
    q = run.queries or None
    out: dict[str, dict[str, Any]] = {}
    for name in criteria:
        crits = [c[name] for c in per_rep_ok]
        totals = [c.total.to_dict() for c in crits if c.total is not None]
        comb = combine_intervals(totals) if totals and len(totals) == len(crits) else None
        if comb is not None and all(c.use is not None and c.manufacturing is not None
                                    for c in crits):
            # the total holds its parts, as the GWP's (stats.consistent_totals)
            parts = {"use_gco2e": combine_intervals([c.use.to_dict() for c in crits if c.use]),
                     "embodied_gco2e": combine_intervals([c.manufacturing.to_dict()
                                                          for c in crits if c.manufacturing]),
                     "total_gco2e": comb}
            comb = consistent_totals(parts)["total_gco2e"]
        notes = list(dict.fromkeys(n for c in crits for n in c.notes))
        if not per_rep_ok:
            notes.append("no repetition with a stored impact")
        d: dict[str, Any] = {"criterion": name, "name": NAMES[name], "unit": UNITS[name],
                             "value": None, "low": None, "high": None,
                             "scope": crits[0].scope if crits else None}
        if comb is not None:
            k = 1.0 / q if q else 1.0
            d.update(value=comb["value"] * k, low=comb["low"] * k, high=comb["high"] * k,
                     per="query" if q else "run")
        d["sources"] = list(dict.fromkeys(s for c in crits for s in c.sources))
        d["notes"] = notes
        out[name] = d
    return out


def _criteria(kwh: UValue, pue: UValue, alloc: UValue, use_g: UValue, emb_g: UValue | None,
              queries: int | None, gwp_sources: tuple[str, ...], device: Any, region: str,
              criteria: tuple[str, ...]) -> dict[str, Criterion]:
    out: dict[str, Criterion] = {}
    device_id = getattr(device, "id", None)
    category = getattr(device, "category", None)
    factors = None
    region_reason = ""
    if region == "custom":
        region_reason = ("a custom grid intensity has no {what} factor; give a region "
                         "(--region) for it")
    else:
        from inferlca.lca.grid import get_region

        factors = grid_factors(get_region(region).iso3)
        if factors is None:
            region_reason = (f"no {{what}} factor for region {region} in "
                             "lca/data/criteria_grid.csv")
    for name in criteria:
        unit = UNITS[name]
        notes: list[str] = []
        if name == "gwp":
            if emb_g is None:
                notes.append("manufacturing: no embodied footprint for this device")
            out[name] = Criterion(name, unit, use_g.with_unit(unit),
                                  emb_g.with_unit(unit) if emb_g is not None else None,
                                  queries, gwp_sources, tuple(notes))
            continue
        use: UValue | None = None
        if factors is None:
            notes.append("use phase: " + region_reason.format(what={
                "pe": "primary-energy", "adpe": "ADPe", "water": "off-site water"}[name]))
        elif name in ("pe", "adpe"):
            per_kwh = factors.pe_mj_per_kwh if name == "pe" else factors.adpe_kgsbeq_per_kwh
            f = UValue.exact(per_kwh, f"{unit}/kWh", (factors.source,), kind="default")
            use = _mul(kwh, pue, f, unit=unit)
        else:
            on = onsite_wue(category)
            off = UValue.exact(factors.water_offsite_l_per_kwh, "L/kWh", (factors.source,),
                               kind="default")
            if on is None:
                notes.append("use phase: on-site water unknown for an unknown device category; "
                             "off-site water only")
                per_kwh_v = _mul(pue, off, unit="L/kWh")
            else:
                per_kwh_v = _add(on, _mul(pue, off, unit="L/kWh"), "L/kWh")
            use = _mul(kwh, per_kwh_v, unit=unit)
        manu_f = manufacturing_factor(device_id, name)
        manu = _mul(alloc, manu_f, unit=unit) if manu_f is not None else None
        if manu is None:
            notes.append(f"manufacturing: no sourced {NAMES[name]} figure for "
                         f"{device_id or 'an unknown device'}; use phase only")
        srcs = _sources(*(x for x in (use, manu) if x is not None))
        out[name] = Criterion(name, unit, use, manu, queries, srcs, tuple(notes))
    return out


def criteria_dict(impact: Any, ctx: Any, criteria: tuple[str, ...] = CRITERIA,
                  ) -> dict[str, Any]:
    """``{name: Criterion.to_dict()}``, the ``criteria`` entry of ``--json`` outputs."""
    return {k: c.to_dict() for k, c in compute_criteria(impact, ctx, criteria).items()}
