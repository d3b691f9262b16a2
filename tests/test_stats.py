"""Statistics across repetitions: golden values by hand, Student t checked, properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferlca.stats import describe, student_t_two_sided, summarize, t_quantile


@pytest.mark.parametrize("df, expected", [
    # two-sided 95 % factors of the Student t table (t_{0.975, df}), to the printed 3 decimals
    (1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (9, 2.262), (10, 2.228),
    (20, 2.086), (30, 2.042), (120, 1.980),
])
def test_t_quantile_matches_the_table(df, expected):
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=5e-4)


def test_t_quantile_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 7, 15, 64, 500):
        for p in (0.9, 0.975, 0.995):
            assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-9)


def test_t_cdf_closed_forms():
    # df = 1 is the Cauchy distribution: P(|T| <= 1) = 2 atan(1) / pi = 0.5
    assert student_t_two_sided(1.0, 1) == pytest.approx(0.5)
    # df = 2: P(|T| <= t) = t / sqrt(2 + t^2); at t = 1: 1 / sqrt(3)
    assert student_t_two_sided(1.0, 2) == pytest.approx(1 / math.sqrt(3))
    assert student_t_two_sided(0.0, 5) == 0.0 and student_t_two_sided(math.inf, 5) == 1.0
    with pytest.raises(ValueError):
        student_t_two_sided(1.0, 0)
    with pytest.raises(ValueError):
        t_quantile(0.4, 3)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 200), st.floats(0.55, 0.999))
def test_t_quantile_inverts_the_cdf(df, p):
    t = t_quantile(p, df)
    assert student_t_two_sided(t, df) == pytest.approx(2 * p - 1, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 100), st.floats(0, 50), st.floats(0, 50))
def test_t_cdf_is_monotone(df, a, b):
    lo, hi = sorted((a, b))
    assert student_t_two_sided(lo, df) <= student_t_two_sided(hi, df) + 1e-15


def test_describe_golden():
    # 1, 2, 3, 4: mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; std = sqrt(5/3)
    # = 1.2909944; half-width = t(0.975, 3) * std / sqrt(4) = 3.1824463 * 1.2909944 / 2 = 2.0542603
    d = describe([1, 2, 3, 4])
    assert d["mean"] == 2.5 and d["n"] == 4
    assert d["std"] == pytest.approx(math.sqrt(5 / 3))
    assert d["ci95_low"] == pytest.approx(2.5 - 2.0542603, abs=1e-6)
    assert d["ci95_high"] == pytest.approx(2.5 + 2.0542603, abs=1e-6)


def test_interval_of_non_negative_values_is_clipped_at_zero():
    # 1 and 9 J: mean 5, std = sqrt(32) = 5.6568542; half = t(0.975, 1) * std / sqrt(2)
    # = 12.7062047 * 4 = 50.8248188 -> -45.8 .. 55.8 J, but an energy is not negative: 0 .. 55.8
    d = describe([1.0, 9.0])
    assert d["ci95_low"] == 0.0
    assert d["ci95_high"] == pytest.approx(5 + 50.8248188, abs=1e-6)
    # a quantity that can be negative keeps its symmetric interval
    assert describe([-1.0, 7.0])["ci95_low"] == pytest.approx(3 - 50.8248188, abs=1e-6)


def test_describe_small_and_non_finite():
    assert describe([]) == {"mean": None, "std": None, "ci95_low": None, "ci95_high": None, "n": 0}
    # one value: the spread is unknown, never a made-up zero
    assert describe([7.0]) == {"mean": 7.0, "std": None, "ci95_low": None, "ci95_high": None, "n": 1}
    # NaN (a channel that could not be read) is left out, and n says so
    d = describe([1.0, float("nan"), 3.0])
    assert d["n"] == 2 and d["mean"] == 2.0 and d["std"] == pytest.approx(math.sqrt(2))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=2, max_size=30))
def test_describe_properties(xs):
    d = describe(xs)
    assert d["n"] == len(xs)
    assert min(xs) - 1e-6 <= d["mean"] <= max(xs) + 1e-6
    assert d["std"] >= 0
    assert d["ci95_low"] <= d["mean"] <= d["ci95_high"]
    if min(xs) >= 0:
        # a non-negative quantity's interval never reaches below zero
        assert d["ci95_low"] >= 0
    if not (min(xs) >= 0 and d["ci95_low"] == 0):  # symmetric unless clipped at zero
        assert d["mean"] - d["ci95_low"] == pytest.approx(d["ci95_high"] - d["mean"], abs=1e-6)
    # shifting every value shifts the mean and the interval, not the spread
    e = describe([x + 10.0 for x in xs])
    assert e["mean"] == pytest.approx(d["mean"] + 10.0, abs=1e-6)
    assert e["std"] == pytest.approx(d["std"], rel=1e-6, abs=1e-6)


def test_summarize_golden():
    metrics = [{"energy_total_j": 10.0, "latency_p99_s": 0.02},
               {"energy_total_j": 14.0, "latency_p99_s": 0.03},
               {"energy_total_j": 12.0}]
    impacts = [
        {"total_gco2e": {"value": 1.0, "low": 0.8, "high": 1.5}, "allocation": "time",
         "energy_kwh": 2.0, "sources": ["A"], "impact_compute": {"total_gco2e": {"value": 0.5, "low": 0.4, "high": 0.7}}},
        {"total_gco2e": {"value": 2.0, "low": 1.0, "high": 3.0}, "allocation": "time",
         "energy_kwh": 4.0, "sources": ["A", "B"], "impact_compute": {"total_gco2e": {"value": 1.5, "low": 1.0, "high": 2.1}}},
        None,
    ]
    s = summarize(metrics, impacts, measured=False, notes=["synthetic weights", "synthetic weights", "short"])
    # energy 10, 14, 12: mean 12, std sqrt((4 + 4 + 0) / 2) = 2
    assert s["metrics"]["energy_total_j"]["mean"] == 12.0
    assert s["metrics"]["energy_total_j"]["std"] == pytest.approx(2.0)
    assert s["metrics"]["latency_p99_s"]["n"] == 2  # missing key = not applicable
    # impacts (the run interval rule): value = mean (1, 2) -> 1.5; low = min(0.8, 1.0, Student
    # 95 % lower bound of the mean of the lows 0.9 - 12.7062 x 0.14142 / sqrt 2 < 0 -> clipped 0)
    # = 0; high = max(1.5, 3.0, 2.25 + 12.7062 x 1.06066 / sqrt 2 = 11.7797) = 11.7797
    t = 12.706204736174698
    assert s["impact"]["total_gco2e"] == pytest.approx(
        {"value": 1.5, "low": 0.0, "high": 2.25 + t * 0.75})
    # compute: values (0.5, 1.5) -> 1.0; lows (0.4, 1.0): 0.7 - t x 0.3 < 0 -> 0;
    # highs (0.7, 2.1): 1.4 + t x 0.7
    assert s["impact"]["impact_compute"]["total_gco2e"] == pytest.approx(
        {"value": 1.0, "low": 0.0, "high": 1.4 + t * 0.7})
    assert s["impact"]["energy_kwh"] == 3.0 and s["impact"]["allocation"] == "time"
    assert s["impact"]["sources"] == ["A", "B"]
    assert s["measured"] is False and s["notes"] == ["synthetic weights", "short"]
    assert s["repetitions"] == 3
    assert summarize([{}], [None])["impact"] is None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1e3), st.floats(0, 1e3), st.floats(0, 1e3)), min_size=1, max_size=10))
def test_summarized_impact_keeps_low_le_value_le_high(triples):
    impacts = [{"use_gco2e": {"low": min(t), "value": sorted(t)[1], "high": max(t)}} for t in triples]
    u = summarize([{}] * len(triples), impacts)["impact"]["use_gco2e"]
    assert u["low"] <= u["value"] + 1e-9 and u["value"] <= u["high"] + 1e-9


def test_summarize_real_impacts_from_the_lca_core():
    from inferlca.lca.impact import ImpactContext, compute_impact

    ctx = ImpactContext.resolve(None, region="FR")  # unknown device: embodied zero with a note
    a = compute_impact(100.0, 10.0, ctx, queries=16).to_dict()
    b = compute_impact(300.0, 30.0, ctx, queries=16).to_dict()
    s = summarize([{"energy_total_j": 100.0}, {"energy_total_j": 300.0}], [a, b])["impact"]
    assert set(s) == set(a)
    for key, va in a.items():
        if isinstance(va, dict) and {"value", "low", "high"} <= set(va):
            assert s[key]["value"] == pytest.approx((va["value"] + b[key]["value"]) / 2)
            # the run interval holds both repetitions' intervals
            assert s[key]["low"] <= min(va["low"], b[key]["low"]) + 1e-15
            assert s[key]["high"] >= max(va["high"], b[key]["high"]) - 1e-15
    # use-phase GWP is proportional to energy here (same grid, PUE): the mean of 100 J and 300 J
    # runs is the impact of 200 J
    mid = compute_impact(200.0, 20.0, ctx, queries=16).to_dict()
    assert s["use_gco2e"]["value"] == pytest.approx(mid["use_gco2e"]["value"])
    assert s["sources"] == list(dict.fromkeys(a["sources"] + b["sources"]))


def test_combine_intervals_one_repetition_is_that_repetition():
    from inferlca.stats import combine_intervals

    assert combine_intervals([{"value": 2.0, "low": 1.0, "high": 3.0}]) == \
        {"value": 2.0, "low": 1.0, "high": 3.0}
    assert combine_intervals([]) is None


def test_combine_intervals_many_repetitions_golden():
    from inferlca.stats import combine_intervals

    # ten repetitions with the same interval ratio: the 95 % interval of the mean is inside the
    # hull, so the hull decides; value = mean
    reps = [{"value": v, "low": 0.5 * v, "high": 2 * v} for v in range(1, 11)]
    c = combine_intervals(reps)
    assert c == pytest.approx({"value": 5.5, "low": 0.5, "high": 20.0})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(1.0, 1e4), min_size=1, max_size=8))
def test_run_gwp_interval_contains_every_repetition_at_nominal_grid(energies):
    """The issue's property: a run whose energy varies across repetitions has a GWP interval that
    contains the GWP of each repetition's energy at the nominal grid, PUE and lifetime."""
    from inferlca.lca.impact import ImpactContext, compute_impact

    ctx = ImpactContext.resolve("t4", region="FR")
    impacts = [compute_impact(e, 10.0 + i, ctx, queries=4).to_dict()
               for i, e in enumerate(energies)]
    s = summarize([{"energy_total_j": e} for e in energies], impacts)["impact"]
    for key in ("use_gco2e", "total_gco2e", "per_query_gco2e", "energy_kwh"):
        for imp in impacts:
            nominal = imp[key]["value"]  # this repetition at nominal grid, PUE and lifetime
            assert s[key]["low"] <= nominal * (1 + 1e-12) and nominal <= s[key]["high"] * (1 + 1e-12)
        assert s[key]["low"] <= s[key]["value"] <= s[key]["high"]


