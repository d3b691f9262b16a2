"""Golden values for compare, project and recommend, computed by hand in the comments."""

from __future__ import annotations

import math
import re

import pytest
from cli_flags import as_cli
from hypothesis import given
from hypothesis import strategies as st

from inferlca.errors import InvalidValueError, UsageError
from inferlca.report.compare import compare, compare_runs, ratio
from inferlca.report.data import IncomparableRunsError
from inferlca.report.project import project
from inferlca.report.recommend import recommend
from inferlca.uncertainty import UValue


def test_ratio_interval_takes_low_over_high(make_run):
    # A per query: use 1.6 g + embodied 0.4 g = 2.0 g / 1 query, interval x[0.5, 2] -> [1, 4]
    # B per query: 1.0 g, interval x[0.5, 2] -> [0.5, 2]
    a = make_run("h100", 1, use_g=(1.6,), embodied_g=(0.4,), impact_spread=(0.5, 2.0),
                 p99_s=(0.0018,), energy_j=(20.0,))
    b = make_run("orin", 1, use_g=(0.8,), embodied_g=(0.2,), impact_spread=(0.5, 2.0),
                 p99_s=(0.020,), energy_j=(2.0,))
    c = compare_runs(a, b)
    g = {r.key: r for r in c.ratios}
    # value 2/1 = 2; low = low_A / high_B = 1 / 2 = 0.5; high = high_A / low_B = 4 / 0.5 = 8
    assert g["gwp_per_query"].ratio.to_dict() == pytest.approx({"value": 2, "low": 0.5, "high": 8})
    # energy: 20 J vs 2 J per query, single repetition: exact 10x
    assert g["energy_per_query"].ratio.value == pytest.approx(10.0)
    # p99 latency 1.8 ms / 20 ms = 0.09
    assert g["latency_p99"].ratio.value == pytest.approx(0.09)
    text = " ".join(c.sentences())
    assert "A emits 2.00 [0.500 - 8.00] times the CO2e of B per query" in text


@given(st.floats(0.01, 100), st.floats(1.0, 3.0), st.floats(0.01, 100), st.floats(1.0, 3.0))
def test_ratio_bounds_contain_every_pair(a, wa, b, wb):
    ua = UValue.interval(a / wa, a * wa, a)
    ub = UValue.interval(b / wb, b * wb, b)
    r = ratio(ua, ub)
    for x in (ua.low, ua.value, ua.high):
        for y in (ub.low, ub.value, ub.high):
            assert r.low * (1 - 1e-12) <= x / y <= r.high * (1 + 1e-12)


def test_compare_refuses_different_workloads_or_scenarios(make_run):
    a = make_run("h100", 16)
    b = make_run("orin", 16, scenario="server")
    with pytest.raises(IncomparableRunsError, match="single-stream.*server"):
        compare_runs(a, b)
    c = make_run("orin", 16, workload="minilm-embeddings")
    with pytest.raises(IncomparableRunsError, match="same workload and scenario"):
        compare_runs(a, c)


def test_compare_by_device_takes_latest_run_in_a_shared_condition(make_run):
    runs = [make_run("h100", 16, created="2026-01-01"), make_run("h100", 16, created="2026-01-03",
                                                                  use_g=(3.0,)),
            make_run("orin", 16, created="2026-01-02"),
            make_run("orin", 16, created="2026-01-05", scenario="server")]
    c = compare(runs, "h100", "orin")
    assert c.a.created == "2026-01-03"
    assert c.b.scenario == "single-stream"  # B follows A's condition, not its own latest run
    with pytest.raises(UsageError, match="neither a run id nor a device"):
        compare(runs, "h100", "a40")


