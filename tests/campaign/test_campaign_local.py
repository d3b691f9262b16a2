"""The local executor on the real null workload, the real LoadGen runner and a real SQLite store:
resume after an interruption (no cell run twice), failures recorded per cell, the lock, status,
and plan estimates from history (golden values by hand)."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

import pytest

from inferlca.campaign.local import (
    FAILED,
    INTERRUPTED,
    OTHER_DEVICE,
    RAN,
    SKIPPED_DONE,
    run_local,
)
from inferlca.campaign.plan import HISTORY, make_plan
from inferlca.campaign.spec import parse_campaign
from inferlca.campaign.state import (
    CampaignBusyError,
    CampaignLock,
    cell_states,
    count_states,
    lock_path_for,
    read_lock,
    runs_by_cell,
)
from inferlca.loadgen.runner import run_benchmark
from inferlca.store.sqlite import Store


def _default_sigint() -> None:
    """In the child: a shell running us in the background ignores SIGINT, and a Python
    started with SIGINT ignored never raises KeyboardInterrupt; restore the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


TINY = """
name: tiny
defaults: {repetitions: 2, period_ms: 5}
grid:
  workloads: ["null"]
  scenarios: [single-stream, offline]
  queries: [4, 8]
  devices: [local]
"""


class CountingRunner:
    """The real run_benchmark, counting calls per cell; can press Ctrl-C inside the n-th call."""

    def __init__(self, interrupt_call: int | None = None) -> None:
        self.calls: list[str] = []
        self.interrupt_call = interrupt_call

    def __call__(self, spec, store, progress):
        self.calls.append(spec.extra["campaign_cell"])
        n = len(self.calls)

        def hook(event, info):
            if progress is not None:
                progress(event, info)
            # Ctrl-C while the second repetition computes: the runner keeps what it measured
            if n == self.interrupt_call and event == "phase" and info.get("name") == "compute" \
                    and self._reps == 2:
                raise KeyboardInterrupt
            if event == "repetition":
                self._reps = info["index"] + 1

        self._reps = 0
        return run_benchmark(spec, store, hook)


@pytest.fixture
def campaign():
    return parse_campaign(TINY, source="tiny.yaml")


