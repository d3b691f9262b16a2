"""Mixed traffic: several request classes at once on one workload, on one clock (scenario
``mixed``, ``inferlca run --traffic FILE``).

Why our own scheduler and not LoadGen: a LoadGen test runs one scenario (one ``StartTest`` at a
time, its own issue thread, sample indices and clock), so two classes cannot share a test, and a
class run under LoadGen beside others would carry MLPerf-looking figures that no MLPerf rule
covers (the other traffic changes the system under test). Every class therefore runs here, on the
workload's clock (``time.monotonic``, the power sampler's), with the arrival processes LoadGen
uses for the matching scenarios:

* ``poisson``: open-loop arrivals with exponential gaps at ``rate_qps`` (LoadGen's Server). With a
  ``daily_profile`` the rate is ``rate_qps x profile[h]`` in the ``h``-th 24th of the class's
  duration (a day compressed into the run), drawn by thinning a Poisson process at the peak rate
  (Lewis & Shedler 1979), so the arrivals are an exact non-homogeneous Poisson process.
* ``offline``: ``requests`` prompts issued together at ``start_s`` (LoadGen's Offline).
* ``interactive``: ``users`` closed-loop users: a request, its answer, a think time (negative
  exponential, truncated at 10 x its mean as in :mod:`inferlca.loadgen.thinktime`), the next one.

The workload's token engine (its batching, or the server's) serves all classes together; every
request's arrival is its scheduled time, so a late issue counts in its latency. A class stops at
its ``requests`` or at the end of its duration (counted from its ``start_s``), whichever comes
first; a request issued before the end finishes. With a top-level ``duration_s`` the window lasts
at least that long (idle power is part of the traffic, as with interactive users).
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inferlca.loadgen.thinktime import draw_think_times_s
from inferlca.loadgen.traffic_file import HOURS, TrafficPlan
from inferlca.workloads.base import TrafficPrompt, Workload

#: at most this many distinct synthetic prompts per class (requests reuse them in turn)
MAX_PROMPTS = 512


@dataclass
class RequestRecord:
    """One request of a class, as the scheduler saw it (seconds on the workload's clock)."""

    cls: int
    arrival_s: float
    tokens_in: int
    tokens_in_source: str
    start_s: float = float("nan")
    token_times_s: list[float] = field(default_factory=list)
    end_s: float = float("nan")
    tokens_out: int = 0
    error_kind: str | None = None
    user: int = -1
    #: the server's ``finish_reason`` (a model server's answers; None for our own engines)
    finish_reason: str | None = None
    #: answered, but the stream ended without a ``finish_reason`` (cut short by the server)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.error_kind is None


@dataclass
class TrafficResult:
    """What the scheduler observed: every request (answered or failed) and the window."""

    plan: TrafficPlan
    records: list[RequestRecord]
    t0_s: float
    end_s: float
    interrupted: bool = False
    error: BaseException | None = None
    skipped: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"scheduler": "inferlca mixed traffic (one clock, classes concurrent)",
                "classes": [c.name for c in self.plan.classes],
                "requests": len(self.records), "window_s": self.end_s - self.t0_s,
                "skipped": self.skipped, "interrupted": self.interrupted}


def poisson_arrivals(rng: np.random.Generator, rate_qps: float, start_s: float,
                     duration_s: float | None, requests: int | None,
                     profile: list[float] | None = None) -> np.ndarray:
    """Arrival offsets (s from the window's start) of a Poisson class, at most ``requests`` of
    them, none at or after ``start_s + duration_s``. A ``profile`` (24 multipliers) scales the
    rate in each 24th of the duration (thinning at the peak rate)."""
    peak = rate_qps * (max(profile) if profile else 1.0)
    limit = requests if requests is not None else 10_000_000
    end = start_s + duration_s if duration_s is not None else float("inf")
    out: list[float] = []
    t = start_s
    while len(out) < limit:
        t += float(rng.exponential(1.0 / peak))
        if t >= end:
            break
        if profile is not None and duration_s is not None:
            hour = min(int((t - start_s) / duration_s * HOURS), HOURS - 1)
            if float(rng.random()) * max(profile) >= profile[hour]:
                continue  # thinned out: the rate at this hour is below the peak
        out.append(t)
    return np.asarray(out, dtype=float)


