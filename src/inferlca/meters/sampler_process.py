"""The out-of-process sampler: the meter read from a separate, low-priority process.

:class:`ProcessSampler` has the contract of :class:`~inferlca.meters.sampler.Sampler` (it is a
subclass); :func:`open_sampler` gives either for ``--sampler process|thread``. The sampler process
itself is :mod:`inferlca.meters.sampler_child`.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.meters.base import PowerMeter, Reading
from inferlca.meters.sampler import Sampler
from inferlca.meters.sampler_host import SamplerProcess
from inferlca.traces.energy import duration_s
from inferlca.traces.trace import Gap, PowerTrace

#: ``--sampler`` values: a separate low-priority process (default) or a thread of this process
#: ``priority`` values of :class:`ProcessSampler`
PRIORITIES = ("idle", "nice", "normal", "fifo")
#: ``--sampler`` values: ``process`` (nice 19), ``process:PRIORITY`` (another priority of the
#: sampler process, e.g. ``process:fifo``: real-time where allowed) or ``thread``
SAMPLER_KINDS = ("process", *(f"process:{p}" for p in PRIORITIES if p != "nice"), "thread")


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
            on every core starves it), ``normal`` or ``fifo`` (SCHED_FIFO 1 where allowed:
            wakes on time whatever the load; else normal, said in ``meta["sampler_priority"]``).
        cpu: pin the sampler process to this CPU (None: any).
        capacity: ring rows (default: 120 s of samples, at least 4096).
        start_timeout_s: longest wait for the process's first sample before falling back.
        host: a sampler process shared by several windows (a run's repetitions:
            :func:`run_sampler_process`); the window starts and ends on samples asked of it
            (:meth:`SamplerProcess.sample_now`) and the process goes on after the window. Found
            dead at the start of a window, it is started again (``meta["sampler_restarted"]``)
            or the window samples from a thread (``meta["sampler_fallback"]``). None: a process
            of the window's own, started and stopped with it.
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
        host: SamplerProcess | None = None,
    ) -> None:
        super().__init__(meter, period_s=period_s, close_meter=close_meter)
        if priority not in PRIORITIES:
            raise UnknownNameError("sampler priority", str(priority), PRIORITIES,
                                   hint=f"(accepted: {', '.join(PRIORITIES)})")
        if cpu is not None and (not isinstance(cpu, int) or isinstance(cpu, bool) or cpu < 0):
            raise InvalidValueError(f"sampler CPU must be a CPU number >= 0, got {cpu!r}")
        if capacity is not None and (not isinstance(capacity, int) or capacity < 16):
            raise InvalidValueError(f"ring capacity must be an integer >= 16, got {capacity!r}")
        if host is not None and (host.meter is not meter or host.period_s != self.period_s):
            raise InvalidValueError("a shared sampler process must sample the same meter at "
                                    "the same period as the window")
        self.priority = priority
        self.cpu = cpu
        self.capacity = capacity or max(4096, int(120.0 / self.period_s))
        self.start_timeout_s = float(start_timeout_s)
        self.fallback_reason: str | None = None
        self.restarted: str | None = None  # why the shared process was started again
        self._own = host is None
        self._host = host or SamplerProcess(meter, self.period_s, priority, cpu, self.capacity,
                                            self.start_timeout_s)
        self._first_row = 0
        self._cpu_at_start_us = 0
        self._missed_at_start = 0
        self._died: str | None = None
        self._dropped = 0
        self._drop_at: list[tuple[int, int]] = []  # (rows kept before the hole, rows lost)
        self.rows_written = 0
        self.sampler_cpu_s: float | None = None

    @property
    def _proc(self) -> Any:
        """The sampler process (tests kill it to see the run go on)."""
        return self._host.proc

    # ---- life cycle -------------------------------------------------------------------------
    def start(self) -> Sampler:
        from inferlca.meters import sampler_child as child

        if self._thread is not None or self._t0 is not None:
            raise RuntimeError("sampler already started")
        host = self._host
        reason = None
        first: int | None = 0
        if not host.running:  # first window, or the shared process died in an earlier one
            if host.starts:
                self.restarted = host.died or "the sampler process was gone"
            reason = host.start()
        elif not self._own:
            first = host.sample_now()  # the window's first sample, taken now
            if first is None:  # it died since the last window: once more, from the start
                self.restarted = host.died
                reason = host.start()
                first = 0
        if reason is not None or first is None:
            self.fallback_reason = reason or host.died or "the sampler process did not answer"
            warnings.warn(f"sampler process not used ({self.fallback_reason}): sampling from a "
                          "thread instead", RuntimeWarning, stacklevel=2)
            return super().start()
        self.kind = "process"
        self._first_row = first
        host.let_go_before(first)
        numbers, rows = host.rows(first, first)
        if not numbers.size:  # the first row was lost to an overflow already: take the next
            numbers, rows = host.rows(first)
        self._t0 = float(rows[0, child.COL_T])  # the window's first sample is its t = 0
        # its wall-clock time (grid intensity in time): now, less the monotonic time since then
        self._t0_unix = time.time() - (time.monotonic() - self._t0)
        self._cpu_at_start_us = host.header_value(child.H_CPU_US)  # start-up (imports) excluded
        self._missed_at_start = host.header_value(child.H_MISSED)
        return self

    def stop(self, incomplete: bool = False) -> PowerTrace:
        if self._trace is not None:
            return self._trace
        if self.kind != "process":
            trace = super().stop(incomplete)
            if self.fallback_reason is not None:
                trace.meta["sampler_fallback"] = self.fallback_reason
            return trace
        from inferlca.meters import sampler_child as child

        self._incomplete = self._incomplete or incomplete
        host = self._host
        t_stop = time.monotonic()
        last = host.sample_now()  # the window's last sample (None: the process died)
        cpu_us, missed = host.header_value(child.H_CPU_US), host.header_value(child.H_MISSED)
        numbers, rows = host.rows(self._first_row, last)
        reasons = host.error_reasons()
        if self._own:
            host.close()
        if last is None:
            self._died = host.died or "the sampler process died during the run"
        else:
            t_stop = float(rows[-1, child.COL_T]) if rows.size else t_stop
        #: CPU seconds the sampler process spent sampling in the window
        self.sampler_cpu_s = max(0, cpu_us - self._cpu_at_start_us) / 1e6
        self._assemble(numbers, rows, reasons, t_stop, missed - self._missed_at_start)
        if self.close_meter:
            self.meter.close()
        self._trace = self._build()
        self._annotate(self._trace)
        return self._trace

    def mark(self, name: str, at_monotonic_s: float | None = None) -> float:
        t_s = super().mark(name, at_monotonic_s)
        if self.kind == "process":
            self._host.copy_out()  # cheap; keeps the ring from overflowing in long runs
        return t_s

    @property
    def trace(self) -> PowerTrace:
        """As :attr:`Sampler.trace`: the trace once stopped; reading it while sampling raises."""
        if self._trace is None and self.kind == "process":
            raise RuntimeError(
                "the sampler is still running: read .trace after its with block or stop()")
        return super().trace

    # ---- assembly ---------------------------------------------------------------------------
    def _assemble(self, numbers: np.ndarray, data: np.ndarray,
                  reasons: list[tuple[int, dict[str | None, str]]], t_stop: float,
                  missed: int) -> None:
        """Turn the window's rows into the readings :meth:`Sampler._build` expects."""
        from inferlca.meters import sampler_child as child

        assert self._t0 is not None
        channels, counters = list(self.meter.channels), list(self.meter.counter_channels)
        last = int(numbers[-1]) if numbers.size else self._first_row
        for first_lost, n in self._host.holes:  # holes inside the window, clipped to it
            a, b = max(first_lost, self._first_row), min(first_lost + n - 1, last)
            if a <= b:
                self._dropped += b - a + 1
                self._drop_at.append((int(np.count_nonzero(numbers < a)), b - a + 1))
        self.rows_written = int(numbers.size) + self._dropped
        nc = len(channels)
        t, read_s, readings = [], [], []
        for k, row in zip(numbers, data, strict=True):
            power = {c: float(row[2 + i]) for i, c in enumerate(channels)}
            energy = {c: float(row[2 + nc + j]) for j, c in enumerate(counters)}
            errors: dict[str | None, str] = {}
            if row[-1]:
                errors = _reasons_at(reasons, int(k)) or {None: "read failed (reason not recorded)"}
            t.append(float(row[child.COL_T]) - self._t0)
            read_s.append(float(row[child.COL_READ]))
            readings.append(Reading(power, energy, errors))
        if self._died is not None:  # a failed sample at the stop: the hole shows as a gap
            t.append(t_stop - self._t0)
            read_s.append(0.0)
            readings.append(Reading.failed(channels, self._died, counters))
        self._t, self._read_s, self._readings = t, read_s, readings
        self._missed_ticks = max(0, missed)

    def _annotate(self, trace: PowerTrace) -> None:
        meta = trace.meta
        facts = self._host.facts
        meta["sampler_priority"] = facts.get("priority")
        if self.cpu is not None:
            meta["sampler_cpu"] = facts.get("cpu", facts.get("cpu_error"))
        meta["dropped_readings"] = self._dropped
        if self._host.proc is not None:
            meta["sampler_pid"] = self._host.proc.pid
        if self.restarted is not None:
            meta["sampler_restarted"] = (f"the sampler process was started again for this "
                                         f"window ({self.restarted})")
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