def test_resume_after_an_interruption_runs_no_cell_twice(campaign, tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    first = CountingRunner(interrupt_call=3)
    with Store.open(path) as store:
        r1 = run_local(campaign, store, store_path=str(path), runner=first, detect=False)
    assert r1.interrupted
    assert [x.outcome for x in r1.results] == [RAN, RAN, INTERRUPTED]
    ids = [c.cell_id for c in campaign.cells]
    assert first.calls == ids[:3]

    with Store.open(path) as store:
        states = cell_states(campaign, store)
        assert [s.state for s in states] == ["done", "done", "pending", "pending"]
        # the interrupted cell kept what it measured, as an incomplete run
        assert "interrupted" in (states[2].error or "")
        interrupted = store.get_run(states[2].run_id)
        assert interrupted.status == "incomplete" and len(interrupted.repetitions) >= 1

        second = CountingRunner()
        r2 = run_local(campaign, store, store_path=str(path), runner=second, detect=False)
        assert not r2.interrupted and r2.ok
        assert [x.outcome for x in r2.results] == [SKIPPED_DONE, SKIPPED_DONE, RAN, RAN]
        assert second.calls == ids[2:]

        # a third pass has nothing left to do
        third = CountingRunner()
        r3 = run_local(campaign, store, store_path=str(path), runner=third, detect=False)
        assert third.calls == [] and r3.count(SKIPPED_DONE) == 4

        grouped = runs_by_cell(store, ids)
        complete = Counter(cid for cid, recs in grouped.items() for r in recs
                           if r.status == "complete")
        assert complete == {cid: 1 for cid in ids}  # every cell complete exactly once
        assert len(grouped[ids[2]]) == 2  # the interrupted attempt and the finished one
        for cell in campaign.cells:
            run = store.get_run(next(r.run_id for r in grouped[cell.cell_id]
                                     if r.status == "complete"))
            assert run.spec["extra"]["campaign_cell"] == cell.cell_id
            assert run.queries == cell.spec.queries and len(run.repetitions) == 2
            # one latency per query (Offline: per sample, each sample a user's query)
            assert len(store.load_latencies(run.run_id, 0)) == cell.spec.queries
        assert count_states(cell_states(campaign, store)) == {
            "done": 4, "running": 0, "failed": 0, "pending": 0}


def test_a_failing_cell_is_recorded_and_does_not_stop_the_others(tmp_path: Path) -> None:
    c = parse_campaign("""
name: f
defaults: {repetitions: 1}
grid: {workloads: ["null"], queries: [2, 3, 4]}
overrides:
  - where: {queries: 3}
    set: {meter: nvml}          # no NVIDIA driver here: this cell cannot run
""", source="f.yaml")
    path = tmp_path / "f.db"
    with Store.open(path) as store:
        r = run_local(c, store, store_path=str(path), runner=run_benchmark, detect=False)
        assert [x.outcome for x in r.results] == [RAN, FAILED, RAN]
        assert not r.ok and not r.interrupted
        assert "MeterUnavailableError" in r.results[1].error
        states = cell_states(c, store)
        assert [s.state for s in states] == ["done", "failed", "done"]
        failed = store.get_run(states[1].run_id)
        assert failed.status == "failed" and "nvml" in failed.error
        assert failed.spec["extra"]["campaign_cell"] == c.cells[1].cell_id
        # a failed cell is retried on the next pass, the done ones are not
        again = CountingRunner()
        r2 = run_local(c, store, store_path=str(path), runner=again, detect=False)
        assert again.calls == [c.cells[1].cell_id]
        assert [x.outcome for x in r2.results] == [SKIPPED_DONE, FAILED, SKIPPED_DONE]
        assert cell_states(c, store)[1].attempts == 2


def test_cells_for_another_device_are_left_to_their_machine(tmp_path: Path) -> None:
    c = parse_campaign('name: d\ndefaults: {repetitions: 1}\n'
                       'grid: {workloads: ["null"], queries: [2], '
                       'devices: [local, jetson-agx-orin-64gb, rtx-a5000]}', source="d.yaml")
    with Store.open(tmp_path / "d.db") as store:
        runner = CountingRunner()
        r = run_local(c, store, runner=runner, local_device="jetson-agx-orin-64gb")
        assert sorted(x.outcome for x in r.results) == sorted([RAN, RAN, OTHER_DEVICE])
        assert runner.calls == [c.cells[0].cell_id, c.cells[1].cell_id]
        other = next(x for x in r.results if x.outcome == OTHER_DEVICE)
        assert other.device == "rtx-a5000" and "jetson-agx-orin-64gb" in other.error
        ran = {x.device for x in r.results if x.outcome == RAN}
        assert ran == {None, "jetson-agx-orin-64gb"}
        orin = store.get_run(next(x.run_id for x in r.results if x.device == "jetson-agx-orin-64gb"))
        assert orin.device_id == "jetson-agx-orin-64gb"


def test_the_lock_keeps_a_second_executor_out_and_shows_running_cells(campaign, tmp_path) -> None:
    path = tmp_path / "l.db"
    with CampaignLock(path, "tiny") as lock:
        lock.set_running([campaign.cells[1].cell_id])
        held = read_lock(lock_path_for(path))
        assert held["campaign"] == "tiny" and held["running"] == [campaign.cells[1].cell_id]
        with Store.open(path) as store:
            with pytest.raises(CampaignBusyError) as info:
                run_local(campaign, store, store_path=str(path), runner=CountingRunner(),
                          detect=False)
            assert info.value.exit_code == 2 and "another campaign executor" in str(info.value)
            states = cell_states(campaign, store, running=held["running"])
            assert [s.state for s in states] == ["pending", "running", "pending", "pending"]
    assert read_lock(lock_path_for(path)) == {}  # released


def _summary(queries: float, load_s: float, compute_s: float) -> dict:
    def m(x: float) -> dict:
        return {"mean": x, "std": 0.0, "ci95_low": x, "ci95_high": x, "n": 2}

    return {"metrics": {"queries": m(queries), "load_duration_s": m(load_s),
                        "compute_duration_s": m(compute_s),
                        "duration_s": m(load_s + compute_s)},
            "impact": {}, "measured": True, "notes": []}


def test_plan_estimates_from_earlier_runs(tmp_path: Path) -> None:
    c = parse_campaign("""
name: p
cooldown_s: 30
defaults: {repetitions: 10}
grid: {workloads: ["null"], queries: [64], devices: [rtx-a5000, jetson-agx-orin-64gb]}
""", source="p.yaml")
    with Store.open(tmp_path / "p.db") as store:
        # two earlier A5000 runs of 16 queries: load 5 s and 4 s, compute 3.2 s and 4.8 s
        for load_s, compute_s in ((5.0, 3.2), (4.0, 4.8)):
            rid = store.create_run({"workload": "null", "scenario": "single-stream",
                                    "backend": "auto", "queries": 16}, kind="measured",
                                   device_id="rtx-a5000", device_name="NVIDIA RTX A5000",
                                   meter="nvml", estimated=False, environment={})
            store.finish_run(rid, "complete", _summary(16, load_s, compute_s))
        plan = make_plan(c, store, use_estimator=False)
    a5000, orin = plan.estimates
    assert a5000.source == HISTORY
    # per query: mean(3.2/16, 4.8/16) = mean(0.2, 0.3) = 0.25 s; load: mean(5, 4) = 4.5 s
    # per repetition of 64 queries: 4.5 + 0.25 * 64 = 20.5 s
    # cell: 10 x 20.5 + 9 cool-downs x 30 + 30 after the cell = 205 + 270 + 30 = 505 s
    assert a5000.duration_s == pytest.approx(505.0)
    assert orin.duration_s is None and orin.source == "unknown"
    assert plan.total_s == pytest.approx(505.0) and plan.unknown == 1


def test_plan_falls_back_to_the_roofline(tmp_path: Path) -> None:
    c = parse_campaign("name: r\ngrid: {workloads: [bert-large-squad], queries: [16], "
                       "devices: [a40, local]}", source="r.yaml")
    plan = make_plan(c, None)
    a40, local = plan.estimates
    assert a40.source == "roofline" and a40.duration_s > 0 and "lower bound" in a40.note
    assert local.source == "unknown"


def test_campaign_cli_end_to_end(cli, tmp_path: Path) -> None:
    f = tmp_path / "tiny.yaml"
    f.write_text(TINY)
    store = tmp_path / "cli.db"
    r = cli("campaign", "status", f, "--store", store, "--json")
    assert r.code == 0 and r.json()["counts"] == {"done": 0, "running": 0, "failed": 0,
                                                  "pending": 4}
    r = cli("campaign", "run", f, "--store", store, "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["counts"] == {"ran": 4} and d["store"] == str(store)
    r = cli("campaign", "run", f, "--store", store, "--json")
    assert r.code == 0 and r.json()["counts"] == {"skipped-done": 4}
    r = cli("campaign", "status", f, "--store", store)
    assert r.code == 0 and "done: 4" in r.out and "pending: 0" in r.out
    r = cli("campaign", "plan", f, "--store", store, "--json")
    assert r.code == 0 and all(e["source"] == "history" for e in r.json()["plan"])
    r = cli("campaign", "run", f, "--store", store, "--device", "h10")
    assert r.code == 2 and "unknown device 'h10'" in r.err


def test_ctrl_c_on_the_command_then_resume(cli_subprocess, tmp_path: Path) -> None:
    """A real SIGINT to ``inferlca campaign run`` in a child process, sent once the store holds a
    complete cell (the executor is then in its cool-down or in the next cell); the next
    ``campaign run`` finishes the campaign and no cell is complete twice."""
    import os
    import signal
    import subprocess
    import sys
    import time

    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    f = tmp_path / "c.yaml"
    f.write_text('name: sig\ncooldown_s: 3\ndefaults: {repetitions: 1}\n'
                 'grid: {workloads: ["null"], queries: [2, 3, 4]}\n')
    store = tmp_path / "sig.db"
    child = subprocess.Popen([sys.executable, "-m", "inferlca", "campaign", "run", str(f),
                              "--store", str(store), "--json"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)  # noqa: PLW1509 - the child only calls signal.signal (async-signal-safe)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if store.exists():
                with Store.open_readonly(store) as st:
                    if st.list_runs(status="complete"):
                        break
            time.sleep(0.05)
        assert child.poll() is None, child.communicate()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, (out, err)
    assert "Traceback" not in err
    c = parse_campaign(f.read_text(), source=str(f))
    with Store.open_readonly(store) as st:
        first = [s.state for s in cell_states(c, st)]
    assert first[0] == "done" and "pending" in first
    r = cli_subprocess("campaign", "run", f, "--store", store, "--json")
    assert r.code == 0, r.err
    counts = r.json()["counts"]
    assert counts.get("skipped-done", 0) == first.count("done")
    assert counts["ran"] == first.count("pending")
    with Store.open_readonly(store) as st:
        assert [s.state for s in cell_states(c, st)] == ["done"] * 3
        complete = Counter(r.spec["extra"]["campaign_cell"] for r in st.list_runs(status="complete"))
    assert complete == {cell.cell_id: 1 for cell in c.cells}


def test_rich_progress_bars_follow_the_cells_and_the_runner_events(campaign, tmp_path) -> None:
    import io

    from rich.console import Console

    from inferlca.campaign.progress import CampaignProgress

    out = io.StringIO()
    progress = CampaignProgress(console=Console(file=out, width=120, force_terminal=False),
                                title="tiny")
    seen: list[tuple[str, float, float | None, str]] = []

    def runner(spec, store, hook):
        def spy(event, info):
            hook(event, info)  # the real per-cell bar
            task = next(t for t in hook.progress.tasks if t.id == hook.task_id)
            seen.append((event, task.completed, task.total, task.description))

        return run_benchmark(spec, store, spy)

    with Store.open(tmp_path / "p.db") as store:
        r = run_local(campaign, store, runner=runner, detect=False, progress=progress)
    assert r.count(RAN) == 4
    overall = progress.progress.tasks[0]
    assert overall.description == "tiny: cells" and overall.completed == overall.total == 4
    # per cell: the bar counts repetitions (2 per cell) and ends full; its text shows the phase
    reps = [x for x in seen if x[0] == "repetition"]
    assert [x[1] for x in reps] == [0, 1] * 4 and all(x[2] == 2 for x in reps)
    assert [x[1] for x in seen if x[0] == "done"] == [2] * 4
    assert any("compute" in x[3] for x in seen if x[0] == "phase")
    assert "tiny: cells" in out.getvalue()
