"""CPU time of a process and all its descendants, read cheaply enough for a 100 Hz sampler.

The modelled meter charges the measured process tree its own dynamic power from the tree's CPU
seconds. Finding the tree means reading ``/proc/<pid>/stat`` of every process on the machine (each
line names its parent); doing that at every refresh cost 1.3 ms a time on a quiet 2-vCPU VM with
68 processes, 0.8 % of a core at 5 refreshes a second, more than half of the sampler process's own
CPU. :class:`ProcessTree` scans ``/proc`` only when a process may have been created since its last
scan and re-reads only the members' own ``stat`` files in between.

A new process is noticed from the last PID the kernel handed out (the fifth field of
``/proc/loadavg``): when it has not moved, no process (nor thread) was created anywhere, so the
members found are still the whole tree; when it has moved, ``/proc`` is scanned again. A machine
that creates processes all the time costs what a scan per refresh costs (~20 us per process on
the machine), one that does not costs a few small reads. Without a readable ``/proc/loadavg``,
``/proc`` is scanned every :data:`BLIND_RESCAN_S`. (``/proc/<pid>/task/<tid>/children`` would
find children without a scan, but needs CONFIG_PROC_CHILDREN, which the kernels we test on lack.)

The figure is cumulative (each process's user + system time, plus those of the children it has
reaped), so a descendant born between two scans is counted in full, since its birth, at the next
one (:func:`spread_cpu` carries what exceeds the machine's CPUs into the next intervals, so none
is lost), and one that ends and is reaped moves into its parent's reaped-children time. A member
whose parent ended stays a member until it ends (it was handed to init or a subreaper, not to
another workload). Members are read parents first, so a child reaped between two reads is at
worst missing from one figure (the next one has it through its parent), never counted twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
#: when ``/proc/loadavg`` does not say whether a process was created: scan this often
BLIND_RESCAN_S = 2.0


def _read(path: str) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 1024)
    except OSError:
        return None
    finally:
        os.close(fd)


def parse_stat(raw: bytes) -> tuple[int, int] | None:
    """``(ppid, ticks)`` of a ``/proc/<pid>/stat`` line: ticks = utime + stime + cutime + cstime
    (own and reaped children's CPU time, in ``1/USER_HZ``); None when malformed. The command name
    may hold spaces and parentheses: fields are counted from its last ``)``."""
    rest = raw[raw.rfind(b")") + 2:].split()
    if len(rest) < 15:
        return None
    try:
        # after "pid (comm)": state ppid ... utime(12) stime(13) cutime(14) cstime(15), 1-based
        return int(rest[1]), int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14])
    except ValueError:
        return None


def last_pid(proc: str) -> int | None:
    """The last process id the kernel handed out (``/proc/loadavg``'s fifth field), or None."""
    raw = _read(os.path.join(proc, "loadavg"))
    if raw is None:
        return None
    fields = raw.split()
    try:
        return int(fields[4])
    except (IndexError, ValueError):
        return None


def scan(root_pid: int, proc: str = "/proc", also: Iterable[int] = ()
         ) -> tuple[list[int], int] | None:
    """Read every process under ``proc``: ``(members, ticks)`` of ``root_pid``'s tree, members
    listed parents first (breadth first from the root); None when the root is not there.
    ``also``: earlier members, kept with their own descendants while they live even when no
    longer under the root (a process whose parent ended is handed to init or a subreaper)."""
    try:
        entries = [e for e in os.listdir(proc) if e.isdigit()]
    except OSError:
        return None
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for e in entries:
        raw = _read(os.path.join(proc, e, "stat"))
        parsed = parse_stat(raw) if raw is not None else None
        if parsed is None:
            continue
        pid = int(e)
        children.setdefault(parsed[0], []).append(pid)
        ticks[pid] = parsed[1]
    if root_pid not in ticks:
        return None
    members: list[int] = []
    seen: set[int] = set()
    for start in (root_pid, *also):
        if start in seen or start not in ticks:
            continue  # already under an earlier start, or ended
        i = len(members)
        members.append(start)
        seen.add(start)
        while i < len(members):  # breadth first: parents before their children
            for child in children.get(members[i], ()):
                if child not in seen:
                    seen.add(child)
                    members.append(child)
            i += 1
    return members, sum(ticks[pid] for pid in members)


def tree_cpu_seconds(root_pid: int, proc: str | os.PathLike[str] = "/proc") -> float | None:
    """CPU seconds (user + system, and those of reaped children) of a process and all its
    descendants, from one full scan of ``/proc`` (what psutil reads on Linux); None if it is gone."""
    found = scan(root_pid, os.fspath(proc))
    return None if found is None else found[1] / float(_CLK_TCK)


def spread_cpu(delta_cpu_s: float, dt_s: float, n_cpus: int, carry_s: float = 0.0
               ) -> tuple[float, float]:
    """``(utilisation, carry)`` of an interval in which the tree's figure grew ``delta_cpu_s``:
    the utilisation over the machine's CPUs, at most 1; CPU time beyond that (a descendant found
    late, counted since its birth) is carried into the next intervals rather than lost. A figure
    that fell (a member's time left the tree) is an idle interval, never a negative one."""
    due = delta_cpu_s + carry_s
    if due <= 0:
        return 0.0, 0.0
    if dt_s <= 0:
        return 0.0, due
    room = dt_s * n_cpus
    used = min(due, room)
    return used / room, due - used


class ProcessTree:
    """Cumulative CPU seconds of ``root_pid`` and its descendants (see the module doc).

    Args:
        root_pid: the tree's root (the measured process).
        proc: the procfs root (a fake tree in tests).
        clock: monotonic seconds (injected in tests).
    """

    def __init__(self, root_pid: int, proc: str | os.PathLike[str] = "/proc",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.root_pid = root_pid
        self.proc = os.fspath(proc)
        self._clock = clock
        self._members: list[int] = []
        self._scanned_at = -float("inf")
        self._last_pid: int | None = None
        self._gone = False
        #: full scans of ``proc`` so far (the costly part; the rest reads the members only)
        self.scans = 0

    def cpu_seconds(self) -> float | None:
        """The tree's CPU seconds now; None when the root process is gone (and from then on:
        its process id may be handed to another process)."""
        if self._gone:
            return None
        now = self._clock()
        newest = last_pid(self.proc)
        if newest is None:  # cannot tell whether a process was created: scan now and then
            stale = now - self._scanned_at >= BLIND_RESCAN_S
        else:
            stale = newest != self._last_pid
        if not self._members or stale:
            return self._rescan(now, newest)
        total = 0
        kept: list[int] = []
        for pid in self._members:
            raw = _read(os.path.join(self.proc, str(pid), "stat"))
            parsed = parse_stat(raw) if raw is not None else None
            if parsed is None:
                if pid == self.root_pid:
                    self._gone = True
                    return None
                continue  # ended and reaped: its time is in its parent's now
            kept.append(pid)
            total += parsed[1]
        self._members = kept
        return total / float(_CLK_TCK)

    def _rescan(self, now: float, newest: int | None) -> float | None:
        found = scan(self.root_pid, self.proc, also=self._members)
        self.scans += 1
        self._scanned_at = now
        self._last_pid = newest
        if found is None:
            self._gone = True
            return None
        self._members = found[0]
        return found[1] / float(_CLK_TCK)
