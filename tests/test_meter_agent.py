"""The meter agent (`inferlca meters serve`) and the remote meter (`--meter-url`), over real
loopback HTTP: a recorded log replayed on the agent, whose clock is off by a known amount."""

from __future__ import annotations

import http.server
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from subproc import subprocess_env

from inferlca.errors import InvalidValueError, MeterUnavailableError
from inferlca.meters.agent import MeterAgent
from inferlca.meters.clock import ClockEstimate, drift_ppm, estimate_offset, to_runner_time
from inferlca.meters.remote import RETRY_S, RemoteMeter
from inferlca.meters.replay import ReplayMeter
from inferlca.meters.sampler_process import open_sampler
from inferlca.traces.energy import energy

LOGS = Path(__file__).parent / "fixtures" / "power-logs"
ORIN = LOGS / "tegrastats_orin_agx64_r36_1.log"  # 25.5 s, module 8.3 - 14.0 W


def _agent(offset_s: float = 0.0, path: Path = ORIN, speed: float = 10.0, **kw) -> MeterAgent:
    meter = ReplayMeter(path, speed=speed)
    return MeterAgent(meter, port=0, interval_s=0.01,
                      clock=lambda: time.monotonic() + offset_s, **kw).start()


@pytest.fixture
def agent() -> Iterator[MeterAgent]:
    a = _agent()
    yield a
    a.close()


# ---- the clock offset: hand-computed values and a property -----------------------------------
def test_the_shortest_round_trip_gives_the_offset_and_half_of_it_the_uncertainty():
    trips = [(0.0, 100.5, 1.0), (2.0, 102.3, 2.2), (3.0, 103.9, 3.6)]
    walls = [(10.0, 20.0, 11.0), (12.0, 22.5, 12.2), (13.0, 24.0, 13.6)]
    e = estimate_offset(trips, walls)
    assert e.offset_s == pytest.approx(102.3 - 2.1)  # the second trip: 0.2 s, the shortest
    assert e.uncertainty_s == pytest.approx(0.1)
    assert e.at_s == pytest.approx(2.1) and e.round_trips == 3
    assert e.wall_offset_s == pytest.approx(22.5 - 12.1)


def test_agent_times_are_mapped_through_the_offset_interpolated_between_estimates():
    est = [ClockEstimate(0.0, 100.0, 1e-4, 8), ClockEstimate(10.0, 100.001, 1e-4, 8)]
    # the estimates sit at agent times 100 and 110.001; 105 is (nearly) halfway
    got = to_runner_time(np.array([99.0, 105.0, 120.0]), est)
    half = 100.0 + 0.001 * (105.0 - 100.0) / 10.001
    assert got == pytest.approx([99.0 - 100.0, 105.0 - half, 120.0 - 100.001], abs=1e-12)
    assert drift_ppm(est) == pytest.approx(100.0)


def test_no_round_trip_or_a_backwards_one_is_refused():
    with pytest.raises(InvalidValueError):
        estimate_offset([])
    with pytest.raises(InvalidValueError):
        estimate_offset([(2.0, 5.0, 1.0)])


@settings(max_examples=200, deadline=None)
@given(offset=st.floats(-1e6, 1e6), sends=st.lists(
    st.tuples(st.floats(0, 100), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)),
    min_size=1, max_size=10))
def test_the_true_offset_is_always_within_the_stated_uncertainty(offset, sends):
    """Whenever the agent reads its clock between send and receive, the estimate is within half
    the kept round trip of the truth, however the two legs are split."""
    trips = []
    for t0, out_leg, back_leg, _ in sends:
        at = t0 + out_leg  # runner time at which the agent read its clock
        trips.append((t0, at + offset, at + back_leg))
    e = estimate_offset(trips)
    assert abs(e.offset_s - offset) <= e.uncertainty_s + 1e-9 * max(1.0, abs(offset))


