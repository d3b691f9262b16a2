"""Manufacturing factors: data validation, interpolation, per-source spread, memory factors."""

from __future__ import annotations

import csv
import io
from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.lca.factors import (
    INTERPOLATED_WIDEN,
    NEAREST_WIDEN,
    memory_type,
    node_factor,
    node_factor_range,
    node_factor_rows,
    node_factor_sources,
    per_gb_factor,
    source_values,
)


def _rows(name: str) -> list[dict]:
    text = resources.files("inferlca.lca").joinpath("data", name).read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_node_factor_rows_are_sourced_and_in_range():
    rows = node_factor_rows()
    assert len({r.source_id for r in rows}) >= 3  # at least three independent sources
    for r in rows:
        assert r.source and r.area_basis
        assert 0.3 <= r.kgco2e_per_cm2 <= 5.0, r
        assert r.node_nm is None or 3 <= r.node_nm <= 65


def test_memory_rows_are_sourced_and_in_range():
    for r in _rows("memory_types.csv"):
        assert r["source"] and (r["maps_to"] or r["kgco2e_per_gb"])
        if r["kgco2e_per_gb"]:
            assert 0.01 <= float(r["kgco2e_per_gb"]) <= 10
            assert 0.05 <= float(r["density_gbit_per_mm2"]) <= 1
    for r in _rows("memory_family_factors.csv"):
        assert r["source"] and 0.01 <= float(r["kgco2e_per_gb"]) <= 10
    for r in _rows("defaults.csv"):
        assert r["source"] and float(r["low"]) <= float(r["value"]) <= float(r["high"])


def test_exact_node_golden_7nm():
    # every source has 7 nm (uba is node-independent): no interpolation, no widening
    f, notes = node_factor(7)
    values = {"act": 2.318, "imec": 1.44, "eco-chip": 2.613, "llmcarbon": 1.6, "uba": 1.97}
    assert notes == ()
    assert f.value == pytest.approx((2.318 + 1.44 + 2.613 + 1.6 + 1.97) / 5)  # = 1.9882
    assert f.low == pytest.approx(min(values.values()))
    assert f.high == pytest.approx(max(values.values()))
    assert len(f.sources) == 5


def test_interpolation_and_nearest_node_golden_5nm():
    by_id = {s.source_id: s for s in source_values(5)}
    # llmcarbon has 4 and 7 nm: 1.8 + (1.6 - 1.8) * (5 - 4) / (7 - 4)
    assert by_id["llmcarbon"].method == "interpolated"
    assert by_id["llmcarbon"].value == pytest.approx(1.8 - 0.2 / 3)
    # eco-chip stops at 7 nm: nearest node, widened
    assert by_id["eco-chip"].method == "nearest" and by_id["eco-chip"].value == 2.613
    assert by_id["act"].method == "exact" and by_id["uba"].method == "node-independent"
    f, notes = node_factor(5)
    mean = (2.778 + 1.54 + 2.613 + (1.8 - 0.2 / 3) + 1.97) / 5
    assert f.value == pytest.approx(mean)                       # 2.12687
    assert f.low == pytest.approx(1.54)                         # imec, exact
    assert f.high == pytest.approx(2.613 * (1 + NEAREST_WIDEN))  # eco-chip widened: 3.26625
    assert any("eco-chip" in n and "nearest" in n for n in notes)
    assert any("llmcarbon" in n and "interpolated" in n for n in notes)


def test_interpolated_contribution_is_widened_8nm():
    f, _ = node_factor(8)
    eco = 2.613 + (1.949 - 2.613) * (8 - 7) / (10 - 7)  # 2.39167
    assert f.high == pytest.approx(eco * (1 + INTERPOLATED_WIDEN))
    imec = 1.44 + (1.09 - 1.44) / 3                       # 1.32333
    assert f.low == pytest.approx(imec * (1 - INTERPOLATED_WIDEN))


def test_single_source_for_sensitivity():
    low, _ = node_factor(5, "low")
    high, _ = node_factor(5, "high")
    act, _ = node_factor(5, "act")
    assert low.is_exact and low.value == pytest.approx(1.54) and "imec" in low.sources[0]
    assert high.value == pytest.approx(2.778) and "act" in high.sources[0]
    assert act.value == pytest.approx(2.778)
    with pytest.raises(UnknownNameError):
        node_factor(5, "nowhere")
    rng = node_factor_range(5)
    assert rng.low.source_id == "imec" and rng.high.source_id == "act"
    assert set(node_factor_sources()) == {"act", "imec", "eco-chip", "llmcarbon", "uba", "pirson"}


@given(st.floats(min_value=2.0, max_value=90.0, allow_nan=False))
def test_factor_interval_holds_every_source(node_nm):
    f, _ = node_factor(node_nm)
    assert f.low <= f.value <= f.high
    for s in source_values(node_nm):
        assert f.low <= s.value <= f.high
        assert s.method in ("exact", "interpolated", "nearest", "node-independent")


@pytest.mark.parametrize("bad", [0, -5, float("nan")])
def test_bad_node(bad):
    with pytest.raises(InvalidValueError):
        node_factor(bad)


def test_per_gb_golden():
    hbm, notes = per_gb_factor("HBM2e")
    # study 0.280; ACT DDR4 family 0.065; LLMCarbon 0.4; Groeger 1.173; Boavizta VRAM model on
    # the A100 4.56 (kgCO2e/GB, the high end)
    assert (hbm.value, hbm.low, hbm.high) == pytest.approx((0.280, 0.065, 4.56))
    lp5, notes = per_gb_factor("LPDDR5")
    assert (lp5.value, lp5.low, lp5.high) == pytest.approx((0.290, 0.048, 1.173))
    assert any("closest" in n for n in notes)
    gd5, _ = per_gb_factor("GDDR5")  # DDR3 family: ACT 0.6 / 0.315 / 0.23
    assert (gd5.value, gd5.low, gd5.high) == pytest.approx((0.360, 0.23, 1.173))


def test_memory_type_mapping_is_noted():
    mt, notes = memory_type("HBM3")  # a row of its own, marked as extrapolated from HBM2e
    assert mt.memory_type == "HBM3" and "EXTRAPOLATED" in mt.source and "HBM2e" in mt.source
    mt, notes = memory_type("LPDDR4")  # still a mapping, with a note
    assert mt.memory_type == "LPDDR4X" and "LPDDR4X" in notes[0]
    with pytest.raises(UnknownNameError):
        memory_type("SRAM")
