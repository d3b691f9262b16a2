"""Every stored form of a power trace reads back bit for bit: CSV, Parquet, the results store's
BLOBs and the JSON of an unsaved repetition all go through ``traces.io.trace_parts`` and
``trace_from_parts``."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferlca.errors import InvalidValueError
from inferlca.store.sqlite import Store
from inferlca.traces.io import (
    read_csv,
    read_parquet,
    trace_from_json,
    trace_from_parts,
    trace_parts,
    trace_to_json,
    write_csv,
    write_parquet,
)
from inferlca.traces.trace import Gap, Mark, PowerTrace

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=8)
VALUES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.just(float("nan")),  # a failed read
    st.just(-0.0),
    st.integers(0, 400_000).map(lambda mw: mw / 1000.0),  # whole milliwatts, as sensors report
)


@st.composite
def traces(draw: st.DrawFn) -> PowerTrace:
    n = draw(st.integers(0, 30))
    steps = draw(st.lists(st.floats(0.0, 2.0), min_size=n, max_size=n))
    t_s = np.cumsum(np.array(steps, dtype=np.float64)) + draw(st.floats(-10.0, 10.0))
    names = draw(st.lists(NAMES, min_size=1, max_size=3, unique=True))
    channels = {k: np.array(draw(st.lists(VALUES, min_size=n, max_size=n))) for k in names}
    counters = {k: np.array(draw(st.lists(VALUES, min_size=n, max_size=n)))
                for k in draw(st.lists(st.sampled_from(names), max_size=2, unique=True))}
    marks = [Mark(t, name) for t, name in draw(st.lists(
        st.tuples(st.floats(-10.0, 80.0), st.sampled_from(["load", "compute", "idle", "end"])),
        max_size=4))]
    gaps = [Gap(a, a + d, reason, ch) for a, d, reason, ch in draw(st.lists(st.tuples(
        st.floats(0.0, 50.0), st.floats(0.0, 5.0), st.text(max_size=12),
        st.one_of(st.none(), st.sampled_from(names))), max_size=3))]
    meta = draw(st.dictionaries(NAMES, st.one_of(st.integers(), st.text(max_size=8), st.booleans()),
                                max_size=3))
    return PowerTrace(t_s=t_s, channels=channels, primary=names[0],
                      meter=draw(st.sampled_from(["nvml", "tegrastats", "rapl", "modelled"])),
                      estimated=draw(st.booleans()), counters=counters, marks=marks, gaps=gaps,
                      period_requested_s=draw(st.one_of(st.none(), st.floats(0.001, 1.0))),
                      meta=meta)


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return (a.dtype == b.dtype == np.float64 and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=True)
            and np.array_equal(np.signbit(a), np.signbit(b)))


def assert_same(a: PowerTrace, b: PowerTrace) -> None:
    assert _same_array(a.t_s, b.t_s)
    assert list(a.channels) == list(b.channels) and list(a.counters) == list(b.counters)
    for k in a.channels:
        assert _same_array(a.channels[k], b.channels[k]), k
    for k in a.counters:
        assert _same_array(a.counters[k], b.counters[k]), k
    assert (a.primary, a.meter, a.estimated, a.period_requested_s) == \
        (b.primary, b.meter, b.estimated, b.period_requested_s)
    assert a.marks == b.marks and a.gaps == b.gaps and a.meta == b.meta
    assert all(isinstance(m, Mark) for m in b.marks) and all(isinstance(g, Gap) for g in b.gaps)


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(traces())
def test_parts_round_trip(trace):
    p = trace_parts(trace)
    assert_same(trace, trace_from_parts(p.header, p.t_s, p.channels, p.counters))
    assert json.loads(json.dumps(p.header)) == p.header  # the header is plain JSON


@SETTINGS
@given(traces())
def test_unsaved_json_round_trip(trace):
    assert_same(trace, trace_from_json(json.loads(json.dumps(trace_to_json(trace)))))


@SETTINGS
@given(traces())
def test_store_round_trip(trace):
    with Store.memory() as store:
        rid = store.create_run({"workload": "null"})
        store.add_repetition(rid, 0, metrics={}, trace=trace)
        assert_same(trace, store.load_trace(rid, 0))


@SETTINGS
@given(traces())
def test_csv_and_parquet_round_trip(tmp_path, trace):
    assert_same(trace, read_csv(write_csv(trace, tmp_path / "t.csv")))
    assert_same(trace, read_parquet(write_parquet(trace, tmp_path / "t.parquet")))


def test_columns_of_another_length_are_refused():
    trace = PowerTrace(t_s=np.arange(3.0), channels={"gpu0": np.ones(2)}, primary="gpu0",
                       meter="nvml")
    with pytest.raises(InvalidValueError, match="trace channel 'gpu0' has 2 values for 3 timestamps"):
        trace_parts(trace)
