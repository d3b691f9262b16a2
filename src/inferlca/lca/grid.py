"""Carbon intensity of electricity by country (gCO2e/kWh), as data with year and source.

``lca/data/grid_intensity.csv`` keeps several rows per country (one per source and year; older
years are never dropped). The nominal value is the row marked ``nominal``: the latest year of
Ember's Yearly Electricity Data (the series Our World in Data publishes as
``carbon_intensity_elec``; CC BY 4.0), 2024 for most countries; for France the seed study's
79.1 gCO2e/kWh (ADEME Base Empreinte, cited through the study, year not stated there), so that
the study stays reproduced by default (``--grid-year 2024`` gives France's Ember value). The
interval is the spread of all the rows of the country. Electricity Maps values (ODbL) are not
shipped.

Regions are looked up by ISO 3166 alpha-2 (``FR``) or alpha-3 (``FRA``) code or by name
(``France``), case-insensitively; ``WORLD``/``WLD``/``World`` is the world average.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources
from typing import Any

from inferlca.errors import InputFileError, InvalidValueError, UnknownNameError, named
from inferlca.uncertainty import UValue, parse_bounded

G_PER_KWH = "gCO2e/kWh"
DEFAULT_REGION = "FR"
#: how the sources of the yearly Ember / Our World in Data series start in the table
YEARLY_SOURCES = ("Ember", "Our World in Data")


@dataclass(frozen=True)
class GridRow:
    value_gco2e_per_kwh: float
    year: str
    basis: str
    nominal: bool
    source: str
    note: str


@dataclass(frozen=True)
class GridRegion:
    """A country (or the world) with its rows and the resulting interval."""

    iso2: str
    iso3: str
    name: str
    rows: tuple[GridRow, ...]
    #: the year these rows were chosen for (:meth:`for_year`), "" for every year
    year: str = ""

    @property
    def nominal_row(self) -> GridRow:
        return next(r for r in self.rows if r.nominal)

    @property
    def intensity(self) -> UValue:
        """gCO2e/kWh: nominal row, interval over all rows, nominal source first."""
        nom = self.nominal_row
        values = [r.value_gco2e_per_kwh for r in self.rows]
        cites = [_cite(nom)] + [_cite(r) for r in self.rows if r is not nom]
        return UValue(nom.value_gco2e_per_kwh, min(values), max(values), G_PER_KWH,
                      tuple(cites), "default")

    @property
    def years(self) -> list[str]:
        """The years the rows state (newest first)."""
        return sorted({r.year for r in self.rows if r.year}, reverse=True)

    def for_year(self, year: int | str) -> GridRegion:
        """The rows of one year only (older years are kept in the table): nominal = the
        region's nominal row if it is of that year, else the first row of that year (OWID /
        Ember first in the file). :class:`InvalidValueError` listing the years it has."""
        y = str(year).strip()
        rows = [r for r in self.rows if r.year == y]
        if not rows:
            raise InvalidValueError(
                f"{named('grid_year')} {y}: no intensity of {self.name} for that year (years "
                f"in the table: {', '.join(self.years) or 'none stated'})", param="grid_year")
        if not any(r.nominal for r in rows):
            rows = [replace(rows[0], nominal=True)] + [replace(r, nominal=False) for r in rows[1:]]
        return replace(self, rows=tuple(rows), year=y)

    @property
    def yearly_row(self) -> GridRow | None:
        """The row of the newest year of the yearly Ember / Our World in Data series (its source
        starts with ``Ember`` or ``Our World in Data``); ``None`` when the region has none."""
        rows = [r for r in self.rows if r.year and r.source.startswith(YEARLY_SOURCES)]
        return max(rows, key=lambda r: r.year, default=None)

    def statement(self) -> str:
        """One sentence: the default value, its source and year, and the newest value of the
        yearly series when the default is not it (France: the seed study's value, whose year
        the study does not state)."""
        nom, latest = self.nominal_row, self.yearly_row
        if self.year:  # the rows of one year (--grid-year): not the default
            return (f"{self.name} ({self.iso2}), year {self.year}: {nom.value_gco2e_per_kwh:g} "
                    f"{G_PER_KWH} (not the default: the rows of that year only); source: "
                    f"{nom.source}")
        year = f"year {nom.year}" if nom.year else "year not stated by its source"
        text = (f"{self.name} ({self.iso2}): default {nom.value_gco2e_per_kwh:g} {G_PER_KWH}, "
                f"{year}; source: {nom.source}")
        if latest is not None and latest is not nom:
            text += (f". Newest Ember / Our World in Data value: {latest.value_gco2e_per_kwh:g} "
                     f"{G_PER_KWH} ({latest.year}), with --grid-year {latest.year}")
        return text

    def to_dict(self) -> dict[str, Any]:
        nom = self.nominal_row
        latest = self.yearly_row
        return {"region": self.iso2, "iso3": self.iso3, "name": self.name,
                "gco2e_per_kwh": self.intensity.to_dict(), "year": nom.year,
                "basis": nom.basis, "source": nom.source, "statement": self.statement(),
                "yearly_year": None if latest is None else latest.year,
                "yearly_gco2e_per_kwh": None if latest is None else latest.value_gco2e_per_kwh,
                "rows": [{"gco2e_per_kwh": r.value_gco2e_per_kwh, "year": r.year,
                          "basis": r.basis, "nominal": r.nominal, "source": r.source,
                          "note": r.note} for r in self.rows]}


def _cite(r: GridRow) -> str:
    year = f", {r.year}" if r.year else ""
    return f"{r.value_gco2e_per_kwh:g} {G_PER_KWH}{year}: {r.source}"


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


@lru_cache(maxsize=1)
def _regions() -> tuple[dict[str, GridRegion], tuple[GridRegion, ...]]:
    text = resources.files("inferlca.lca").joinpath("data").joinpath("grid_intensity.csv").read_text("utf-8")
    grouped: dict[str, tuple[str, str, str, list[GridRow]]] = {}
    for i, r in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            row = GridRow(float(r["gco2e_per_kwh"]), r["year"].strip(), r["basis"].strip(),
                          r["nominal"].strip() == "1", r["source"].strip(),
                          (r.get("note") or "").strip())
        except ValueError as exc:
            raise InputFileError("grid_intensity.csv", str(exc), i) from None
        entry = grouped.setdefault(r["iso3"], (r["iso2"], r["iso3"], r["country"], []))
        entry[3].append(row)
    regions = []
    index: dict[str, GridRegion] = {}
    for iso2, iso3, name, rows in grouped.values():
        if sum(r.nominal for r in rows) != 1:
            raise InputFileError("grid_intensity.csv", f"{iso3}: expected exactly one nominal row")
        reg = GridRegion(iso2, iso3, name, tuple(rows))
        regions.append(reg)
        for label in (iso2, iso3, name):
            index[_key(label)] = reg
    index[_key("WLD")] = index[_key("World")]
    return index, tuple(sorted(regions, key=lambda g: (g.iso2 != "WORLD", g.name)))


def list_regions() -> list[GridRegion]:
    """All regions (the world first, then by name)."""
    return list(_regions()[1])


def get_region(region: str) -> GridRegion:
    """The region for an ISO code or a name; :class:`UnknownNameError` with suggestions."""
    index, regions = _regions()
    reg = index.get(_key(region))
    if reg is None:
        known = [r.iso2 for r in regions] + [r.name for r in regions]
        raise UnknownNameError("region", region, known,
                               "(use an ISO code such as FR or FRA, a country name, WORLD, "
                               "or a custom intensity in gCO2e/kWh (--grid of run and impact); see "
                               "`inferlca grid list`)")
    return reg


def parse_year(text: str | int) -> int:
    """A ``--grid-year`` given as text: a four-digit year, else :class:`InvalidValueError`."""
    t = str(text).strip()
    if not (t.isdigit() and len(t) == 4):
        raise InvalidValueError(f"{named('grid_year')} must be a year such as 2023, got {t!r} "
                                "(`inferlca grid show REGION` lists the years of a region)",
                                param="grid_year")
    return int(t)


def grid_intensity(region: str = DEFAULT_REGION) -> UValue:
    """Carbon intensity of the grid of ``region`` in gCO2e/kWh (interval = spread of sources)."""
    return get_region(region).intensity


def custom_grid(value: float | str | UValue, param: str = "grid") -> UValue:
    """A user-given intensity in gCO2e/kWh (a number, ``"50..80"`` or a UValue); must be >= 0.

    ``param`` names the parameter in errors (``grid_gco2e_per_kwh`` for a run specification).
    """
    from inferlca.lca.defaults import GRID_BOUNDS, PLAUSIBLE, check_plausible

    u = parse_bounded(param, value, GRID_BOUNDS, G_PER_KWH)
    return check_plausible(param if param in PLAUSIBLE else "grid", u, value)
