"""Energy attributed to request classes (mixed traffic): a golden case computed by hand, and the
properties of the rule (every class >= 0, the classes add up to the measured energy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferlca.traces.attribution import (
    Work,
    class_energies,
    split_energy,
    step_edges,
    step_energies_j,
    tokens_per_step,
)
from inferlca.traces.trace import Mark, PowerTrace


def _trace(t, p, counter=None) -> PowerTrace:
    tr = PowerTrace(np.asarray(t, float), {"dev": np.asarray(p, float)}, "dev", "test",
                    marks=[Mark(0.0, "compute"), Mark(float(t[-1]), "end")])
    if counter is not None:
        tr.counters["dev"] = np.asarray(counter, float)
    return tr


def test_golden_two_classes_by_hand():
    # samples 10, 10, 20, 20, 20 W at 0..4 s: steps of 10, 15, 20 and 20 J (65 J)
    trace = _trace([0, 1, 2, 3, 4], [10, 10, 20, 20, 20])
    work = [Work(0, 0.0, 2.0, 4.0),   # A: 4 tokens over 0-2 s: 2 in step 0, 2 in step 1
            Work(1, 1.5, 1.5, 2.0),   # B: 2 tokens at 1.5 s (an instant): step 1
            Work(1, 2.5, 3.0, 3.0)]   # B: 3 tokens in step 2
    out = class_energies(trace, 0.0, 4.0, work, 2, compute_j=65.0, load_j=9.0)
    # step 0: A 10 J; step 1: 2:2 tokens, 7.5 J each; step 2: B 20 J;
    # step 3 (no token): by the run's token shares A 4/9, B 5/9 of 20 J; load 9 J likewise
    a = 10 + 7.5 + 20 * 4 / 9
    b = 7.5 + 20 + 20 * 5 / 9
    assert out["compute_j"] == pytest.approx([a, b], rel=1e-12)
    assert out["load_j"] == pytest.approx([4.0, 5.0], rel=1e-12)
    assert out["total_j"] == pytest.approx([a + 4.0, b + 5.0], rel=1e-12)
    assert out["total_j"].sum() == pytest.approx(74.0, rel=1e-12)
    assert list(out["tokens"]) == [4.0, 5.0]
    assert int(out["steps"]) == 4 and int(out["busy_steps"]) == 3


def test_steps_are_scaled_to_the_measured_energy_and_gaps_count_zero():
    trace = _trace([0, 1, 2, 3], [10, np.nan, 10, 10])
    edges = step_edges(trace, 0.5, 3.0)
    assert list(edges) == [0.5, 1.0, 2.0, 3.0]
    e = step_energies_j(trace, edges, total_j=50.0)
    assert e.sum() == pytest.approx(50.0, rel=1e-12)
    assert np.all(e >= 0)


def test_counter_channel_gives_step_energies():
    trace = _trace([0, 1, 2], [0, 0, 0], counter=[100.0, 103.0, 110.0])
    e = step_energies_j(trace, step_edges(trace, 0.0, 2.0))
    assert list(e) == [3.0, 7.0]


def test_no_token_at_all_splits_equally():
    out = split_energy(np.array([3.0, 6.0]), np.zeros((3, 2)))
    assert out == pytest.approx([3.0, 3.0, 3.0])


def test_work_outside_the_window_goes_to_the_nearest_step():
    edges = np.array([0.0, 1.0, 2.0])
    tok = tokens_per_step(edges, [Work(0, -5.0, -4.0, 3.0), Work(0, 1.5, 9.0, 2.0)], 1)
    assert list(tok[0]) == pytest.approx([3.0, 2.0])


def test_a_span_splits_by_overlap():
    edges = np.array([0.0, 1.0, 2.0, 4.0])
    tok = tokens_per_step(edges, [Work(0, 0.5, 3.0, 5.0)], 1)
    # 0.5 s, 1 s and 1 s of a 2.5 s span
    assert list(tok[0]) == pytest.approx([1.0, 2.0, 2.0])


_times = st.floats(0.0, 10.0, allow_nan=False)


@st.composite
def _cases(draw):
    n = draw(st.integers(2, 30))
    gaps = draw(st.lists(st.floats(1e-3, 1.0), min_size=n - 1, max_size=n - 1))
    t = np.concatenate(([0.0], np.cumsum(gaps)))
    p = np.asarray(draw(st.lists(st.floats(0.0, 500.0), min_size=n, max_size=n)))
    classes = draw(st.integers(1, 4))
    work = [Work(draw(st.integers(0, classes - 1)), a, a + draw(st.floats(0.0, 3.0)),
                 float(draw(st.integers(0, 50))))
            for a in draw(st.lists(st.floats(-1.0, float(t[-1]) + 1.0), max_size=12))]
    lo = draw(st.floats(0.0, float(t[-1])))
    hi = draw(st.floats(lo, float(t[-1])))
    load = draw(st.floats(0.0, 100.0))
    return t, p, classes, work, lo, hi, load


@settings(max_examples=200, deadline=None)
@given(_cases())
def test_classes_are_non_negative_and_add_up_to_the_measured_energy(case):
    t, p, classes, work, lo, hi, load = case
    trace = _trace(t, p)
    from inferlca.traces.energy import energy_j

    measured = energy_j(trace, lo, hi) if hi > lo else 0.0
    out = class_energies(trace, lo, hi, work, classes, compute_j=measured, load_j=load)
    assert np.all(out["compute_j"] >= 0) and np.all(out["load_j"] >= 0)
    assert math.isclose(float(out["compute_j"].sum()), measured, rel_tol=1e-9, abs_tol=1e-9)
    assert math.isclose(float(out["total_j"].sum()), measured + load, rel_tol=1e-9,
                        abs_tol=1e-9)
    # every token is counted once, in some step
    assert float(out["tokens"].sum()) == pytest.approx(sum(w.tokens for w in work))
