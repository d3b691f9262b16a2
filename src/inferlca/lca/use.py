"""The formulas of the impact model (docs/method.md, "The impact of one workload"), each written
once, as pure functions on :class:`UValue`:

* ``energy_kwh = energy_j / 3.6e6``
* ``use_gco2e = energy_kwh x grid_gco2e_per_kwh x pue``
* ``allocation = duration_s / (lifetime_years x 365.25 x 86400 s)`` (its low end comes from the
  longest lifetime)
* ``embodied_gco2e = allocation x embodied_kg x 1000``
* ``total_gco2e = use_gco2e + embodied_gco2e``; ``per_query_gco2e = total_gco2e / queries``
"""

from __future__ import annotations

from inferlca.errors import UnitError
from inferlca.uncertainty import UValue
from inferlca.units import G_PER_KG, J_PER_KWH, S_PER_YEAR, same_unit


def _require(v: UValue, unit: str, what: str) -> None:
    if not same_unit(v.unit, unit):
        raise UnitError(f"{what} must be in {unit or 'no unit (a ratio)'}, got {v.format()}")


def _converted(v: UValue, unit: str) -> UValue:
    """A conversion by a constant factor already applied to ``v``: say the new unit."""
    return v.with_unit(unit)


def energy_kwh(energy_j: UValue) -> UValue:
    """Energy in kWh from energy in J."""
    _require(energy_j, "J", "energy")
    return _converted(energy_j / J_PER_KWH, "kWh")


def use_phase_gco2e(energy_kwh: UValue, grid_gco2e_per_kwh: UValue, pue: UValue) -> UValue:
    """Use-phase emissions in gCO2e: ``C x EGM x PUE`` (kWh x gCO2e/kWh x 1)."""
    _require(energy_kwh, "kWh", "energy")
    _require(grid_gco2e_per_kwh, "gCO2e/kWh", "grid intensity")
    _require(pue, "", "PUE")
    return energy_kwh * grid_gco2e_per_kwh * pue


def allocation(duration_s: UValue, lifetime_years: UValue) -> UValue:
    """Share of the device's life used by the workload: ``t / lifetime`` (dimensionless)."""
    _require(duration_s, "s", "duration")
    _require(lifetime_years, "years", "lifetime")
    return duration_s / _converted(lifetime_years * S_PER_YEAR, "s")


def embodied_share_gco2e(allocation_: UValue, embodied_kg: UValue) -> UValue:
    """Manufacturing emissions allocated to the workload, in gCO2e: ``a(t) x F``."""
    _require(allocation_, "", "allocation")
    _require(embodied_kg, "kgCO2e", "embodied footprint")
    return _converted(allocation_ * embodied_kg * G_PER_KG, "gCO2e")


def total_gco2e(use_gco2e: UValue, embodied_gco2e: UValue) -> UValue:
    """``use + embodied`` in gCO2e."""
    _require(use_gco2e, "gCO2e", "use-phase emissions")
    return use_gco2e + embodied_gco2e  # the sum checks that both are in gCO2e


def per_query_gco2e(total: UValue, queries: int) -> UValue:
    """Emissions per query in gCO2e."""
    _require(total, "gCO2e", "emissions")
    return total / queries
