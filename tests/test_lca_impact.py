"""Impact model: golden worked examples with the arithmetic written out, properties, bad input."""

from __future__ import annotations

import re

import pytest
from cli_flags import as_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.hardware.catalog import get_catalog
from inferlca.lca.embodied import embodied_footprint
from inferlca.lca.impact import IMPACT_KEYS, ImpactContext, compute_impact
from inferlca.uncertainty import UValue
from inferlca.units import S_PER_YEAR

YEAR_S = 365.25 * 86400  # 31 557 600 s


def test_year_constant():
    assert S_PER_YEAR == YEAR_S


def test_golden_h100_france_defaults():
    ctx = ImpactContext.resolve("h100")  # FR 79.1, datacenter PUE 1.5, lifetime 7 y
    imp = compute_impact(10 * 3600.0, 100.0, ctx, queries=16)  # 10 Wh over 100 s, 16 queries
    assert imp.energy_kwh.value == pytest.approx(0.01)
    # use = 0.01 kWh x 79.1 g/kWh x 1.5 = 1.1865 g; low 0.01 x 44.18 x 1.08; high 0.01 x 80.08 x 1.58
    assert imp.use_gco2e.value == pytest.approx(1.1865)
    assert imp.use_gco2e.low == pytest.approx(0.477144)
    assert imp.use_gco2e.high == pytest.approx(1.265264)
    # allocation = 100 s / (7 x 31 557 600 s) = 4.52687e-7; high end from the 3-year lifetime
    assert imp.allocation.value == pytest.approx(100 / (7 * YEAR_S))
    assert imp.allocation.low == pytest.approx(100 / (7 * YEAR_S))
    assert imp.allocation.high == pytest.approx(100 / (3 * YEAR_S))
    # embodied = 4.52687e-7 x 39 712.7 g = 0.0179774 g
    f_kg = embodied_footprint(get_catalog().get("h100")).total_kg
    assert imp.device_embodied_kgco2e.value == pytest.approx(f_kg.value)
    assert imp.embodied_gco2e.value == pytest.approx(100 / (7 * YEAR_S) * f_kg.value * 1000)
    assert imp.embodied_gco2e.high == pytest.approx(100 / (3 * YEAR_S) * f_kg.high * 1000)
    # total = 1.1865 + 0.0179774 = 1.2044774 g; per query / 16 = 0.0752798 g
    assert imp.total_gco2e.value == pytest.approx(1.1865 + 0.0179774, rel=1e-5)
    assert imp.per_query_gco2e.value == pytest.approx((1.1865 + 0.0179774) / 16, rel=1e-5)
    assert imp.embodied_available


def test_golden_orin_custom_inputs_exact():
    # Jetson AGX Orin (edge: PUE 1.0 by default), 0.5 Wh in 60 s, grid 100 g/kWh, lifetime 5 y
    ctx = ImpactContext.resolve("jetson-agx-orin-64gb", grid=100, lifetime_years=5)
    assert ctx.pue.value == 1.0 and ctx.pue.is_exact and ctx.region == "custom"
    imp = compute_impact(0.5 * 3600, 60.0, ctx)
    # use = 0.0005 kWh x 100 x 1.0 = 0.05 g, exact
    assert imp.use_gco2e.is_exact and imp.use_gco2e.value == pytest.approx(0.05)
    # allocation = 60 / (5 x 31 557 600) = 3.80257e-7, exact
    assert imp.allocation.is_exact and imp.allocation.value == pytest.approx(60 / (5 * YEAR_S))
    f = imp.device_embodied_kgco2e.value
    assert imp.embodied_gco2e.value == pytest.approx(60 / (5 * YEAR_S) * f * 1000)
    assert "per_query_gco2e" not in imp.to_dict()


def test_pue_and_lifetime_intervals():
    ctx = ImpactContext.resolve("a100", region="FRA", pue="1.1..1.6", lifetime_years="4..7")
    assert (ctx.pue.low, ctx.pue.value, ctx.pue.high) == (1.1, 1.35, 1.6)
    imp = compute_impact(3600.0, 36.0, ctx)
    # allocation low end from the longest lifetime: 36 / (7 y), high from 36 / (4 y)
    assert imp.allocation.low == pytest.approx(36 / (7 * YEAR_S))
    assert imp.allocation.high == pytest.approx(36 / (4 * YEAR_S))
    assert imp.allocation.value == pytest.approx(36 / (5.5 * YEAR_S))