# ---- over loopback ----------------------------------------------------------------------------
def sample_through(url: str, seconds: float) -> tuple[Any, RemoteMeter]:
    """Sample the agent at ``url`` from a runner for ``seconds``: ``(trace, the closed meter)``."""
    m = RemoteMeter(url)
    try:
        s = open_sampler(m, period_s=0.01)
        with s:
            time.sleep(seconds)
    finally:
        m.close()
    return s.trace, m


@pytest.mark.parametrize("injected", [0.0, 1234.5, -86_400.25])
def test_the_estimated_offset_is_within_its_uncertainty_of_the_injected_one(injected):
    with _agent(injected) as a:
        meta = sample_through(a.url, 0.3)[0].meta
    assert abs(meta["clock_offset_s"] - injected) <= meta["clock_offset_uncertainty_s"]
    assert meta["clock_offset_uncertainty_s"] < 0.05  # loopback: well under 50 ms
    ests = meta["clock_estimates"]
    assert len(ests) >= 2  # at the window's start and end
    for e in ests:
        assert abs(e["offset_s"] - injected) <= e["uncertainty_s"]
    assert meta["remote_agent"]["meter"] == "replay" and meta["remote_agent"]["host"]


def test_energy_through_the_remote_meter_equals_the_replayed_trace(agent):
    m = RemoteMeter(agent.url)
    replay = agent.meter
    assert isinstance(replay, ReplayMeter)
    try:
        s = open_sampler(m, period_s=0.01)
        with s:
            s.mark("run")
            time.sleep(1.2)
            s.mark("end")
        trace = s.trace
    finally:
        m.close()
    assert trace.meter == "remote:replay" and trace.primary == "module"
    assert trace.t_s[0] == 0.0 and not np.isnan(trace.channels["module"]).any()
    a, b = trace.marks[0].t_s, trace.marks[-1].t_s
    got = energy(trace, a, b)
    # the same window on the recording's clock: the replay started at replay._t0 and runs x10
    x = [replay._start + (s._t0 + t - replay._t0) * replay.speed for t in (a, b)]
    want = energy(replay.recorded, x[0], x[1]).energy_j / replay.speed
    assert got.coverage == 1.0
    assert got.energy_j == pytest.approx(want, rel=0.01)
    # the scope is the agent's meter's
    assert trace.meta["measurement_scope"] == "accelerator"
    assert trace.meta["channel_scopes"]["module"] == "accelerator"


def test_a_token_is_required_when_the_agent_has_one(monkeypatch):
    with _agent(token="s3cret") as a:
        monkeypatch.delenv("INFERLCA_METER_TOKEN", raising=False)
        with pytest.raises(MeterUnavailableError, match="401: it needs a token"):
            RemoteMeter(a.url)
        with pytest.raises(MeterUnavailableError, match="401: the token .* was refused"):
            RemoteMeter(a.url, token="wrong")
        for path in ("/metrics", "/stream", "/time", "/info"):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(a.url + path, timeout=5)
            assert err.value.code == 401
        monkeypatch.setenv("INFERLCA_METER_TOKEN", "s3cret")
        m = RemoteMeter(a.url)
        try:
            assert m.read().power_w["module"] > 0
        finally:
            m.close()


