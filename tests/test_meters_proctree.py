"""The measured process tree's CPU time, read cheaply (:mod:`inferlca.meters.proctree`): fake
``/proc`` trees under a temporary folder (a ``stat`` file per process, ``loadavg`` with the last
PID handed out), then the live ``/proc`` with real child processes."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferlca.meters.proctree import (
    BLIND_RESCAN_S,
    ProcessTree,
    parse_stat,
    scan,
    spread_cpu,
    tree_cpu_seconds,
)

TCK = os.sysconf("SC_CLK_TCK")


class FakeProc:
    """A procfs root: ``<pid>/stat`` with ppid and utime/stime/cutime/cstime, and ``loadavg``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: dict[int, list[int]] = {}  # pid -> [ppid, utime, stime, cutime, cstime]
        self.last = 0
        self.write_loadavg()

    def write_loadavg(self) -> None:
        (self.root / "loadavg").write_text(f"0.10 0.20 0.30 1/120 {self.last}\n")

    def write(self, pid: int) -> None:
        ppid, ut, st_, cut, cst = self.procs[pid]
        d = self.root / str(pid)
        d.mkdir(exist_ok=True)
        fields = ["S", ppid, 1, 1, 0, -1, 4194560, 100, 0, 0, 0, ut, st_, cut, cst, 20, 0, 1, 0]
        (d / "stat").write_text(f"{pid} (py (x) y) " + " ".join(map(str, fields)) + "\n")

    def spawn(self, pid: int, ppid: int, ticks: int = 0, announce: bool = True) -> None:
        self.procs[pid] = [ppid, ticks, 0, 0, 0]
        self.write(pid)
        if announce:  # the last PID the kernel handed out
            self.last = pid
            self.write_loadavg()

    def run(self, pid: int, ticks: int) -> None:
        self.procs[pid][1] += ticks
        self.write(pid)

    def reap(self, pid: int) -> None:
        """``pid`` ends and its parent waits for it: its own and reaped time move to the parent."""
        ppid, ut, st_, cut, cst = self.procs.pop(pid)
        for other in self.procs.values():  # its unreaped children go to init (pid 1)
            if other[0] == pid:
                other[0] = 1
        for p in list(self.procs):
            self.write(p)
        self.procs[ppid][3] += ut + cut
        self.procs[ppid][4] += st_ + cst
        self.write(ppid)
        (self.root / str(pid) / "stat").unlink()
        (self.root / str(pid)).rmdir()


def machine(tmp: Path) -> FakeProc:
    f = FakeProc(tmp)
    f.spawn(1, 0, 5000)
    f.spawn(10, 1, 100)  # the measured process
    f.spawn(11, 10, 40)  # its child
    f.spawn(12, 11, 7)  # a grandchild
    f.spawn(20, 1, 900)  # a busy neighbour: never charged
    return f


def test_parse_stat_counts_fields_after_the_last_parenthesis():
    raw = b"42 (a) b (c) d) R 7 42 42 0 -1 0 0 0 0 0 11 22 33 44 20 0 1 0\n"
    assert parse_stat(raw) == (7, 11 + 22 + 33 + 44)
    assert parse_stat(b"42 (short) R 7 1 2\n") is None
    assert parse_stat(b"42 (x) R 7 1 1 0 -1 0 0 0 0 0 u 2 3 4 20\n") is None


def test_tree_is_the_root_and_its_descendants_only(tmp_path):
    machine(tmp_path)
    members, ticks = scan(10, str(tmp_path))
    assert members == [10, 11, 12]  # parents first
    assert ticks == 100 + 40 + 7
    assert tree_cpu_seconds(10, tmp_path) == (100 + 40 + 7) / TCK
    assert tree_cpu_seconds(99, tmp_path) is None


def test_between_scans_only_the_members_are_read(tmp_path):
    f = machine(tmp_path)
    tree = ProcessTree(10, tmp_path)
    assert tree.cpu_seconds() == 147 / TCK and tree.scans == 1
    f.run(11, 13)
    f.run(20, 500)  # the neighbour: not charged
    assert tree.cpu_seconds() == 160 / TCK and tree.scans == 1
    # a process that appeared without the last PID moving is not looked for (it cannot happen
    # on Linux: this shows that no scan was made)
    f.spawn(13, 10, 50, announce=False)
    assert tree.cpu_seconds() == 160 / TCK and tree.scans == 1
    # the kernel handed out a new PID: /proc is scanned again and the newcomer counted in full
    f.spawn(14, 12, 3)
    assert tree.cpu_seconds() == (160 + 50 + 3) / TCK and tree.scans == 2


def test_a_reaped_child_moves_into_its_parent_without_a_jump(tmp_path):
    f = machine(tmp_path)
    tree = ProcessTree(10, tmp_path)
    f.run(12, 30)
    before = tree.cpu_seconds()
    f.reap(12)
    assert tree.cpu_seconds() == before == (147 + 30) / TCK
    f.reap(11)
    assert tree.cpu_seconds() == before and tree.scans == 1


def test_the_root_gone_is_none_from_then_on(tmp_path):
    f = machine(tmp_path)
    tree = ProcessTree(10, tmp_path)
    assert tree.cpu_seconds() is not None
    f.reap(10)
    assert tree.cpu_seconds() is None
    f.spawn(10, 1, 1)  # the PID handed to another process
    assert tree.cpu_seconds() is None
    assert ProcessTree(77, tmp_path).cpu_seconds() is None


