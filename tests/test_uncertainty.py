"""Interval arithmetic of UValue: golden cases by hand and properties with hypothesis."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inferlca.errors import InvalidValueError
from inferlca.uncertainty import UValue

pos = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def uvalues(draw):
    a, b, c = sorted(draw(st.tuples(pos, pos, pos)))
    return UValue(b, a, c, sources=(draw(st.sampled_from(["s1", "s2", "s3"])),))


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def test_allocation_takes_low_end_from_longest_lifetime():
    # 3600 s over a lifetime of 4..7 years (nominal 7): low = 3600 / (7 y), high = 3600 / (4 y)
    year_s = 365.25 * 86400
    life = UValue.interval(4 * year_s, 7 * year_s, value=7 * year_s)
    a = 3600.0 / life
    assert close(a.low, 3600 / (7 * year_s))
    assert close(a.high, 3600 / (4 * year_s))
    assert close(a.value, 3600 / (7 * year_s))


def test_golden_product_and_sum():
    # energy 2 [1.5 - 3] kWh x grid 80 [50 - 100] g/kWh = 160 [75 - 300] g; + 10 [8 - 12] g
    e = UValue(2, 1.5, 3, sources=("meter",))
    g = UValue(80, 50, 100, sources=("grid",))
    use = e * g
    assert (use.value, use.low, use.high) == (160, 75, 300)
    total = use + UValue(10, 8, 12, sources=("embodied",))
    assert (total.value, total.low, total.high) == (170, 83, 312)
    assert total.sources == ("meter", "grid", "embodied")
    assert total.kind == "derived"


def test_format():
    assert UValue(12.34, 9.81, 15.07).format("mgCO2e") == "12.3 [9.81 - 15.1] mgCO2e"
    assert UValue.exact(79.1).format("gCO2e/kWh") == "79.1 gCO2e/kWh"


def test_parse_and_errors():
    v = UValue.parse("1.1..1.6")
    assert (v.low, v.high) == (1.1, 1.6) and close(v.value, 1.35)
    assert UValue.parse("4..7@7").value == 7
    with pytest.raises(InvalidValueError, match="inverted"):
        UValue.parse("7..4")
    with pytest.raises(InvalidValueError):
        UValue.parse("nan")
    with pytest.raises(InvalidValueError):
        UValue.parse("abc")
    with pytest.raises(InvalidValueError):
        UValue(1, 2, 3)


@given(uvalues(), uvalues())
def test_sum_bounds(a, b):
    s = a + b
    assert close(s.value, a.value + b.value)
    assert s.low <= s.value <= s.high
    assert close(s.low, a.low + b.low) and close(s.high, a.high + b.high)


@given(uvalues(), uvalues())
def test_product_contains_every_corner(a, b):
    p = a * b
    for x in (a.low, a.value, a.high):
        for y in (b.low, b.value, b.high):
            assert p.low * (1 - 1e-9) <= x * y <= p.high * (1 + 1e-9)


@given(uvalues(), uvalues())
def test_quotient_inverts_divisor_bounds(a, b):
    q = a / b
    assert close(q.low, a.low / b.high)
    assert close(q.high, a.high / b.low)
    assert q.low <= q.value <= q.high


@given(pos, uvalues())
def test_reflected_division_is_not_plain_division(k, a):
    r = k / a
    assert close(r.value, k / a.value)
    assert close(r.low, k / a.high) and close(r.high, k / a.low)


@given(uvalues(), pos)
def test_scalar_multiplication_commutes_and_scales(a, k):
    assert (a * k) == (k * a)
    assert close((a * k).high, a.high * k)


@given(uvalues())
def test_dict_round_trip(a):
    assert UValue.from_dict(a.to_dict()) == a
