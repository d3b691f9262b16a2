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
