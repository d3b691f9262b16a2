"""LoadGen log parsing: percentiles against LoadGen's own summary, a broken trace, validity text."""

from __future__ import annotations

import numpy as np
import pytest

from inferlca.loadgen import logs
from inferlca.loadgen.runner import run_loadgen_test
from inferlca.loadgen.scenarios import plan_scenario
from inferlca.spec import RunSpec
from inferlca.workloads.null import NullWorkload


class SleepyNull(NullWorkload):
    """The null workload with a fixed pause, so latencies are well above LoadGen's overhead."""

    def __init__(self, spec: RunSpec, pause_s: float = 0.002) -> None:
        super().__init__(spec)
        self.pause_s = pause_s

    def run(self, indices):
        import time

        time.sleep(self.pause_s)
        return list(indices)


def test_percentiles_follow_loadgen_rule():
    # 10 values 1..10: index floor(10 * 0.5) = 5 -> 6; floor(10 * 0.9) = 9 -> 10;
    # floor(10 * 0.99) = 9 -> 10 (LoadGen's rule, not numpy's interpolation)
    v = np.arange(1.0, 11.0)
    assert logs.loadgen_percentile(v, 0.5) == 6.0
    assert logs.loadgen_percentile(v, 0.9) == 10.0
    s = logs.latency_stats(v)
    assert s["latency_min_s"] == 1.0 and s["latency_max_s"] == 10.0
    assert s["latency_mean_s"] == pytest.approx(5.5)


def test_trace_latencies_match_loadgen_summary(tmp_path):
    spec = RunSpec(workload="null", queries=20)
    run = run_loadgen_test(SleepyNull(spec), plan_scenario(spec), tmp_path / "lg")
    assert run.latencies_s.size == 20
    d = run.detail
    # our parse of the trace gives the very numbers LoadGen printed in its detail log
    assert run.latencies_s.min() * 1e9 == pytest.approx(d["result_min_latency_ns"], abs=1)
    assert run.latencies_s.max() * 1e9 == pytest.approx(d["result_max_latency_ns"], abs=1)
    for p in ("50.00", "90.00", "99.00"):
        ours = logs.loadgen_percentile(run.latencies_s, float(p) / 100) * 1e9
        assert ours == pytest.approx(d[f"result_{p}_percentile_latency_ns"], abs=1)
    assert np.all(run.latencies_s >= 0.002)


def test_trace_read_line_by_line_when_not_json(tmp_path):
    spec = RunSpec(workload="null", queries=8)
    run = run_loadgen_test(SleepyNull(spec), plan_scenario(spec), tmp_path / "lg")
    text = (tmp_path / "lg" / logs.TRACE).read_text()
    # cut the file in the middle of an event after the 5th Sample begin: no closing bracket
    lines = text.splitlines()
    begins = [i for i, line in enumerate(lines) if '"Sample"' in line and '"ph":"b"' in line]
    cut = lines[: begins[5] + 1] + [lines[begins[5] + 1][:20]]
    broken = tmp_path / "broken.json"
    broken.write_text("\n".join(cut))
    tl = logs.read_trace_latencies(broken)
    whole_lines = tmp_path / "whole_lines.json"
    whole_lines.write_text("\n".join(cut[:-1]))
    assert tl.sample_latency_s.size == 6
    # LoadGen's own LogDetail events carry doubled quotes (not JSON) and are skipped in both;
    # the cut line is the one more
    assert tl.skipped == logs.read_trace_latencies(whole_lines).skipped + 1
    np.testing.assert_allclose(tl.sample_latency_s, run.trace.sample_latency_s[:6])


def test_validity_says_why_in_plain_words():
    v = logs.validity({"result_validity": "INVALID", "result_min_duration_met": True,
                       "result_min_queries_met": True, "early_stopping_met": False,
                       "early_stopping_result": " * Only processed 16 queries. * Need 64."})
    assert not v.valid
    assert v.text == ("LoadGen: INVALID as an MLPerf result: early stopping not met "
                      "(Only processed 16 queries. Need 64.)")
    assert logs.validity({"result_validity": "VALID"}).valid
    assert "no verdict" in logs.validity({}).text
