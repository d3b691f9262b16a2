"""Tables, sensitivity and figure data from RunViews: golden values worked out by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferlca.report import plots
from inferlca.report.sensitivity import tornado
from inferlca.report.tables import results_tables, rich_results_table


def test_results_table_marks_lowest_and_estimated(make_run):
    runs = [
        make_run("orin", 16, use_g=(0.010, 0.012), embodied_g=(0.004, 0.004), energy_j=(1.0, 1.2)),
        make_run("orin", 32, use_g=(0.020,), embodied_g=(0.008,)),
        make_run("h100", 16, use_g=(0.15,), embodied_g=(0.02,), category="datacenter"),
        make_run("h100", 32, use_g=(0.010,), embodied_g=(0.001,), category="datacenter",
                 estimated=True),
        make_run("orin", 16, workload="minilm-embeddings"),
    ]
    tables = results_tables(runs)
    assert [(t.workload, t.scenario) for t in tables] == [
        ("bert-large-squad", "single-stream"), ("minilm-embeddings", "single-stream")]
    t = tables[0]
    assert t.query_counts == (16, 32)
    assert t.devices == ("orin", "h100")  # edge before datacenter
    # orin, 16 queries: repetitions total 0.014 and 0.016 g -> mean 0.015; spread x[0.8, 1.3];
    # the run interval rule: lows 0.0112, 0.0128 -> 0.012 - 12.7062 x 0.0011314 / sqrt 2;
    # highs 0.0182, 0.0208 -> 0.0195 + 12.7062 x 0.0018385 / sqrt 2
    c = t.cells[("orin", 16)]
    t975 = 12.706204736174698
    assert c.gwp_g.to_dict() == pytest.approx(
        {"value": 0.015, "low": 0.012 - t975 * 0.0008, "high": 0.0195 + t975 * 0.0013})
    assert c.lowest and not t.cells[("h100", 16)].lowest  # 0.015 < 0.17
    # at 32 queries the estimated h100 (0.011 g) beats orin (0.028 g): marked lowest and estimated
    assert t.cells[("h100", 32)].lowest and t.cells[("h100", 32)].estimated
    assert not t.cells[("orin", 32)].lowest
    d = t.to_dict()
    assert d["rows"][1]["cells"]["32"]["estimated"] is True
    assert rich_results_table(t).row_count == 2


def test_tornado_reevaluates_the_lca_model_one_parameter_at_a_time(make_run):
    from inferlca.hardware.catalog import get_catalog
    from inferlca.lca.embodied import embodied_footprint
    from inferlca.lca.grid import grid_intensity
    from inferlca.units import S_PER_YEAR

    # One run of 16 queries: 36 J over 10 s on an AGX Orin 64GB (edge: PUE 1.0; lifetime 7 y)
    run = make_run("jetson-agx-orin-64gb", 16, energy_j=(36.0,))
    t = tornado(run)
    dev = get_catalog().get("jetson-agx-orin-64gb")
    f_kg = embodied_footprint(dev).total_kg
    g_fr, g_world = grid_intensity("FR").value, grid_intensity("WORLD").value
    assert g_fr == pytest.approx(79.1)  # the study's France value is the default

    def per_query(g=g_fr, pue=1.0, life_y=7.0, f=f_kg.value):
        # I = E[kWh] * grid * PUE + t / lifetime * F, per query: 36 J = 1e-5 kWh, t = 10 s
        return (1e-5 * g * pue + 10.0 / (life_y * S_PER_YEAR) * f * 1000.0) / 16

    assert t.base_g == pytest.approx(per_query())
    bars = {b.parameter.split(" (")[0]: b for b in t.bars}
    assert (bars["grid intensity"].at_low_g, bars["grid intensity"].at_high_g) == pytest.approx(
        (per_query(g=g_fr), per_query(g=g_world)))
    assert (bars["PUE"].at_low_g, bars["PUE"].at_high_g) == pytest.approx(
        (per_query(pue=1.0), per_query(pue=1.6)))
    assert (bars["lifetime"].at_low_g, bars["lifetime"].at_high_g) == pytest.approx(
        (per_query(life_y=3.0), per_query(life_y=7.0)))
    # the node factor's ends are the lowest and highest per-node source: F moves inside its spread
    node = bars["per-node factor"]
    assert node.at_low_g < t.base_g < node.at_high_g
    assert per_query(f=f_kg.low) <= node.at_low_g and node.at_high_g <= per_query(f=f_kg.high)
    swings = [b.swing_g for b in t.bars]
    assert swings == sorted(swings, reverse=True)
    assert any("Seed study" in s for s in t.sources)  # the France grid value's source


def test_tornado_needs_energy_and_duration(make_run):
    from inferlca.errors import InvalidValueError

    with pytest.raises(InvalidValueError, match="sensitivity needs"):
        tornado(make_run("orin", 16, energy_j=(0.0,)))


points = st.lists(st.tuples(st.floats(0.001, 1e3), st.floats(0.001, 1e3)), min_size=1,
                  max_size=30)


@given(points)
def test_pareto_front_is_exactly_the_non_dominated_points(pts):
    front = set(plots.pareto_front(pts))

    def dominated(i):
        return any((q[0] <= pts[i][0] and q[1] <= pts[i][1]) and q != pts[i] for q in pts)

    for i in range(len(pts)):
        if i in front:
            assert not dominated(i)
        elif not any(pts[j] == pts[i] for j in front):
            assert dominated(i)


def test_pareto_front_golden():
    # (latency, gwp): a is fastest, c greenest, b between; d is beaten by b on both axes
    pts = [(1.8, 10.0), (3.0, 5.0), (20.0, 1.0), (4.0, 6.0)]
    assert plots.pareto_front(pts) == [0, 1, 2]


def test_figures_have_the_expected_panels_and_scales(make_run, tmp_path):
    runs = [make_run("orin", q, p99_s=(0.020, 0.022, 0.019), energy_j=(1.0, 1.1, 0.9))
            for q in (16, 32)]
    runs += [make_run("h100", q, p99_s=(0.0018, 0.0019, 0.0017), energy_j=(9.0, 9.5, 8.5),
                      category="datacenter") for q in (16, 32)]
    runs += [make_run("a100", 16, p99_s=(0.003,), category="datacenter", estimated=True)]
    lat = plots.latency_figure(runs)
    assert [ax.get_yscale() for ax in lat.axes] == ["log", "log"]
    assert [ax.get_title() for ax in lat.axes] == ["maximum query latency", "p99 query latency"]
    legend = [t.get_text() for t in lat.axes[1].get_legend().get_texts()]
    assert legend == ["orin", "a100 (estimated)", "h100"]
    gwp = plots.gwp_figures(runs)
    assert list(gwp) == ["bert-large-squad"]
    assert [ax.get_title() for ax in gwp["bert-large-squad"].axes] == [
        "use phase", "embodied (allocated)"]
    trade = plots.tradeoff_figure(runs)
    assert trade.axes[0].get_xscale() == "log"
    png, svg = plots.save(trade, tmp_path, "tradeoff")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in svg.read_bytes()[:500]
    # no latency anywhere -> no latency figure
    assert plots.latency_figure([make_run("orin", 16, p99_s=())]) is None


def test_llm_view_only_with_decoder_metrics(make_run):
    assert plots.llm_figure([make_run()]) is None
    llm = make_run("orin", 8, workload="gpt2-generation",
                   extra_metrics={"tokens_out": 256.0, "energy_per_token_j": 0.5,
                                  "tpot_p99_s": 0.05, "ttft_p99_s": 0.2})
    fig = plots.llm_figure([llm])
    assert fig is not None
    # 1 / 0.5 J per token = 2 tokens per joule, at 50 ms per output token
    x, y = fig.axes[0].lines[0].get_data()
    assert (float(x[0]), float(y[0])) == pytest.approx((50.0, 2.0))


def test_power_profile_mean_and_std_across_repetitions(make_run):
    from inferlca.traces.trace import Mark, PowerTrace

    run = make_run("orin", 16, energy_j=(1.0, 1.0))
    t = np.linspace(0.0, 9.9, 100)
    traces = {0: PowerTrace(t, {"module": np.where(t < 3.0, 5.0, 15.0)}, "module", "tegrastats",
                            marks=[Mark(0.0, "load"), Mark(3.0, "compute")]),
              1: PowerTrace(t, {"module": np.where(t < 3.0, 7.0, 17.0)}, "module", "tegrastats",
                            marks=[Mark(0.0, "load"), Mark(3.0, "compute")])}
    profiles = plots.power_profiles([run], lambda rid, i: traces[i])
    (p,) = profiles
    assert p.n == 2 and len(p.mean_w) == 100
    # first point: mean of 5 and 7 W = 6 W, std 1 W; last point: 16 W, std 1 W
    assert (p.mean_w[0], p.std_w[0]) == pytest.approx((6.0, 1.0))
    assert (p.mean_w[-1], p.std_w[-1]) == pytest.approx((16.0, 1.0))
    # compute starts at 3.0 s of a 9.9 s trace
    assert p.phases["compute"] == pytest.approx((3.0 / 9.9, 1.0))
    fig = plots.power_profiles_figure(profiles, ["orin"])
    assert fig.axes[0].get_ylabel() == "power (W)"


def test_user_text_never_becomes_mathtext(make_run, tmp_path):
    # "$x^2$" would be typeset (and "$" alone would fail to parse) if labels were not escaped
    runs = [make_run("rig $x^2$ $", 16), make_run("h100", 16, category="datacenter")]
    fig = plots.latency_figure(runs)
    plots.save(fig, tmp_path, "latency")
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert legend[0] == r"rig \$x^2\$ \$"


def test_estimates_join_every_backend_table_of_their_condition(make_run):
    from dataclasses import replace

    torch_run = make_run("orin", 16)
    onnx_run = replace(make_run("a100", 16, category="datacenter"), backend="onnxruntime")
    est = replace(make_run("h100", 16, category="datacenter", estimated=True), backend="auto")
    tables = results_tables([torch_run, onnx_run, est])
    assert [(t.backend, t.devices) for t in tables] == [("onnxruntime", ("a100", "h100")),
                                                        ("torch", ("orin", "h100"))]


def test_power_profile_on_absolute_time(make_run):
    """``axis="time"``: seconds since each repetition's start, over the longest repetition; past the
    end of the shorter one the mean is the longer one's alone."""
    from inferlca.errors import UsageError
    from inferlca.traces.trace import Mark, PowerTrace

    run = make_run("orin", 16, energy_j=(1.0, 1.0))
    t_long, t_short = np.linspace(0.0, 10.0, 101), np.linspace(0.0, 5.0, 51)
    traces = {0: PowerTrace(t_long, {"module": np.where(t_long < 2.0, 5.0, 15.0)}, "module", "tegrastats",
                            marks=[Mark(0.0, "load"), Mark(2.0, "compute")]),
              1: PowerTrace(t_short, {"module": np.where(t_short < 2.0, 7.0, 17.0)}, "module", "tegrastats",
                            marks=[Mark(0.0, "load"), Mark(2.0, "compute")])}
    (p,) = plots.power_profiles([run], lambda rid, i: traces[i], axis="time")
    assert p.axis == "time" and p.n == 2
    assert p.x[0] == 0.0 and p.x[-1] == pytest.approx(10.0)
    assert (p.mean_w[0], p.std_w[0]) == pytest.approx((6.0, 1.0))
    at_4s = int(np.argmin(abs(p.x - 4.0)))
    assert (p.mean_w[at_4s], p.std_w[at_4s]) == pytest.approx((16.0, 1.0))
    assert (p.mean_w[-1], p.std_w[-1]) == pytest.approx((15.0, 0.0))  # only the long one
    # phases in seconds: load 0-2 s in both; compute to 10 s and 5 s -> mean 7.5 s
    assert p.phases["load"] == pytest.approx((0.0, 2.0))
    assert p.phases["compute"] == pytest.approx((2.0, 7.5))
    fig = plots.power_profiles_figure([p], ["orin"])
    assert fig.axes[0].get_xlabel() == "time since start (s)"
    assert fig.axes[0].get_xlim()[1] >= 10.0
    with pytest.raises(UsageError, match="accepted: progress, time"):
        plots.power_profiles([run], lambda rid, i: traces[i], axis="seconds")


