"""The impact of a mixed-traffic repetition split among its request classes by their energy
shares (:func:`inferlca.loadgen.traffic_results.add_class_impacts`): every class's use, embodied
and total GWP (value and interval ends) add up to the run's, and a hand-computed case."""

from __future__ import annotations

import itertools
import math

from hypothesis import given
from hypothesis import strategies as st

from inferlca.loadgen.traffic_results import IMPACT_PARTS, add_class_impacts, summarize_classes


def _interval(v: float, lo: float, hi: float) -> dict[str, float]:
    return {"value": v, "low": lo, "high": hi}


def test_hand_computed_split():
    classes = {"chat": {"metrics": {"energy_j": 30.0, "requests_ok": 3.0, "tokens_out": 60.0}},
               "batch": {"metrics": {"energy_j": 10.0, "requests_ok": 5.0, "tokens_out": 500.0}}}
    impact = {"use_gco2e": _interval(0.8, 0.4, 1.6), "embodied_gco2e": _interval(0.2, 0.1, 0.4),
              "total_gco2e": _interval(1.0, 0.5, 2.0), "pue": _interval(1.2, 1.1, 1.4)}
    add_class_impacts(classes, impact)
    chat, batch = classes["chat"], classes["batch"]
    assert chat["impact"]["share"] == 0.75 and batch["impact"]["share"] == 0.25
    assert chat["impact"]["total_gco2e"] == {"value": 0.75, "low": 0.375, "high": 1.5,
                                             "unit": "gCO2e"}
    assert "pue" not in chat["impact"]  # a factor, not an amount: never split
    m = batch["metrics"]
    assert m["gwp_use_gco2e"] == 0.2 and m["gwp_embodied_gco2e"] == 0.05
    assert m["gwp_total_gco2e"] == 0.25
    assert (m["gwp_total_low_gco2e"], m["gwp_total_high_gco2e"]) == (0.125, 0.5)
    assert m["gwp_per_request_gco2e"] == 0.05  # 0.25 g / 5 requests
    assert m["gwp_per_1k_tokens_gco2e"] == 0.5  # 0.25 g per 500 tokens
    # across repetitions: combined as the run's impact (mean value, hull of the intervals)
    again = {"chat": {"metrics": {"energy_j": 10.0}}, "batch": {"metrics": {"energy_j": 10.0}}}
    add_class_impacts(again, impact)
    summary = summarize_classes([{"traffic": {"classes": classes}},
                                 {"traffic": {"classes": again}}])
    total = summary["chat"]["impact"]["total_gco2e"]
    assert math.isclose(total["value"], (0.75 + 0.5) / 2)
    assert total["low"] <= 0.25 and total["high"] >= 1.5
    assert summary["chat"]["metrics"]["gwp_total_gco2e"]["n"] == 2


def test_nothing_without_an_impact_or_energies():
    classes = {"a": {"metrics": {"energy_j": 1.0}}, "b": {"metrics": {}}}
    add_class_impacts(classes, {"total_gco2e": _interval(1, 1, 1)})  # b has no energy
    assert "impact" not in classes["a"] and "gwp_total_gco2e" not in classes["a"]["metrics"]
    add_class_impacts(classes, None)
    assert "impact" not in classes["a"]


energies = st.lists(st.one_of(st.just(0.0), st.floats(1e-9, 1e6)), min_size=1, max_size=8)
amount = st.tuples(st.floats(0, 1e6), st.floats(0, 1e6), st.floats(0, 1e6)).map(sorted)


@given(energies, amount, amount)
def test_classes_add_up_to_the_run(es, use, emb):
    classes = {f"c{k}": {"metrics": {"energy_j": e}} for k, e in enumerate(es)}
    total = [u + b for u, b in zip(use, emb)]
    impact = {"use_gco2e": _interval(use[1], use[0], use[2]),
              "embodied_gco2e": _interval(emb[1], emb[0], emb[2]),
              "total_gco2e": _interval(total[1], total[0], total[2])}
    add_class_impacts(classes, impact)
    shares = [c["impact"]["share"] for c in classes.values()]
    assert all(0.0 <= s <= 1.0 for s in shares)
    assert math.isclose(math.fsum(shares), 1.0, rel_tol=1e-12)
    for key in IMPACT_PARTS:
        for end in ("value", "low", "high"):
            parts = [c["impact"][key][end] for c in classes.values()]
            assert all(p >= 0 for p in parts)
            assert math.isclose(math.fsum(parts), impact[key][end], rel_tol=1e-9, abs_tol=1e-12)
    # a class with more energy never gets less impact
    order = sorted(classes.values(), key=lambda c: c["metrics"]["energy_j"])
    vals = [c["metrics"]["gwp_total_gco2e"] for c in order]
    assert all(a <= b * (1 + 1e-12) + 1e-300 for a, b in itertools.pairwise(vals))
