"""The out-of-process sampler: same contract as the thread, its own process and meter,
and every failure (no process, a dead process, an overflowing ring) flagged, never silent."""

from __future__ import annotations

import math
import os
import signal
import time
import warnings

import numpy as np
import pytest

from inferlca.errors import UnknownNameError
from inferlca.meters.registry import open_meter
from inferlca.meters.sampler import Sampler
from inferlca.meters.sampler_process import (
    SAMPLER_KINDS,
    ProcessSampler,
    open_sampler,
    run_sampler_process,
)
from inferlca.spec import SAMPLERS, RunSpec
from inferlca.traces.energy import energy, window_of
from inferlca.traces.trace import PowerTrace


def replay_meter(seconds: float = 10.0, watts: float = 20.0):
    """A real meter that reopens the same in another process: a recorded constant trace."""
    t = np.arange(0.0, seconds + 1e-9, 0.01)
    trace = PowerTrace(t_s=t, channels={"dev": np.full(t.size, watts)}, primary="dev",
                       meter="recorded")
    return open_meter("replay", trace=trace)


def busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end:  # pure Python: holds the GIL
        x += 1


def test_process_sampler_records_a_trace_with_marks():
    # normal priority: the test machine may be busy with other work (the default, nice 19, would
    # rightly yield to it and this test is about the data, not the timing)
    with open_sampler(replay_meter(), period_s=0.005, priority="normal") as s:
        assert isinstance(s, ProcessSampler) and s.kind == "process"
        s.mark("compute")
        busy(0.3)
        s.mark("end")
    tr = s.trace
    assert tr.meta["sampler"] == "process"
    assert tr.t_s[0] == 0.0  # the first sample is the origin
    assert np.all(np.diff(tr.t_s) > 0)
    assert [m.name for m in tr.marks] == ["compute", "end"]
    assert tr.t_s[-1] >= tr.marks[-1].t_s  # the last sample closes the window
    # the workload held the GIL for 0.3 s: the other process sampled anyway
    a, b = window_of(tr, "compute")
    inside = np.count_nonzero((tr.t_s >= a) & (tr.t_s <= b))
    assert inside >= 10
    assert energy(tr, a, b).energy_j == pytest.approx(20.0 * (b - a), rel=1e-9)
    assert tr.meta["dropped_readings"] == 0 and s.rows_written == tr.t_s.size
    assert tr.meta["sampler_priority"] == "normal"
    for key in ("period_achieved_s", "jitter_p99_s", "missed_ticks", "t0_monotonic_s"):
        assert key in tr.meta



def test_mark_and_now_share_the_trace_clock():
    with open_sampler(replay_meter(), period_s=0.01) as s:
        before = time.monotonic()
        t_mark = s.mark("x")
        after = time.monotonic()
        assert s.to_trace_time(before) <= t_mark <= s.to_trace_time(after) <= s.now()
    assert s.trace.meta["t0_monotonic_s"] + t_mark == pytest.approx(before, abs=0.01)


def test_meter_not_opened_by_open_meter_falls_back_to_the_thread_flagged():
    from inferlca.meters.replay import ReplayMeter

    t = np.arange(0.0, 5.0, 0.01)
    meter = ReplayMeter(trace=PowerTrace(t_s=t, channels={"dev": np.ones(t.size)}, primary="dev",
                                         meter="x"))
    with pytest.warns(RuntimeWarning, match="sampling from a thread"):
        s = open_sampler(meter, period_s=0.01).start()
    time.sleep(0.05)
    tr = s.stop()
    assert tr.meta["sampler"] == "thread"
    assert "open_meter" in tr.meta["sampler_fallback"]
    assert tr.t_s.size >= 2


def test_meter_that_does_not_open_in_the_process_falls_back_with_the_reason(tmp_path):
    meter = replay_meter()
    meter.open_spec = ("replay", {"path": str(tmp_path / "gone.csv")})  # vanished since
    with pytest.warns(RuntimeWarning, match="cannot open meter 'replay'"), \
            open_sampler(meter, period_s=0.01) as s:
        time.sleep(0.05)
    assert s.trace.meta["sampler"] == "thread"
    assert "gone.csv" in s.trace.meta["sampler_fallback"]