def test_gwp_legend_names_devices_without_embodied(make_run):
    """Regression: the legend came from the embodied panel only, so a device without a
    manufacturing footprint (drawn in the use panel) was missing from it."""
    runs = [make_run("orin", 16), make_run("gtx-1650", 16, category="gaming", embodied_g=(0.0,),
                                          footprint_kg=(0.0, 0.0, 0.0))]
    fig = plots.gwp_figures(runs)["bert-large-squad"]
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert len(legend) == 2
    assert any(t.startswith("gtx-1650") and "no embodied" in t for t in legend)
    assert not any(t.startswith("orin") and "no embodied" in t for t in legend)


def test_tradeoff_front_leaves_out_use_phase_only_points(make_run):
    """Regression: a device without a manufacturing footprint (GWP of the use phase only, lower by
    construction) sat on the Pareto front as if it were the greenest."""
    full_fast = make_run("a100", 16, category="datacenter", p99_s=(0.005,), use_g=(1.0,), embodied_g=(0.5,))
    full_slow = make_run("orin", 16, p99_s=(0.025,), use_g=(0.2,), embodied_g=(0.1,))
    partial = make_run("gtx-1650", 16, category="gaming", p99_s=(0.015,), use_g=(0.05,),
                       embodied_g=(0.0,), footprint_kg=(0.0, 0.0, 0.0))
    fig = plots.tradeoff_figure([full_fast, full_slow, partial])
    ax = fig.axes[0]
    step = next(ln for ln in ax.get_lines() if ln.get_label() == "Pareto front")
    xs = sorted({float(x) for x in step.get_xdata()})
    assert xs == pytest.approx([5.0, 25.0])  # the two full totals, not the 15 ms partial one
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("gtx-1650") and "use phase only" in t for t in labels)
    assert "use phase only" in ax.get_title()


