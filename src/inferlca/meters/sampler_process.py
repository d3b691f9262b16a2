"""The out-of-process sampler: the meter read from a separate, low-priority process.

:class:`ProcessSampler` has the contract of :class:`~inferlca.meters.sampler.Sampler` (it is a
subclass); :func:`open_sampler` gives either for ``--sampler process|thread``. The sampler process
itself is :mod:`inferlca.meters.sampler_child`.
"""

from __future__ import annotations

import threading
import time
import warnings
from typing import Any

import numpy as np

from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.meters.base import PowerMeter, Reading
from inferlca.meters.sampler import Sampler
from inferlca.traces.energy import duration_s
from inferlca.traces.trace import Gap, PowerTrace

#: ``--sampler`` values: a separate low-priority process (default) or a thread of this process
SAMPLER_KINDS = ("process", "thread")
#: ``priority`` values of :class:`ProcessSampler`
PRIORITIES = ("idle", "nice", "normal")


class ProcessSampler(Sampler):
    """Sample ``meter`` every ``period_s`` seconds from a separate, low-priority process.

    Same contract as :class:`Sampler` (context manager, :meth:`mark`, :meth:`now`, ``.trace``,
    ``meta["incomplete"]`` after an exception or Ctrl-C). The sampler process
    (:mod:`inferlca.meters.sampler_child`) opens its own copy of the meter from
    ``meter.open_spec`` (set by :func:`~inferlca.meters.registry.open_meter`), reads it on a
    fixed grid and writes each reading with its ``CLOCK_MONOTONIC`` time (the middle of the read)
    into a shared-memory ring; this process only copies the ring out, about once a second from a
    thread that otherwise sleeps, at :meth:`mark` and at the end. Every sample of the trace, the
    first at ``t = 0`` and the last at the stop, comes from that one copy of the meter, so energy
    counters (NVML, RAPL, counted since the meter was opened) stay one series. The workload
    therefore neither delays the samples (it may hold the GIL or both cores) nor is delayed by
    them beyond what the scheduler gives a process at the lowest priority.

    The process cannot start (no ``open_spec``, the meter does not open there, no shared memory,
    too slow to start): the thread sampler runs instead and ``trace.meta["sampler_fallback"]``
    says why. The process dies during the run: the trace ends its good samples there, a failed
    sample at the stop and a gap say so (``meta["sampler_died"]``) and the run goes on. Readings
    overwritten before they were copied out are counted (``meta["dropped_readings"]``) and leave
    a gap; never silently.

    Args:
        meter: an open meter (its own reads are not used while the process runs).
        period_s: requested period in seconds (>= 1 ms).
        close_meter: close ``meter`` when the sampler stops.
        priority: ``nice`` (nice 19, the lowest ordinary priority; default), ``idle`` (nice 19
            and SCHED_IDLE where allowed: runs only when a CPU is otherwise free, so a workload
            on every core starves it) or ``normal``.
        cpu: pin the sampler process to this CPU (None: any).
        capacity: ring rows (default: 120 s of samples, at least 4096).
        start_timeout_s: longest wait for the process's first sample before falling back.
    """

    def __init__(
        self,
        meter: PowerMeter,
        period_s: float = 0.01,
        close_meter: bool = False,
        priority: str = "nice",
        cpu: int | None = None,
        capacity: int | None = None,
        start_timeout_s: float = 30.0,
    ) -> None:
        super().__init__(meter, period_s=period_s, close_meter=close_meter)
        if priority not in PRIORITIES:
            raise UnknownNameError("sampler priority", str(priority), PRIORITIES,
                                   hint=f"(accepted: {', '.join(PRIORITIES)})")
        if cpu is not None and (not isinstance(cpu, int) or isinstance(cpu, bool) or cpu < 0):
            raise InvalidValueError(f"sampler CPU must be a CPU number >= 0, got {cpu!r}")
        if capacity is not None and (not isinstance(capacity, int) or capacity < 16):
            raise InvalidValueError(f"ring capacity must be an integer >= 16, got {capacity!r}")
        self.priority = priority
        self.cpu = cpu
        self.capacity = capacity or max(4096, int(120.0 / self.period_s))
        self.start_timeout_s = float(start_timeout_s)
        self.fallback_reason: str | None = None
        self._proc: Any = None
        self._shm: Any = None
        self._header: np.ndarray | None = None
        self._rows: np.ndarray | None = None
        self._chunks: list[np.ndarray] = []
        self._n_copied = 0  # rows copied out (or dropped) so far
        self._dropped = 0
        self._drop_at: list[tuple[int, int]] = []  # (rows kept before the hole, rows lost)
        self._messages_path: str | None = None
        self._stderr: Any = None
        self._child_facts: dict[str, Any] = {}
        self._died: str | None = None
        self.rows_written = 0
        self.sampler_cpu_s: float | None = None
        self._cpu_at_start_us = 0

    # ---- life cycle -------------------------------------------------------------------------
    def start(self) -> Sampler:
        if self._thread is not None or self._proc is not None:
            raise RuntimeError("sampler already started")
        try:
            reason = self._start_process()
        except BaseException:  # Ctrl-C while the process starts: leave nothing behind
            self._abandon_process()
            raise
        if reason is not None:
            self._cleanup()
            self.fallback_reason = reason
            warnings.warn(f"sampler process not used ({reason}): sampling from a thread instead",
                          RuntimeWarning, stacklevel=2)
            return super().start()
        self.kind = "process"
        self._thread = threading.Thread(target=self._copy_loop, name="inferlca-ring-reader",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, incomplete: bool = False) -> PowerTrace:
        if self._trace is not None:
            return self._trace
        if self.kind != "process":
            trace = super().stop(incomplete)
            if self.fallback_reason is not None:
                trace.meta["sampler_fallback"] = self.fallback_reason
            return trace
        self._incomplete = self._incomplete or incomplete
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        from inferlca.meters import sampler_child as child

        t_stop = time.monotonic()
        self._finish_process()
        self._copy()
        self.rows_written = self._n_copied  # every row the process wrote: kept + dropped
        if self._header is not None:
            #: CPU seconds the sampler process spent sampling (its start-up excluded)
            self.sampler_cpu_s = (int(self._header[child.H_CPU_US]) - self._cpu_at_start_us) / 1e6
        self._assemble(t_stop)
        self._cleanup()
        if self.close_meter:
            self.meter.close()
        self._trace = self._build()
        self._annotate(self._trace)
        return self._trace

    def mark(self, name: str, at_monotonic_s: float | None = None) -> float:
        t_s = super().mark(name, at_monotonic_s)
        if self.kind == "process":
            self._copy()  # cheap; keeps the ring from overflowing in long runs of short phases
        return t_s

    # ---- process ------------------------------------------------------------------------------
    def _start_process(self) -> str | None:
        """Start the sampler process and wait for its first sample; a reason when it cannot."""
        import os
        import pickle
        import subprocess
        import sys
        import tempfile
        from pathlib import Path

        from inferlca.meters import sampler_child as child

        spec = getattr(self.meter, "open_spec", None)
        if spec is None:
            return (f"meter {self.meter.name!r} was not opened by open_meter, so it cannot be "
                    "opened again in another process")
        channels, counters = list(self.meter.channels), list(self.meter.counter_channels)
        try:
            from multiprocessing import shared_memory

            self._shm = shared_memory.SharedMemory(
                create=True, size=child.ring_bytes(self.capacity, len(channels), len(counters)))
        except (ImportError, OSError, ValueError) as exc:
            return f"no shared memory: {exc}"
        self._header, self._rows = child.ring_views(self._shm.buf, self.capacity, len(channels),
                                                    len(counters))
        self._header[:] = 0
        fd, self._messages_path = tempfile.mkstemp(prefix="inferlca-sampler-", suffix=".jsonl")
        os.close(fd)
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in _cleanup
        job = {"shm_name": self._shm.name, "capacity": self.capacity, "meter": spec[0],
               "options": spec[1], "channels": channels, "counters": counters,
               "period_s": self.period_s, "priority": self.priority, "cpu": self.cpu,
               "messages": self._messages_path}
        try:
            payload = pickle.dumps(job)
        except Exception as exc:  # noqa: BLE001 - an option that cannot cross processes
            return f"the meter's options cannot be sent to another process: {exc}"
        import inferlca

        src = str(Path(inferlca.__file__).resolve().parents[1])  # this very inferlca, not another
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "inferlca.meters.sampler_child"], stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=self._stderr, env=env, close_fds=True)
            assert self._proc.stdin is not None
            self._proc.stdin.write(payload)
            self._proc.stdin.close()
        except OSError as exc:
            return f"cannot start the sampler process: {exc}"
        deadline = time.monotonic() + self.start_timeout_s
        while self._header[child.H_STATE] == child.STARTING:
            if self._proc.poll() is not None or time.monotonic() > deadline:
                break
            time.sleep(0.002)
        state = int(self._header[child.H_STATE])
        if state not in (child.RUNNING, child.STOP, child.DONE) or self._header[child.H_COUNT] < 1:
            why = self._child_says().get("fatal") or self._stderr_tail()
            if self._proc.poll() is None:
                self._proc.kill()
                self._proc.wait()
                why = why or f"no first sample within {self.start_timeout_s:g} s"
            return why or f"the sampler process exited with code {self._proc.returncode}"
        self._t0 = float(self._rows[0, child.COL_T])  # the first sample is the trace's t = 0
        # its wall-clock time (grid intensity in time): now, less the monotonic time since then
        self._t0_unix = time.time() - (time.monotonic() - self._t0)
        self._cpu_at_start_us = int(self._header[child.H_CPU_US])  # start-up (imports) excluded
        return None

    def _abandon_process(self) -> None:
        """Kill a sampler process that is still starting and free its ring."""
        import contextlib

        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(Exception):
                self._proc.kill()
                self._proc.wait(timeout=5)
        self._cleanup()

    def _finish_process(self) -> None:
        """Ask for the last sample and wait for the process; record it if it died."""
        from inferlca.meters import sampler_child as child

        assert self._header is not None and self._proc is not None
        if self._proc.poll() is None:
            self._header[child.H_STATE] = child.STOP
            try:
                self._proc.wait(timeout=max(5.0, 3 * self.period_s))
            except Exception:  # noqa: BLE001 - TimeoutExpired: a stuck read
                self._proc.kill()
                self._proc.wait()
                self._died = "the sampler process did not stop (a meter read hung?) and was killed"
                return
        if self._proc.returncode != 0 or self._header[child.H_STATE] != child.DONE:
            code = self._proc.returncode
            how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
            tail = self._stderr_tail()
            self._died = f"the sampler process died ({how}){': ' + tail if tail else ''}"

    def _copy_loop(self) -> None:
        while not self._stop.wait(1.0):
            self._copy()
            if self._died is None and self._proc is not None and self._proc.poll() is not None:
                self._died = "the sampler process died during the run"

    def _copy(self) -> None:
        """Copy the rows written since the last copy out of the ring (count what was lost)."""
        from inferlca.meters import sampler_child as child

        header, rows = self._header, self._rows
        if header is None or rows is None:
            return
        with self._lock:
            cap = self.capacity
            count = int(header[child.H_COUNT])
            if count <= self._n_copied:
                return
            first = self._n_copied
            if count - first > cap:  # overwritten before we got to them
                self._note_drop(count - cap - first)
                first = count - cap
            chunk = rows[np.arange(first, count) % cap].copy()
            # rows the writer overwrote while we copied are not to be trusted either
            late = int(header[child.H_COUNT]) - cap - first
            if late > 0:
                self._note_drop(min(late, chunk.shape[0]))
                chunk = chunk[late:]
            if chunk.shape[0]:
                self._chunks.append(chunk)
            self._n_copied = count

    def _note_drop(self, n: int) -> None:
        kept = sum(c.shape[0] for c in self._chunks)
        self._dropped += n
        self._drop_at.append((kept, n))

    # ---- assembly ---------------------------------------------------------------------------
    def _assemble(self, t_stop: float) -> None:
        """Turn the copied rows into the readings :meth:`Sampler._build` expects."""
        from inferlca.meters import sampler_child as child

        assert self._t0 is not None
        channels, counters = list(self.meter.channels), list(self.meter.counter_channels)
        data = (np.concatenate(self._chunks) if self._chunks
                else np.empty((0, child.row_width(len(channels), len(counters)))))
        reasons = self._error_reasons()
        nc = len(channels)
        t, read_s, readings = [], [], []
        for k, row in enumerate(data):
            power = {c: float(row[2 + i]) for i, c in enumerate(channels)}
            energy = {c: float(row[2 + nc + j]) for j, c in enumerate(counters)}
            errors: dict[str | None, str] = {}
            if row[-1]:
                errors = _reasons_at(reasons, self._row_number(k)) or {
                    None: "read failed (reason not recorded)"}
            t.append(float(row[child.COL_T]) - self._t0)
            read_s.append(float(row[child.COL_READ]))
            readings.append(Reading(power, energy, errors))
        if self._died is not None:  # a failed sample at the stop: the hole shows as a gap
            t.append(t_stop - self._t0)
            read_s.append(0.0)
            readings.append(Reading.failed(channels, self._died, counters))
        self._t, self._read_s, self._readings = t, read_s, readings
        if self._header is not None:
            self._missed_ticks = int(self._header[child.H_MISSED])

    def _row_number(self, k: int) -> int:
        """Ring row number (as the child counts) of the k-th kept row."""
        lost = sum(n for kept, n in self._drop_at if kept <= k)
        return k + lost

    def _annotate(self, trace: PowerTrace) -> None:
        meta = trace.meta
        meta["sampler_priority"] = self._child_facts.get("priority")
        if self.cpu is not None:
            meta["sampler_cpu"] = self._child_facts.get("cpu", self._child_facts.get("cpu_error"))
        meta["dropped_readings"] = self._dropped
        span_s = duration_s(trace)
        if self.sampler_cpu_s is not None and span_s > 0:
            meta["sampler_cpu_s"] = self.sampler_cpu_s
            meta["sampler_cpu_share"] = self.sampler_cpu_s / span_s  # of one core
        new_gaps = []
        if self._dropped:
            t = trace.t_s
            for kept, n in self._drop_at:
                a = float(t[kept - 1]) if kept > 0 else 0.0
                b = float(t[kept]) if kept < t.size else a
                new_gaps.append(Gap(a, b, f"{n} readings dropped: the ring buffer overflowed"))
            warnings.warn(f"sampler: {self._dropped} readings dropped (ring buffer overflow)",
                          RuntimeWarning, stacklevel=3)
        if self._died is not None:
            meta["sampler_died"] = self._died
            good = [i for i, r in enumerate(self._readings[:-1]) if not r.errors]
            a = float(trace.t_s[good[-1]]) if good else 0.0
            new_gaps.append(Gap(a, float(trace.t_s[-1]), self._died))
            warnings.warn(f"sampler: {self._died}; the trace has a gap to the end",
                          RuntimeWarning, stacklevel=3)
        if new_gaps:
            trace.gaps = sorted([g for g in trace.gaps if g.reason != self._died] + new_gaps,
                                key=lambda g: g.start_s)

    # ---- the child's words --------------------------------------------------------------------
    def _child_says(self) -> dict[str, Any]:
        """Facts of the child's messages file (priority, cpu, fatal); error lists are separate."""
        import json

        facts: dict[str, Any] = {}
        for line in self._message_lines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if "row" not in obj:
                facts.update(obj)
        self._child_facts = facts
        return facts

    def _error_reasons(self) -> list[tuple[int, dict[str | None, str]]]:
        import json

        out: list[tuple[int, dict[str | None, str]]] = []
        self._child_says()
        for line in self._message_lines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if "row" in obj:
                out.append((int(obj["row"]), {(None if k == "*" else k): v
                                              for k, v in obj["errors"].items()}))
        return out

    def _message_lines(self) -> list[str]:
        if self._messages_path is None:
            return []
        try:
            with open(self._messages_path, encoding="utf-8") as fh:
                return fh.read().splitlines()
        except OSError:
            return []

    def _stderr_tail(self) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0)
            lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        except (OSError, ValueError):
            return ""
        return lines[-1] if lines else ""

    def _cleanup(self) -> None:
        import contextlib
        import os

        self._header = self._rows = None
        if self._shm is not None:
            with contextlib.suppress(Exception):
                self._shm.close()
            with contextlib.suppress(Exception):
                self._shm.unlink()
            self._shm = None
        if self._stderr is not None:
            with contextlib.suppress(Exception):
                self._stderr.close()
            self._stderr = None
        if self._messages_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._messages_path)
            self._messages_path = None


