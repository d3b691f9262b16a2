"""The tornado's inputs besides grid, PUE and lifetime: manufacturing scope, factor source and
basis, and the criterion (hand-computed on a 36 J, 10 s, 16-query run on an AGX Orin: edge,
PUE 1.0, no on-site water, no sourced manufacturing PE or water)."""

from __future__ import annotations

import pytest

from inferlca.report.sensitivity import tornado

KWH = 1e-5  # 36 J
FR_PE, WORLD_PE = 9.3135, 2.5871          # MJ/kWh, lca/data/criteria_grid.csv (FRA, WLD)
FR_WATER, WORLD_WATER = 3.6737, 3.908     # L/kWh off-site, same file


def _bars(t):
    return {b.parameter.split(" (")[0]: b for b in t.bars}


def test_tornado_primary_energy_golden(make_run):
    t = tornado(make_run("jetson-agx-orin-64gb", 16, energy_j=(36.0,)), criterion="pe")
    assert t.criterion == "pe" and t.unit == "MJ"
    assert t.base_g == pytest.approx(KWH * 1.0 * FR_PE / 16)
    b = _bars(t)
    assert (b["grid intensity"].at_low_g, b["grid intensity"].at_high_g) == pytest.approx(
        (KWH * FR_PE / 16, KWH * WORLD_PE / 16))
    assert (b["PUE"].at_low_g, b["PUE"].at_high_g) == pytest.approx(
        (KWH * 1.0 * FR_PE / 16, KWH * 1.6 * FR_PE / 16))
    # no sourced manufacturing PE for the Orin: lifetime, scope and factors have no effect
    for name in ("lifetime", "manufacturing scope", "per-node factor"):
        assert b[name].swing_g == pytest.approx(0.0, abs=1e-20)
        assert b[name].at_low_g == pytest.approx(t.base_g)
    d = t.to_dict()
    assert d["criterion"] == "pe" and d["unit"] == "MJ" and "base_gwp_per_query_gco2e" not in d


def test_tornado_water_golden(make_run):
    t = tornado(make_run("jetson-agx-orin-64gb", 16, energy_j=(36.0,)), criterion="water")
    # water = kWh x (on-site 0 for edge + PUE x off-site)
    assert t.base_g == pytest.approx(KWH * FR_WATER / 16)
    b = _bars(t)
    assert b["grid intensity"].at_high_g == pytest.approx(KWH * WORLD_WATER / 16)
    assert b["PUE"].at_high_g == pytest.approx(KWH * 1.6 * FR_WATER / 16)


def test_tornado_scope_and_factor_basis_gwp(make_run):
    """Scope chip -> server-share re-evaluates F at each scope: GWP per query =
    (kWh x 79.1 x PUE + t / lifetime x F(scope)) / q; the chip end is the run's value."""
    from inferlca.hardware.catalog import get_catalog
    from inferlca.lca.embodied import embodied_footprint
    from inferlca.units import S_PER_YEAR

    t = tornado(make_run("jetson-agx-orin-64gb", 16, energy_j=(36.0,)))
    dev = get_catalog().get("jetson-agx-orin-64gb")

    def per_query(f_kg):
        return (KWH * 79.1 + 10.0 / (7.0 * S_PER_YEAR) * f_kg * 1000.0) / 16

    b = _bars(t)
    sc = b["manufacturing scope"]
    assert sc.low_label == "chip" and sc.high_label == "server-share"
    assert sc.at_low_g == pytest.approx(t.base_g)
    f_ss = embodied_footprint(dev, scope="server-share").total_kg.value
    assert sc.at_high_g == pytest.approx(per_query(f_ss))
    assert sc.at_high_g > sc.at_low_g
    basis = b["per-node factor basis"]
    f_gd = embodied_footprint(dev, node_basis="good-die").total_kg.value
    assert basis.at_high_g == pytest.approx(per_query(f_gd))
    # a narrower choice of inputs: without the factor bars, and scope card -> server-share
    t2 = tornado(make_run("jetson-agx-orin-64gb", 16, energy_j=(36.0,)), factor_source=False,
                 scopes=("card", "server-share"))
    b2 = _bars(t2)
    assert "per-node factor" not in b2 and "per-node factor basis" not in b2
    assert b2["manufacturing scope"].at_low_g == pytest.approx(
        per_query(embodied_footprint(dev, scope="card").total_kg.value))


def test_tornado_bad_inputs(make_run):
    from inferlca.errors import UnknownNameError

    run = make_run("jetson-agx-orin-64gb", 16, energy_j=(36.0,))
    with pytest.raises(UnknownNameError, match="unknown criterion 'co2'"):
        tornado(run, criterion="co2")
    with pytest.raises(UnknownNameError, match="unknown scope 'rack'"):
        tornado(run, scopes=("chip", "rack"))


def test_criterion_tornado_figure(make_run):
    from inferlca.report import plots, style

    t = tornado(make_run("jetson-agx-orin-64gb", 16, energy_j=(36.0,)), criterion="pe")
    fig = plots.tornado_figure([t])
    style.finish(fig)
    assert style.overflowing_texts(fig) == []
    assert fig.axes[0].get_xlabel() == "primary energy per query (MJ)"


def test_the_tornado_starts_from_what_the_run_stored(tmp_path):
    """A real run on this machine (whatever its CPU: a catalog device or an archetype charged
    its share of the package, with --grid-year): the tornado re-evaluates the impact model at
    the run's own settings, so its base is the GWP per query the run stored."""
    from inferlca.loadgen.runner import run_benchmark
    from inferlca.report.data import run_view
    from inferlca.spec import RunSpec
    from inferlca.store.sqlite import Store

    spec = RunSpec(workload="null", queries=8, repetitions=1, region="DE", grid_year=2023,
                   period_ms=5.0)
    with Store.open(tmp_path / "r.db") as st:
        out = run_benchmark(spec, st, logs_dir=tmp_path / "logs")
        view = run_view(st.get_run(out.run_id))
    stored = view.summary["impact"]["per_query_gco2e"]["value"]
    assert tornado(view).base_g == pytest.approx(stored, rel=1e-6)
    share = view.environment.get("device_share")
    if share is not None:  # a VM charged a share of a package: the run's notes say it
        assert any(f"charged {share:.3g} of the package" in n for n in out.notes)