def test_manufacturing_rows_for_a_machine_charged_an_archetype(make_run):
    """Regression: a store whose runs were charged an archetype footprint (a CPU not in the
    catalog) had no manufacturing figure ("no device ... in the hardware catalog")."""
    from inferlca.hardware.archetypes import archetype_device
    from inferlca.lca.embodied import embodied_footprint
    from inferlca.report.html import footprints

    run = make_run("archetype-amd-server", 16, category="datacenter")
    run = dataclasses.replace(run, device_name="AMD EPYC")
    rows, sources = footprints([run, run, make_run("jetson-agx-orin-64gb", 16)])
    arch = [r for r in rows if "archetype" in r.device]
    assert {r.device for r in arch} == {"AMD EPYC [archetype amd-server]"}
    dev = archetype_device("amd-server")
    for r in arch:  # both memory methods, each the archetype's whole-package footprint
        want = embodied_footprint(dev, memory_method=r.method).total_kg
        assert (r.total_kg.value, r.total_kg.low, r.total_kg.high) == (want.value, want.low,
                                                                       want.high)
        assert r.category == dev.category
    assert {r.method for r in arch} == {"per-gb", "area"}
    assert any(r.device == "jetson-agx-orin-64gb" for r in rows)
    assert sources


def test_an_archetype_is_drawn_and_reevaluated_at_the_share_the_run_was_charged(make_run):
    """A VM sees a few of the archetype's hardware threads and is charged that share of the
    package: the manufacturing figure draws that share (from the run's environment, or worked
    back from the footprint an older run stored), not the whole package."""
    from inferlca.hardware.archetypes import archetype_device
    from inferlca.lca.embodied import embodied_footprint
    from inferlca.report.data import charged_device
    from inferlca.report.html import footprints

    whole = embodied_footprint(archetype_device("amd-server")).total_kg
    share = 2 / 192
    stored = (whole.value * share, whole.low * share, whole.high * share)
    run = dataclasses.replace(make_run("archetype-amd-server", 16, category="datacenter",
                                       footprint_kg=stored),
                              device_name="AMD EPYC", environment={"device_share": share})
    old = dataclasses.replace(run, run_id="0" * 32, environment={})  # stored before the share
    for v in (run, old):
        assert charged_device(v).share == pytest.approx(share)
        rows, _ = footprints([v])
        assert {r.device for r in rows} == {"AMD EPYC [archetype amd-server, share 0.0104]"}
        for r in rows:
            assert r.total_kg.value == pytest.approx(stored[0])
            assert (r.total_kg.low, r.total_kg.high) == pytest.approx(stored[1:])
    # a footprint that is not a share of the package (another scope, or nonsense): left whole
    odd = dataclasses.replace(old, repetitions=make_run(footprint_kg=(500.0, 400.0, 600.0))
                              .repetitions)
    assert charged_device(odd).share is None


