"""Energy from traces: golden values computed by hand, properties of the trapezoid, one-sample
and edge-of-window cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.traces.energy import (
    baseline_split,
    energy,
    energy_j,
    mean_profile,
    phase_energies_j,
    phases,
    resample,
    trapezoid_window_j,
    window_of,
)
from inferlca.traces.trace import Mark, PowerTrace


def make(t, p, marks=(), counters=None, primary="gpu0"):
    return PowerTrace(
        t_s=np.asarray(t, float),
        channels={primary: np.asarray(p, float)},
        primary=primary,
        meter="test",
        marks=[Mark(*m) for m in marks],
        counters={k: np.asarray(v, float) for k, v in (counters or {}).items()},
    )


def test_golden_irregular_trapezoid():
    # samples (0,10) (1,20) (3,20) (3.5,40): 0.5*(10+20)*1 + 20*2 + 0.5*(20+40)*0.5 = 15+40+15 = 70 J
    tr = make([0, 1, 3, 3.5], [10, 20, 20, 40])
    assert energy_j(tr) == pytest.approx(70.0)


def test_window_interpolates_edges():
    # ramp 0 W at t=0 to 100 W at t=10: P(t) = 10 t. Window [2, 5]: integral of 10t = 5*(25-4) = 105 J;
    # P(2)=20 and P(5)=50 are interpolated, the trapezoid is exact on a line.
    tr = make([0, 10], [0, 100])
    assert energy_j(tr, 2.0, 5.0) == pytest.approx(105.0)


def test_window_beyond_trace_reports_coverage():
    tr = make([0, 1, 2], [5, 5, 5])
    e = energy(tr, -1.0, 2.0)  # 1 s of the 3 s window has no samples
    assert e.energy_j == pytest.approx(10.0)
    assert e.coverage == pytest.approx(2 / 3)
    assert e.warnings


def test_nan_gap_bridged_and_coverage_reported_not_zero():
    # (0,10) (1,NaN) (2,30): bridged line 10->30 over 2 s = 40 J (a zero would give 10 J)
    tr = make([0, 1, 2], [10, math.nan, 30])
    e = energy(tr)
    assert e.energy_j == pytest.approx(40.0)
    assert e.coverage == pytest.approx(0.0)
    tr2 = make([0, 1, 2, 3], [10, 10, math.nan, 10])
    assert energy(tr2).coverage == pytest.approx(1 / 3)


def test_counter_preferred_and_difference_reported():
    # power says 100 W for 2 s = 200 J; counter went 1000 -> 1210 J = 210 J
    tr = make([0, 1, 2], [100, 100, 100], counters={"gpu0": [1000, 1105, 1210]})
    e = energy(tr)
    assert e.source == "counter"
    assert e.energy_j == pytest.approx(210.0)
    assert e.trapezoid_j == pytest.approx(200.0)
    assert e.counter_vs_trapezoid == pytest.approx((200 - 210) / 210)
    # window [0.5, 1.5]: counter interpolated 1052.5 -> 1157.5 = 105 J
    assert energy_j(tr, 0.5, 1.5) == pytest.approx(105.0)


def test_counter_spans_a_gap_exactly():
    tr = make(
        [0, 1, 2, 3], [50, math.nan, math.nan, 50], counters={"gpu0": [0, math.nan, math.nan, 180]}
    )
    e = energy(tr)
    assert e.energy_j == pytest.approx(180.0)
    assert e.coverage == pytest.approx(1.0)


def test_phases_and_window_of():
    # 10 W from 0..2 then 30 W from 2..4 (step at the mark, samples every 1 s)
    tr = make(
        [0, 1, 2, 2.0, 3, 4],
        [10, 10, 10, 30, 30, 30],
        marks=[(0, "load"), (2, "compute"), (4, "end")],
    )
    assert phases(tr) == [("load", 0.0, 2.0), ("compute", 2.0, 4.0)]
    assert window_of(tr, "compute") == (2.0, 4.0)
    pe = phase_energies_j(tr)
    assert pe["load"] == pytest.approx(20.0)
    assert pe["compute"] == pytest.approx(60.0)
    with pytest.raises(UnknownNameError):
        window_of(tr, "warmup")


def test_baseline_split():
    # idle 5 W for 2 s, then compute at 25 W for 4 s: static = 5*4 = 20 J, dynamic = 100-20 = 80 J
    tr = make([0, 2, 2, 6], [5, 5, 25, 25], marks=[(0, "idle"), (2, "compute")])
    s = baseline_split(tr, *window_of(tr, "compute"))
    assert s.idle_power_w == pytest.approx(5.0)
    assert s.total_j == pytest.approx(100.0)
    assert s.static_j == pytest.approx(20.0)
    assert s.dynamic_j == pytest.approx(80.0)


def test_resample_keeps_energy_of_a_line_and_marks_gaps():
    tr = make(np.linspace(0, 10, 7), np.linspace(0, 100, 7))
    r = resample(tr, 101)
    assert r.t_s.size == 101 and r.channels["gpu0"][50] == pytest.approx(50.0)
    assert energy_j(r) == pytest.approx(500.0)
    g = make([0, 1, 2, 3], [1, 1, math.nan, 1])
    rg = resample(g, 7)  # grid 0,0.5,...,3: points in (1,3) fall in the gap
    assert np.isnan(rg.channels["gpu0"][3]) and np.isnan(rg.channels["gpu0"][5])
    assert rg.channels["gpu0"][1] == 1.0
    with pytest.raises(InvalidValueError):
        resample(tr, 1)


def test_mean_profile_of_two_repetitions():
    a = make([0, 1, 2], [10, 10, 10])
    b = make([0, 3, 6], [20, 20, 20])  # longer run: normalised time makes them comparable
    x, mean, std = mean_profile([a, b], n=5)
    assert x.tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    assert mean == pytest.approx([15.0] * 5)
    assert std == pytest.approx([5.0] * 5)


def test_bad_windows():
    tr = make([0, 1], [1, 1])
    with pytest.raises(InvalidValueError):
        energy(tr, 1.0, 0.5)
    with pytest.raises(UnknownNameError):
        energy(tr, channel="nope")


powers = st.floats(min_value=0.0, max_value=1000.0, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(p=powers, duration=st.floats(0.01, 1e4), n=st.integers(2, 200), seed=st.integers(0, 2**16))
def test_constant_power_integrates_to_p_times_t(p, duration, n, seed):
    rng = np.random.default_rng(seed)
    inner = np.sort(rng.uniform(0, duration, n - 2))
    t = np.concatenate(([0.0], inner, [duration]))
    tr = make(t, np.full(t.size, p))
    assert energy_j(tr) == pytest.approx(p * duration, rel=1e-9, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(powers, min_size=2, max_size=60),
    cuts=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=5),
)
def test_phases_sum_to_the_whole(values, cuts):
    t = np.linspace(0.0, 7.3, len(values))
    marks = [(0.0, "load")] + [(c * 7.3, f"p{i}") for i, c in enumerate(sorted(cuts))]
    tr = make(t, values, marks=marks)
    total = energy_j(tr)
    assert sum(phase_energies_j(tr).values()) == pytest.approx(total, rel=1e-9, abs=1e-6)


def test_step_window_energies_take_plain_windows_of_any_phase():
    from typing import NamedTuple

    from inferlca.traces.energy import merge_windows, phase_energies_from_steps

    class Window(NamedTuple):  # any object with start_s, end_s and phase: no engine type needed
        start_s: float
        end_s: float
        phase: str

    # 10 W on [0, 2] s, 30 W on [2, 4] s
    tr = make([0, 2, 2, 4], [10, 10, 30, 30])
    steps = [Window(3.0, 3.5, "b"), Window(0.5, 1.0, "a"), Window(1.0, 1.5, "a"),
             Window(1.9, 2.1, "b"), Window(3.9, 5.0, "a")]
    assert merge_windows(steps, "a") == [(0.5, 1.5), (3.9, 5.0)]
    e = phase_energies_from_steps(tr, steps)
    # a: 1 s x 10 W + [3.9, 4] clipped to the trace: 0.1 s x 30 W = 13 J
    # b: 0.5 s x 30 W + 0.1 s x 10 W + 0.1 s x 30 W = 19 J
    assert list(e) == ["energy_a_j", "energy_b_j"]  # phases in order of first step
    assert e["energy_a_j"] == pytest.approx(13.0) and e["energy_b_j"] == pytest.approx(19.0)
    assert phase_energies_from_steps(tr, steps, phases=("b", "c")) == {
        "energy_b_j": pytest.approx(19.0)}
    assert phase_energies_from_steps(make([0.0], [5.0]), steps) == {}  # one sample: no energy


def test_one_sample_trapezoid_is_nan_even_on_an_empty_window():
    assert math.isnan(trapezoid_window_j(np.array([0.0]), np.array([100.0]), 0.0, 0.0))
    tr = PowerTrace(t_s=np.array([0.0]), channels={"g": np.array([100.0])}, primary="g", meter="x")
    assert math.isnan(energy(tr).energy_j)
    # with two samples an empty window is an exact 0
    assert trapezoid_window_j(np.array([0.0, 1.0]), np.array([1.0, 1.0]), 0.5, 0.5) == 0.0


def test_window_edges_without_samples_are_called_a_lower_bound():
    t = np.arange(0, 0.5001, 0.01)
    tr = PowerTrace(t_s=t, channels={"g": np.full(t.size, 50.0)}, primary="g", meter="x")
    e = energy(tr, 0.0, 1.0)  # the meter stopped answering at 0.5 s
    assert e.energy_j == pytest.approx(25.0) and e.coverage == pytest.approx(0.5)
    assert any("no good sample in 0.5 s" in w and "lower bound" in w for w in e.warnings)
    # a gap inside the window is bridged, not a lower bound
    p = np.full(t.size, 50.0)
    p[10:20] = np.nan
    e2 = energy(PowerTrace(t_s=t, channels={"g": p}, primary="g", meter="x"))
    assert e2.energy_j == pytest.approx(25.0)
    assert not any("lower bound" in w for w in e2.warnings)
