"""PowerTrace: what a meter recorded during a run.

Contract (shared by meters, the store and reports):

* ``t_s``: monotonic timestamps in seconds (float64, non-decreasing), shape ``(n,)``.
* ``channels``: watts per channel name, each an array of shape ``(n,)``; ``NaN`` where that
  channel's read failed (a gap, never a zero).
* ``counters``: cumulative energy in joules per channel, where the hardware has an energy counter
  (NVML total energy, RAPL); same timestamps; ``NaN`` where unread.
* ``marks``: phase marks ``(t_s, name)`` in time order (``load``, ``warmup``, ``compute``, ``idle``,
  ``end``...). A phase runs from its mark to the next mark.
* ``gaps``: ``(start_s, end_s, reason, channel or None)`` where the meter could not read.
* ``primary``: the channel that stands for the device's power (e.g. ``gpu0`` or ``module``).
* ``meter``, ``estimated`` (True when the meter is a model, not a sensor), ``period_requested_s``,
  ``meta`` (device name, driver, rails chosen, achieved period...).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np


class Mark(NamedTuple):
    t_s: float
    name: str


class Gap(NamedTuple):
    start_s: float
    end_s: float
    reason: str
    channel: str | None = None


@dataclass
class PowerTrace:
    t_s: np.ndarray
    channels: dict[str, np.ndarray]
    primary: str
    meter: str
    estimated: bool = False
    counters: dict[str, np.ndarray] = field(default_factory=dict)
    marks: list[Mark] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    period_requested_s: float | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    # ---- conveniences (the logic lives in inferlca.traces.energy / .io) -----------------------
    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last sample (0 for fewer than two samples)."""
        return float(self.t_s[-1] - self.t_s[0]) if self.t_s.size > 1 else 0.0

    def energy(self, start_s: float | None = None, end_s: float | None = None,
               channel: str | None = None) -> Any:
        """:func:`inferlca.traces.energy.energy` of this trace (counter first)."""
        from inferlca.traces.energy import energy

        return energy(self, start_s, end_s, channel)

    def energy_j(self, start_s: float | None = None, end_s: float | None = None,
                 channel: str | None = None) -> float:
        """Joules of a channel (default primary) over a window (default the whole trace)."""
        return float(self.energy(start_s, end_s, channel).energy_j)

    def window(self, phase: str) -> tuple[float, float]:
        """:func:`inferlca.traces.energy.window_of` of this trace."""
        from inferlca.traces.energy import window_of

        return window_of(self, phase)

    def write(self, path: Any) -> Any:
        """Write as CSV or Parquet by the file's extension; returns the path."""
        from inferlca.traces.io import write_trace

        return write_trace(self, path)

