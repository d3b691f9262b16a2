"""Roofline placement, the ridge point, missing device values, and the power models."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from cli_flags import as_cli
from hypothesis import given, settings
from hypothesis import strategies as st

from inferlca.errors import InvalidValueError
from inferlca.estimate.power import utilisation_power_w
from inferlca.estimate.roofline import place, roof_for
from inferlca.uncertainty import UValue


@dataclass
class Dev:
    """Only the fields of a catalog Device the roofline reads."""

    id: str = "toy"
    name: str = "Toy"
    category: str = "edge"
    peak_flops: dict = field(default_factory=lambda: {"fp32": 1e12})
    bandwidth_gbs: float | None = 100.0
    tdp_w: float | None = 10.0


def test_ridge_point_switches_the_bound_exactly() -> None:
    roof = roof_for(Dev(), "fp32")
    assert roof.ridge_intensity == 10.0  # 1e12 FLOP/s / 1e11 B/s
    at = place("q", 10.0 * 2**20, 2**20, roof)           # intensity exactly 10
    below = place("q", 10.0 * 2**20 - 1, 2**20, roof)    # one FLOP less
    assert at.bound == "compute" and at.attainable_flops == 1e12
    assert below.bound == "memory" and below.attainable_flops < 1e12
    # both roofs meet at the ridge: the two times nearly agree there
    assert below.time_lower_bound_s == pytest.approx(at.time_lower_bound_s, rel=1e-6)


def test_time_lower_bound_by_hand() -> None:
    roof = roof_for(Dev(), "fp32")
    # memory bound: 1e9 FLOP over 1e9 B (intensity 1): 1e9 B / 1e11 B/s = 10 ms
    assert place("m", 1e9, 1e9, roof).time_lower_bound_s == pytest.approx(0.01)
    # compute bound: 1e12 FLOP over 1e9 B (intensity 1000): 1e12 / 1e12 = 1 s
    assert place("c", 1e12, 1e9, roof).time_lower_bound_s == pytest.approx(1.0)


@settings(max_examples=60, deadline=None)
@given(flops=st.floats(1e3, 1e15), nbytes=st.floats(1e3, 1e12))
def test_time_is_the_max_of_both_roofs(flops: float, nbytes: float) -> None:
    roof = roof_for(Dev(), "fp32")
    p = place("x", flops, nbytes, roof)
    assert p.time_lower_bound_s == pytest.approx(max(flops / 1e12, nbytes / 1e11), rel=1e-9)
    assert p.attainable_flops <= roof.peak_flops


def test_missing_values_are_named_with_their_options() -> None:
    dev = Dev(peak_flops={"fp32": 1e12}, bandwidth_gbs=None, tdp_w=None)
    with pytest.raises(InvalidValueError) as exc:
        roof_for(dev, "fp16")
    msg = as_cli(exc.value, "estimate")  # the library names parameters; estimate, its flags
    assert "fp16 peak FLOP/s" in msg and "--peak-flops" in msg and "catalog has: fp32" in msg
    assert "--bandwidth-gbs" in msg and "--tdp" in msg
    assert "peak_flops" in str(exc.value) and "--" not in str(exc.value)
    roof = roof_for(dev, "fp16", peak_flops=2e12, bandwidth_gbs=50, tdp_w=5)
    assert roof.ridge_intensity == 40.0 and roof.given == ("peak_flops", "bandwidth_gbs", "tdp_w")
    with pytest.raises(InvalidValueError) as exc:
        roof_for(dev, "fp32", bandwidth_gbs=-1)
    assert "--bandwidth-gbs must be" in as_cli(exc.value, "estimate")


def test_utilisation_power_by_hand() -> None:
    # TDP 400 W, idle 0.25, utilisation 0.5: 400 * (0.25 + 0.75 * 0.5) = 250 W
    p = utilisation_power_w(400, UValue.exact(0.5), UValue.exact(0.25))
    assert p.value == 250.0
    # interval: low uses both low ends, high both high ends
    p = utilisation_power_w(400, UValue(0.5, 0.4, 0.6), UValue(0.25, 0.1, 0.3))
    assert p.low == pytest.approx(400 * (0.1 + 0.9 * 0.4))
    assert p.high == pytest.approx(400 * (0.3 + 0.7 * 0.6))
    with pytest.raises(InvalidValueError):
        utilisation_power_w(400, UValue.exact(1.5))


def test_default_idle_fraction_comes_from_the_sourced_data_file() -> None:
    from inferlca.estimate.power import idle_fraction_default

    IDLE_FRACTION_DEFAULT = idle_fraction_default()

    # 58.69 W / 250 W = 0.235 (nominal), 80.52 W / 250 W = 0.322 (high), 0.10 assumed (low)
    assert IDLE_FRACTION_DEFAULT.value == pytest.approx(58.69 / 250, abs=5e-4)
    assert IDLE_FRACTION_DEFAULT.high == pytest.approx(80.52 / 250, abs=5e-4)
    assert IDLE_FRACTION_DEFAULT.low == 0.10
    assert any("GPU_Power_Benchmark" in s for s in IDLE_FRACTION_DEFAULT.sources)
