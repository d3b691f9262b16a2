"""Criteria beside GWP: water, primary energy, abiotic depletion (golden values by hand)."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from inferlca.errors import UnknownNameError
from inferlca.lca.criteria import CRITERIA, compute_criteria, parse_criteria
from inferlca.lca.impact import ImpactContext, compute_impact

YEAR_S = 365.25 * 86400


def test_impact_cli_criteria_golden(cli):
    """The issue's command: each criterion against a hand computation.

    T4 (datacenter): PUE 1.5 [1.08 - 1.58]; France: PE 9.3135 MJ/kWh, ADPe 4.858e-8 kgSbeq/kWh,
    off-site water 3.6737 L/kWh (criteria_grid.csv); on-site WUE 0.31 [0.18 - 1.07] L/kWh;
    1 Wh = 0.001 kWh. The T4 has no sourced manufacturing PE, ADPe or water: use phase only.
    """
    r = cli("impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "10",
            "--criteria", "gwp,water,pe,adpe", "--json")
    assert r.code == 0, r.err
    d = r.json()
    c = d["criteria"]
    assert list(c) == ["gwp", "water", "pe", "adpe"]
    kwh = 0.001
    pe = c["pe"]
    assert pe["unit"] == "MJ" and pe["scope"] == "use"
    assert (pe["value"], pe["low"], pe["high"]) == pytest.approx(
        (kwh * 1.5 * 9.3135, kwh * 1.08 * 9.3135, kwh * 1.58 * 9.3135))
    adpe = c["adpe"]
    assert adpe["unit"] == "kgSbeq"
    assert (adpe["value"], adpe["low"], adpe["high"]) == pytest.approx(
        (kwh * 1.5 * 4.858e-8, kwh * 1.08 * 4.858e-8, kwh * 1.58 * 4.858e-8))
    w = c["water"]
    assert w["unit"] == "L"
    assert (w["value"], w["low"], w["high"]) == pytest.approx(
        (kwh * (0.31 + 1.5 * 3.6737), kwh * (0.18 + 1.08 * 3.6737), kwh * (1.07 + 1.58 * 3.6737)))
    for name in ("water", "pe", "adpe"):
        assert c[name]["manufacturing"] is None
        assert any("no sourced" in n for n in c[name]["notes"])
        assert c[name]["sources"] and all(c[name]["sources"])
    g = c["gwp"]
    assert g["unit"] == "gCO2e" and g["scope"] == "use+manufacturing"
    assert (g["value"], g["low"], g["high"]) == pytest.approx(
        (d["total_gco2e"]["value"], d["total_gco2e"]["low"], d["total_gco2e"]["high"]))
    # use-phase GWP by hand: 0.001 kWh x 79.1 [44.18 - 80.08] x 1.5 [1.08 - 1.58]
    assert (g["use"]["value"], g["use"]["low"], g["use"]["high"]) == pytest.approx(
        (kwh * 79.1 * 1.5, kwh * 44.18 * 1.08, kwh * 80.08 * 1.58))


def test_impact_without_criteria_keeps_its_json(cli):
    r = cli("impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "10", "--json")
    assert r.code == 0 and "criteria" not in r.json()


def test_manufacturing_share_golden():
    """A100 40 GB: manufacturing PE 1828 MJ, ADPe 5.09e-3 kgSbeq, water 411.9 L allocated by
    t / lifetime (7 [3 - 7] years)."""
    ctx = ImpactContext.resolve("a100-sxm4-40gb", region="DE")
    imp = compute_impact(3600.0, 3600.0, ctx, queries=10)
    c = compute_criteria(imp, ctx)
    a = 3600.0 / (7 * YEAR_S)
    a_hi = 3600.0 / (3 * YEAR_S)
    for name, factor in (("pe", 1828.0), ("adpe", 5.09e-3), ("water", 411.9)):
        m = c[name].manufacturing
        assert m is not None
        assert (m.value, m.low, m.high) == pytest.approx((a * factor, a * factor, a_hi * factor))
        assert c[name].scope == "use+manufacturing"
    # Germany, 0.001 kWh x PUE: PE 8.7477 MJ/kWh
    pe_use = c["pe"].use
    assert pe_use is not None and pe_use.value == pytest.approx(0.001 * 1.5 * 8.7477)
    tot = c["pe"].total
    assert tot is not None and tot.value == pytest.approx(pe_use.value + a * 1828.0)
    assert c["pe"].to_dict()["per_query"]["value"] == pytest.approx(tot.value / 10)


def test_no_data_is_none_with_a_reason_never_zero():
    ctx = ImpactContext.resolve("t4", grid=100.0)
    c = compute_criteria(compute_impact(3600.0, 10.0, ctx), ctx)
    for name in ("water", "pe", "adpe"):
        d = c[name].to_dict()
        assert d["value"] is None and d["use"] is None and d["scope"] is None
        assert any("custom grid" in n for n in d["notes"])
    # a region missing from the criteria table (Singapore has GWP rows only)
    ctx = ImpactContext.resolve("t4", region="SG")
    c = compute_criteria(compute_impact(3600.0, 10.0, ctx), ctx, ("pe",))
    assert c["pe"].use is None and "SG" in c["pe"].notes[0]


def test_edge_device_has_no_onsite_water_but_offsite():
    ctx = ImpactContext.resolve("jetson-agx-orin-64gb", region="FR")
    c = compute_criteria(compute_impact(3600.0, 10.0, ctx), ctx, ("water",))
    w = c["water"].use
    assert w is not None and w.value == pytest.approx(0.001 * 1.0 * 3.6737)


def test_parse_criteria():
    assert parse_criteria("GWP, water,pe,water") == ("gwp", "water", "pe")
    assert parse_criteria(None) == ("gwp",)
    with pytest.raises(UnknownNameError, match="water"):
        parse_criteria("gwp,wter")


def test_unknown_criterion_exits_2(cli):
    r = cli("impact", "--device", "t4", "--energy-wh", "1", "--duration-s", "10",
            "--criteria", "gwp,co2")
    assert r.code == 2 and "unknown criterion 'co2'" in r.err and "Traceback" not in r.err


@pytest.mark.parametrize("name", ["criteria_grid.csv", "criteria_onsite.csv",
                                  "criteria_embodied.csv"])
def test_every_criteria_row_has_a_source(name):
    text = resources.files("inferlca.lca").joinpath("data").joinpath(name).read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert rows and all(r["source"].strip() for r in rows)


def test_every_criterion_has_a_unit():
    from inferlca.lca.criteria import UNITS

    assert set(UNITS) == set(CRITERIA)


def test_estimate_cli_criteria(cli):
    """`estimate --criteria`: each device's criteria from its estimated energy (hand check of
    PE on the T4 in Germany: kWh x PUE 1.5 x 8.7477 MJ/kWh)."""
    r = cli("estimate", "--model", "bert-large", "--device", "t4", "--device", "a100-sxm4-40gb",
            "--region", "DE", "--criteria", "pe,water", "--json")
    assert r.code == 0, r.err
    t4, a100 = r.json()["devices"]
    kwh = t4["impact"]["energy_kwh"]["value"]
    assert t4["criteria"]["pe"]["value"] == pytest.approx(kwh * 1.5 * 8.7477)
    assert t4["criteria"]["pe"]["scope"] == "use"
    assert a100["criteria"]["water"]["scope"] == "use+manufacturing"
    r = cli("estimate", "--model", "bert-large", "--device", "t4", "--criteria", "gwp,h2o")
    assert r.code == 2 and "unknown criterion" in r.err


def test_run_cli_criteria(cli, tmp_path):
    """`run --criteria` on the null workload (a real run, modelled or real meter): the run's
    criteria per query; PE per query = the mean repetition's kWh x PUE x 9.3135 MJ/kWh (France)
    divided by the queries, within the run interval."""
    r = cli("run", "-w", "null", "-n", "8", "-r", "2", "--device", "t4", "--store",
            tmp_path / "c.db", "--logs-dir", tmp_path / "logs", "--criteria", "pe,water",
            "--json")
    assert r.code == 0, r.err
    d = r.json()
    pe = d["criteria"]["pe"]
    assert pe["unit"] == "MJ" and pe["per"] == "query" and pe["scope"] == "use"
    kwh = [rep["impact"]["energy_kwh"]["value"] for rep in d["repetitions"]]
    pue = d["repetitions"][0]["impact"]["pue"]["value"]
    assert pe["value"] == pytest.approx(sum(kwh) / len(kwh) * pue * 9.3135 / 8)
    assert pe["low"] <= min(kwh) * 1.08 * 9.3135 / 8 + 1e-18
    assert d["criteria"]["water"]["value"] is not None
    r = cli("run", "-w", "null", "-n", "8", "-r", "1", "--store", tmp_path / "c.db",
            "--criteria", "co2")
    assert r.code == 2 and "unknown criterion" in r.err


def test_stored_run_of_an_archetype_gets_its_category():
    """A run charged an archetype footprint (device id ``archetype-amd-server``, not in the
    catalog) keeps the archetype's category for on-site water (was: 'unknown device category',
    off-site water only, in `results show --criteria water`)."""
    from types import SimpleNamespace

    from inferlca.hardware.archetypes import archetype_device
    from inferlca.lca.criteria import run_criteria

    dev = archetype_device("amd-server")
    ctx = ImpactContext.resolve(dev, region="FR")
    imp = compute_impact(3600.0, 10.0, ctx, 4)
    run = SimpleNamespace(device_id="archetype-amd-server", spec={"region": "FR"}, queries=4,
                          repetitions=[SimpleNamespace(impact=imp.to_dict())])
    got = run_criteria(run, ("water",))["water"]
    want = compute_criteria(imp, ctx, ("water",))["water"]
    assert want.use is not None and want.use.value > 0.001 * 1.5 * 3.6737  # on-site included
    assert got["value"] == pytest.approx(want.use.value / 4)
    assert not any("unknown device category" in n for n in got["notes"])
