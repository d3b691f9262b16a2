"""Unit conversions used across inferlca. Variables carry their unit as a suffix
(``energy_j``, ``power_w``, ``duration_s``); these constants convert between them."""

from __future__ import annotations

J_PER_WH = 3600.0
J_PER_KWH = 3.6e6
S_PER_HOUR = 3600.0
S_PER_DAY = 86400.0
S_PER_YEAR = 365.25 * S_PER_DAY
G_PER_KG = 1000.0
MM2_PER_CM2 = 100.0


def j_to_kwh(energy_j: float) -> float:
    return energy_j / J_PER_KWH


def j_to_wh(energy_j: float) -> float:
    return energy_j / J_PER_WH


def kwh_to_j(energy_kwh: float) -> float:
    return energy_kwh * J_PER_KWH


def years_to_s(years: float) -> float:
    return years * S_PER_YEAR
