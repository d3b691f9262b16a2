"""The sampler: one background thread reading a meter at a fixed period.

Timestamps come from :func:`time.monotonic` and are stored relative to the sampler's start
(``trace.meta["t0_monotonic_s"]`` gives the origin, so a caller can place its own monotonic times
on the trace with :meth:`Sampler.to_trace_time`). The thread sleeps until the next tick of a fixed
grid (``start + k * period``); when a read overruns, missed ticks are skipped rather than bunched,
so the achieved period and its jitter stay honest and are recorded in ``trace.meta``.

A failed read becomes ``NaN`` in the trace and a gap with its reason, never a zero. On an exception
or Ctrl-C inside the ``with`` block the thread is stopped, what was measured is kept and
``trace.meta["incomplete"]`` is set.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.meters.base import PowerMeter, Reading
from inferlca.traces.energy import duration_s
from inferlca.traces.trace import Gap, Mark, PowerTrace

if TYPE_CHECKING:
    from typing_extensions import Self

#: Shortest period accepted (1 ms): below that the Python thread cannot keep a grid.
MIN_PERIOD_S = 0.001



class Sampler:
    """Sample ``meter`` every ``period_s`` seconds in a background thread.

    Example::

        with Sampler(open_meter("auto"), period_s=0.01) as s:
            s.mark("load"); model = load()
            s.mark("compute"); run(model)
        energy_j(s.trace)

    Args:
        meter: an open :class:`~inferlca.meters.base.PowerMeter`.
        period_s: requested period in seconds (>= 1 ms; default 10 ms).
        close_meter: close the meter when the sampler stops.
    """

    def __init__(
        self, meter: PowerMeter, period_s: float = 0.01, close_meter: bool = False
    ) -> None:
        if not isinstance(period_s, (int, float)) or not math.isfinite(period_s) or period_s <= 0:
            raise InvalidValueError(
                f"sampling period must be a finite number of seconds > 0, got {period_s!r}"
            )
        if period_s < MIN_PERIOD_S:
            raise InvalidValueError(
                f"sampling period must be >= {MIN_PERIOD_S * 1000:g} ms, got {period_s * 1000:g} ms"
            )
        self.meter = meter
        self.period_s = float(period_s)
        self.close_meter = close_meter
        self._t: list[float] = []
        self._read_s: list[float] = []
        self._readings: list[Reading] = []
        self._marks: list[Mark] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0: float | None = None
        self._missed_ticks = 0
        self._thread_error: str | None = None
        self._trace: PowerTrace | None = None
        self._incomplete = False
        #: "thread" (this class) or "process" (:class:`ProcessSampler` when its process runs)
        self.kind = "thread"

    # ---- life cycle -------------------------------------------------------------------------
    def start(self) -> Sampler:
        if self._thread is not None:
            raise RuntimeError("sampler already started")
        self._t0 = time.monotonic()
        self._t0_unix = time.time()  # the wall-clock origin of t_s (grid intensity in time)
        self._take()  # first sample at t = 0, in the caller's thread, so the trace starts now
        self._thread = threading.Thread(target=self._loop, name="inferlca-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self, incomplete: bool = False) -> PowerTrace:
        """Stop sampling (idempotent) and build the trace; a last sample closes the window."""
        if self._trace is not None:
            return self._trace
        self._incomplete = self._incomplete or incomplete
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._t0 is not None:
            self._take()
        if self.close_meter:
            self.meter.close()
        self._trace = self._build()
        return self._trace

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        # KeyboardInterrupt included: stop cleanly, keep the data, let the exception go on.
        self.stop(incomplete=exc_type is not None)

    # ---- caller API -------------------------------------------------------------------------
    def now(self) -> float:
        """Seconds since the sampler started, on the trace's clock."""
        if self._t0 is None:
            raise RuntimeError("sampler not started")
        return time.monotonic() - self._t0

    def to_trace_time(self, monotonic_s: float) -> float:
        """Convert a :func:`time.monotonic` value to the trace's clock."""
        if self._t0 is None:
            raise RuntimeError("sampler not started")
        return monotonic_s - self._t0

    def mark(self, name: str, at_monotonic_s: float | None = None) -> float:
        """Record the start of phase ``name`` now (or at a given monotonic time); return its t_s."""
        if not name or not isinstance(name, str):
            raise InvalidValueError(f"phase mark must be a non-empty string, got {name!r}")
        t_s = self.to_trace_time(time.monotonic() if at_monotonic_s is None else at_monotonic_s)
        with self._lock:
            self._marks.append(Mark(t_s, name))
        return t_s

    @property
    def trace(self) -> PowerTrace:
        """The recorded trace, once the sampler has stopped (left its ``with`` block or ``stop()``).

        Raises:
            RuntimeError: the sampler still runs (reading the trace must not cut it short silently).
        """
        if self._trace is None:
            if self._thread is not None and not self._stop.is_set():
                raise RuntimeError(
                    "the sampler is still running: read .trace after its with block or stop()"
                )
            return self.stop()
        return self._trace

    # ---- thread -----------------------------------------------------------------------------
    def _take(self) -> None:
        assert self._t0 is not None
        before = time.monotonic()
        try:
            reading = self.meter.read()
        except Exception as exc:  # noqa: BLE001 - a meter bug must be a gap, not a dead thread
            reading = Reading.failed(
                self.meter.channels, f"{type(exc).__name__}: {exc}", self.meter.counter_channels
            )
        after = time.monotonic()
        # the sample stands for the middle of the read (a slow read, e.g. NVML, takes ~ms)
        t_s = 0.5 * (before + after) - self._t0
        with self._lock:
            self._t.append(t_s)
            self._read_s.append(after - before)
            self._readings.append(reading)

    def _loop(self) -> None:
        assert self._t0 is not None
        period = self.period_s
        k = 1
        stop = self._stop
        while True:
            target = self._t0 + k * period
            delay = target - time.monotonic()
            if delay > 0 and stop.wait(delay):
                return
            if stop.is_set():
                return
            self._take()
            k += 1
            late = time.monotonic() - (self._t0 + k * period)
            if late > 0:  # overran one or more ticks: skip them rather than bunch reads
                skipped = int(late // period) + 1
                self._missed_ticks += skipped
                k += skipped

    # ---- assembly ---------------------------------------------------------------------------
    def _build(self) -> PowerTrace:
        meter = self.meter
        with self._lock:
            t = np.asarray(self._t, dtype=float)
            readings = list(self._readings)
            marks = sorted(self._marks, key=lambda m: m.t_s)
        order = np.argsort(t, kind="stable")
        t = t[order]
        readings = [readings[i] for i in order]
        channels = {
            c: np.array([r.power_w.get(c, math.nan) for r in readings], dtype=float)
            for c in meter.channels
        }
        counters = {
            c: np.array([r.energy_j.get(c, math.nan) for r in readings], dtype=float)
            for c in meter.counter_channels
        }
        gaps = _gaps_from_readings(t, readings, list(meter.channels))
        dt = np.diff(t)
        meta: dict[str, Any] = dict(meter.meta())
        meta.update(
            {
                "t0_monotonic_s": self._t0,
                "t0_unix_s": getattr(self, "_t0_unix", None),
                "samples": int(t.size),
                "missed_ticks": self._missed_ticks,
                "sampler": self.kind,
            }
        )
        if dt.size:
            meta["period_achieved_s"] = float(np.mean(dt))
            meta["period_median_s"] = float(np.median(dt))
            meta["jitter_p99_s"] = float(np.percentile(np.abs(dt - self.period_s), 99))
        if self._read_s:
            meta["read_mean_s"] = float(np.mean(self._read_s))
            meta["read_p99_s"] = float(np.percentile(self._read_s, 99))
        if meter.averaging_s is not None:
            meta["power_averaging_s"] = meter.averaging_s
        if self._incomplete:
            meta["incomplete"] = True
        n_bad = sum(1 for r in readings if r.errors)
        if n_bad:
            meta["failed_reads"] = n_bad
        if gaps:
            warnings.warn(
                f"meter {meter.name!r}: {n_bad} of {len(readings)} reads failed; "
                f"recorded as {len(gaps)} gap(s), not zeros",
                RuntimeWarning,
                stacklevel=3,
            )
        return PowerTrace(
            t_s=t,
            channels=channels,
            primary=meter.primary,
            meter=meter.name,
            estimated=meter.estimated,
            counters=counters,
            marks=marks,
            gaps=gaps,
            period_requested_s=self.period_s,
            meta=meta,
        )


def _gaps_from_readings(t: np.ndarray, readings: list[Reading], channels: list[str]) -> list[Gap]:
    """Runs of failed reads per channel -> gaps from the first to the last failed sample."""
    gaps: list[Gap] = []
    for ch in channels + [None]:  # type: ignore[list-item]
        start = None
        reason = ""
        for i, r in enumerate(readings):
            if ch is None:
                bad = None in r.errors and all(
                    c in r.errors or math.isnan(r.power_w.get(c, math.nan)) for c in channels
                )
                why = r.errors.get(None, "")
            else:
                bad = (ch in r.errors) and None not in r.errors
                why = r.errors.get(ch, "")
            if bad and start is None:
                start, reason = i, why
            elif not bad and start is not None:
                gaps.append(Gap(float(t[start]), float(t[i - 1]), reason, ch))
                start = None
        if start is not None:
            gaps.append(Gap(float(t[start]), float(t[-1]), reason, ch))
    gaps.sort(key=lambda g: g.start_s)
    return gaps


# ---- the out-of-process sampler -------------------------------------------------------------------

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
    where a process cannot be used) or ``thread``.

    Raises:
        UnknownNameError: ``kind`` is neither (a usage error: exit code 2).
    """
    check_sampler_kind(kind)
    if kind == "thread":
        return Sampler(meter, period_s=period_s, close_meter=close_meter)
    return ProcessSampler(meter, period_s=period_s, close_meter=close_meter, **process_options)
