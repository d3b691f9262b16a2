"""CSV and Parquet round trips of PowerTrace, and malformed files with their line numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferlca.errors import InputFileError
from inferlca.traces.io import read_csv, read_parquet, write_csv, write_trace
from inferlca.traces.trace import Gap, Mark, PowerTrace


def sample_trace():
    return PowerTrace(
        t_s=np.array([0.0, 0.01, 0.0200001, 0.03]),
        channels={
            "gpu0": np.array([81.25, math.nan, 120.5, 1e-7]),
            "gpus": np.array([1.0, 2.0, 3.0, 4.0]),
        },
        counters={"gpu0": np.array([0.0, 0.9, math.nan, 3.1])},
        primary="gpus",
        meter="nvml",
        estimated=False,
        marks=[Mark(0.0, "load"), Mark(0.015, "compute")],
        gaps=[Gap(0.01, 0.01, "NVML power read failed: GPU is lost", "gpu0")],
        period_requested_s=0.01,
        meta={"driver": "550", "devices": [{"name": "A100"}], "n": np.int64(3)},
    )


def assert_same(a: PowerTrace, b: PowerTrace):
    np.testing.assert_array_equal(a.t_s, b.t_s)
    assert a.channels.keys() == b.channels.keys() and a.counters.keys() == b.counters.keys()
    for k in a.channels:
        np.testing.assert_array_equal(a.channels[k], b.channels[k])  # NaN == NaN here
    for k in a.counters:
        np.testing.assert_array_equal(a.counters[k], b.counters[k])
    assert (a.primary, a.meter, a.estimated, a.period_requested_s) == (
        b.primary,
        b.meter,
        b.estimated,
        b.period_requested_s,
    )
    assert a.marks == b.marks and a.gaps == b.gaps


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_round_trip(tmp_path, ext):
    tr = sample_trace()
    p = write_trace(tr, tmp_path / f"t.{ext}")
    back = read_csv(p) if ext == "csv" else read_parquet(p)
    assert_same(tr, back)
    assert back.meta["driver"] == "550" and back.meta["n"] == 3


def test_csv_gap_is_an_empty_cell_not_zero(tmp_path):
    text = write_csv(sample_trace(), tmp_path / "t.csv").read_text().splitlines()
    assert text[0] == "# inferlca-trace 1"
    assert text[2] == "t_s,power_w:gpu0,power_w:gpus,energy_j:gpu0"
    assert text[4] == "0.01,,2.0,0.9"


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(values=st.lists(st.one_of(finite, st.just(math.nan)), min_size=1, max_size=40))
def test_csv_round_trip_is_bit_exact(tmp_path, values):
    t = np.cumsum(np.abs(np.array([v if not math.isnan(v) else 0.5 for v in values]))) / 7.0
    tr = PowerTrace(t_s=t, channels={"c": np.array(values, dtype=float)}, primary="c", meter="m")
    assert_same(tr, read_csv(write_csv(tr, tmp_path / "h.csv")))


@pytest.mark.parametrize(
    "body, line, msg",
    [
        ("0.0,1.0\n0.01\n", 5, "truncated row"),
        ("0.0,1.0\n0.01,abc\n", 5, "not a number"),
        ("0.5,1.0\n0.1,1.0\n", 5, "time goes backwards"),
        ("0.0,1.0,3\n", 4, "too many values"),
    ],
)
def test_malformed_csv_names_the_line(tmp_path, body, line, msg):
    p = tmp_path / "bad.csv"
    p.write_text('# inferlca-trace 1\n# {"primary": "c", "meter": "m"}\nt_s,power_w:c\n' + body)
    with pytest.raises(InputFileError, match=f"line {line}: {msg}"):
        read_csv(p)


def test_not_our_files(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(InputFileError, match="line 1: not an inferlca trace CSV"):
        read_csv(p)
    p.write_text('# inferlca-trace 1\n# {"primary": \n')
    with pytest.raises(InputFileError, match="line 2"):
        read_csv(p)
    q = tmp_path / "x.parquet"
    q.write_bytes(b"not parquet")
    with pytest.raises(InputFileError, match="Parquet"):
        read_parquet(q)


def test_trace_functions_of_energy_and_io(tmp_path):
    from inferlca.traces import energy as en

    tr = sample_trace()
    assert en.duration_s(tr) == pytest.approx(0.03)
    assert en.energy_j(tr, channel="gpus") == pytest.approx(
        0.5 * (1 + 2) * 0.01 + 0.5 * (2 + 3) * 0.0100001 + 0.5 * (3 + 4) * (0.03 - 0.0200001)
    )
    assert en.window_of(tr, "compute") == (0.015, 0.03)
    back = read_parquet(write_trace(tr, tmp_path / "m.parquet"))
    assert_same(tr, back)
