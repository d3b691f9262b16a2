"""The sampler: one background thread reading a meter at a fixed period.

Timestamps come from :func:`time.monotonic` and are stored relative to the sampler's start
(``trace.meta["t0_monotonic_s"]`` gives the origin, so a caller can place its own monotonic times
on the trace with :meth:`Sampler.to_trace_time`). The thread sleeps until the next tick of a fixed
grid (``start + k * period``); when a read overruns, missed ticks are skipped rather than bunched,
so the achieved period and its jitter stay honest and are recorded in ``trace.meta``.

A failed read becomes ``NaN`` in the trace and a gap with its reason, never a zero. On an exception
or Ctrl-C inside the ``with`` block the thread is stopped, what was measured is kept and
``trace.meta["incomplete"]`` is set.

The out-of-process sampler (:class:`~inferlca.meters.sampler_process.ProcessSampler`) and
:func:`~inferlca.meters.sampler_process.open_sampler` live in :mod:`inferlca.meters.sampler_process`.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from inferlca.errors import InvalidValueError
from inferlca.meters.base import PowerMeter, Reading
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
