"""A meter wrapper that keeps the latest reading and the samples so far, for live figures.

The sampler owns the recording; :class:`LiveMeter` only sees each read go by (same thread as the
sampler), so exporters can show the power now and the energy so far while a run goes on. The
energy so far is :func:`inferlca.traces.energy.energy` of a snapshot of those samples: the same
rule as the final result, no arithmetic of its own.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

import numpy as np

from inferlca.meters.base import PowerMeter, Reading
from inferlca.traces.trace import PowerTrace


class LiveMeter(PowerMeter):
    """Delegate to ``inner``; remember every read of the primary channel."""

    def __init__(self, inner: PowerMeter) -> None:
        super().__init__()
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]  # an instance attribute shadows the ClassVar
        self.estimated = inner.estimated  # type: ignore[misc]
        self.description = getattr(inner, "description", "")  # type: ignore[misc]
        self.channels = list(inner.channels)
        self.counter_channels = list(inner.counter_channels)
        self.primary = inner.primary
        self.averaging_s = getattr(inner, "averaging_s", None)
        self._lock = threading.Lock()
        self._t: list[float] = []
        self._p: list[float] = []
        self._c: list[float] = []
        self.last_power_w: dict[str, float] = {}

    def read(self) -> Reading:
        t = time.monotonic()
        reading = self.inner.read()
        with self._lock:
            self._t.append(t)
            self._p.append(reading.power_w.get(self.primary, math.nan))
            self._c.append(reading.energy_j.get(self.primary, math.nan))
            self.last_power_w = dict(reading.power_w)
        return reading

    def meta(self) -> dict[str, Any]:
        return self.inner.meta()

    def close(self) -> None:
        self.inner.close()

    def snapshot(self, t0_monotonic_s: float) -> PowerTrace | None:
        """The primary channel's samples so far as a trace on the sampler's clock (``None``
        with fewer than two samples)."""
        with self._lock:
            if len(self._t) < 2:
                return None
            t = np.asarray(self._t, dtype=float) - t0_monotonic_s
            p = np.asarray(self._p, dtype=float)
            c = np.asarray(self._c, dtype=float)
        counters = {self.primary: c} if self.primary in self.counter_channels else {}
        return PowerTrace(t_s=t, channels={self.primary: p}, primary=self.primary,
                          meter=self.name, estimated=self.estimated, counters=counters)
