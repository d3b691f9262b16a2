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
    """The nominal row is the newest Ember / OWID year; the older rows stay (the 2023 OWID
    value of Germany and the undated EcoLogits copy of the world's are still in the table)."""
    assert grid_intensity("WORLD").value == pytest.approx(472.94)
    assert grid_intensity("WLD").value == pytest.approx(472.94)
    assert 473.01 in [r.value_gco2e_per_kwh for r in get_region("WORLD").rows]
    de = get_region("DE")
    assert "Our World in Data" in de.nominal_row.source and "Ember" in de.nominal_row.source
    assert grid_intensity("DEU").value == pytest.approx(342.06)
    de23 = de.for_year(2023)
    assert de23.intensity.value == pytest.approx(380.9)
    assert "Our World in Data" in de23.nominal_row.source


@pytest.mark.parametrize("region,value", [("DE", 342.06), ("US", 383.55), ("SE", 35.89),
                                          ("FR", 44.18)])
def test_golden_2024_ember_values(region, value):
    """Ember's Yearly Electricity Data, 2024 (release of 2025-08-03, as copied by co2.js): the
    value recorded for each country, the default for all but France."""
    reg = get_region(region).for_year(2024)
    assert reg.intensity.to_dict() == {"value": value, "low": value, "high": value}
    row = reg.nominal_row
    assert row.year == "2024" and row.source.startswith("Ember, Yearly Electricity Data")
    assert "CC BY 4.0" in row.source and "@b459b5e" in row.source
    yearly = get_region(region).yearly_row
    assert yearly is not None and (yearly.value_gco2e_per_kwh, yearly.year) == (value, "2024")
    if region != "FR":
        assert get_region(region).nominal_row == row


def test_default_is_the_newest_year_of_each_country():
    """Where the release has no 2024 value the default is the country's newest year (Indonesia
    2023, Ukraine 2022); every region has a dated row of that release; France keeps the seed
    study's 79.1 as its default and states it has no year, beside its newest dated value."""
    assert (get_region("ID").nominal_row.year, grid_intensity("ID").value) == ("2023", 682.43)
    assert (get_region("UA").nominal_row.year, grid_intensity("UA").value) == ("2022", 250.47)
    for reg in list_regions():
        assert reg.yearly_row is not None and reg.yearly_row.year >= "2022", reg.name
        if reg.iso2 != "FR":
            assert reg.nominal_row is reg.yearly_row, reg.name
    fr = get_region("FR")
    assert fr.nominal_row.value_gco2e_per_kwh == 79.1 and fr.nominal_row.year == ""
    text = fr.statement()
    assert "default 79.1" in text and "year not stated by its source" in text
    assert "ADEME Base Empreinte" in text and "44.18 gCO2e/kWh (2024)" in text
    assert "--grid-year 2024" in text


def test_grid_show_and_list_state_the_source_and_year(cli):
    r = cli("grid", "show", "FR")
    assert r.code == 0 and "year not stated by its source" in " ".join(r.out.split())
    r = cli("grid", "show", "DE", "--json")
    d = r.json()
    assert d["year"] == "2024" and d["yearly_year"] == "2024"
    assert d["gco2e_per_kwh"]["value"] == 342.06 and "Ember" in d["statement"]
    out = " ".join(cli("grid", "list").out.split())
    assert "France (FR): default 79.1 gCO2e/kWh, year not stated by its source" in out


def test_grid_year_selects_an_older_year(cli):
    """`impact --region DE --grid-year 2023`: the OWID 2023 row, 380.9 gCO2e/kWh; by hand, 1 Wh
    on a T4 (PUE 1.5): 0.001 kWh x 380.9 x 1.5 = 0.57135 gCO2e of use phase; without it the
    2024 default, 0.001 x 342.06 x 1.5 = 0.51309."""
    args = ("impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "10", "--region",
            "DE", "--json")
    old = cli(*args, "--grid-year", "2023").json()
    assert old["use_gco2e"]["value"] == pytest.approx(0.57135)
    assert old["grid_gco2e_per_kwh"]["value"] == 380.9
    assert (old["region"], old["grid_year"]) == ("DE", 2023)
    new = cli(*args).json()
    assert new["use_gco2e"]["value"] == pytest.approx(0.51309)


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


def test_a_run_takes_a_grid_year_and_keeps_it(cli, tmp_path):
    """`run --region DE --grid-year 2023`: the stored repetitions' grid is the 2023 row, the
    stored spec keeps the year, `results show` says it, and the use phase is the trace's energy x
    380.9 x PUE (by hand from the stored figures). Without the year: the 2024 default."""
    from inferlca.store.sqlite import Store

    db = tmp_path / "r.db"
    args = ("run", "-w", "null", "-n", "4", "-r", "1", "--region", "DE", "--store", db,
            "--logs-dir", tmp_path / "logs", "--json")
    res = cli(*args, "--grid-year", "2023")
    assert res.code == 0, res.err
    run_id = res.json()["run_id"]
    with Store.open_readonly(db) as st:
        rec = st.get_run(run_id)
    assert rec.spec["grid_year"] == 2023
    imp = rec.repetitions[0].impact
    assert imp["grid_gco2e_per_kwh"]["value"] == 380.9
    kwh, pue = imp["energy_kwh"]["value"], imp["pue"]["value"]
    assert imp["use_gco2e"]["value"] == pytest.approx(kwh * 380.9 * pue)
    shown = " ".join(cli("results", "show", run_id, "--store", db).out.split())
    assert "grid: Germany (DE), 2023: 380.9 gCO2e/kWh" in shown
    res = cli(*args)
    with Store.open_readonly(db) as st:
        rec = st.get_run(res.json()["run_id"])
    assert rec.spec["grid_year"] is None
    assert rec.repetitions[0].impact["grid_gco2e_per_kwh"]["value"] == 342.06


@pytest.mark.parametrize("extra, message", [
    (("--grid-year", "abc"), "--grid-year must be a year such as 2023, got 'abc'"),
    (("--grid-year", "1999"), ("--grid-year 1999: no intensity of Germany for that year "
                              "(years in the table: 2024, 2023)")),
    (("--grid-year", "2023", "--grid", "50"), ("--grid-year picks a year of the region's "
                                               "intensity; not with --grid")),
])
def test_a_run_refuses_a_grid_year_it_cannot_use(cli, tmp_path, extra, message):
    res = cli("run", "-w", "null", "-n", "4", "-r", "1", "--region", "DE", *extra,
              "--store", tmp_path / "r.db")
    assert res.code == 2 and message in " ".join(res.err.split())
    assert "Traceback" not in res.err and not (tmp_path / "r.db").exists()


def test_grid_year_leaves_cell_ids_of_earlier_campaigns_alone():
    from inferlca.campaign.spec import cell_id_of
    from inferlca.spec import RunSpec

    plain = RunSpec(workload="null", region="DE")
    assert cell_id_of(plain) == cell_id_of(RunSpec(workload="null", region="DE", grid_year=None))
    assert cell_id_of(plain) != cell_id_of(RunSpec(workload="null", region="DE", grid_year=2023))
