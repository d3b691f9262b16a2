"""Real LoadGen in every scenario, through our SUT, with the null workload and a 2-layer BERT."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from inferlca.loadgen.runner import run_loadgen_test
from inferlca.loadgen.scenarios import plan_scenario
from inferlca.loadgen.thinktime import draw_think_times_s, run_interactive
from inferlca.spec import RunSpec
from inferlca.workloads.null import NullWorkload


class RecordingNull(NullWorkload):
    """Null workload that records batch sizes and the thread each batch ran on."""

    def __init__(self, spec, pause_s=0.0):
        super().__init__(spec)
        self.pause_s = pause_s
        self.batches: list[int] = []
        self.threads: set[str] = set()

    def run(self, indices):
        self.batches.append(len(indices))
        self.threads.add(threading.current_thread().name)
        if self.pause_s:
            time.sleep(self.pause_s)
        return list(indices)


def test_plan_exact_counts_and_compliant_minimums():
    ss = plan_scenario(RunSpec(queries=16))
    assert ss.settings["min_query_count"] == ss.settings["max_query_count"] == 16
    assert ss.settings["min_duration_ms"] == 0
    ms = plan_scenario(RunSpec(scenario="multi-stream", queries=4, samples_per_query=3))
    assert (ms.queries, ms.samples, ms.samples_per_query) == (4, 12, 3)
    off = plan_scenario(RunSpec(scenario="offline", queries=5, offline_samples=40))
    assert (off.queries, off.samples, off.samples_per_query) == (1, 40, 40)
    compliant = plan_scenario(RunSpec(queries=16, mlperf_compliant=True))
    assert "min_query_count" not in compliant.settings
    assert "min_duration_ms" not in compliant.settings


def test_single_stream_exact_queries(tmp_path):
    spec = RunSpec(workload="null", queries=16)
    w = RecordingNull(spec)
    run = run_loadgen_test(w, plan_scenario(spec), tmp_path)
    assert run.samples_done == 16 and run.latencies_s.size == 16
    assert w.batches == [1] * 16
    assert run.validity.valid is False  # 16 queries cannot satisfy early stopping
    assert run.detail["result_query_count"] == 16


def test_multi_stream_samples_per_query(tmp_path):
    spec = RunSpec(workload="null", scenario="multi-stream", queries=5, samples_per_query=3)
    w = RecordingNull(spec)
    run = run_loadgen_test(w, plan_scenario(spec), tmp_path, batch_size=3)
    assert w.batches == [3] * 5
    assert run.samples_done == 15
    assert run.latencies_s.size == 5  # one latency per query (its slowest sample)
    assert run.trace.sample_latency_s.size == 15


def test_server_completes_from_worker_thread(tmp_path):
    spec = RunSpec(workload="null", scenario="server", queries=12, target_qps=200.0)
    w = RecordingNull(spec, pause_s=0.004)
    run = run_loadgen_test(w, plan_scenario(spec), tmp_path)
    assert run.samples_done == 12 and run.latencies_s.size == 12
    assert w.threads == {"inferlca-sut-0"}  # never on LoadGen's issue thread
    assert np.all(run.latencies_s >= 0.004)
    assert run.detail["effective_target_qps"] == pytest.approx(200.0)


def test_offline_one_query_in_batches(tmp_path):
    spec = RunSpec(workload="null", scenario="offline", queries=3, offline_samples=20)
    w = RecordingNull(spec)
    run = run_loadgen_test(w, plan_scenario(spec), tmp_path, batch_size=8)
    assert sorted(w.batches) == [4, 8, 8]
    assert run.samples_done == 20
    assert run.latencies_s.size == 20  # offline: per-sample latencies
    assert run.trace.query_latency_s.size == 1


def test_stop_event_answers_remaining_samples_without_running(tmp_path):
    spec = RunSpec(workload="null", queries=50)
    stop = threading.Event()
    w = RecordingNull(spec)
    done = []

    def on_done(n):
        done.append(n)
        if len(done) == 5:
            stop.set()

    run = run_loadgen_test(w, plan_scenario(spec), tmp_path, stop=stop, on_done=on_done)
    assert run.samples_done == 5 and run.samples_skipped == 45
    assert len(w.batches) == 5
    assert run.latencies_s.size == 5  # only the samples that really ran


def test_think_times_exponential_truncated():
    rng = np.random.default_rng(1)
    t = draw_think_times_s(rng, 5.0, 200_000)
    # exponential truncated at 10 x mean: E = mean * (1 - e^-10) = 5 * 0.9999546 = 4.99977
    assert t.mean() == pytest.approx(4.99977, rel=0.01)
    assert t.max() <= 50.0
    assert np.all(draw_think_times_s(rng, 0.0, 5) == 0)


def test_interactive_counts_idle_time():
    spec = RunSpec(workload="null")
    w = RecordingNull(spec, pause_s=0.01)
    t0 = time.monotonic()
    res = run_interactive(w, users=3, think_time_s=0.05, duration_s=0.6, seed=3)
    assert time.monotonic() - t0 >= 0.6  # idles until the end
    assert res.window_s >= 0.6
    assert res.queries == len(w.batches) > 3
    assert np.all(res.latency_s >= 0.01)
    assert set(res.user.tolist()) <= {0, 1, 2}
    assert 0 < res.busy_s < res.window_s
    assert np.all(res.latency_s >= res.wait_s)


def test_interactive_zero_think_time_saturates():
    spec = RunSpec(workload="null")
    w = RecordingNull(spec, pause_s=0.005)
    res = run_interactive(w, users=2, think_time_s=0.0, duration_s=0.3, seed=0)
    # with no think time the device is always busy: queued queries wait
    assert res.busy_s / res.window_s > 0.8
    assert res.wait_s.max() > 0


class FailingNull(NullWorkload):
    def run(self, indices):
        raise RuntimeError("model exploded")


@pytest.mark.parametrize("scenario", ["single-stream", "server"])
def test_workload_error_is_kept_and_loadgen_still_ends(tmp_path, scenario):
    spec = RunSpec(workload="null", scenario=scenario, queries=3, target_qps=100.0)
    run = run_loadgen_test(FailingNull(spec), plan_scenario(spec), tmp_path)
    assert run.samples_done == 0
    assert len(run.errors) == 3 and "model exploded" in str(run.errors[0])