def _iv(v: float, lo: float, hi: float) -> dict[str, float]:
    return {"value": v, "low": lo, "high": hi}


def test_total_holds_its_parts_hand_case():
    """Two repetitions whose use and embodied move in opposite directions: per field, the
    Student term of the totals (which barely move) is far narrower than the use phase's, so the
    total's high end would sit below the use phase's; the combined total holds use + embodied."""
    from inferlca.stats import combine_impacts

    reps = [{"use_gco2e": _iv(1.0, 0.8, 1.2), "embodied_gco2e": _iv(1.0, 0.9, 1.1),
             "total_gco2e": _iv(2.0, 1.7, 2.3), "per_query_gco2e": _iv(0.5, 0.425, 0.575)},
            {"use_gco2e": _iv(1.5, 1.2, 1.8), "embodied_gco2e": _iv(0.5, 0.45, 0.55),
             "total_gco2e": _iv(2.0, 1.65, 2.35), "per_query_gco2e": _iv(0.5, 0.4125, 0.5875)}]
    out = combine_impacts(reps)
    assert out is not None
    use, emb, tot, pq = (out[k] for k in ("use_gco2e", "embodied_gco2e", "total_gco2e",
                                          "per_query_gco2e"))
    # use highs 1.2, 1.8: mean 1.5 + t(1) 12.706 x sd 0.4243 / sqrt 2 = 5.312; embodied highs
    # 1.1, 0.55: 0.825 + 12.706 x 0.3889 / sqrt 2 = 4.319; total highs 2.3, 2.35: 4.002 alone
    assert use["high"] == pytest.approx(1.5 + 12.7062047 * 0.6 / math.sqrt(2) / math.sqrt(2), rel=1e-6)
    assert tot["high"] == pytest.approx(use["high"] + emb["high"])
    assert tot["low"] <= use["low"] + emb["low"]
    assert pq["high"] == pytest.approx(tot["high"] / 4) and pq["low"] <= tot["low"] / 4


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0.0, 10.0), st.floats(0.0, 1.0), st.floats(0.0, 10.0),
                          st.floats(0.0, 1.0)), min_size=1, max_size=6),
       st.integers(1, 1000))
def test_combined_totals_hold_their_parts_and_every_repetition(reps, queries):
    from inferlca.stats import combine_impacts

    impacts = []
    for u, du, e, de in reps:
        use, emb = _iv(u, u * (1 - du), u * (1 + du)), _iv(e, e * (1 - de), e * (1 + de))
        tot = _iv(u + e, use["low"] + emb["low"], use["high"] + emb["high"])
        impacts.append({"use_gco2e": use, "embodied_gco2e": emb, "total_gco2e": tot,
                        "per_query_gco2e": {k: x / queries for k, x in tot.items()}})
    out = combine_impacts(impacts)
    assert out is not None
    use, emb, tot, pq = (out[k] for k in ("use_gco2e", "embodied_gco2e", "total_gco2e",
                                          "per_query_gco2e"))
    tol = 1e-9 * (1 + abs(tot["high"]))
    assert tot["high"] >= use["high"] + emb["high"] - tol
    assert tot["low"] <= use["low"] + emb["low"] + tol
    assert pq["high"] * queries >= tot["high"] - tol and pq["low"] * queries <= tot["low"] + tol
    for i in impacts:  # still holds every repetition
        assert tot["low"] - tol <= i["total_gco2e"]["value"] <= tot["high"] + tol
