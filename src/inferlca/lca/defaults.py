"""Default PUE (by device category) and device lifetime, as sourced data
(``lca/data/defaults.csv``). Each default is a :class:`UValue` with ``kind="default"``: the nominal
value is the seed study's (PUE 1.5 for datacenter devices, 1.0 otherwise; lifetime 7 years) and the
interval the range of the cited sources, so that sensitivity analyses can vary it."""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources

from inferlca.uncertainty import Bounds, UValue

DEFAULT_LIFETIME_YEARS = 7.0

#: The accepted ranges of the user-given LCA parameters (number or interval ``a..b``), read by
#: :func:`inferlca.uncertainty.parse_bounded` wherever they are given (run, impact, estimate,
#: campaign files, the Python API).
GRID_BOUNDS = Bounds(minimum=0.0, unit="gCO2e/kWh", example="50..80")
PUE_BOUNDS = Bounds(minimum=1.0, example="1.1..1.6")
LIFETIME_BOUNDS = Bounds(minimum=0.0, min_inclusive=False, unit="years", example="4..7")

#: Plausibility limits beyond the physical bounds above: no grid emits over 5,000 gCO2e/kWh
#: (coal is about 1,000), no PUE exceeds 10, no device lives 200 years or less than two weeks;
#: beyond them a value is a typo (a lifetime of 1e-300 years gives ~1e297 gCO2e).
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "grid_gco2e_per_kwh": (0.0, 5000.0), "grid": (0.0, 5000.0), "pue": (1.0, 10.0),
    "lifetime_years": (0.04, 200.0)}


def check_plausible(param: str, value: UValue, given: object = None) -> UValue:
    """``value`` (already within its bounds) within :data:`PLAUSIBLE`; else
    :class:`~inferlca.errors.InvalidValueError` naming ``param``. Returns ``value``."""
    low, high = PLAUSIBLE[param]
    if value.low < low or value.high > high:
        from inferlca.errors import InvalidValueError, named

        shown = given if given is not None else value.format()
        raise InvalidValueError(
            f"{named(param)} must lie within {low:g}..{high:g}, got {shown!r} (a typo?)")
    return value


@lru_cache(maxsize=1)
def _defaults() -> dict[tuple[str, str], UValue]:
    text = resources.files("inferlca.lca").joinpath("data").joinpath("defaults.csv").read_text("utf-8")
    out = {}
    for r in csv.DictReader(io.StringIO(text)):
        out[(r["parameter"], r["category"])] = UValue(
            float(r["value"]), float(r["low"]), float(r["high"]), r["unit"],
            (r["source"],), "default")
    return out


def default_pue(category: str | None) -> UValue:
    """Default PUE for a device category (``datacenter`` 1.5 [1.08 - 1.58], others 1.0)."""
    table = _defaults()
    return table.get(("pue", category or "unknown"), table[("pue", "unknown")])


def default_lifetime_years() -> UValue:
    """Default device lifetime in years: 7 [3 - 7]."""
    return _defaults()[("lifetime_years", "any")]