class _Scheduler:
    """The state of one :func:`run_traffic` call (see the module docstring)."""

    def __init__(self, workload: Workload, plan: TrafficPlan, prompts: list[list[TrafficPrompt]],
                 seed: int, stop: threading.Event,
                 on_done: Callable[[int], None] | None) -> None:
        self.w: Any = workload
        self.plan = plan
        self.prompts = prompts
        self.stop = stop
        self.on_done = on_done
        self.rngs = [np.random.default_rng([seed, k]) for k in range(len(plan.classes))]
        self.cond = threading.Condition()
        self.heap: list[tuple[float, int, int, int]] = []  # (offset s, seq, class, user)
        self.seq = itertools.count()
        self.pending: dict[int, RequestRecord] = {}
        self.records: list[RequestRecord] = []
        self.sent = [0] * len(plan.classes)
        self.error: BaseException | None = None
        self.t0 = 0.0
        self.skipped = 0

    # ---- arrivals --------------------------------------------------------------------------
    def end_of(self, k: int) -> float:
        c = self.plan.classes[k]
        d = self.plan.class_duration_s(c)
        return c.start_s + d if d is not None else float("inf")

    def may_send(self, k: int, offset_s: float) -> bool:
        c = self.plan.classes[k]
        if c.requests is not None and self.sent[k] >= c.requests:
            return False
        return c.kind == "offline" or offset_s < self.end_of(k)

    def push(self, offset_s: float, k: int, user: int = -1) -> None:
        heapq.heappush(self.heap, (offset_s, next(self.seq), k, user))

    def think(self, k: int) -> float:
        return float(draw_think_times_s(self.rngs[k], self.plan.classes[k].think_time_s or 0.0,
                                        1)[0])

    def seed_arrivals(self) -> None:
        for k, c in enumerate(self.plan.classes):
            if c.kind == "offline":
                for _ in range(int(c.requests or 0)):
                    self.push(c.start_s, k)
            elif c.kind == "poisson":
                assert c.rate_qps is not None
                for t in poisson_arrivals(self.rngs[k], c.rate_qps, c.start_s,
                                          self.plan.class_duration_s(c), c.requests,
                                          c.daily_profile):
                    self.push(float(t), k)
            else:
                for u in range(int(c.users or 1)):
                    self.push(c.start_s + self.think(k), k, u)

    # ---- engine callbacks ------------------------------------------------------------------
    def _finish(self, tag: int, result: Any = None, error: BaseException | None = None) -> None:
        with self.cond:
            rec = self.pending.pop(tag, None)
            if rec is None:
                return  # skipped at Ctrl-C and answered late: already counted
            if result is not None:
                rec.start_s = float(getattr(result, "start_s", rec.arrival_s))
                rec.token_times_s = [float(t) for t in result.token_times_s]
                rec.end_s = float(result.end_s)
                rec.error_kind = result.error_kind
                if rec.error_kind is None:
                    rec.tokens_out = int(result.tokens_out)
                    rec.finish_reason = getattr(result, "finish_reason", None)
                    rec.truncated = bool(getattr(result, "truncated", False))
                    tin = getattr(result, "tokens_in", None)
                    if isinstance(tin, int) and tin > 0 and rec.tokens_in_source != "exact":
                        rec.tokens_in, rec.tokens_in_source = tin, "usage"
            else:
                rec.error_kind = "error"
                rec.end_s = self.w.clock()
                self.error = self.error or error  # the first one ends the traffic
            c = self.plan.classes[rec.cls]
            if c.kind == "interactive" and self.error is None and not self.stop.is_set():
                done = (rec.end_s if rec.end_s == rec.end_s else self.w.clock()) - self.t0
                t = done + self.think(rec.cls)
                if self.may_send(rec.cls, t):
                    self.push(t, rec.cls, rec.user)
            self.cond.notify_all()
        if self.on_done is not None:
            self.on_done(1)

    # ---- the loop --------------------------------------------------------------------------
    def issue(self, due: list[tuple[float, int, int, int]]) -> None:
        reqs = []
        with self.cond:
            for offset, _seq, k, user in due:
                if not self.may_send(k, offset):
                    continue
                n = self.sent[k]
                self.sent[k] += 1
                pr = self.prompts[k][n % len(self.prompts[k])]
                tag = next(self.seq)
                rec = RequestRecord(k, self.t0 + offset, pr.tokens_in, pr.tokens_in_source,
                                    user=user)
                self.pending[tag] = rec
                self.records.append(rec)
                reqs.append(self.w.traffic_request(
                    pr, len(self.records) - 1, rec.arrival_s, tag=tag,
                    on_done=lambda r, tag=tag: self._finish(tag, r),
                    on_error=lambda _q, exc, tag=tag: self._finish(tag, error=exc)))
        if reqs:
            self.w.submit(reqs)

    def run(self) -> None:
        clock = self.w.clock
        self.t0 = clock()
        with self.cond:
            self.seed_arrivals()
        while True:
            with self.cond:
                if self.stop.is_set() or self.error is not None:
                    break
                if not self.heap and not self.pending:
                    break
                now = clock() - self.t0
                if not self.heap or self.heap[0][0] > now:
                    wait = self.heap[0][0] - now if self.heap else None
                    self.cond.wait(min(wait, 0.5) if wait is not None else 0.5)
                    continue
                due = []
                while self.heap and self.heap[0][0] <= now:
                    due.append(heapq.heappop(self.heap))
            self.issue(due)
        self.drain()

    def drain(self) -> None:
        """After the end (or Ctrl-C, or a server gone): nothing new; skip what waits, let the
        requests in flight finish."""
        if self.stop.is_set() or self.error is not None:
            left = self.w.skip_waiting()
            with self.cond:
                dropped = [self.pending.pop(getattr(req, "tag", -1), None) for req in left]
                gone = {id(r) for r in dropped if r is not None}
                self.skipped += len(gone)
                self.records = [r for r in self.records if id(r) not in gone]
        with self.cond:
            self.cond.wait_for(lambda: not self.pending, timeout=600.0)