def test_metrics_are_prometheus_text(agent):
    from prometheus_client.parser import text_string_to_metric_families

    time.sleep(0.1)
    with urllib.request.urlopen(agent.url + "/metrics", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = r.read().decode()
    fams = {f.name: f for f in text_string_to_metric_families(text)}
    power = {s.labels["channel"]: s.value for s in fams["inferlca_power_watts"].samples}
    assert set(power) == set(agent.channels)
    assert 8.0 < power["module"] < 14.5  # the recording's range
    assert fams["inferlca_energy_joules"].type == "counter"
    joules = {s.labels["channel"]: s for s in fams["inferlca_energy_joules"].samples}
    assert joules["module"].labels["source"] == "integrated" and joules["module"].value > 0
    readings = fams["inferlca_readings"].samples[0].value
    assert readings >= 5
    # the integral: about 10 ms x readings x ~8-14 W
    assert 0.008 * (readings - 1) * 0.01 < joules["module"].value < 0.015 * readings * 14


def test_a_non_agent_url_and_an_unreachable_one_are_one_line_errors():
    class NotAgent(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotAgent)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with pytest.raises(MeterUnavailableError, match="not an inferlca meter agent .*404"):
            RemoteMeter(f"http://127.0.0.1:{srv.server_address[1]}")
    finally:
        srv.shutdown()
        srv.server_close()
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(MeterUnavailableError, match="connection refused"):
        RemoteMeter(f"http://127.0.0.1:{port}")


# ---- an agent that disappears -----------------------------------------------------------------
def _serve(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, str]:
    """`python -m inferlca meters serve --port 0 ...` in a child; its URL from the first line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "inferlca", "meters", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(),
        cwd=tmp_path)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "meter agent:" in line, (line, proc.stderr.read() if proc.poll() is not None else "")
    url = line.split(" on ", 1)[1].split()[0]
    return proc, url


def test_an_agent_killed_mid_window_leaves_a_flagged_gap_not_zeros(tmp_path):
    proc, url = _serve(tmp_path, "--meter", "replay", "--replay", str(ORIN))
    try:
        m = RemoteMeter(url)
        s = open_sampler(m, period_s=0.01)
        with s:
            s.mark("run")
            time.sleep(0.5)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            killed_at = s.now()
            time.sleep(0.5)
            s.mark("end")
        m.close()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    trace = s.trace
    watts = trace.channels["module"]
    good = ~np.isnan(watts)
    assert good[0] and not good[-1]  # readings before the kill, none at the end
    assert not (watts[good] == 0).any()  # never zeros
    assert trace.t_s[good][-1] <= killed_at + 0.05
    assert "lost" in trace.meta["agent_lost"]
    assert any("lost" in g.reason for g in trace.gaps)
    e = energy(trace, trace.marks[0].t_s, trace.marks[-1].t_s)
    assert e.coverage < 0.8 and e.energy_j > 0  # what was measured is kept, the rest is a hole
    from inferlca.traces.diagnostics import sampling_warnings

    assert any("gap" in w and "lost" in w for w in sampling_warnings(trace))


def test_a_run_whose_agent_dies_between_repetitions_is_stored_with_the_gap(tmp_path):
    from inferlca.loadgen.runner import run_benchmark
    from inferlca.spec import RunSpec
    from inferlca.store import Store

    proc, url = _serve(tmp_path, "--meter", "replay", "--replay", str(ORIN))
    spec = RunSpec(workload="null", queries=8, repetitions=2, meter=f"remote:{url}")

    def progress(event, info):
        if event == "repetition" and info["index"] == 1:
            proc.kill()
            proc.wait()

    try:
        with Store.open(tmp_path / "r.db") as store:
            outcome = run_benchmark(spec, store, progress=progress, logs_dir=tmp_path / "logs")
        with Store.open_readonly(tmp_path / "r.db") as store:
            run = store.get_run(outcome.run_id)
            traces = [store.load_trace(run.run_id, k) for k in (0, 1)]
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert len(run.repetitions) == 2
    first, second = traces
    assert first is not None and second is not None
    assert not np.isnan(first.channels["module"]).any()
    assert np.isnan(second.channels["module"]).all()  # no reading at all: a gap, not 0 J
    assert any("lost" in n for n in run.notes)
    facts = run.summary["remote_agent"]
    assert facts["url"] == url and facts["clock_offset_uncertainty_s"] < 0.05
    assert run.meter == "remote:replay"


# ---- the command line, end to end -------------------------------------------------------------
def test_measure_and_run_with_meter_url_against_a_local_agent(tmp_path, cli_subprocess):
    proc, url = _serve(tmp_path, "--meter", "replay", "--replay", str(ORIN))
    try:
        r = cli_subprocess("measure", "--meter-url", url, "--json", "--", sys.executable, "-c",
                           "import time; time.sleep(0.4)")
        assert r.code == 0, r.err
        d = r.json()
        assert d["meter"] == "remote:replay" and d["measurement_scope"] == "accelerator"
        assert 0.4 * 8 < d["energy"]["energy_j"] < 0.6 * 14.5  # 8.3 - 14 W for >= 0.4 s
        assert d["energy"]["coverage"] == 1.0
        assert d["meta"]["remote_agent"]["url"] == url
        assert d["meta"]["clock_offset_uncertainty_s"] < 0.05
        db = tmp_path / "r.db"
        r = cli_subprocess("run", "-w", "null", "-n", "8", "-r", "2", "--meter-url", url,
                           "--store", db, "--logs-dir", tmp_path / "logs", "--json")
        assert r.code == 0, r.err
        run_id = r.json()["run_id"]
        r = cli_subprocess("results", "show", run_id[:8], "--store", db)
        assert r.code == 0, r.err
        assert "meter agent" in r.out and "clock offset" in r.out and url in r.out
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)


def test_serve_with_a_token_and_the_bad_inputs_of_the_agent(tmp_path, cli_subprocess):
    r = cli_subprocess("meters", "serve", "--token-env", "NO_SUCH_TOKEN_VAR", "--port", "0")
    assert r.code == 2 and "NO_SUCH_TOKEN_VAR" in r.err and "Traceback" not in r.err
    r = cli_subprocess("meters", "serve", "--replay", str(ORIN), "--port", "0")
    assert r.code == 2 and "--replay" in r.err
    proc = subprocess.Popen(
        [sys.executable, "-m", "inferlca", "meters", "serve", "--port", "0", "--meter", "replay",
         "--replay", str(ORIN), "--token-env", "AGENT_TOKEN"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=subprocess_env(AGENT_TOKEN="tok-123"), cwd=tmp_path)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "token from $AGENT_TOKEN required" in line
        url = line.split(" on ", 1)[1].split()[0]
        cmd = ("measure", "--meter-url", url, "--", sys.executable, "-c", "pass")
        r = cli_subprocess(*cmd, INFERLCA_METER_TOKEN="")
        assert r.code == 2 and "401" in r.err and "Traceback" not in r.err
        assert len(r.err.strip().splitlines()) == 1
        r = cli_subprocess(*cmd, INFERLCA_METER_TOKEN="tok-123")
        assert r.code == 0, r.err
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    r = cli_subprocess("measure", "--meter-url", url, "--", sys.executable, "-c", "pass")
    assert r.code == 2 and "connection refused" in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_the_remote_meter_is_not_combined_with_local_ones(cli):
    r = cli("measure", "--meter", "rapl+remote", "--", sys.executable, "-c", "pass")
    assert r.code == 2 and "cannot be combined" in r.err
    r = cli("measure", "--meter", "nvml", "--meter-url", "http://127.0.0.1:9", "--", "true")
    assert r.code == 2 and "either --meter" in r.err


def test_a_short_loss_of_the_stream_is_bridged_from_the_agents_ring(agent):
    """The stream connection drops (as a network blip would) while the agent keeps sampling: the
    runner reconnects with since= and takes the readings the agent kept, so no gap is left."""
    import socket

    m = RemoteMeter(agent.url)
    try:
        s = open_sampler(m, period_s=0.01)
        with s:
            time.sleep(0.3)
            with agent._cond:
                subs = list(agent._subscribers)
            for sub in subs:
                sub.sock.shutdown(socket.SHUT_RDWR)
            time.sleep(RETRY_S + 0.7)  # the runner retries after a second
        facts = m.run_facts()
    finally:
        m.close()
    trace = s.trace
    assert len(subs) == 1 and facts["outages"] == 1
    assert "agent_lost" not in trace.meta
    assert not np.isnan(trace.channels["module"]).any()
    steps = np.diff(trace.t_s)
    assert steps.max() < 0.1  # the readings of the blip are there, on their own times


def test_an_estimated_meter_on_the_agent_stays_estimated_through_the_runner():
    from inferlca.meters.registry import open_meter

    with MeterAgent(open_meter("modelled", cpu_tdp_w=100.0), port=0, interval_s=0.01) as a:
        trace, m = sample_through(a.url, 0.2)
    assert trace.estimated and m.estimated and trace.meter == "remote:modelled"
    assert trace.meta["max_power_w"] == pytest.approx(100.0)  # the agent meter's own facts
    assert trace.meta["measurement_scope"] == "host"


def test_an_agent_that_restarts_is_taken_back_after_a_flagged_gap():
    first = _agent()
    port = first.port
    m = RemoteMeter(first.url)
    try:
        s = open_sampler(m, period_s=0.01)
        with s:
            time.sleep(0.3)
            closing = s.now()
            first.close()
            stopped = s.now()
            time.sleep(0.3)
            second = MeterAgent(ReplayMeter(ORIN, speed=10.0), port=port, interval_s=0.01)
            second.start()
            restarted = s.now()
            time.sleep(RETRY_S + 0.8)
        second.close()
    finally:
        m.close()
    trace = s.trace
    watts = trace.channels["module"]
    bad = np.isnan(watts)
    assert not bad[0] and not bad[-1]  # readings before the stop and after the restart
    assert bad.any() and not (watts[~bad] == 0).any()
    hole = trace.t_s[bad]
    # the hole runs from just after the last reading of the first agent to the first of the second
    assert closing - 0.05 <= hole.min() <= stopped + 0.05
    assert restarted - 0.3 <= hole.max() <= restarted + 0.05  # its first readings are taken
    assert any("lost" in g.reason for g in trace.gaps)
    assert m.instance == second.instance != first.instance


def test_energy_counters_cross_to_the_runner_and_to_prometheus():
    """A meter with an energy counter (as NVML and RAPL have): the counter reaches the runner's
    trace (energy from the counter, not the trapezoid) and /metrics (source="counter")."""
    from prometheus_client.parser import text_string_to_metric_families

    from inferlca.traces.trace import PowerTrace

    t = np.linspace(0.0, 60.0, 6001)
    recorded = PowerTrace(t_s=t, channels={"gpu0": np.full(t.size, 50.0)}, primary="gpu0",
                          meter="nvml", counters={"gpu0": 1000.0 + 50.0 * t})
    with MeterAgent(ReplayMeter(trace=recorded), port=0, interval_s=0.01) as a:
        trace = sample_through(a.url, 0.5)[0]
        with urllib.request.urlopen(a.url + "/metrics", timeout=5) as r:
            fams = {f.name: f for f in text_string_to_metric_families(r.read().decode())}
    assert list(trace.counters) == ["gpu0"]
    e = energy(trace, 0.0, float(trace.t_s[-1]))
    assert e.source == "counter"
    assert e.energy_j == pytest.approx(50.0 * float(trace.t_s[-1]), rel=0.01)
    (sample,) = fams["inferlca_energy_joules"].samples
    assert sample.labels["source"] == "counter" and sample.value > 1000.0


def test_a_port_in_use_says_to_choose_another(agent):
    """Regression: the line said only "cannot listen on 127.0.0.1:P: Address already in use"."""
    port = agent.server.server_address[1]
    with pytest.raises(InvalidValueError) as info:
        MeterAgent(ReplayMeter(ORIN), port=port, interval_s=0.01)
    assert f"cannot listen on 127.0.0.1:{port}" in str(info.value)
    assert "choose another with --port" in str(info.value)
