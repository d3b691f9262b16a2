"""Interactive users: our own scheduler (LoadGen has no such scenario), named ``interactive``.

``users`` simulated people share one device. Each sends a query, waits for the answer, thinks,
and sends the next one, over a fixed ``duration_s`` (a closed-loop workload, as in web benchmarks).
Think times are drawn from a negative exponential distribution with mean ``think_time_s``,
truncated at 10x the mean, as the TPC-W benchmark specifies for its emulated browsers (TPC-W v1.8,
clause 5.3.1.1: mean 7 s, maximum 70 s); each user's first query also comes after one think time,
so users do not start in lockstep. A think time of 0 makes every user send again at once.

The device serves one query at a time in arrival order; a query's latency runs from the moment
its user sent it to its answer, so waiting behind another user's query counts. The run's compute
window lasts the whole duration: the device's idle power between queries is part of the energy
(the point of this scenario). A query that started before the end finishes; none starts after.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inferlca.workloads.base import Workload

#: TPC-W v1.8 clause 5.3.1.1: think times are truncated at 10 x their mean.
TRUNCATE_AT_MEANS = 10.0


def draw_think_times_s(rng: np.random.Generator, mean_s: float, n: int) -> np.ndarray:
    """``n`` think times (s): negative exponential with mean ``mean_s``, truncated at 10 x mean."""
    if mean_s <= 0:
        return np.zeros(n)
    return np.minimum(rng.exponential(mean_s, size=n), TRUNCATE_AT_MEANS * mean_s)


@dataclass
class InteractiveResult:
    """What the interactive scheduler observed.

    Attributes:
        latency_s: per query, from its user's send to its answer (s).
        wait_s: per query, the part of the latency spent queued behind other users (s).
        user: which user sent each query.
        sample_index: which sample each query ran.
        busy_s: time the device spent running queries (s).
        window_s: the scheduler's window, from start to the later of the end and the last answer.
        interrupted: True when stopped early (Ctrl-C).
    """

    latency_s: np.ndarray
    wait_s: np.ndarray
    user: np.ndarray
    sample_index: np.ndarray
    busy_s: float
    window_s: float
    users: int
    think_time_s: float
    duration_s: float
    interrupted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def queries(self) -> int:
        return int(self.latency_s.size)

    def to_dict(self) -> dict[str, Any]:
        return {"scheduler": "inferlca interactive (closed loop, exponential think time)",
                "users": self.users, "think_time_mean_s": self.think_time_s,
                "think_time_distribution": "exponential, truncated at 10x mean (TPC-W 5.3.1.1)",
                "duration_s": self.duration_s, "queries": self.queries, "busy_s": self.busy_s,
                "window_s": self.window_s,
                "utilisation": self.busy_s / self.window_s if self.window_s > 0 else None,
                "interrupted": self.interrupted}


def run_interactive(workload: Workload, users: int, think_time_s: float, duration_s: float,
                    seed: int = 0, stop: threading.Event | None = None,
                    on_done: Callable[[int], None] | None = None,
                    clock: Callable[[], float] = time.monotonic) -> InteractiveResult:
    """Run the interactive-users scenario on a loaded workload (see the module docstring).

    Args:
        workload: a loaded workload (``run([index])`` answers one query).
        users: simulated users (>= 1).
        think_time_s: mean think time (s, >= 0).
        duration_s: how long users keep sending queries (s, > 0).
        seed: seeds the think times and the samples each user asks for.
        stop: when set (Ctrl-C), the scheduler stops after the query in progress.
        on_done: called with 1 after each answered query (progress bars).
        clock: monotonic clock (s).
    """
    rng = np.random.default_rng(seed)
    stop = stop or threading.Event()
    n_samples = max(1, int(workload.sample_count))
    t0 = clock()
    t_end = t0 + duration_s
    heap: list[tuple[float, int]] = [
        (t0 + float(draw_think_times_s(rng, think_time_s, 1)[0]), u) for u in range(users)]
    heapq.heapify(heap)
    lat: list[float] = []
    wait: list[float] = []
    who: list[int] = []
    idx: list[int] = []
    busy_s = 0.0
    while heap and not stop.is_set():
        arrive, u = heapq.heappop(heap)
        if arrive >= t_end:
            continue  # this user's next query would come after the end
        now = clock()
        if arrive > now and stop.wait(arrive - now):
            break
        sample = int(rng.integers(n_samples))
        start = clock()
        workload.run_arrived([sample], arrive)  # a workload's own queue counts the wait
        done = clock()
        busy_s += done - start
        lat.append(done - arrive)
        wait.append(max(0.0, start - arrive))
        who.append(u)
        idx.append(sample)
        if on_done is not None:
            on_done(1)
        heapq.heappush(heap, (done + float(draw_think_times_s(rng, think_time_s, 1)[0]), u))
    interrupted = stop.is_set()
    if not interrupted:
        remaining = t_end - clock()
        if remaining > 0:
            stop.wait(remaining)  # idle until the end: idle power is part of the scenario
        interrupted = stop.is_set()
    window_s = clock() - t0
    return InteractiveResult(np.asarray(lat), np.asarray(wait), np.asarray(who, dtype=np.int64),
                             np.asarray(idx, dtype=np.int64), busy_s, window_s, users,
                             think_time_s, duration_s, interrupted)
