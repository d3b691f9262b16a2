"""Embodied footprint: golden worked examples (arithmetic written out) and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferlca.errors import UnknownNameError
from inferlca.hardware.catalog import get_catalog
from inferlca.lca.embodied import EmbodiedUnavailableError, embodied_footprint

CAT = get_catalog()

# per-node factors at 5 nm (see test_lca_factors): mean of the five sources, widened spread
F5 = (2.778 + 1.54 + 2.613 + (1.8 - 0.2 / 3) + 1.97) / 5   # 2.126867 kgCO2e/cm2
F5_LOW, F5_HIGH = 1.54, 2.613 * 1.25                      # imec exact; eco-chip nearest +25%
F7 = (2.318 + 1.44 + 2.613 + 1.6 + 1.97) / 5             # 1.9882, all exact
F7_LOW, F7_HIGH = 1.44, 2.613


def test_h100_per_gb_golden():
    e = embodied_footprint(CAT.get("h100"), "per-gb")
    # F_proc = 8.14 cm2 x 2.126867 = 17.3127 kg
    assert e.processor_kg.value == pytest.approx(8.14 * F5)
    assert e.processor_kg.low == pytest.approx(8.14 * F5_LOW)        # 12.5356
    assert e.processor_kg.high == pytest.approx(8.14 * F5_HIGH)      # 26.5873
    # F_mem = 80 GB x 0.280 kg/GB (HBM3 extrapolated from HBM2e) = 22.4 kg
    # [80 x 0.065 (ACT DDR4), 80 x 5.38 (Boavizta VRAM model applied to the H100)]
    assert (e.memory_kg.value, e.memory_kg.low, e.memory_kg.high) == pytest.approx(
        (22.4, 5.2, 430.4))
    # F = 17.3127 + 22.4 = 39.7127 kg [17.7356 - 120.427]
    assert e.total_kg.value == pytest.approx(8.14 * F5 + 22.4)
    assert e.total_kg.low == pytest.approx(8.14 * 1.54 + 5.2)
    assert e.total_kg.high == pytest.approx(8.14 * F5_HIGH + 430.4)
    assert any("HBM3" in n for n in e.notes)
    d = e.to_dict()
    for key in ("embodied_kgco2e", "processor_kgco2e", "memory_kgco2e"):
        assert set(d[key]) == {"value", "low", "high"}
    assert d["sources"] and all(isinstance(s, str) for s in d["sources"])


def test_h100_area_method_golden():
    e = embodied_footprint(CAT.get("h100"), "area")
    # memory die area = 80 GB x 8 Gbit/GB / 0.274 Gbit/mm2 / 100 = 23.3577 cm2
    area_cm2 = 80 * 8 / 0.274 / 100
    assert e.memory_factor.value == pytest.approx(area_cm2)
    # F_mem = 23.3577 cm2 x 2.126867 kg/cm2 = 49.679 kg (same factor as the processor)
    assert e.memory_kg.value == pytest.approx(area_cm2 * F5)
    assert e.memory_kg.low == pytest.approx(area_cm2 * F5_LOW)
    assert e.memory_kg.high == pytest.approx(area_cm2 * F5_HIGH)


def test_a100_golden():
    e = embodied_footprint(CAT.get("a100"))
    # F = 8.26 x 1.9882 + 40 x 0.28 = 16.4225 + 11.2 = 27.6225 kg
    assert e.total_kg.value == pytest.approx(8.26 * F7 + 40 * 0.28)
    assert e.total_kg.low == pytest.approx(8.26 * F7_LOW + 40 * 0.065)     # 14.4944
    assert e.total_kg.high == pytest.approx(8.26 * F7_HIGH + 40 * 4.56)   # Boavizta HBM2e high


def test_agx_orin_golden_with_uncertain_die_area():
    e = embodied_footprint(CAT.get("jetson-agx-orin-64gb"))
    imec8 = 1.44 + (1.09 - 1.44) / 3          # 1.32333 interpolated 7..10 nm
    eco8 = 2.613 + (1.949 - 2.613) / 3         # 2.39167 interpolated 7..10 nm
    llm8 = 1.6 + (1.2 - 1.6) / 5               # 1.52    interpolated 7..12 nm
    f8 = (1.807 + imec8 + eco8 + llm8 + 1.97) / 5   # 1.8024
    # die area 3.77 cm2 [3.02 - 8.00]; factor interval widened by 10% for interpolated values
    assert e.processor_kg.value == pytest.approx(3.77 * f8)
    assert e.processor_kg.low == pytest.approx(3.02 * imec8 * 0.9)
    assert e.processor_kg.high == pytest.approx(8.00 * eco8 * 1.1)
    # LPDDR5: 64 GB x 0.29 kg/GB = 18.56 kg [64 x 0.048, 64 x 1.173]
    assert (e.memory_kg.value, e.memory_kg.low, e.memory_kg.high) == pytest.approx(
        (18.56, 3.072, 75.072))
    assert any("die area uncertain" in n for n in e.notes)


def test_multi_die_cpu_without_memory():
    e = embodied_footprint(CAT.get("epyc-9654"))
    f6 = (2.548 + 1.49 + 2.613 + (1.8 - 0.2 * 2 / 3) + 1.97) / 5  # 6 nm: interpolated/nearest
    # 12 CCDs x 0.71 cm2 at 5 nm + one 3.97 cm2 I/O die at 6 nm
    assert e.processor_kg.value == pytest.approx(12 * 0.71 * F5 + 3.97 * f6)
    assert e.memory_kg.value == 0 and e.memory_kg.is_exact
    assert any("no memory of its own" in n for n in e.notes)
    assert e.total_kg.value == pytest.approx(e.processor_kg.value)


def test_node_source_low_high_for_sensitivity():
    h100 = CAT.get("h100")
    low = embodied_footprint(h100, node_source="low")
    high = embodied_footprint(h100, node_source="high")
    assert low.processor_kg.is_exact and low.processor_kg.value == pytest.approx(8.14 * 1.54)
    assert high.processor_kg.value == pytest.approx(8.14 * 2.778)  # act, exact at 5 nm
    both = embodied_footprint(h100)
    assert low.processor_kg.value < both.processor_kg.value < high.processor_kg.value


def test_packaging_is_off_by_default():
    h100 = CAT.get("h100")
    assert embodied_footprint(h100).packaging_kg.value == 0
    e = embodied_footprint(h100, packaging=True)
    assert e.packaging_kg.value == pytest.approx(0.15)
    assert e.total_kg.value == pytest.approx(embodied_footprint(h100).total_kg.value + 0.15)
    assert embodied_footprint(CAT.get("epyc-9654"), packaging=True).packaging_kg.value == \
        pytest.approx(13 * 0.15)


def test_unpublished_die_area_is_an_error_not_a_zero():
    with pytest.raises(EmbodiedUnavailableError, match="die area") as ei:
        embodied_footprint(CAT.get("b200"))
    assert ei.value.exit_code == 2


def test_bad_memory_method():
    with pytest.raises(UnknownNameError, match="per-gb"):
        embodied_footprint(CAT.get("h100"), "per-kg")


DEVICES = [d for d in CAT if d.die_area_mm2 is not None]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(DEVICES), st.sampled_from(["per-gb", "area"]))
def test_total_is_the_sum_of_terms(dev, method):
    e = embodied_footprint(dev, method)
    for part in (e.processor_kg, e.memory_kg, e.total_kg):
        assert 0 <= part.low <= part.value <= part.high
    assert e.total_kg.value == pytest.approx(e.processor_kg.value + e.memory_kg.value)
    assert e.total_kg.low == pytest.approx(e.processor_kg.low + e.memory_kg.low)
    assert e.total_kg.high == pytest.approx(e.processor_kg.high + e.memory_kg.high)
    assert e.processor_kg.value > 0 and e.sources


def test_node_factor_range_for_a_device():
    from inferlca.lca.embodied import node_factor_range_for

    rng = node_factor_range_for(CAT.get("a100"))
    # at 7 nm: imec 1.44 is the lowest source, eco-chip 2.613 the highest
    assert (rng.low.source_id, rng.low.value) == ("imec", 1.44)
    assert (rng.high.source_id, rng.high.value) == ("eco-chip", 2.613)
    assert len(rng.all) == 5 and rng.to_dict()["node_nm"] == 7