def test_unknown_device_gives_zero_embodied_with_a_note():
    ctx = ImpactContext.resolve(None)
    imp = compute_impact(3600.0, 10.0, ctx, queries=2)
    assert not imp.embodied_available
    assert imp.embodied_gco2e.value == 0 and imp.device_embodied_kgco2e.to_dict() == {
        "value": 0.0, "low": 0.0, "high": 0.0}
    assert any("embodied emissions not counted" in n for n in imp.notes)
    assert imp.total_gco2e.value == pytest.approx(0.001 * 79.1)  # PUE 1.0 for an unknown device


def test_unpublished_die_area_gives_zero_embodied_with_a_note():
    ctx = ImpactContext.resolve("b200")
    assert ctx.embodied is None and any("die area" in n for n in ctx.notes)
    assert ctx.pue.value == 1.5  # still a datacenter device


def test_to_dict_has_exactly_the_contract_keys():
    imp = compute_impact(1000.0, 1.0, ImpactContext.resolve("t4"), queries=4)
    d = imp.to_dict()
    assert tuple(d) == IMPACT_KEYS
    assert d["scope"] == "chip"  # the default scope, named in every impact output
    for k in IMPACT_KEYS[1:-1]:
        assert set(d[k]) == {"value", "low", "high"}
    assert isinstance(d["sources"], list) and d["sources"]
    full = imp.to_full_dict()
    assert full["steps"]["use_gco2e"]["unit"] == "gCO2e"


@pytest.mark.parametrize("energy", [-1.0, float("nan"), float("inf"), "12"])
def test_bad_energy(energy):
    with pytest.raises(InvalidValueError, match="energy"):
        compute_impact(energy, 1.0, ImpactContext.resolve("t4"))


def test_zero_energy_is_accepted_by_the_library():
    # a run is never lost to a zero reading: use phase 0, embodied still allocated
    imp = compute_impact(0.0, 10.0, ImpactContext.resolve("t4"))
    assert imp.use_gco2e.value == 0 and imp.embodied_gco2e.value > 0


@pytest.mark.parametrize("duration", [0, -3, float("nan")])
def test_bad_duration(duration):
    with pytest.raises(InvalidValueError, match="duration"):
        compute_impact(1.0, duration, ImpactContext.resolve("t4"))


def test_bad_queries():
    with pytest.raises(InvalidValueError, match="queries"):
        compute_impact(1.0, 1.0, ImpactContext.resolve("t4"), queries=0)


@pytest.mark.parametrize("kwargs,match", [
    ({"pue": 0.9}, "--pue"), ({"pue": "0.5..1.2"}, "--pue"), ({"pue": float("nan")}, "--pue"),
    ({"lifetime_years": 0}, "--lifetime-years"), ({"lifetime_years": "7..4"}, "inverted"),
    ({"lifetime_years": -2}, "--lifetime-years"), ({"grid": -5}, "--grid"),
])
def test_bad_context(kwargs, match):
    """The library names the parameter; `inferlca impact` shows it as its flag."""
    with pytest.raises(InvalidValueError) as exc:
        ImpactContext.resolve("t4", **kwargs)
    assert re.search(match, as_cli(exc.value, "impact"))
    assert "--" not in str(exc.value) and exc.value.params[0] in str(exc.value)


def test_unknown_region_and_memory_method():
    with pytest.raises(UnknownNameError):
        ImpactContext.resolve("t4", region="Atlantis")
    with pytest.raises(UnknownNameError):
        ImpactContext.resolve("t4", memory_method="per-chip")


pos = st.floats(min_value=1e-3, max_value=1e7, allow_nan=False, allow_infinity=False)


@settings(max_examples=80, deadline=None)
@given(energy_j=pos, duration_s=pos, pue_lo=st.floats(1.0, 2.0), pue_w=st.floats(0, 1),
       life_lo=st.floats(0.5, 10), life_w=st.floats(0, 10), queries=st.integers(1, 10_000))