def test_project_reproduces_the_study_arithmetic(make_run):
    # One 16-query workload emits 0.2 gCO2e (use 0.15 + embodied 0.05); per query 0.0125 g.
    run = make_run("h100", 16, use_g=(0.15,), embodied_g=(0.05,), impact_spread=(0.5, 2.0),
                   energy_j=(36.0,), throughput_qps=50.0)
    p = project(run, users=122.5e6, queries_per_user=16, days=30)
    # queries per day: 122.5e6 * 16 = 1.96e9
    assert p.queries_per_day == pytest.approx(1.96e9)
    # per day: 0.0125 g * 1.96e9 = 24.5e6 g = 24 500 kg; interval x[0.5, 2] -> [12 250, 49 000]
    assert p.total_per_day_kg.to_dict() == pytest.approx(
        {"value": 24500.0, "low": 12250.0, "high": 49000.0})
    # use 0.15/16 g * 1.96e9 / 1000 = 18 375 kg; embodied 0.05/16 * 1.96e9 / 1000 = 6 125 kg
    assert p.use_per_day_kg.value == pytest.approx(18375.0)
    assert p.embodied_per_day_kg.value == pytest.approx(6125.0)
    # per year: 24 500 * 365.25 = 8 948 625 kg; over 30 days: 735 000 kg
    assert p.total_per_year_kg.value == pytest.approx(8_948_625.0)
    assert p.total_over_days_kg.value == pytest.approx(735_000.0)
    # energy: 36 J / 16 queries = 1e-5 kWh / 16 per query -> 1e-5 * 1.96e9 / 16 = 1225 kWh/day
    assert p.energy_per_day_kwh.value == pytest.approx(1225.0)
    # devices: 1.96e9 / 86 400 s = 22 685.19 q/s; / 50 q/s = 453.7 -> 454
    assert p.devices_needed == 454


@pytest.mark.parametrize("users,qpu,days", [(0, 16, 1), (-5, 16, 1), (10, 0, 1), (10, 16, 0),
                                            (math.nan, 16, 1), (math.inf, 1, 1)])
def test_project_rejects_non_positive_inputs(make_run, users, qpu, days):
    with pytest.raises(InvalidValueError, match="must be a positive number"):
        project(make_run(), users, qpu, days)


def _three(make_run):
    return [make_run("jetson-agx-orin", 16, p99_s=(0.020,), use_g=(0.012,), embodied_g=(0.004,)),
            make_run("a100", 16, p99_s=(0.003,), use_g=(0.06,), embodied_g=(0.02,),
                     category="datacenter"),
            make_run("h100", 16, p99_s=(0.0018,), use_g=(0.12,), embodied_g=(0.04,),
                     category="datacenter")]


def test_recommend_greenest_within_budget(make_run):
    runs = _three(make_run)
    rec = recommend(runs, 10.0)
    # per query: orin 0.016/16 = 0.001 g (p99 20 ms, excluded), a100 0.08/16 = 0.005 g,
    # h100 0.16/16 = 0.01 g
    assert rec.best.run.device_name == "a100"
    assert [c.run.device_name for c in rec.ranked] == ["a100", "h100"]
    assert [c.run.device_name for c in rec.excluded] == ["jetson-agx-orin"]
    assert "20 ms exceeds the budget 10 ms" in rec.excluded[0].excluded
    assert recommend(runs, 25.0).best.run.device_name == "jetson-agx-orin"
    assert not any("query counts differ" in n for n in rec.notes)
    mixed = recommend([*runs, make_run("a100", 64, p99_s=(0.003,), created="2026-02-01")], 10.0)
    assert any("query counts differ (16, 64)" in n for n in mixed.notes)
    none = recommend(runs, 1.0)
    assert none.best is None and "no device meets" in none.notes[0]


def test_recommend_needs_a_single_condition_and_a_positive_budget(make_run):
    runs = _three(make_run) + [make_run("a100", 16, scenario="server", p99_s=(0.003,))]
    with pytest.raises(UsageError) as exc:
        recommend(runs, 10.0)
    assert re.search("several scenarios.*--scenario", as_cli(exc.value, "recommend"))
    assert "--" not in str(exc.value)  # the library names the parameter, not a flag
    assert recommend(runs, 10.0, scenario="server").best.run.device_name == "a100"
    with pytest.raises(InvalidValueError, match="positive"):
        recommend(runs, 0.0)
    with pytest.raises(UsageError, match="no runs with workload 'gpt'"):
        recommend(runs, 10.0, workload="gpt")