def split_sampler_kind(kind: str, options: dict[str, Any]) -> str:
    """``process`` or ``thread`` for a :data:`SAMPLER_KINDS` value; a ``process:PRIORITY`` kind
    puts its priority into ``options`` (unless they name one already)."""
    check_sampler_kind(kind)
    base, _, priority = kind.partition(":")
    if priority:
        options.setdefault("priority", priority)
    return base


def run_sampler_process(meter: PowerMeter, period_s: float = 0.01, kind: str = "process",
                        **process_options: Any) -> SamplerProcess | None:
    """The sampler process a whole run shares (``kind == "process"``; None for ``thread``):
    give it as ``host`` to each window's :func:`open_sampler`, close it at the end of the run.
    It starts with the first window; a window that finds it dead starts it again (flagged in
    ``trace.meta["sampler_restarted"]``) or falls back to the thread (``sampler_fallback``)."""
    kind = split_sampler_kind(kind, process_options)
    if kind == "thread" or getattr(meter, "make_sampler", None) is not None:
        return None  # a thread each window, or a meter that brings its own (the remote agent)
    capacity = process_options.pop("capacity", None) or max(4096, int(120.0 / period_s))
    return SamplerProcess(meter, float(period_s), capacity=capacity, **process_options)


def open_sampler(
    meter: PowerMeter,
    period_s: float = 0.01,
    close_meter: bool = False,
    kind: str = "process",
    **process_options: Any,
) -> Sampler:
    """The sampler for ``--sampler kind``: ``process`` (default; falls back to a thread, flagged,
    where a process cannot be used), ``process:PRIORITY`` (:data:`PRIORITIES`) or ``thread``. A meter that brings its own sampler
    (``meter.make_sampler``: the remote meter, whose readings carry the agent's times) gets that
    one, whatever the kind.

    Raises:
        UnknownNameError: ``kind`` is neither (a usage error: exit code 2).
    """
    kind = split_sampler_kind(kind, process_options)
    make = getattr(meter, "make_sampler", None)
    if make is not None:  # a meter with its own clock (the remote agent) brings its sampler
        return make(period_s=period_s, close_meter=close_meter)  # type: ignore[no-any-return]
    if kind == "thread":
        return Sampler(meter, period_s=period_s, close_meter=close_meter)
    return ProcessSampler(meter, period_s=period_s, close_meter=close_meter, **process_options)