def test_impact_properties(energy_j, duration_s, pue_lo, pue_w, life_lo, life_w, queries):
    ctx = ImpactContext.resolve("l4", pue=UValue.interval(pue_lo, pue_lo + pue_w),
                                lifetime_years=UValue.interval(life_lo, life_lo + life_w))
    imp = compute_impact(energy_j, duration_s, ctx, queries)
    for v in (imp.use_gco2e, imp.embodied_gco2e, imp.total_gco2e, imp.per_query_gco2e,
              imp.allocation):
        assert 0 <= v.low <= v.value <= v.high
    # total = use + embodied at every end of the interval
    for end in ("value", "low", "high"):
        assert getattr(imp.total_gco2e, end) == pytest.approx(
            getattr(imp.use_gco2e, end) + getattr(imp.embodied_gco2e, end))
        assert getattr(imp.per_query_gco2e, end) == pytest.approx(
            getattr(imp.total_gco2e, end) / queries)
    # the allocation's low end comes from the longest lifetime
    assert imp.allocation.low == pytest.approx(duration_s / (ctx.lifetime_years.high * YEAR_S))
    # use phase is linear in energy
    twice = compute_impact(2 * energy_j, duration_s, ctx, queries)
    assert twice.use_gco2e.value == pytest.approx(2 * imp.use_gco2e.value)
    assert twice.embodied_gco2e.value == pytest.approx(imp.embodied_gco2e.value)


def test_impact_golden_h100_one_hour_with_interval_inputs(cli):
    """H100 SXM5, 10 Wh in one hour, 100 queries, France, PUE 1.1..1.6, lifetime 4..7 years.

    Device footprint F (per-GB memory method), from the catalog and factor files:
      die 814 mm2 = 8.14 cm2; I_proc(5 nm) = mean of five sources
        act 2.778, imec 1.54, eco-chip 2.613 (nearest node 7 nm), llmcarbon 1.7333
        (4 nm 1.8 -> 7 nm 1.6, linear: 1.8 - 0.2 / 3), uba 1.97
        = 10.6343 / 5 = 2.12687 kgCO2e/cm2 -> F_proc = 8.14 x 2.12687 = 17.3127 kg
      memory 80 GB x 0.28 kg/GB (HBM2e row of the study, used for HBM3) = 22.4 kg
      F = 39.7127 kg = 39,712.7 g; low 8.14 x 1.54 + 80 x 0.065 = 17.7356 kg
    Use phase: 0.01 kWh x 79.1 g/kWh x PUE.
      PUE 1.1..1.6 -> nominal the midpoint 1.35: 0.01 x 79.1 x 1.35 = 1.067850 g
      low 0.01 x 44.18 x 1.1 = 0.485980 g; high 0.01 x 80.08 x 1.6 = 1.281280 g
    Allocation a = 3600 s / lifetime; lifetime 4..7 y -> nominal 5.5 y:
      a = 3600 / (5.5 x 31,557,600) = 2.074129e-5; low end from 7 y: 1.629673e-5;
      high end from 4 y: 2.851928e-5
    Embodied = a x F = 2.074129e-5 x 39,712.69 = 0.823693 g (low 1.629673e-5 x 17,735.6 =
      0.289032 g)
    Total = 1.067850 + 0.823693 = 1.891543 g; per query / 100 = 0.01891543 g.
    """
    r = cli("impact", "--device", "NVIDIA H100 80GB HBM3", "--energy-wh", "10", "--duration-s",
            "3600", "--queries", "100", "--region", "FRA", "--pue", "1.1..1.6",
            "--lifetime-years", "4..7", "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["device_embodied_kgco2e"]["value"] == pytest.approx(8.14 * 10.6343 / 5 + 22.4,
                                                                 rel=1e-4)
    assert d["device_embodied_kgco2e"]["low"] == pytest.approx(8.14 * 1.54 + 80 * 0.065)
    assert d["pue"] == pytest.approx({"value": 1.35, "low": 1.1, "high": 1.6})
    assert d["lifetime_years"] == pytest.approx({"value": 5.5, "low": 4.0, "high": 7.0})
    assert d["use_gco2e"] == pytest.approx({"value": 1.06785, "low": 0.48598, "high": 1.28128})
    assert d["allocation"]["value"] == pytest.approx(3600 / (5.5 * YEAR_S))
    assert d["allocation"]["low"] == pytest.approx(3600 / (7 * YEAR_S))
    assert d["allocation"]["high"] == pytest.approx(3600 / (4 * YEAR_S))
    assert d["embodied_gco2e"]["value"] == pytest.approx(0.823693, rel=1e-5)
    assert d["embodied_gco2e"]["low"] == pytest.approx(0.289032, rel=1e-5)
    assert d["total_gco2e"]["value"] == pytest.approx(1.891543, rel=1e-5)
    assert d["per_query_gco2e"]["value"] == pytest.approx(0.01891543, rel=1e-5)
    assert d["energy_kwh"]["value"] == pytest.approx(0.01)
    assert d["grid_gco2e_per_kwh"]["value"] == 79.1
