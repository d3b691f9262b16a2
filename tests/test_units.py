"""Units of uncertain values: sums need one unit, products and quotients derive theirs
(`inferlca.units` algebra, `inferlca.uncertainty.UValue` arithmetic)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferlca.errors import UnitError
from inferlca.lca import use
from inferlca.uncertainty import UValue
from inferlca.units import divide_units, format_unit, multiply_units, parse_unit, same_unit

NAMES = ["gCO2e", "kgCO2e", "kWh", "J", "W", "s", "years", "GB", "cm2", "tokens"]

powers_st = st.dictionaries(st.sampled_from(NAMES), st.integers(-3, 3).filter(bool), max_size=4)
units_st = powers_st.map(lambda d: format_unit(tuple(d.items())))
numbers = st.floats(0.0, 1e6, allow_nan=False)


@st.composite
def uvalues(draw, unit=units_st):
    lo, mid, hi = sorted(draw(st.lists(numbers, min_size=3, max_size=3)))
    return UValue(mid, lo, hi, draw(unit) if isinstance(unit, st.SearchStrategy) else unit)


# --- golden values -----------------------------------------------------------------------------

def test_grams_and_kilograms_do_not_add():
    with pytest.raises(UnitError, match="different units: 1.00 gCO2e \\+ 1.00 kgCO2e"):
        UValue.exact(1, "gCO2e") + UValue.exact(1, "kgCO2e")
    with pytest.raises(UnitError, match="different units"):
        UValue.exact(1, "gCO2e") - UValue.exact(1, "kgCO2e")
    # converting first is the way
    total = UValue.exact(1, "kgCO2e").scaled(1000, "gCO2e") + UValue.exact(1, "gCO2e")
    assert (total.value, total.unit) == (1001.0, "gCO2e")


def test_products_and_quotients_derive_their_unit():
    kwh = UValue.exact(2, "kWh")
    grid = UValue.interval(40, 80, 50, unit="gCO2e/kWh")
    use_g = kwh * grid
    assert (use_g.unit, use_g.value, use_g.low, use_g.high) == ("gCO2e", 100.0, 80.0, 160.0)
    assert (UValue.exact(300, "W") * UValue.exact(2, "s")).unit == "W*s"
    assert (UValue.exact(6, "J") / UValue.exact(2, "s")).unit == "J/s"
    assert (UValue.exact(6, "s") / UValue.exact(2, "s")).unit == ""  # a ratio
    assert (1 / UValue.exact(2, "s")).unit == "1/s"
    assert (UValue.exact(3, "J") * 2).unit == "J"  # a plain number is dimensionless
    assert (UValue.exact(3, "m^2") / UValue.exact(1, "m")).unit == "m"


def test_dimensionless_and_plain_numbers():
    ratio = UValue.exact(0.5)
    assert (ratio + UValue.exact(0.25)).value == 0.75 and (ratio + 1).value == 1.5
    with pytest.raises(UnitError, match="dimensionless value adds only to a dimensionless one"):
        ratio + UValue.exact(1, "J")
    with pytest.raises(UnitError, match="plain number 2 to 1.00 J"):
        UValue.exact(1, "J") + 2
    with pytest.raises(UnitError, match="plain number 2 from 1.00 J"):
        UValue.exact(1, "J") - 2
    # 0 adds to any unit: sum() of values works and keeps the unit
    s = sum([UValue.exact(1, "J"), UValue.interval(1, 3, unit="J")])
    assert isinstance(s, UValue) and (s.unit, s.low, s.value, s.high) == ("J", 2.0, 3.0, 4.0)
    assert (0 - UValue.exact(2, "J")).value == -2.0


def test_subtraction_interval():
    d = UValue.interval(10, 12, 11, unit="J") - UValue.interval(1, 3, 2, unit="J")
    assert (d.low, d.value, d.high, d.unit) == (7.0, 9.0, 11.0, "J")


def test_the_impact_formulas_check_their_units():
    with pytest.raises(UnitError, match="energy must be in J"):
        use.energy_kwh(UValue.exact(1, "Wh"))
    with pytest.raises(UnitError, match="grid intensity must be in gCO2e/kWh"):
        use.use_phase_gco2e(UValue.exact(1, "kWh"), UValue.exact(50, "gCO2e/MWh"), UValue.exact(1))
    with pytest.raises(UnitError, match="embodied footprint must be in kgCO2e"):
        use.embodied_share_gco2e(UValue.exact(1e-6), UValue.exact(5, "gCO2e"))
    alloc = use.allocation(UValue.exact(3600, "s"), UValue.exact(1, "years"))
    assert alloc.unit == "" and alloc.value == pytest.approx(1 / (365.25 * 24))
    total = use.total_gco2e(UValue.exact(2, "gCO2e"), use.embodied_share_gco2e(
        alloc, UValue.exact(1, "kgCO2e")))
    assert total.unit == "gCO2e" and total.value == pytest.approx(2 + 1000 / (365.25 * 24))


def test_compute_impact_refuses_an_energy_in_another_unit():
    from inferlca.hardware.catalog import get_catalog
    from inferlca.lca.impact import ImpactContext, compute_impact

    ctx = ImpactContext.resolve(get_catalog().get("t4"), region="FR")
    with pytest.raises(UnitError, match="energy must be in J"):
        compute_impact(UValue.exact(1, "Wh"), 60.0, ctx)
    a = compute_impact(UValue.exact(3600, "J"), 60.0, ctx)
    b = compute_impact(UValue.exact(1, "Wh").scaled(3600, "J"), 60.0, ctx)
    assert a.total_gco2e == b.total_gco2e and a.total_gco2e.unit == "gCO2e"


# --- properties --------------------------------------------------------------------------------

@given(powers_st)
def test_format_then_parse_gives_the_same_unit(powers):
    assert dict(parse_unit(format_unit(tuple(powers.items())))) == powers


@given(powers_st, st.randoms())
def test_the_order_of_factors_does_not_matter(powers, rnd):
    items = list(powers.items())
    rnd.shuffle(items)
    assert same_unit(format_unit(tuple(powers.items())), format_unit(tuple(items)))


@given(units_st, units_st)
def test_unit_algebra(a, b):
    assert same_unit(multiply_units(a, b), multiply_units(b, a))
    assert same_unit(divide_units(multiply_units(a, b), b), a)
    assert divide_units(a, a) == ""
    assert same_unit(multiply_units(a, divide_units("", a)), "")


@given(uvalues(), uvalues())
def test_sums_need_one_unit(a, b):
    if same_unit(a.unit, b.unit):
        s = a + b
        assert s.unit == a.unit
        assert s.low == pytest.approx(a.low + b.low) and s.high == pytest.approx(a.high + b.high)
        d = a - b
        assert d.unit == a.unit and d.low <= a.value - b.value + 1e-6 * (1 + abs(d.value))
    else:
        with pytest.raises(UnitError):
            a + b
        with pytest.raises(UnitError):
            a - b
    assert (a + 0).unit == a.unit and (0 + a) == a + 0


@given(uvalues(), uvalues())
def test_products_and_quotients_carry_the_derived_unit(a, b):
    p = a * b
    assert p.unit == multiply_units(a.unit, b.unit)
    assert p.low <= p.value <= p.high
    if b.low >= 1e-6:  # a divisor near 1e-313 overflows any float quotient: not a unit question
        q = a / b
        assert q.unit == divide_units(a.unit, b.unit)
        assert same_unit((q * b).unit, a.unit)
        assert (q * b).value == pytest.approx(a.value, rel=1e-9, abs=1e-9)


@given(uvalues(unit="J"), st.floats(0.001, 1e3))
def test_a_conversion_is_explicit(a, k):
    converted = a.scaled(k, "kJ")
    assert converted.unit == "kJ" and converted.value == pytest.approx(a.value * k)
    with pytest.raises(UnitError):
        converted + a
