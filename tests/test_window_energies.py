"""traces.energy.window_energies_j (many windows at once) agrees with energy() window by window."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferlca.errors import InvalidValueError
from inferlca.traces.energy import energy, window_energies_j
from inferlca.traces.trace import PowerTrace


@st.composite
def traces_and_windows(draw):
    n = draw(st.integers(2, 40))
    steps = draw(st.lists(st.floats(0.001, 0.1), min_size=n - 1, max_size=n - 1))
    t = np.concatenate(([0.0], np.cumsum(steps)))
    p = np.array(draw(st.lists(st.floats(0.0, 500.0), min_size=n, max_size=n)))
    holes = draw(st.lists(st.integers(0, n - 1), max_size=n // 3))
    p[holes] = np.nan
    with_counter = draw(st.booleans())
    counters = {}
    if with_counter:
        c = np.concatenate(([0.0], np.cumsum(np.abs(np.array(draw(st.lists(
            st.floats(0.0, 50.0), min_size=n - 1, max_size=n - 1)))))))
        c[holes] = np.nan
        counters = {"dev": c}
    trace = PowerTrace(t_s=t, channels={"dev": p}, primary="dev", meter="test",
                       counters=counters)
    span = float(t[-1])
    wins = draw(st.lists(st.tuples(st.floats(-0.05, span + 0.05), st.floats(0.0, span)),
                         min_size=1, max_size=8))
    starts = [w[0] for w in wins]
    ends = [w[0] + w[1] for w in wins]
    return trace, starts, ends


@settings(max_examples=150, deadline=None)
@given(traces_and_windows())
def test_matches_energy_window_by_window(case):
    trace, starts, ends = case
    many = window_energies_j(trace, starts, ends)
    for a, b, got in zip(starts, ends, many):
        one = energy(trace, a, b).energy_j
        if math.isnan(one):
            assert math.isnan(got)
        else:
            assert got == pytest.approx(one, rel=1e-9, abs=1e-9)


def test_golden_ramp_and_bad_windows():
    # power 0 -> 10 W over 1 s: energy over [0.5, 1] is the area of the trapezoid 5..10 W x 0.5 s
    trace = PowerTrace(t_s=np.array([0.0, 1.0]), channels={"dev": np.array([0.0, 10.0])},
                       primary="dev", meter="test")
    assert window_energies_j(trace, [0.5, 0.0], [1.0, 2.0]).tolist() == [3.75, 5.0]
    with pytest.raises(InvalidValueError):
        window_energies_j(trace, [1.0], [0.5])