def _reasons_at(reasons: list[tuple[int, dict[str | None, str]]], row: int
                ) -> dict[str | None, str]:
    """The reasons of the last message at or before ``row``."""
    current: dict[str | None, str] = {}
    for k, errs in reasons:
        if k > row:
            break
        current = errs
    return current


def check_sampler_kind(kind: str) -> None:
    """Raise :class:`~inferlca.errors.UnknownNameError` (exit code 2) unless ``kind`` is a
    :data:`SAMPLER_KINDS` value."""
    if kind not in SAMPLER_KINDS:
        raise UnknownNameError("sampler", str(kind), SAMPLER_KINDS,
                               hint=f"(accepted: {', '.join(SAMPLER_KINDS)})")


def open_sampler(
    meter: PowerMeter,
    period_s: float = 0.01,
    close_meter: bool = False,
    kind: str = "process",
    **process_options: Any,
) -> Sampler:
    """The sampler for ``--sampler kind``: ``process`` (default; falls back to a thread, flagged,
    where a process cannot be used) or ``thread``. A meter that brings its own sampler
    (``meter.make_sampler``: the remote meter, whose readings carry the agent's times) gets that
    one, whatever the kind.

    Raises:
        UnknownNameError: ``kind`` is neither (a usage error: exit code 2).
    """
    check_sampler_kind(kind)
    make = getattr(meter, "make_sampler", None)
    if make is not None:  # a meter with its own clock (the remote agent) brings its sampler
        return make(period_s=period_s, close_meter=close_meter)  # type: ignore[no-any-return]
    if kind == "thread":
        return Sampler(meter, period_s=period_s, close_meter=close_meter)
    return ProcessSampler(meter, period_s=period_s, close_meter=close_meter, **process_options)