def class_prompts(workload: Workload, plan: TrafficPlan, seed: int,
                  default_max_new_tokens: int,
                  default_prompts: str | None = None) -> list[list[TrafficPrompt]]:
    """Each class's prompts from the workload (its file, or seeded synthetic ones); a class
    that names neither ``prompts`` nor ``prompt_len`` takes ``default_prompts`` (the run's
    ``--prompts`` file) when given."""
    out = []
    w: Any = workload  # BaseWorkload.traffic_prompts: refuses unless the workload has a token engine
    for k, c in enumerate(plan.classes):
        n = min(MAX_PROMPTS, c.requests or MAX_PROMPTS)
        out.append(w.traffic_prompts(n, c.prompt_len, _prompt_file(c, default_prompts),
                                     class_seed(seed, k),
                                     c.max_new_tokens or default_max_new_tokens))
    return out


def class_seed(seed: int, k: int) -> int:
    """The seed of the ``k``-th class's synthetic prompts (each class its own)."""
    return seed * 1009 + k


def _prompt_file(c: Any, default_prompts: str | None) -> str | None:
    return c.prompts if c.prompts is not None or c.prompt_len else default_prompts


def prompts_note(plan: TrafficPlan, prompts: list[list[TrafficPrompt]], seed: int,
                 default_prompts: str | None = None) -> str:
    """Where each class's prompts came from, for the run's notes: its file, or synthetic
    prompts of its length with the seed that makes them again."""
    parts = []
    for k, (c, made) in enumerate(zip(plan.classes, prompts)):
        path = _prompt_file(c, default_prompts)
        if path is not None:
            parts.append(f"{c.name}: {len(made)} from {path}")
        else:
            length = f"prompt_len {c.prompt_len}" if c.prompt_len else "the run's prompt length"
            parts.append(f"{c.name}: {len(made)} synthetic ({length}, seed {class_seed(seed, k)})")
    return "class prompts: " + "; ".join(parts)


def run_traffic(workload: Workload, plan: TrafficPlan, prompts: list[list[TrafficPrompt]], *,
                seed: int = 0, stop: threading.Event | None = None,
                on_done: Callable[[int], None] | None = None) -> TrafficResult:
    """Run every class of ``plan`` at once on a loaded token-engine workload (module docstring).

    Args:
        workload: loaded; offers ``clock``, ``traffic_request``, ``submit``, ``skip_waiting``.
        plan: the checked traffic.
        prompts: each class's prompts (:func:`class_prompts`), used in turn.
        seed: seeds the arrivals and think times (each class its own stream).
        stop: when set (Ctrl-C), nothing new is sent, queued requests are dropped (counted in
            ``skipped``) and the requests in flight finish.
        on_done: called with 1 after each finished request (progress bars).
    """
    stop = stop or threading.Event()
    s = _Scheduler(workload, plan, prompts, seed, stop, on_done)
    s.run()
    interrupted = stop.is_set()
    if plan.duration_s is not None and s.error is None and not interrupted:
        remaining = s.t0 + plan.duration_s - workload.clock()  # type: ignore[attr-defined]
        if remaining > 0:
            stop.wait(remaining)  # idle until the end: idle power is part of the traffic
        interrupted = stop.is_set()
    end = time.monotonic() if not hasattr(workload, "clock") else workload.clock()
    return TrafficResult(plan, s.records, s.t0, end, interrupted, s.error, s.skipped)
