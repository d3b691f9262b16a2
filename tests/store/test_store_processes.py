"""The store across processes: SIGKILL while writing, Ctrl-C, dead writers, two writers at once,
and stores that cannot be written."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cli_flags import as_cli
from helpers_store import SPEC, add_complete_run

from inferlca.errors import StoreError
from inferlca.store import Store


def _default_sigint() -> None:
    """In the child: a shell running us in the background ignores SIGINT, and a Python
    started with SIGINT ignored never raises KeyboardInterrupt; restore the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"


def _child(tmp_path: Path, code: str, *args: str) -> subprocess.Popen:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(code))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), str(HERE)]))
    # preexec_fn only calls signal.signal (async-signal-safe) in the child
    return subprocess.Popen([sys.executable, str(script), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_default_sigint)  # noqa: PLW1509


def _wait_for(proc: subprocess.Popen, word: str) -> str:
    line = proc.stdout.readline()
    if not line.startswith(word):
        proc.kill()
        raise AssertionError(f"child said {line!r}; stderr: {proc.stderr.read()}")
    return line


KILL_CHILD = """
import sys, time
import numpy as np
from helpers_store import SPEC, metrics, orin_trace
from inferlca.store import Store

store = Store.open(sys.argv[1])
rid = store.create_run(SPEC)
store.add_repetition(rid, 0, metrics=metrics(0), trace=orin_trace(), latencies_s=[0.01] * 16)

# the second repetition carries a large incompressible trace (4 MB of timestamps), so SQLite
# spills uncommitted pages to the write-ahead log before the kill
n = 500_000
rng = np.random.default_rng(0)
big = orin_trace()
big.t_s = np.cumsum(rng.uniform(0.009, 0.011, n))
big.channels = {"module": rng.normal(30.0, 2.0, n)}
big.counters = {}
state = {"armed": False}

def on_statement(sql):
    # once the trace arrays start going in, the repetition and trace rows are written but not
    # committed: stop there and wait for SIGKILL
    if sql.startswith("INSERT INTO trace_arrays"):
        state["armed"] = True

def on_step():
    if state["armed"]:
        print("INSIDE", rid, flush=True)
        time.sleep(120)
    return 0

store._conn.execute("PRAGMA cache_size = -256")
store._conn.set_trace_callback(on_statement)
store._conn.set_progress_handler(on_step, 1)
store.add_repetition(rid, 1, metrics=metrics(1), trace=big, latencies_s=[0.01] * 16)
print("NOT KILLED", flush=True)
"""


def test_sigkill_while_writing_leaves_a_consistent_store(tmp_path):
    path = tmp_path / "inferlca.db"
    proc = _child(tmp_path, KILL_CHILD, str(path))
    try:
        rid = _wait_for(proc, "INSIDE").split()[1]
        wal = Path(str(path) + "-wal")
        assert wal.stat().st_size > 1_000_000  # uncommitted pages of repetition 1 reached the WAL
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    with Store.open(path) as s:
        assert s.integrity_check() == []
        run = s.get_run(rid)
        assert [r.index for r in run.repetitions] == [0]  # repetition 1: nothing of it
        assert s.load_trace(rid, 0).t_s.size == 50
        # the writer is dead: the run reads as incomplete, the row keeps what it said
        assert run.stored_status == "running" and run.status == "incomplete"
        assert f"process {proc.pid}" in run.status_note and "no longer alive" in run.status_note
    conn = sqlite3.connect(path)
    for table in ("repetitions", "traces", "latencies"):
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 1, table
    assert conn.execute("SELECT COUNT(*) FROM trace_arrays WHERE idx = 1").fetchone()[0] == 0
    conn.close()


SIGINT_CHILD = """
import sys, time
import numpy as np
from helpers_store import SPEC, metrics, orin_trace
from inferlca.store import Store

store = Store.open(sys.argv[1])
rid = store.create_run(SPEC)
try:
    with store.recording(rid, notes=["synthetic weights"]):
        store.add_repetition(rid, 0, metrics=metrics(0), trace=orin_trace())
        # repetition 1: the meter samples until Ctrl-C arrives (as the sampler does)
        t, p = [], []
        try:
            print("MEASURING", rid, flush=True)
            while True:
                t.append(time.monotonic())
                p.append(12.5)
                time.sleep(0.01)
        except KeyboardInterrupt:
            trace = orin_trace()
            trace.t_s = np.array(t) - t[0]
            trace.channels = {"module": np.array(p)}
            trace.counters = {}
            trace.meta["incomplete"] = True
            store.add_repetition(rid, 1, metrics={"duration_s": float(trace.t_s[-1])}, trace=trace)
            raise
except KeyboardInterrupt:
    sys.exit(130)
"""


def test_ctrl_c_keeps_the_run_marked_incomplete_with_its_trace(tmp_path):
    path = tmp_path / "inferlca.db"
    proc = _child(tmp_path, SIGINT_CHILD, str(path))
    try:
        rid = _wait_for(proc, "MEASURING").split()[1]
        # let it sample a little, then press Ctrl-C
        proc.stdout.close()
        import time

        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 130, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    with Store.open(path) as s:
        run = s.get_run(rid)
        assert run.status == run.stored_status == "incomplete"
        assert run.error == "interrupted by the user (Ctrl-C)"
        assert [(r.index, r.status) for r in run.repetitions] == [(0, "complete"), (1, "incomplete")]
        trace = s.load_trace(rid, 1)
        assert trace.meta["incomplete"] is True and trace.t_s.size >= 5
        assert set(trace.channels["module"].tolist()) == {12.5}
        assert run.summary["notes"] == ["synthetic weights"]
        assert run.summary["metrics"]["energy_total_j"]["n"] == 1


def test_run_left_running_by_a_dead_process(tmp_path):
    path = tmp_path / "inferlca.db"
    code = """
    import os, sys
    from helpers_store import SPEC
    from inferlca.store import Store
    s = Store.open(sys.argv[1])
    print(s.create_run(SPEC), flush=True)
    os._exit(0)  # dies without finishing the run
    """
    proc = _child(tmp_path, code, str(path))
    out, err = proc.communicate(timeout=60)
    dead = out.strip()
    assert dead, err
    with Store.open(path) as s:
        alive = s.create_run(SPEC)  # this process: alive
        foreign = s.create_run(SPEC)
        reused = s.create_run(SPEC)
        s._conn.execute("UPDATE runs SET hostname = 'another-machine' WHERE run_id = ?", (foreign,))
        # our pid, but another process start time: the pid was reused by someone else
        s._conn.execute("UPDATE runs SET proc_start = '1' WHERE run_id = ?", (reused,))
        status = {r.run_id: r.status for r in s.list_runs()}
        assert status == {dead: "incomplete", alive: "running", foreign: "running", reused: "incomplete"}
        assert [r.run_id for r in s.list_runs(status="incomplete")] == [dead, reused]
        assert s.get_run(alive).hostname == socket.gethostname()
        assert s.get_run(alive).pid == os.getpid()
        # repair writes down what readers already see: dead writers' runs become incomplete
        assert sorted(s.close_dead_runs()) == sorted([dead, reused])
        run = s.get_run(dead)
        assert run.stored_status == "incomplete" and "no longer alive" in run.error
        assert run.summary["repetitions"] == 0 and run.finished_at
        assert s.get_run(alive).stored_status == "running"
        assert s.get_run(foreign).stored_status == "running"
        assert s.close_dead_runs() == []


WRITER_CHILD = """
import sys
from helpers_store import add_complete_run
from inferlca.store import Store

print("READY", flush=True)
sys.stdin.readline()  # start together: both create and migrate the new store at once
with Store.open(sys.argv[1]) as store:
    for _ in range(int(sys.argv[2])):
        add_complete_run(store, reps=2)
print("DONE", flush=True)
"""


def test_two_processes_write_the_same_store(tmp_path):
    path = tmp_path / "inferlca.db"  # not created yet: both children create and migrate it at once
    procs = []
    for _ in range(2):
        script = tmp_path / f"writer{len(procs)}.py"
        script.write_text(textwrap.dedent(WRITER_CHILD))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), str(HERE)]))
        procs.append(subprocess.Popen([sys.executable, str(script), str(path), "12"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, env=env))
    for p in procs:
        _wait_for(p, "READY")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    # a reader lists while they write
    import time

    deadline = time.monotonic() + 60
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    seen = []
    with Store.open(path) as reader:
        for _ in range(5):
            seen.append(len(reader.list_runs()))
            time.sleep(0.05)
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and "DONE" in out, err
    assert seen == sorted(seen)
    with Store.open(path) as s:
        assert [m["version"] for m in s.info()["migrations"]] == [1, 2, 3]  # migrated once
        runs = s.list_runs()
        assert len(runs) == 24 and len({r.run_id for r in runs}) == 24
        assert all(r.status == "complete" and len(r.repetitions) == 2 for r in runs)
        assert s.integrity_check() == []


def test_unwritable_store_is_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="is a file, not a folder") as e:
        Store.open(blocker / "inferlca.db")
    assert e.value.exit_code == 2
    with pytest.raises(StoreError) as e:
        Store.open("/proc/inferlca-test.db")
    assert "choose a writable --store PATH" in as_cli(e.value, "store", "info")
    with pytest.raises(StoreError, match="not a regular file"):
        Store.open("/dev/null")


def test_unwritable_store_from_the_cli(cli, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    source = tmp_path / "src.db"
    with Store.open(source) as s:
        add_complete_run(s, reps=1)
    r = cli("store", "merge", str(source), "--store", str(blocker / "inferlca.db"))
    assert r.code == 2
    assert r.err.startswith("error: cannot create the results store") and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1
