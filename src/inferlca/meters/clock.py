"""The offset between two machines' clocks, estimated from round trips (as NTP does).

The runner asks the agent for its clock (``GET /time``) several times. For one round trip sent
at ``t0`` and answered at ``t3`` (the runner's monotonic clock) with the agent's time ``T``, the
agent read its clock somewhere between ``t0`` and ``t3``, so the offset ``agent - runner`` lies in
``[T - t3, T - t0]``: estimate ``T - (t0 + t3) / 2``, within half the round trip. Of several round
trips the one with the shortest round trip is kept (the least queued, the tightest bound); its
half round trip is the stated uncertainty. Nothing is assumed about the two clocks but that each
runs at a steady rate: the offset is estimated again at the start and the end of every measured
window, and an agent time is mapped through the offset interpolated linearly between estimates
(drift), held constant before the first and after the last.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inferlca.errors import InvalidValueError


@dataclass(frozen=True)
class ClockEstimate:
    """One offset estimate: ``agent clock = runner clock + offset_s`` (within ``uncertainty_s``).

    Attributes:
        at_s: the runner's monotonic time of the middle of the kept round trip.
        offset_s: agent monotonic minus runner monotonic, seconds.
        uncertainty_s: half the kept round trip (the offset is within this of the truth).
        round_trips: how many round trips were timed.
        wall_offset_s: agent wall clock minus runner wall clock (informative: whether the two
            machines' wall clocks agree), or None.
    """

    at_s: float
    offset_s: float
    uncertainty_s: float
    round_trips: int
    wall_offset_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"at_s": self.at_s, "offset_s": self.offset_s,
                "uncertainty_s": self.uncertainty_s, "round_trips": self.round_trips,
                "wall_offset_s": self.wall_offset_s}


def estimate_offset(trips: Sequence[tuple[float, float, float]],
                    wall: Sequence[tuple[float, float, float]] | None = None) -> ClockEstimate:
    """The estimate of round trips ``(t0, agent_t, t3)`` (runner send, agent clock, runner
    receive): the one with the shortest round trip. ``wall`` holds the same trips on the wall
    clocks (runner wall at send, agent wall, runner wall at receive), for the informative
    wall-clock offset.

    Raises:
        InvalidValueError: no round trip, or one that ends before it starts.
    """
    if not trips:
        raise InvalidValueError("no round trip to estimate a clock offset from")
    best = None
    for k, (t0, agent_t, t3) in enumerate(trips):
        if not (math.isfinite(t0) and math.isfinite(t3) and math.isfinite(agent_t)) or t3 < t0:
            raise InvalidValueError(f"round trip {k} is not a round trip: sent {t0}, back {t3}")
        if best is None or t3 - t0 < trips[best][2] - trips[best][0]:
            best = k
    assert best is not None
    t0, agent_t, t3 = trips[best]
    wall_offset = None
    if wall is not None and len(wall) == len(trips):
        w0, agent_w, w3 = wall[best]
        wall_offset = agent_w - 0.5 * (w0 + w3)
    return ClockEstimate(0.5 * (t0 + t3), agent_t - 0.5 * (t0 + t3), 0.5 * (t3 - t0), len(trips),
                         wall_offset)


def to_runner_time(agent_t: np.ndarray, estimates: Sequence[ClockEstimate]) -> np.ndarray:
    """Agent monotonic times -> the runner's monotonic clock, through the offset interpolated
    linearly in time between the estimates (constant outside them).

    Raises:
        InvalidValueError: no estimate.
    """
    if not estimates:
        raise InvalidValueError("no clock offset estimate to map the agent's times with")
    est = sorted(estimates, key=lambda e: e.at_s)
    at_agent = np.array([e.at_s + e.offset_s for e in est])  # each estimate's time on the agent
    offsets = np.array([e.offset_s for e in est])
    a = np.asarray(agent_t, dtype=float)
    return a - np.interp(a, at_agent, offsets)


def drift_ppm(estimates: Sequence[ClockEstimate]) -> float | None:
    """Rate of the agent's clock against the runner's (parts per million) between the first and
    last estimates; None when they are less than a second apart."""
    if len(estimates) < 2:
        return None
    est = sorted(estimates, key=lambda e: e.at_s)
    span = est[-1].at_s - est[0].at_s
    if span < 1.0:
        return None
    return (est[-1].offset_s - est[0].offset_s) / span * 1e6


def summary(estimates: Sequence[ClockEstimate], at_s: float | None = None) -> dict[str, Any]:
    """What a trace or a run records: the offset (at ``at_s``, default the first estimate's
    time), the largest uncertainty of the estimates used, the drift and the estimates themselves
    (``at_s`` relative to ``at_s``)."""
    if not estimates:
        return {}
    est = sorted(estimates, key=lambda e: e.at_s)
    origin = est[0].at_s if at_s is None else at_s
    offset = float(np.interp(origin, [e.at_s for e in est], [e.offset_s for e in est]))
    out: dict[str, Any] = {
        "clock_offset_s": offset,
        "clock_offset_uncertainty_s": max(e.uncertainty_s for e in est),
        "clock_drift_ppm": drift_ppm(est),
        "clock_estimates": [{**e.to_dict(), "at_s": e.at_s - origin} for e in est],
    }
    walls = [e.wall_offset_s for e in est if e.wall_offset_s is not None]
    if walls:
        out["wall_clock_offset_s"] = walls[-1]
    return out