def test_without_loadavg_proc_is_scanned_now_and_then(tmp_path):
    f = machine(tmp_path)
    now = [0.0]
    tree = ProcessTree(10, tmp_path, clock=lambda: now[0])
    tree.cpu_seconds()
    (tmp_path / "loadavg").unlink()  # cannot tell whether a process was created
    f.spawn(15, 10, 8, announce=False)
    now[0] = BLIND_RESCAN_S - 0.1
    assert tree.cpu_seconds() == 147 / TCK and tree.scans == 1
    now[0] = BLIND_RESCAN_S
    assert tree.cpu_seconds() == 155 / TCK and tree.scans == 2


EVENTS = st.lists(
    st.tuples(st.sampled_from(["spawn", "run", "reap"]), st.integers(0, 1000),
              st.integers(1, 50)),
    max_size=40,
)


@settings(max_examples=80, deadline=None)
@given(EVENTS)
def test_incremental_figure_equals_the_tree_by_its_history_after_any_events(events):
    """Reference: a process is the tree's when it was started by one of the tree's; the figure
    is the own and reaped time of those alive (a member orphaned stays one; time reaped by init
    is no longer the tree's). Without orphans it is what one full scan finds."""
    with tempfile.TemporaryDirectory() as d:
        f = machine(Path(d))
        tree = ProcessTree(10, d)
        tree.cpu_seconds()  # the measurement starts
        ours = {10, 11, 12}
        next_pid = 400
        for kind, pick, ticks in events:
            alive = sorted(f.procs)
            if kind == "spawn":
                parent = alive[pick % len(alive)]
                f.spawn(next_pid, parent, ticks)
                if parent in ours:
                    ours.add(next_pid)
                next_pid += 1
            elif kind == "run":
                f.run(alive[pick % len(alive)], ticks)
            else:
                candidates = [p for p in alive if p not in (1, 10)]
                if candidates:
                    f.reap(candidates[pick % len(candidates)])
            expected = sum(sum(f.procs[p][1:]) for p in ours if p in f.procs)
            assert tree.cpu_seconds() == expected / TCK
            if all(f.procs[p][0] != 1 for p in ours if p in f.procs and p != 10):
                assert tree.cpu_seconds() == tree_cpu_seconds(10, d)


def test_an_orphaned_member_stays_counted_until_it_ends(tmp_path):
    f = machine(tmp_path)
    tree = ProcessTree(10, tmp_path)
    tree.cpu_seconds()
    f.run(12, 20)
    f.reap(11)  # 12's parent ends: 12 is handed to init
    f.spawn(30, 1, 0)  # something else starts: /proc is scanned again
    assert tree.cpu_seconds() == (147 + 20) / TCK and tree.scans == 2
    assert tree_cpu_seconds(10, tmp_path) == (147 + 20 - 27) / TCK  # one scan alone loses 12
    f.reap(12)  # init reaps it: its time is no longer the tree's
    assert tree.cpu_seconds() == (100 + 40) / TCK


def test_live_tree_counts_a_busy_grandchild_like_a_full_scan():
    # the measured process starts a grandchild that burns CPU then waits to be read
    code = ("import subprocess, sys\n"
            "g = subprocess.Popen([sys.executable, '-c', 'import time\\nt = time.process_time()\\n"
            "while time.process_time() - t < 0.3: pass\\nprint(1, flush=True)\\ntime.sleep(30)'],"
            " stdout=subprocess.PIPE)\n"
            "g.stdout.readline()\nprint(g.pid, flush=True)\ng.wait()\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        tree = ProcessTree(p.pid)  # finds the grandchild at the next read
        start = tree.cpu_seconds()
        assert start is not None
        grandchild = int(p.stdout.readline())  # busy part done
        mid = tree.cpu_seconds()
        assert mid is not None and mid - start >= 0.25
        assert abs(mid - tree_cpu_seconds(p.pid)) <= 2 / TCK
        os.kill(grandchild, 9)
        p.wait(10)
        time.sleep(0.05)
        assert tree.cpu_seconds() is None
    finally:
        p.kill()
        p.wait()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(-2.0, 5.0), st.floats(0.0, 1.0)), min_size=1, max_size=30),
       st.integers(1, 8))
def test_cpu_found_late_is_spread_never_lost(steps, n_cpus):
    """Whatever the figure's increments (a late find, a drop), the utilisation charged over the
    intervals plus what is still carried equals the growth, clipped at zero only where the
    figure fell below what was already charged; no interval is charged over its CPUs."""
    carry = 0.0
    for delta, dt in steps:
        due = max(delta + carry, 0.0)
        u, carry = spread_cpu(delta, dt, n_cpus, carry)
        assert 0.0 <= u <= 1.0 and carry >= 0.0
        assert math.isclose(u * dt * n_cpus + carry, due, rel_tol=1e-9, abs_tol=1e-12)


def test_cpu_found_late_hand_case():
    # 2 CPUs, 0.2 s refreshes: 1.0 CPU-s found at once fills 0.4 CPU-s per interval
    u, carry = spread_cpu(1.0, 0.2, 2)
    assert (u, carry) == (1.0, pytest.approx(0.6))
    u, carry = spread_cpu(0.1, 0.2, 2, carry)  # 0.1 new + 0.6 carried: 0.4 charged
    assert (u, carry) == (1.0, pytest.approx(0.3))
    u, carry = spread_cpu(0.0, 0.2, 2, carry)
    assert u == pytest.approx(0.75) and carry == 0.0
    assert spread_cpu(-0.5, 0.2, 2, 0.1) == (0.0, 0.0)  # the figure fell: an idle interval