def test_runs_of_different_grids_never_share_a_results_cell(make_run):
    """Regression: three runs of one device at DE 2023, DE (2024) and FR were averaged into one
    cell (a mean over grids, said nowhere); each grid gets its own table, named in its title."""
    from inferlca.report.tables import grid_of

    de23 = make_run("a100", 16, run_id="1" * 32, use_g=(3.0,))
    de23 = dataclasses.replace(de23, spec={**de23.spec, "region": "DE", "grid_year": 2023})
    de = make_run("a100", 16, run_id="2" * 32, use_g=(2.0,))
    de = dataclasses.replace(de, spec={**de.spec, "region": "DE"})
    fr = make_run("a100", 16, run_id="3" * 32, use_g=(0.5,))
    custom = make_run("a100", 16, run_id="4" * 32, use_g=(1.0,))
    custom = dataclasses.replace(custom, spec={**custom.spec, "grid_gco2e_per_kwh": "50"})
    tables = results_tables([de23, de, fr, custom])
    by_grid = {t.grid: t for t in tables}
    assert set(by_grid) == {"DE 2023", "DE", "FR", "custom 50"}
    for grid, run in (("DE 2023", de23), ("DE", de), ("FR", fr), ("custom 50", custom)):
        cell = by_grid[grid].cells[("a100", 16)]
        assert cell.runs == (run.run_id,)
        assert cell.gwp_g.value == pytest.approx(run.impact("total_gco2e").value)
        assert f"grid {grid}" in by_grid[grid].title and by_grid[grid].to_dict()["grid"] == grid
    assert grid_of({"grid_file": "/x/hourly.csv"}) == "file hourly.csv"


def test_results_table_legend_names_only_the_marks_it_uses(make_run):
    one = results_tables([make_run("a100", 16)])[0]
    assert rich_results_table(one).caption is None  # one device: no lowest, nothing estimated
    two = results_tables([make_run("a100", 16), make_run("t4", 16, use_g=(3.0,), estimated=True,
                                                         embodied_g=(0.0,),
                                                         footprint_kg=(0.0, 0.0, 0.0))])[0]
    assert rich_results_table(two).caption == (
        "* lowest per query count   ~ estimated, not measured   + no manufacturing footprint "
        "(device not in the catalog)")
