"""A power log with negative, infinite or missing watts imports with those samples as flagged gaps
(never integrated, never silent)."""

from __future__ import annotations

import math

import pytest

from inferlca.meters.replay import import_trace
from inferlca.traces.diagnostics import diagnose
from inferlca.traces.energy import energy_j

HEADER = "timestamp, power.draw [W]\n"


def _log(tmp_path, values):
    lines = [f"2023/07/30 18:26:{16 + i:02d}.000, {v}" for i, v in enumerate(values)]
    p = tmp_path / "smi.csv"
    p.write_text(HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    return p


def test_negative_and_infinite_watts_become_flagged_gaps(tmp_path):
    trace = import_trace(_log(tmp_path, [100, 100, -5, "inf", 100, 100]))
    (name,) = trace.channels
    w = trace.channels[name]
    assert math.isnan(w[2]) and math.isnan(w[3])
    assert trace.meta["impossible_readings"] == {name: 2}
    reasons = [g.reason for g in trace.gaps if g.channel == name]
    assert any("negative or infinite" in r for r in reasons)
    # one gap for the two consecutive bad samples, from t=2 s to t=3 s
    (gap,) = [g for g in trace.gaps if "negative or infinite" in g.reason]
    assert (gap.start_s, gap.end_s) == pytest.approx((2.0, 3.0))
    assert any("negative, infinite or empty" in w for w in diagnose(trace).warnings)


def test_clean_log_has_no_impossible_readings(tmp_path):
    trace = import_trace(_log(tmp_path, [100, 100, 100]))
    assert "impossible_readings" not in trace.meta
    assert energy_j(trace) == pytest.approx(200.0)  # 100 W over 2 s, trapezoid
