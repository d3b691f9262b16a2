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

from inferlca.uncertainty import UValue
from inferlca.units import G_PER_KG, J_PER_KWH, S_PER_YEAR


def energy_kwh(energy_j: UValue) -> UValue:
    """Energy in kWh from energy in J."""
    return (energy_j / J_PER_KWH).with_unit("kWh")


def use_phase_gco2e(energy_kwh: UValue, grid_gco2e_per_kwh: UValue, pue: UValue) -> UValue:
    """Use-phase emissions in gCO2e: ``C x EGM x PUE``."""
    return (energy_kwh * grid_gco2e_per_kwh * pue).with_unit("gCO2e")


def allocation(duration_s: UValue, lifetime_years: UValue) -> UValue:
    """Share of the device's life used by the workload: ``t / lifetime`` (dimensionless)."""
    return (duration_s / (lifetime_years * S_PER_YEAR)).with_unit("")


def embodied_share_gco2e(allocation_: UValue, embodied_kg: UValue) -> UValue:
    """Manufacturing emissions allocated to the workload, in gCO2e: ``a(t) x F``."""
    return (allocation_ * embodied_kg * G_PER_KG).with_unit("gCO2e")


def total_gco2e(use_gco2e: UValue, embodied_gco2e: UValue) -> UValue:
    """``use + embodied`` in gCO2e."""
    return (use_gco2e + embodied_gco2e).with_unit("gCO2e")


def per_query_gco2e(total: UValue, queries: int) -> UValue:
    """Emissions per query in gCO2e."""
    return (total / queries).with_unit("gCO2e")
