"""The sampler process: reads a meter on a fixed grid and writes into a shared-memory ring.

Started by :class:`inferlca.meters.sampler_process.ProcessSampler` as ``python -m
inferlca.meters.sampler_child``; it is not a command for people. The parent writes the job on
its standard input (a pickled dict: shared-memory name, ring capacity, meter registry name and
options, channel order, period, priority, CPU) and then talks to it through the ring's header only.

Ring layout (shared memory, native byte order): a header of :data:`HEADER_SLOTS` int64, then
``capacity`` rows of float64 ``[t_monotonic_s, read_s, power per channel..., energy per counter
channel..., failed]``. Row ``k`` (k = 0, 1, ...) lives at ``k % capacity``; the header's
:data:`H_COUNT` is written after the row, so a reader never sees a half-written row as counted. A
row that the parent has not read before it is overwritten is lost; the parent counts those.

Why a failed read failed is not in the ring: the child appends a JSON line
``{"row": k, "errors": {...}}`` to its messages file each time the set of reasons changes
(``"*"`` stands for the whole read), so row ``k`` of a failed read takes the reasons of the last
message at or before it.

Windows: the parent may ask for one sample at once by raising :data:`H_REQ` by one; the process
takes it at its next wake-up (at most one period, or :data:`MAX_SLEEP_S`) off the grid, which goes
on unchanged, and writes the row's number plus one to :data:`H_ACK` after the row. A run's
repetitions start and end on such samples while one process samples the whole run.

The process ignores Ctrl-C (the terminal sends it to the whole process group: the parent decides
when sampling stops and asks for a last sample), lowers its own priority first, and exits when
its parent is gone.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import signal
import struct
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

#: header slots (int64)
HEADER_SLOTS = 8
H_COUNT = 0  # rows written so far
H_STATE = 1  # one of the states below
H_MISSED = 2  # grid ticks skipped because a read overran
H_PID = 3  # the sampler process id
H_MSGS_DROPPED = 4  # error messages not written (cap reached)
H_CPU_US = 5  # the sampler process's own CPU time (user + system), us: with the rows the parent
#              reads it after (first, a window's edges, the last) and every 100th row
H_REQ = 6  # samples asked for at once by the parent (a count it raises by one per request)
H_ACK = 7  # 1 + the row number of the sample that answered the last request (after the row)
#: states
STARTING, RUNNING, STOP, DONE, FAILED = 0, 1, 2, 3, 4
#: columns before the channels: the middle of the read (monotonic s) and its duration
COL_T, COL_READ = 0, 1
#: at most this many error-reason messages are written (a meter failing in alternation)
MAX_MESSAGES = 2000
#: longest single sleep, so that a stop request is seen quickly at long periods
MAX_SLEEP_S = 0.05


def row_width(n_channels: int, n_counters: int) -> int:
    """Float64 columns of one ring row."""
    return 2 + n_channels + n_counters + 1


def ring_bytes(capacity: int, n_channels: int, n_counters: int) -> int:
    """Bytes of a ring: the header and ``capacity`` rows."""
    return 8 * HEADER_SLOTS + 8 * capacity * row_width(n_channels, n_counters)


def ring_views(buf: Any, capacity: int, n_channels: int, n_counters: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """``(header, rows)`` numpy views over a ring buffer (the reading side; the sampler process
    itself writes with :mod:`struct`, so that it starts without importing numpy)."""
    import numpy as np

    header = np.ndarray((HEADER_SLOTS,), dtype=np.int64, buffer=buf, offset=0)
    rows = np.ndarray((capacity, row_width(n_channels, n_counters)), dtype=np.float64, buffer=buf,
                      offset=8 * HEADER_SLOTS)
    return header, rows


def lower_priority(priority: str) -> str:
    """Set this process's CPU priority; return what was achieved (e.g. ``nice 19, SCHED_IDLE``).

    ``idle``: nice 19 and the SCHED_IDLE policy where the system allows it; ``nice``: nice 19;
    ``normal``: unchanged; ``fifo``: SCHED_FIFO at its lowest priority (1) where allowed
    (root or CAP_SYS_NICE), so that a tick's wake-up runs at once whatever the workload does
    (the process sleeps between reads; the kernel's real-time throttling caps it in any case),
    else unchanged and said so.
    """
    done: list[str] = []
    if priority in ("idle", "nice"):
        try:
            os.nice(19 - os.nice(0))
            done.append(f"nice {os.nice(0)}")
        except OSError as exc:
            done.append(f"nice unchanged ({exc.strerror})")
    # the scheduling policy: (name, its priority, what is said when it cannot be had)
    policy = {"idle": ("SCHED_IDLE", 0, ""), "fifo": ("SCHED_FIFO", 1, ": normal")}
    if priority in policy:
        name, level, otherwise = policy[priority]
        try:
            os.sched_setscheduler(0, getattr(os, name), os.sched_param(level))  # type: ignore[attr-defined]
            done.append(name + (f" {level}" if level else ""))
        except (AttributeError, OSError) as exc:
            done.append(f"no {name} ({getattr(exc, 'strerror', None) or exc}){otherwise}")
    return ", ".join(done) or "normal"


def _attach(name: str, size: int) -> Any:
    """Map the parent's shared memory without registering it with a resource tracker (the parent
    owns and unlinks it; a tracker here would unlink it when this process exits)."""
    path = f"/dev/shm/{name.lstrip('/')}"
    if os.path.exists(path):
        import mmap

        fd = os.open(path, os.O_RDWR)
        try:
            return mmap.mmap(fd, size)
        finally:
            os.close(fd)
    from multiprocessing import resource_tracker, shared_memory

    shm = shared_memory.SharedMemory(name=name)
    resource_tracker.unregister(shm._name, "shared_memory")  # type: ignore[attr-defined]
    return shm.buf


def run(job: dict[str, Any], messages: Any) -> int:
    """Sample until the parent asks to stop (or is gone); return the exit code."""
    from inferlca.meters.base import Reading
    from inferlca.meters.registry import reopen

    channels: list[str] = list(job["channels"])
    counters: list[str] = list(job["counters"])
    capacity = int(job["capacity"])
    period = float(job["period_s"])
    buf = _attach(job["shm_name"], ring_bytes(capacity, len(channels), len(counters)))
    row_fmt = f"={row_width(len(channels), len(counters))}d"
    row_bytes = struct.calcsize(row_fmt)

    def put(slot: int, value: int) -> None:
        struct.pack_into("=q", buf, 8 * slot, value)

    def get(slot: int) -> int:
        return int(struct.unpack_from("=q", buf, 8 * slot)[0])

    put(H_PID, os.getpid())

    def say(obj: dict[str, Any]) -> None:
        messages.write(json.dumps(obj) + "\n")
        messages.flush()

    say({"priority": lower_priority(job.get("priority", "nice"))})
    cpu = job.get("cpu")
    if cpu is not None:
        try:
            os.sched_setaffinity(0, {int(cpu)})  # type: ignore[attr-defined]
            say({"cpu": int(cpu)})
        except (AttributeError, OSError, ValueError) as exc:
            say({"cpu_error": f"cannot pin to CPU {cpu}: {exc}"})
    try:
        meter = reopen(job["meter"], job["options"])
    except Exception as exc:  # noqa: BLE001 - any failure to open is reported to the parent
        say({"fatal": f"cannot open meter {job['meter']!r} here: {type(exc).__name__}: {exc}"})
        put(H_STATE, FAILED)
        return 3
    if list(meter.channels) != channels or list(meter.counter_channels) != counters:
        say({"fatal": f"meter {job['meter']!r} opened with channels {meter.channels} here, "
                      f"{channels} in the measured process"})
        put(H_STATE, FAILED)
        meter.close()
        return 3

    nan = math.nan
    state: dict[str, Any] = {"count": 0, "errors": {}, "messages": 0}
    parent = os.getppid()
    header_bytes = 8 * HEADER_SLOTS
    monotonic, process_time = time.monotonic, time.process_time
    pack_into, read = struct.pack_into, meter.read

    def take(exact_cpu: bool) -> int:
        """One reading into the ring; the process's CPU time is written with the rows the parent
        reads it after (``exact_cpu``: a window's edges, the last) and every 100th row."""
        before = monotonic()
        try:
            r = read()
        except Exception as exc:  # noqa: BLE001 - a meter bug must be a gap, not a dead sampler
            r = Reading.failed(channels, f"{type(exc).__name__}: {exc}", counters)
        after = monotonic()
        k = state["count"]
        power, energy = r.power_w, r.energy_j
        pack_into(row_fmt, buf, header_bytes + (k % capacity) * row_bytes,
                  0.5 * (before + after), after - before,
                  *[power.get(c, nan) for c in channels],
                  *[energy.get(c, nan) for c in counters],
                  1.0 if r.errors else 0.0)
        if r.errors or state["errors"]:  # the reasons changed (most reads have none)
            errors = {("*" if key is None else key): why for key, why in r.errors.items()}
            if errors != state["errors"]:
                state["errors"] = errors
                if state["messages"] < MAX_MESSAGES:
                    say({"row": k, "errors": errors})
                    state["messages"] += 1
                else:
                    put(H_MSGS_DROPPED, get(H_MSGS_DROPPED) + 1)
        state["count"] = k + 1
        put(H_COUNT, k + 1)  # after the row: the parent reads only counted rows
        if exact_cpu or k % 100 == 0:
            put(H_CPU_US, int(process_time() * 1e6))
        return k

    try:
        start = monotonic()
        take(True)  # the first sample: the trace's t = 0
        put(H_STATE, RUNNING)
        k = 1
        missed = 0
        served = 0  # requests answered
        while True:
            target = start + k * period
            delay = target - monotonic()
            while delay > 0 and get(H_STATE) != STOP and get(H_REQ) == served:
                time.sleep(min(delay, MAX_SLEEP_S))
                delay = target - monotonic()
            stopping = get(H_STATE) == STOP
            if k % 10 == 0 and os.getppid() != parent:  # the measured process is gone:
                return 4  # nobody will read this
            asked = get(H_REQ)
            # after a stop request: the last sample, closing the window
            row = take(asked != served or stopping)
            if asked != served:  # this sample answers the parent's request (a window's edge)
                put(H_ACK, row + 1)
                served = asked
            if stopping:
                break
            if delay > 0:  # woken before the tick by a request: the grid goes on as it was
                continue
            k += 1
            late = monotonic() - (start + k * period)
            if late > 0:  # overran one or more ticks: skip them rather than bunch reads
                skipped = int(late // period) + 1
                missed += skipped
                put(H_MISSED, missed)
                k += skipped
        put(H_STATE, DONE)
        return 0
    finally:
        meter.close()


def main() -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    job = pickle.load(sys.stdin.buffer)
    with open(job["messages"], "a", encoding="utf-8") as messages:
        return run(job, messages)


if __name__ == "__main__":
    sys.exit(main())