def test_compare_refuses_a_run_against_itself(make_run):
    a = make_run("orin", 16)
    with pytest.raises(UsageError, match="the same run"):
        compare_runs(a, a)
    with pytest.raises(UsageError, match="the same run"):
        compare([a], a.run_id, a.run_id)


def test_compare_notes_a_use_phase_only_side(make_run):
    """Regression: a device without a manufacturing footprint compared as if its CO2e were whole."""
    a = make_run("gtx-1650", 16, embodied_g=(0.0,), footprint_kg=(0.0, 0.0, 0.0))
    b = make_run("orin", 16)
    notes = compare_runs(a, b).notes
    assert any("A (gtx-1650)" in n and "use phase only" in n and "too low" in n for n in notes)
    assert not any(n.startswith("B ") for n in notes)


def test_project_energy_carries_the_repetition_interval(make_run):
    """Regression: the energy per day had low = high = value (from the impact's nominal kWh)."""
    run = make_run("h100", 16, energy_j=(32.0, 36.0, 40.0), use_g=(0.15,) * 3, embodied_g=(0.05,) * 3)
    p = project(run, users=122.5e6, queries_per_user=16)
    e = p.energy_per_day_kwh
    # 36 J / 16 queries per query -> 1.96e9 * 2.25 J / 3.6e6 = 1225 kWh/day
    assert e.value == pytest.approx(1225.0)
    assert e.low < e.value < e.high
    # the run interval rule on energy_kwh (the same rule as use/day): 36 J +/- t(0.975, 2) x 4 J /
    # sqrt 3 = 36 +/- 9.937 J (wider than the 32..40 J spread), per query / 16, x 1.96e9 / 3.6e6
    half = 4.302652729749 * 4.0 / 3 ** 0.5
    k = 1.96e9 / 16 / 3.6e6
    assert (e.low, e.high) == pytest.approx(((36 - half) * k, (36 + half) * k))
    use = p.use_per_day_kg
    assert use is not None and use.low <= use.value <= use.high


def test_compare_refuses_runs_of_different_measurement_scope_unless_allowed(make_run):
    import dataclasses

    a = make_run("h100", 16)
    b = make_run("orin", 16)
    a = dataclasses.replace(a, summary={**a.summary, "measurement_scope": "accelerator+host"})
    b = dataclasses.replace(b, summary={**b.summary, "measurement_scope": "accelerator"})
    with pytest.raises(IncomparableRunsError, match="measurement scope.*--allow-mixed-scope"):
        compare_runs(a, b)
    c = compare_runs(a, b, allow_mixed_scope=True)
    assert any("measurement scopes differ" in n for n in c.notes)
    assert c.to_dict()["a"]["measurement_scope"] == "accelerator+host"
    # runs stored before scopes were recorded: the scope follows from the meter's name
    old = dataclasses.replace(make_run("orin", 16, created="2026-02-01"), meter="rapl")
    with pytest.raises(IncomparableRunsError, match="'host'"):
        compare_runs(b, old)
    same = dataclasses.replace(make_run("a40", 16), meter="nvml")
    assert compare_runs(b, same).ratios  # accelerator vs accelerator: compared


def test_compare_says_when_the_grids_differ(make_run):
    """Two runs charged different grids: the CO2e ratio is partly the grid's; a note says so with
    the intensities' ratio (380.9 / 342.06 = 1.11 for Germany 2023 vs 2024)."""
    import dataclasses

    a = make_run("a100", 16, run_id="a" * 32, grid=380.9)
    a = dataclasses.replace(a, spec={**a.spec, "region": "DE", "grid_year": 2023})
    b = make_run("t4", 16, run_id="b" * 32, grid=342.06)
    b = dataclasses.replace(b, spec={**b.spec, "region": "DE"})
    c = compare_runs(a, b)
    assert ("grids differ (A: DE 2023, B: DE) (intensities 380.9 vs 342.1 gCO2e/kWh: x1.11 of "
            "the use phase): part of the CO2e ratio is the grid's, not the devices'") in c.notes
    same = dataclasses.replace(b, spec={**b.spec, "grid_year": 2023})
    assert not any("grids differ" in n for n in compare_runs(a, same).notes)