def test_dead_sampler_process_leaves_a_flagged_gap_and_the_run_goes_on():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_sampler(replay_meter(), period_s=0.005) as s:
            s.mark("compute")
            time.sleep(0.1)
            os.kill(s._proc.pid, signal.SIGKILL)
            time.sleep(0.1)
            s.mark("end")
    tr = s.trace
    assert "died" in tr.meta["sampler_died"] and "signal 9" in tr.meta["sampler_died"]
    assert math.isnan(tr.channels["dev"][-1])  # the stop sample: no reading, not a zero
    assert not math.isnan(tr.channels["dev"][0])
    gap = [g for g in tr.gaps if "died" in g.reason]
    assert len(gap) == 1 and gap[0].end_s == tr.t_s[-1] and gap[0].start_s < tr.marks[-1].t_s
    assert any("gap to the end" in str(w.message) for w in caught)
    e = energy(tr, *window_of(tr, "compute"))
    assert e.coverage < 0.9  # the hole is reported as not covered


def test_ring_overflow_counts_every_dropped_reading():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with open_sampler(replay_meter(), period_s=0.001, capacity=16) as s:
            time.sleep(0.5)  # ~500 rows into a 16-row ring, copied out once a second
    tr = s.trace
    dropped = tr.meta["dropped_readings"]
    assert dropped > 0
    assert tr.t_s.size + dropped == s.rows_written  # kept + dropped = written: none unaccounted
    assert tr.meta["sampler_priority"] == "nice 19"  # the default: the lowest ordinary priority
    assert any("ring buffer overflowed" in g.reason for g in tr.gaps)
    assert any("dropped" in str(w.message) for w in caught)


def test_failed_reads_in_the_process_keep_their_reason():
    # a 0.1 s recording sampled for 0.4 s: reads past its end fail, with the meter's reason
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with open_sampler(replay_meter(seconds=0.1), period_s=0.01, priority="normal") as s:
            time.sleep(0.5)
    tr = s.trace
    assert tr.gaps and all("past the end of the recording" in g.reason for g in tr.gaps)
    assert tr.meta["failed_reads"] >= 1
    assert not math.isnan(tr.channels["dev"][0])


def test_keyboard_interrupt_keeps_the_data_and_stops_the_process():
    s = open_sampler(replay_meter(), period_s=0.005)
    with pytest.raises(KeyboardInterrupt), s:
        s.mark("compute")
        time.sleep(0.05)
        raise KeyboardInterrupt
    tr = s.trace
    assert tr.meta["incomplete"] is True and tr.meta["sampler"] == "process"
    assert tr.t_s.size >= 3
    assert s._proc.returncode == 0  # asked to stop, it took its last sample and left


def test_reading_the_trace_while_running_raises():
    with open_sampler(replay_meter(), period_s=0.01) as s, \
            pytest.raises(RuntimeError, match="still running"):
        _ = s.trace


@pytest.mark.parametrize("bad", ["threads", "", "PROCESS"])
def test_unknown_sampler_is_a_usage_error(bad):
    with pytest.raises(UnknownNameError) as err:
        open_sampler(replay_meter(), kind=bad)
    assert err.value.exit_code == 2
    with pytest.raises(UnknownNameError):
        RunSpec(sampler=bad).validate()


def test_thread_kind_is_the_thread_sampler():
    s = open_sampler(replay_meter(), period_s=0.01, kind="thread")
    assert type(s) is Sampler
    with s:
        time.sleep(0.03)
    assert s.trace.meta["sampler"] == "thread"


def test_spec_and_sampler_agree_on_the_kinds():
    assert SAMPLERS == SAMPLER_KINDS
    assert RunSpec().sampler == "process"


@pytest.mark.parametrize(("kind", "achieved"), [("process", "nice 19"),
                                                ("process:normal", "normal")])
def test_process_priority_chosen_by_the_sampler_kind(kind, achieved):
    """``--sampler process:PRIORITY`` reaches the sampler process (alone and shared by a run's
    windows), and the trace says what the process got."""
    s = open_sampler(replay_meter(), period_s=0.01, kind=kind)
    assert type(s) is ProcessSampler
    with s:
        time.sleep(0.05)
    assert s.trace.meta["sampler"] == "process"
    assert s.trace.meta["sampler_priority"].startswith(achieved)
    meter = replay_meter()
    host = run_sampler_process(meter, 0.01, kind)
    assert host is not None and host.priority == (kind.partition(":")[2] or "nice")
    host.close()


def test_bad_process_options():
    from inferlca.errors import InvalidValueError

    with pytest.raises(UnknownNameError):
        ProcessSampler(replay_meter(), priority="realtime")
    with pytest.raises(InvalidValueError):
        ProcessSampler(replay_meter(), cpu=-1)
    with pytest.raises(InvalidValueError):
        ProcessSampler(replay_meter(), capacity=3)


