"""Faults injected into real runs (issue 18): kill -9 at seeded random moments of `run` and
`campaign run`, four writers on one store, SIGINT and SIGTERM mid-run.

After each fault: the store opens, passes SQLite's integrity check and a read-back of every value
and array, every run is complete or incomplete (a dead writer's run reads as incomplete) with its
traces, and a resumed campaign runs no cell twice. The kill tests run a reduced count by default;
``INFERLCA_FAULTS_FULL=1`` runs the full count. Counts are printed (``-s``) as
``faults injected / survived / runs lost``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from subproc import subprocess_env

from inferlca.meters.base import PowerMeter, Reading
from inferlca.store import Store

FULL = os.environ.get("INFERLCA_FAULTS_FULL") == "1"
KILLS = 20 if FULL else 3
SEED = int(os.environ.get("INFERLCA_FAULTS_SEED", "18"))


def _start(*args: str, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "inferlca", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=subprocess_env(), text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509


def _sound(store: Path) -> tuple[list, list[str]]:
    """The runs of a store that must open and read back whole; returns (runs, problems)."""
    if not store.exists():
        return [], []
    with Store.open_readonly(store) as s:
        problems = s.integrity_check(deep=True)
        runs = s.list_runs()
        for r in runs:
            for rep in r.repetitions:
                if rep.has_trace and s.load_trace(r.run_id, rep.index) is None:
                    problems.append(f"run {r.run_id[:8]} repetition {rep.index}: trace missing")
    return runs, problems


def _report(name: str, injected: int, survived: int, lost: int) -> None:
    print(f"\n{name}: faults injected {injected}, survived {survived}, runs lost {lost}")


def test_kill_9_at_random_moments_of_run(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    store = tmp_path / "k.db"
    survived = lost = 0
    for k in range(KILLS):
        p = _start("run", "-w", "null", "-n", "300", "-r", "3", "--store", str(store),
                   "--logs-dir", str(tmp_path / "logs"), "--json", cwd=tmp_path)
        time.sleep(rng.uniform(0.5, 6.0))
        p.send_signal(signal.SIGKILL)
        p.communicate(timeout=60)
        runs, problems = _sound(store)
        # lost: a run that cannot be read back, or is neither complete nor incomplete
        bad = [r.run_id for r in runs if r.status not in ("complete", "incomplete")]
        lost += len(bad) + len(problems)
        survived += not bad and not problems
    # a writer after the kills works on the same store, and repair closes the dead runs
    assert subprocess.run([sys.executable, "-m", "inferlca", "store", "repair", "--store",
                           str(store)], env=subprocess_env(), capture_output=True,
                          timeout=300, check=False).returncode == 0
    runs, problems = _sound(store)
    assert not problems and all(r.stored_status in ("complete", "incomplete") for r in runs)
    _report("kill -9 during run", KILLS, survived, lost)
    assert lost == 0 and survived == KILLS


def test_kill_9_during_campaign_then_resume_runs_no_cell_twice(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    camp = tmp_path / "c.yaml"
    camp.write_text('grid: {workloads: ["null"], queries: [5000, 10000, 15000, 20000]}\n'
                    'defaults: {repetitions: 1}\n')
    store = tmp_path / "c.db"
    injected = 0
    for _ in range(KILLS):
        p = _start("campaign", "run", str(camp), "--store", str(store), "--no-progress",
                   cwd=tmp_path)
        time.sleep(rng.uniform(1.5, 8.0))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            injected += 1
        p.communicate(timeout=60)
        _, problems = _sound(store)
        assert not problems
    done = subprocess.run([sys.executable, "-m", "inferlca", "campaign", "run", str(camp),
                           "--store", str(store), "--no-progress"], env=subprocess_env(),
                          capture_output=True, text=True, timeout=600, cwd=tmp_path,
                          check=False)
    assert done.returncode == 0, done.stderr
    runs, problems = _sound(store)
    assert not problems
    complete = [r for r in runs if r.status == "complete"]
    cells = [r.label for r in complete]
    assert len(cells) == 4 and len(set(cells)) == 4, cells  # each cell once
    _report("kill -9 during campaign run", injected, injected, 0)


def test_four_concurrent_writers(tmp_path: Path) -> None:
    store = tmp_path / "w.db"
    procs = [_start("run", "-w", "null", "-n", "32", "-r", "2", "--store", str(store),
                    "--label", f"writer-{i}", "--json", cwd=tmp_path) for i in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    runs, problems = _sound(store)
    assert not problems
    assert sorted(r.label for r in runs) == [f"writer-{i}" for i in range(4)]
    assert all(r.status == "complete" and len(r.repetitions) == 2 for r in runs)


def _wait_for_a_repetition(store: Path, p: subprocess.Popen, timeout: float = 120) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert p.poll() is None, p.communicate()[1]
        if store.exists():
            try:
                with Store.open_readonly(store) as s:
                    if any(r.repetitions for r in s.list_runs()):
                        return
            except Exception:  # noqa: BLE001, S110 - being created: try again
                pass
        time.sleep(0.2)
    raise AssertionError("no repetition stored in time")


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_sigint_and_sigterm_keep_what_was_measured(tmp_path: Path, sig: int, code: int) -> None:
    store = tmp_path / "s.db"
    p = _start("run", "-w", "null", "-n", "600", "-r", "50", "--store", str(store), cwd=tmp_path)
    _wait_for_a_repetition(store, p)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode == code, err
    assert "Traceback" not in err
    runs, problems = _sound(store)
    assert not problems
    (run,) = runs
    assert run.stored_status == "incomplete" and run.repetitions
    assert all(rep.has_trace for rep in run.repetitions)


def test_full_disk_keeps_every_measured_repetition(tmp_path: Path) -> None:
    """A small tmpfs fills up mid-run: the store stays sound, the repetition SQLite refused is
    saved aside, and `store import-unsaved` brings it back once space is free."""
    import re
    import shutil

    mnt = tmp_path / "small"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1200k", "tmpfs", str(mnt)],
                             capture_output=True, check=False)
    if mounted.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root): " + mounted.stderr.decode()[:80])
    try:
        store = mnt / "s.db"
        assert subprocess.run([sys.executable, "-m", "inferlca", "run", "-w", "null", "-n", "4",
                               "-r", "1", "--store", str(store), "--logs-dir",
                               str(tmp_path / "logs")], env=subprocess_env(),
                              capture_output=True, check=False).returncode == 0
        filler = mnt / "filler"
        with open(filler, "wb") as f:  # leave a few pages free
            free = shutil.disk_usage(mnt).free
            f.write(b"\0" * max(free - 256 * 1024, 0))
        p = subprocess.run([sys.executable, "-m", "inferlca", "run", "-w", "null", "-n", "3000",
                            "-r", "10", "--period-ms", "1", "--store", str(store), "--logs-dir",
                            str(tmp_path / "logs")], env=subprocess_env(), capture_output=True,
                           text=True, check=False, timeout=600)
        assert "Traceback" not in p.stderr
        assert p.returncode in (0, 1, 2), p.stderr
        filler.unlink()
        runs, problems = _sound(store)
        assert not problems
        if p.returncode == 0:
            pytest.skip("the disk did not fill up (repetitions smaller than the space left)")
        m = re.search(r"import-unsaved ([^`]+)`", p.stderr)
        assert m, p.stderr  # the refused repetition was saved, and the message says where
        folder = Path(m.group(1))
        before = sum(len(r.repetitions) for r in runs)
        r = subprocess.run([sys.executable, "-m", "inferlca", "store", "import-unsaved",
                            str(folder), "--store", str(store)], env=subprocess_env(),
                           capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr
        runs, problems = _sound(store)
        assert not problems and sum(len(x.repetitions) for x in runs) == before + 1
        _report("full disk", 1, 1, 0)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


class FailingMeter(PowerMeter):
    """A sensor that reads 40 W, then breaks mid-run: every read after ``ok_reads`` raises (as a
    driver that lost its device would). Implements the PowerMeter protocol the sampler reads."""

    name = "failing"
    estimated = False

    def __init__(self, ok_reads: int) -> None:
        super().__init__()
        self.channels = ["device"]
        self.primary = "device"
        self.ok_reads = ok_reads
        self.reads = 0

    @classmethod
    def probe(cls, **options):  # type: ignore[no-untyped-def]
        return True, "test meter"

    def read(self) -> Reading:
        self.reads += 1
        if self.reads > self.ok_reads:
            raise OSError("device lost")
        return Reading({"device": 40.0})


def test_a_meter_that_fails_mid_run_leaves_a_flagged_gap_and_a_sound_store(tmp_path: Path) -> None:
    """The sensor breaks during the run: the run still ends, every repetition is stored with its
    trace, the failed reads are a gap with the reason (never zeros), and the store is sound."""
    import math

    from inferlca.loadgen.runner import run_benchmark
    from inferlca.spec import RunSpec

    store_path = tmp_path / "r.db"
    meter = FailingMeter(ok_reads=3)  # breaks a few samples into the first repetition
    spec = RunSpec(workload="null", queries=8, repetitions=2, period_ms=5.0, sampler="thread")
    with Store.open(store_path) as store:
        outcome = run_benchmark(spec, store, meter=meter, logs_dir=tmp_path / "logs")
    runs, problems = _sound(store_path)
    assert problems == [] and len(runs) == 1
    (run,) = runs
    assert len(run.repetitions) == 2 and outcome.run_id == run.run_id
    with Store.open_readonly(store_path) as s:
        traces = [s.load_trace(run.run_id, k) for k in (0, 1)]
    assert all(t is not None for t in traces)
    first = traces[0]
    assert first is not None
    watts = first.channels["device"]
    assert watts[0] == 40.0  # read before the sensor broke
    assert any(math.isnan(w) for w in watts) and not any(w == 0 for w in watts)
    assert any("device lost" in str(g.reason) for g in first.gaps)
    _report("meter failing mid-run", 1, 1, 0)


def test_a_child_that_floods_stdout_is_streamed_not_held(tmp_path: Path) -> None:
    """`measure --json` of a command writing 200 MB to stdout: the flood goes to stderr as it is
    written, stdout holds only the JSON, and inferlca's memory stays far below the flood's size
    (it once held the whole output: 625 MB for 200 MB)."""
    import json

    flood = ("import sys\nchunk = b'x' * (1 << 20)\n"
             "for _ in range(200):\n    sys.stdout.buffer.write(chunk)\n")
    err_file = tmp_path / "stderr.bin"
    out_file = tmp_path / "stdout.json"
    # a wrapper process runs the command line, so its children's peak memory is this run's only
    # (the test process's own children include every earlier subprocess of the suite)
    wrapper = ("import resource, subprocess, sys\n"
               "with open(sys.argv[1], 'wb') as out, open(sys.argv[2], 'wb') as err:\n"
               "    code = subprocess.run(sys.argv[3:], stdout=out, stderr=err).returncode\n"
               "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    p = subprocess.run(
        [sys.executable, "-c", wrapper, str(out_file), str(err_file),
         sys.executable, "-m", "inferlca", "measure", "--meter", "modelled", "--json", "--",
         sys.executable, "-c", flood],
        capture_output=True, text=True, env=subprocess_env(), timeout=300, check=True)
    code, peak_kib = (int(x) for x in p.stdout.split())
    assert code == 0, err_file.read_bytes()[-2000:]
    d = json.loads(out_file.read_text())  # nothing but the JSON on stdout
    assert d["exit_code"] == 0 and d["energy"]["energy_j"] > 0
    assert err_file.stat().st_size >= 200 * (1 << 20)  # every byte of the flood arrived
    assert peak_kib / 1024 < 200, f"peak {peak_kib / 1024:.0f} MB"
    _report("child flooding stdout (200 MB)", 1, 1, 0)
