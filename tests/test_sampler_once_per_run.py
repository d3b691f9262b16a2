"""The sampler process starts once per run and every repetition is a window of its readings.

Issue 16: "started once per run, before the workload". Three repetitions of a real run (null
workload, the modelled meter opened by ``open_meter``, so the process can open it again): one
sampler process PID in all three traces, each trace starting and ending on samples of its own
with the phase marks inside. Killing the process during repetition 2 leaves a flagged gap there,
repetition 3 is measured again by a process started anew (flagged), and the run completes.
"""

from __future__ import annotations

import math
import os
import signal
import time
import warnings
from pathlib import Path

import numpy as np

from inferlca.meters.registry import open_meter
from inferlca.meters.sampler_process import open_sampler, run_sampler_process
from inferlca.spec import RunSpec


def sampler_children() -> list[int]:
    """PIDs of this process's children that run the sampler process."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
            cmd = (d / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"inferlca.meters.sampler_child" in cmd:
            out.append(int(d.name))
    return out


def spec(**kw) -> RunSpec:
    base = {"workload": "null", "meter": "modelled", "queries": 64, "repetitions": 3,
            "period_ms": 5.0, "sampler": "process"}
    base.update(kw)
    return RunSpec(**base)


def test_one_sampler_process_for_three_repetitions(benchmark_and_read):
    seen: list[list[int]] = []

    def progress(event, info):
        if event == "phase" and info.get("name") == "compute":
            seen.append(sampler_children())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        run = benchmark_and_read(spec(), progress=progress)
    reps = run.out.repetitions
    assert [r.status for r in reps] == ["complete"] * 3
    pids = {r.trace.meta["sampler_pid"] for r in reps}
    assert len(pids) == 1  # the same process measured every repetition
    assert [len(s) for s in seen] == [1, 1, 1] and {s[0] for s in seen} == pids
    for r in reps:
        tr = r.trace
        assert tr.meta["sampler"] == "process" and "sampler_restarted" not in tr.meta
        assert tr.t_s[0] == 0.0 and np.all(np.diff(tr.t_s) >= 0)
        names = [m.name for m in tr.marks]
        assert names[:2] == ["load", "compute"] and names[-1] == "end"
        assert all(0.0 <= m.t_s <= tr.t_s[-1] for m in tr.marks)  # marks inside the window
        assert tr.meta["dropped_readings"] == 0
    assert sampler_children() == []  # closed with the run


def test_killed_in_repetition_two_gap_there_and_repetition_three_measured(benchmark_and_read):
    killed: list[int] = []
    rep = {"k": -1}

    def progress(event, info):
        if event == "repetition":
            rep["k"] = info["index"]
        if event == "phase" and info.get("name") == "compute" and rep["k"] == 1:
            pids = sampler_children()
            assert len(pids) == 1
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])
            time.sleep(0.05)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        run = benchmark_and_read(spec(), progress=progress)
    r1, r2, r3 = run.out.repetitions
    assert run.out.status == "complete" and len(killed) == 1
    assert r1.trace.meta["sampler_pid"] == r2.trace.meta["sampler_pid"] == killed[0]
    died = r2.trace.meta["sampler_died"]
    assert "signal 9" in died and any(died == g.reason for g in r2.trace.gaps)
    assert math.isnan(r2.trace.channels[r2.trace.primary][-1])  # no reading at the stop: no zero
    assert "sampler_died" not in r3.trace.meta
    assert r3.trace.meta["sampler"] == "process"
    assert r3.trace.meta["sampler_pid"] != killed[0]
    assert "signal 9" in r3.trace.meta["sampler_restarted"]
    assert r3.metrics["energy_compute_j"] > 0 and not r3.trace.gaps
    # what the store gives back says it too
    assert run.trace(1).meta["sampler_died"] == died
    assert "signal 9" in run.trace(2).meta["sampler_restarted"]


def test_windows_of_one_process_share_its_clock_and_counters():
    meter = open_meter("modelled", cpu_tdp_w=65.0)
    host = run_sampler_process(meter, 0.005)
    try:
        traces = []
        for _ in range(3):
            with open_sampler(meter, period_s=0.005, host=host) as s:
                s.mark("compute")
                time.sleep(0.1)
            traces.append(s.trace)
    finally:
        host.close()
        meter.close()
    t0 = [tr.meta["t0_monotonic_s"] for tr in traces]
    assert t0[0] < t0[1] < t0[2]  # one clock, windows one after the other
    assert len({tr.meta["sampler_pid"] for tr in traces}) == 1
    for tr in traces:
        assert 0.09 < tr.t_s[-1] < 1.0 and tr.t_s.size > 10
        assert tr.meta["sampler_cpu_s"] >= 0
    assert host.proc.returncode == 0  # asked to stop at the end, it left cleanly


def test_fifo_priority_is_had_or_said():
    meter = open_meter("modelled", cpu_tdp_w=65.0)
    with open_sampler(meter, period_s=0.01, priority="fifo", close_meter=True) as s:
        time.sleep(0.05)
        policy = os.sched_getscheduler(s._proc.pid)
    said = s.trace.meta["sampler_priority"]
    if said == "SCHED_FIFO 1":  # allowed here (root or CAP_SYS_NICE): the process really runs so
        assert policy == os.SCHED_FIFO
    else:  # not allowed: it says why and runs at normal priority
        assert said.startswith("no SCHED_FIFO (") and said.endswith("): normal")
        assert policy == os.SCHED_OTHER