def test_cli_unknown_sampler_is_exit_2_before_anything_runs(cli, tmp_path):
    marker = tmp_path / "ran"
    res = cli("measure", "--meter", "modelled", "--sampler", "thred", "--", "touch", str(marker))
    assert res.code == 2 and "unknown sampler 'thred'" in res.err and "thread" in res.err
    assert not marker.exists()
    res = cli("run", "--workload", "null", "--sampler", "proc", "--store", str(tmp_path / "x.db"))
    assert res.code == 2 and "unknown sampler 'proc'" in res.err
    assert not (tmp_path / "x.db").exists()


def test_cli_measure_reports_the_process_sampler(cli):
    res = cli("measure", "--meter", "modelled", "--period-ms", "5", "--json", "--", "sleep", "0.2")
    assert res.code == 0
    out = res.json()
    assert out["samples"] >= 5
    assert out["sampler"] == "process" and out["missed_ticks"] is not None


def test_campaign_cell_ids_do_not_move_for_the_default_sampler():
    from inferlca.campaign.spec import cell_id_of

    default = RunSpec(workload="null", queries=3)
    # the id of a spec as it was before RunSpec had a sampler field (hash of its dict without it)
    import hashlib
    import json

    d = default.to_dict()
    # fields added later (sampler, scope, gpus, grid file, grid year) at their defaults; LLM options
    # inside extra
    d.pop("label"), d.pop("sampler"), d.pop("scope"), d.pop("gpus")
    for k in ("grid_file", "grid_unit", "grid_tz", "grid_signal", "grid_year"):
        d.pop(k)
    d["extra"] = {**d["extra"], **d.pop("llm")}
    before = hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":"), default=str)
                            .encode("utf-8")).hexdigest()[:12]
    assert cell_id_of(default) == before
    assert cell_id_of(RunSpec(workload="null", queries=3, sampler="thread")) != before


def test_ring_layout_and_reasons_lookup():
    from inferlca.meters import sampler_child as child
    from inferlca.meters.sampler_process import _reasons_at

    # header 8 x int64, then rows of t, read time, 2 channels, 1 counter, failed flag
    assert child.row_width(2, 1) == 6
    assert child.ring_bytes(100, 2, 1) == 8 * 8 + 8 * 100 * 6
    buf = bytearray(child.ring_bytes(4, 2, 1))
    header, rows = child.ring_views(buf, 4, 2, 1)
    rows[3] = [1.0, 2.0, 3.0, 4.0, 5.0, 1.0]
    header[child.H_COUNT] = 7
    assert int.from_bytes(buf[0:8], "little") == 7
    assert np.frombuffer(bytes(buf[64 + 3 * 48: 64 + 4 * 48]), dtype=np.float64).tolist() == [
        1.0, 2.0, 3.0, 4.0, 5.0, 1.0]
    msgs = [(2, {None: "down"}), (5, {"a": "flaky"}), (9, {})]
    assert _reasons_at(msgs, 1) == {}
    assert _reasons_at(msgs, 2) == {None: "down"}
    assert _reasons_at(msgs, 8) == {"a": "flaky"}
    assert _reasons_at(msgs, 100) == {}


def test_the_sampler_process_starts_without_numpy():
    # it writes the ring with struct: its start-up (before the first sample) stays short
    import subprocess
    import sys
    from pathlib import Path

    src = str(Path(__file__).resolve().parents[1] / "src")
    code = ("import sys, inferlca.meters.sampler_child, inferlca.meters.registry, "
            "inferlca.meters.modelled, inferlca.meters.rapl; print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": src}).stdout.strip()
    assert out == "False"


def test_the_sampler_process_exits_when_the_measured_process_is_killed(tmp_path):
    """A measured process killed outright (SIGKILL: no clean-up runs) must not leave its sampler
    process sampling for nobody: it notices within a few ticks and exits."""
    import subprocess
    import sys

    from subproc import subprocess_env

    code = ("import sys, time\n"
            "from inferlca.meters.registry import open_meter\n"
            "from inferlca.meters.sampler_process import open_sampler\n"
            "s = open_sampler(open_meter('modelled', cpu_tdp_w=50.0, track_process=False),"
            " period_s=0.01).start()\n"
            "print(s._proc.pid, flush=True)\n"
            "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env=subprocess_env())
    try:
        child = int(parent.stdout.readline())
        assert _alive(child)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 5.0
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not _alive(child)
    finally:
        parent.kill()
        parent.wait()


def _alive(pid: int) -> bool:
    """Running (not gone, not a zombie waiting for init)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return False
    return raw[raw.rfind(b")") + 2:][:1] != b"Z"
