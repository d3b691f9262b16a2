"""Grid intensity data and lookup, and the grid list readable in 80 columns."""

from __future__ import annotations

import pytest

from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.lca.grid import custom_grid, get_region, grid_intensity, list_regions


def test_at_least_60_countries_plus_world_every_row_sourced():
    regions = list_regions()
    countries = [r for r in regions if r.iso2 != "WORLD"]
    assert len(countries) >= 60
    assert regions[0].iso2 == "WORLD"
    for reg in regions:
        assert len(reg.iso2) == 2 or reg.iso2 == "WORLD"
        assert len(reg.iso3) == 3 and reg.name
        assert sum(r.nominal for r in reg.rows) == 1
        for r in reg.rows:
            assert r.source and r.basis
            assert 5 <= r.value_gco2e_per_kwh <= 1200
            # Electricity Maps data is ODbL (share-alike): never shipped
            assert "electricity maps" not in r.source.lower()
            assert "electricitymap" not in r.source.lower()


def test_france_default_is_the_seed_study_value():
    fr = grid_intensity("FR")
    assert fr.value == 79.1
    assert "Seed study" in fr.sources[0] and "ADEME" in fr.sources[0]
    # spread of the French rows: OWID 44.18 ... ADEME Base IMPACTS 80.08
    assert (fr.low, fr.high) == (44.18, 80.08)
    assert fr.kind == "default"


@pytest.mark.parametrize("name", ["FR", "fr", "FRA", "France", "france"])
def test_lookup_by_code_or_name(name):
    assert get_region(name).iso3 == "FRA"


def test_world_and_owid_nominal():
    assert grid_intensity("WORLD").value == pytest.approx(473.01)
    assert grid_intensity("WLD").value == pytest.approx(473.01)
    de = get_region("DE")
    assert "Our World in Data" in de.nominal_row.source
    assert grid_intensity("DEU").value == pytest.approx(380.9)


def test_unknown_region():
    with pytest.raises(UnknownNameError) as ei:
        get_region("Frnace")
    assert "France" in str(ei.value) and ei.value.exit_code == 2


def test_custom_grid():
    g = custom_grid(50)
    assert g.is_exact and g.value == 50 and g.kind == "input"
    g = custom_grid("20..80")
    assert (g.low, g.value, g.high) == (20, 50, 80)
    for bad in (-1, float("nan"), "80..20", "abc"):
        with pytest.raises(InvalidValueError):
            custom_grid(bad)


def test_grid_list_one_line_per_region_in_80_columns(cli_subprocess):
    """Regression: the folded source column took four to six lines per country."""
    p = cli_subprocess("grid", "list", COLUMNS="80")
    assert p.code == 0, p.err
    lines = p.out.splitlines()
    assert all(len(line) <= 80 for line in lines)
    rows = [line.split() for line in lines if line.split() and len(line.split()[0]) == 2
            and line.split()[0].isupper()]
    assert len(rows) >= 60
    fr = next(r for r in rows if r[0] == "FR")
    assert fr[1:7] == ["FRA", "France", "79.1", "[44.2", "-", "80.1]"]
