"""The remote meter: readings of a meter agent (``inferlca meters serve``) on another machine.

``--meter-url http://HOST:PORT`` (or ``--meter remote:http://HOST:PORT``) on ``run`` and
``measure`` opens a :class:`RemoteMeter`. It asks the agent who it is (``/info``: meter, channels,
scopes, devices), estimates the offset between the agent's clock and this machine's
(:mod:`inferlca.meters.clock`, several ``/time`` round trips) and keeps a stream of the agent's
readings (``/stream``) in a background thread. Each reading carries the agent's own time of the
read; the sampler of a remote meter (:class:`RemoteSampler`, chosen by
:func:`~inferlca.meters.sampler_process.open_sampler` through :meth:`RemoteMeter.make_sampler`)
does not read the meter itself: at the end of its window it takes the agent's readings of that
window, with the offset estimated again at the window's start and end, mapped onto this machine's
monotonic clock. The trace is then an ordinary :class:`~inferlca.traces.trace.PowerTrace` whose
samples are the agent's: energy, phases, the store and the reports work on it unchanged. Its two
edges (the sampler's start and stop) are interpolated from the agent's readings either side.

The measurement scope is the agent's meter's. The trace records the agent (URL, host, meter,
interval), the clock offset, its uncertainty (half the shortest round trip), the drift between
the estimates, and the delivery latency of the readings.

An agent that goes away (its process ends, the network drops, no reading for a while) leaves a
gap: failed readings (``NaN``, with the reason) from the loss to the agent's return or to the end
of the window, never zeros; the receiver tries to reconnect every second and, when the same agent
answers again, takes the readings it kept meanwhile (``since=``), so a short network loss leaves
no gap at all. An agent that cannot be reached when the meter opens, that refuses the token (401)
or that is not a meter agent is a :class:`~inferlca.errors.MeterUnavailableError` (one line,
exit 2).
"""

from __future__ import annotations

import http.client
import json
import math
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from inferlca.errors import MeterUnavailableError
from inferlca.meters.agent import AGENT_NAME, DEFAULT_PORT, PROTOCOL, TOKEN_ENV
from inferlca.meters.base import PowerMeter, Reading
from inferlca.meters.clock import ClockEstimate, estimate_offset, summary, to_runner_time
from inferlca.meters.sampler import Sampler
from inferlca.traces.trace import PowerTrace

#: round trips timed per clock offset estimate
ROUNDS = 8
#: seconds between attempts to reach a lost agent again
RETRY_S = 1.0


@dataclass
class _Sample:
    seq: int
    t: float  # agent monotonic time of the read
    p: list[float]
    e: list[float] | None
    err: dict[str | None, str] | None
    arrival: float  # this machine's monotonic time of arrival
    instance: str


def parse_url(url: str) -> tuple[str, int, str]:
    """``http://HOST[:PORT][/]`` -> ``(host, port, normalised url)``.

    Raises:
        MeterUnavailableError: not an http URL with a host.
    """
    raw = url.strip()
    if "://" not in raw:
        raw = "http://" + raw
    parts = urlsplit(raw)
    if parts.scheme != "http":
        raise MeterUnavailableError(
            f"meter agent URL {url!r}: the agent speaks plain http (http://HOST:PORT); across an "
            "untrusted network reach it through an SSH tunnel or a VPN")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError:
        raise MeterUnavailableError(f"meter agent URL {url!r}: bad port") from None
    if not parts.hostname or parts.path not in ("", "/"):
        raise MeterUnavailableError(
            f"meter agent URL {url!r}: expected http://HOST:PORT (no path), as printed by "
            "`inferlca meters serve`")
    host = parts.hostname
    shown = f"[{host}]" if ":" in host else host
    return host, port, f"http://{shown}:{port}"


class RemoteMeter(PowerMeter):
    """The readings of a meter agent on another machine (module doc).

    Args:
        url: the agent, ``http://HOST:PORT``.
        token: the agent's token; default: the environment variable ``token_env``.
        token_env: where the token is read from (default ``INFERLCA_METER_TOKEN``).
        timeout_s: how long the agent may take to answer when opening.
    """

    name = "remote"
    estimated = False
    description = ("readings streamed by a meter agent on another machine (`inferlca meters "
                   "serve` there; --meter-url http://HOST:PORT here)")
    rail_family = "remote"

    def __init__(self, url: str | None = None, token: str | None = None,
                 token_env: str = TOKEN_ENV, timeout_s: float = 5.0, **_: Any) -> None:
        super().__init__()
        if not url:
            raise MeterUnavailableError(self.probe()[1])
        self.host, self.port, self.url = parse_url(url)
        self._token = token if token is not None else (os.environ.get(token_env) or None)
        self._token_env = token_env
        self.timeout_s = float(timeout_s)
        self._lock = threading.Lock()
        self._samples: list[_Sample] = []
        self._outages: list[dict[str, Any]] = []  # {start, end, reason, last_seq, instance}
        self._estimates: list[ClockEstimate] = []
        self._window_open = False
        self._closing = threading.Event()
        self._first = threading.Event()
        self._time_conn: http.client.HTTPConnection | None = None
        self._time_lock = threading.Lock()
        self._window_meta: dict[str, Any] = {}
        self.info = self._get_info(opening=True)
        self._apply_info(self.info)
        est = self.estimate_clock()
        if est is None:
            raise MeterUnavailableError(f"meter agent at {self.url}: /time did not answer")
        self._estimates.append(est)
        self._thread = threading.Thread(target=self._receive, name="inferlca-remote-meter",
                                        daemon=True)
        self._thread.start()
        if not self._first.wait(max(self.timeout_s, 5 * self.interval_s)):
            why = self._outages[-1]["reason"] if self._outages else "nothing came"
            self.close()
            raise MeterUnavailableError(f"meter agent at {self.url}: no reading streamed within "
                                        f"{self.timeout_s:g} s ({why})")

    @classmethod
    def probe(cls, url: str | None = None, **_: Any) -> tuple[bool, str]:
        if not url:
            return False, ("reads a meter agent on another machine: run `inferlca meters serve` "
                           "there and give --meter-url http://HOST:PORT here")
        try:
            parse_url(url)
        except MeterUnavailableError as exc:
            return False, str(exc)
        return True, f"reads the meter agent at {url}"

    # ---- HTTP -----------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}

    def _connection(self, timeout_s: float) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout_s)

    def _get_info(self, opening: bool) -> dict[str, Any]:
        """``/info`` of the agent; a one-line :class:`MeterUnavailableError` for every way it can
        fail (unreachable, 401, not an agent)."""
        conn = self._connection(self.timeout_s)
        try:
            conn.request("GET", "/info", headers=self._headers())
            resp = conn.getresponse()
            body = resp.read(1 << 20)
        except ConnectionRefusedError:
            raise MeterUnavailableError(
                f"no meter agent answers at {self.url} (connection refused): start `inferlca "
                "meters serve` on that machine (with --host to listen beyond localhost), or check "
                "the URL") from None
        except socket.gaierror as exc:
            raise MeterUnavailableError(f"meter agent at {self.url}: cannot resolve "
                                        f"{self.host!r} ({exc.strerror})") from None
        except TimeoutError:
            raise MeterUnavailableError(f"meter agent at {self.url} did not answer within "
                                        f"{self.timeout_s:g} s") from None
        except (OSError, http.client.HTTPException) as exc:
            raise MeterUnavailableError(f"meter agent at {self.url}: "
                                        f"{type(exc).__name__}: {exc}") from None
        finally:
            conn.close()
        if resp.status == 401:
            how = (f"the token in ${self._token_env} was refused" if self._token
                   else f"it needs a token: set ${self._token_env} to the agent's token")
            raise MeterUnavailableError(f"meter agent at {self.url} answered 401: {how}")
        try:
            info = json.loads(body) if resp.status == 200 else None
        except ValueError:
            info = None
        if not isinstance(info, dict) or info.get("agent") != AGENT_NAME:
            raise MeterUnavailableError(
                f"{self.url} is not an inferlca meter agent (GET /info answered {resp.status}"
                f"{'' if resp.status != 200 else ', not the agent JSON'}); start one with "
                "`inferlca meters serve` on the machine that serves")
        if info.get("protocol") != PROTOCOL:
            raise MeterUnavailableError(
                f"meter agent at {self.url} speaks protocol {info.get('protocol')}, this inferlca "
                f"{PROTOCOL}: run the same inferlca version on both machines")
        return info

    def _apply_info(self, info: dict[str, Any]) -> None:
        self.channels = [str(c) for c in info["channels"]]
        self.counter_channels = [str(c) for c in info.get("counter_channels") or []]
        self.primary = str(info["primary"])
        self.agent_meter = str(info["meter"])
        #: the run records the agent's meter: ``remote:nvml``, ``remote:nvml+rapl``
        self.name = f"remote:{self.agent_meter}"  # type: ignore[misc]
        self.estimated = bool(info.get("estimated"))  # type: ignore[misc]
        self.scope = str(info.get("scope") or "accelerator")  # type: ignore[misc]
        self.averaging_s = info.get("averaging_s")
        self.interval_s = float(info.get("interval_s") or 0.01)
        self.instance = str(info.get("instance"))

    def estimate_clock(self, rounds: int = ROUNDS) -> ClockEstimate | None:
        """Time ``rounds`` ``/time`` round trips on one kept-alive connection; the estimate, or
        None when the agent does not answer."""
        with self._time_lock:  # the receiver (reconnecting) and the sampler may both ask
            return self._estimate(rounds)

    def _estimate(self, rounds: int) -> ClockEstimate | None:
        trips, walls = [], []
        failures = 0
        for _ in range(rounds):
            if failures >= 2:  # not answering: give up rather than wait out every round
                break
            if self._time_conn is None:
                self._time_conn = self._connection(min(self.timeout_s, 2.0))
            try:
                w0 = time.time()
                t0 = time.monotonic()
                self._time_conn.request("GET", "/time", headers=self._headers())
                resp = self._time_conn.getresponse()
                body = resp.read()
                t3 = time.monotonic()
                w3 = time.time()
                doc = json.loads(body)
                trips.append((t0, float(doc["t"]), t3))
                walls.append((w0, float(doc["wall"]), w3))
            except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
                failures += 1
                self._time_conn.close()
                self._time_conn = None
        return estimate_offset(trips, walls) if trips else None

    # ---- the stream ---------------------------------------------------------------------------
    def _receive(self) -> None:
        """Keep the stream of readings; on a loss record an outage and try again every second."""
        next_seq: int | None = None
        while not self._closing.is_set():
            try:
                if self._outages and self._outages[-1]["end"] is None:
                    info = self._get_info(opening=False)
                    if [str(c) for c in info["channels"]] != self.channels:
                        raise ConnectionError("the agent came back with other channels (another "
                                              "meter): its readings are not taken")
                    if info.get("instance") != self.instance:  # restarted: all it kept
                        self.instance, next_seq = str(info.get("instance")), 0
                    est = self.estimate_clock()
                    if est is not None:
                        with self._lock:
                            self._estimates.append(est)
                self._stream_once(next_seq)
                reason = "the agent closed the stream"
            except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError,
                    MeterUnavailableError) as exc:
                reason = str(exc) or type(exc).__name__
                if isinstance(exc, (TimeoutError, socket.timeout)):
                    reason = f"no reading from the agent for {self._stream_timeout():g} s"
            if self._closing.is_set():
                return
            with self._lock:
                last = self._samples[-1] if self._samples else None
                if not self._outages or self._outages[-1]["end"] is not None:
                    self._outages.append({"start": time.monotonic(), "end": None,
                                          "reason": f"meter agent at {self.url} lost: {reason}",
                                          "last_seq": last.seq if last else None,
                                          "instance": self.instance})
                next_seq = last.seq + 1 if last is not None else None
            self._closing.wait(RETRY_S)

    def _stream_timeout(self) -> float:
        return max(2.0, 20 * self.interval_s)

    def _stream_once(self, since: int | None) -> None:
        conn = self._connection(self._stream_timeout())
        try:
            conn.request("GET", "/stream" + (f"?since={since}" if since is not None else ""),
                         headers=self._headers())
            resp = conn.getresponse()
            if resp.status != 200:
                raise ConnectionError(f"the agent answered {resp.status} to /stream")
            instance, nc = self.instance, len(self.channels)
            while not self._closing.is_set():
                line = resp.readline()
                if not line:
                    return
                arrival = time.monotonic()
                d = json.loads(line)
                p = [math.nan if v is None else float(v) for v in d["p"]]
                if len(p) != nc:
                    raise ValueError(f"a reading with {len(p)} channels, expected {nc}")
                e = d.get("e")
                err = d.get("err")
                s = _Sample(int(d["seq"]), float(d["t"]), p,
                            None if e is None else [math.nan if v is None else float(v)
                                                    for v in e],
                            None if err is None else {(None if k == "*" else k): str(v)
                                                      for k, v in err.items()},
                            arrival, instance)
                with self._lock:
                    self._samples.append(s)
                    if self._outages and self._outages[-1]["end"] is None:
                        self._outages[-1]["end"] = arrival
                        self._outages[-1]["resumed_seq"] = s.seq
                        self._outages[-1]["resumed_instance"] = instance
                    if not self._window_open and len(self._samples) > 4096:
                        self._trim(arrival - 5.0)
                self._first.set()
        finally:
            conn.close()

    def _trim(self, before_arrival: float) -> None:
        """Forget readings that arrived before ``before_arrival`` (lock held)."""
        k = 0
        while k < len(self._samples) and self._samples[k].arrival < before_arrival:
            k += 1
        if k:
            del self._samples[:k]

    # ---- the PowerMeter side ------------------------------------------------------------------
    def read(self) -> Reading:
        """The newest reading (for a caller that samples this meter like a local one)."""
        with self._lock:
            last = self._samples[-1] if self._samples else None
            lost = self._outages[-1] if self._outages and self._outages[-1]["end"] is None else None
        if lost is not None or last is None:
            why = lost["reason"] if lost else "no reading from the agent yet"
            return Reading.failed(self.channels, why, self.counter_channels)
        return _reading(last, self.channels, self.counter_channels)

    def make_sampler(self, period_s: float = 0.01, close_meter: bool = False) -> Sampler:
        """The sampler of this meter: the agent's readings of its window (module doc)."""
        return RemoteSampler(self, period_s=period_s, close_meter=close_meter)

    def channel_scopes(self) -> dict[str, str]:
        got = self.info.get("channel_scopes") or {}
        return {str(k): str(v) for k, v in got.items()} or super().channel_scopes()

    def scope_totals(self) -> dict[str, str]:
        got = self.info.get("scope_totals") or {}
        return {str(k): str(v) for k, v in got.items()} or super().scope_totals()

    def devices(self) -> list[dict[str, Any]]:
        return [{**d, "agent_host": self.info.get("host")} for d in self.info.get("devices") or []
                if isinstance(d, dict)]

    def agent_facts(self) -> dict[str, Any]:
        """Who measured: the agent's URL, host, meter, interval and instance."""
        return {"url": self.url, "host": self.info.get("host"), "meter": self.agent_meter,
                "interval_s": self.interval_s, "instance": self.instance}

    def run_facts(self) -> dict[str, Any]:
        """What a run records about the agent: who, and every clock estimate since it opened."""
        with self._lock:
            estimates = list(self._estimates)
            outages = len(self._outages)
        return {**self.agent_facts(), **summary(estimates), "outages": outages}

    def meta(self) -> dict[str, Any]:
        """The agent's meter's own facts (device name, rails, model...: as if it were local), the
        agent, and the clock facts of the last window."""
        out = dict(self.info.get("meta") or {})
        for k in ("channel_scopes", "scope_totals", "measurement_scope", "devices_measured"):
            out.pop(k, None)  # this meter's own (the agent's, with the agent's host) are added
        out["remote_agent"] = self.agent_facts()
        out.update(self._window_meta)
        return out

    def close(self) -> None:
        self._closing.set()
        if self._time_conn is not None:
            self._time_conn.close()
            self._time_conn = None
        thread = getattr(self, "_thread", None)
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self._stream_timeout() + 1.0)

    # ---- windows (the RemoteSampler's side) -------------------------------------------------
    def open_window(self, t0: float) -> None:
        """A sampler starts at this machine's monotonic ``t0``: estimate the offset again and keep
        every reading from now on."""
        est = self.estimate_clock()
        with self._lock:
            if est is not None:
                self._estimates.append(est)
            self._window_open = True
            self._trim(t0 - 5.0)
            self._window_start_estimates = len(self._estimates) - 1

    def close_window(self, t0: float, t_stop: float) -> tuple[list[float], list[Reading]]:
        """The readings of ``[t0, t_stop]`` (this machine's monotonic clock) with their times on
        it, edges interpolated, outages as failed readings; sets the window's facts for
        :meth:`meta`."""
        deadline = time.monotonic() + max(1.0, 5 * self.interval_s)
        while time.monotonic() < deadline and not self._lost_now():  # the reading after the stop
            if self._newest_mapped() >= t_stop:
                break
            time.sleep(min(0.01, self.interval_s))
        est = self.estimate_clock() if not self._lost_now() else None
        with self._lock:
            if est is not None:
                self._estimates.append(est)
            samples, outages = list(self._samples), [dict(o) for o in self._outages]
            estimates = self._estimates[getattr(self, "_window_start_estimates", 0):]
            all_estimates = list(self._estimates)
            self._window_open = False
        times, readings, latency = self._assemble(samples, outages, all_estimates, t0, t_stop)
        with self._lock:  # what is older than this window's end is not needed again
            if samples:
                mapped = to_runner_time(np.array([s.t for s in self._samples]), all_estimates)
                keep = int(np.searchsorted(mapped, t_stop - 1.0))
                del self._samples[:keep]
        meta: dict[str, Any] = summary(estimates, at_s=t0)
        if latency.size:
            meta["delivery_latency_p50_s"] = float(np.percentile(latency, 50))
            meta["delivery_latency_p99_s"] = float(np.percentile(latency, 99))
        lost = [o for o in outages if _unbridged(o) and o["start"] <= t_stop
                and (o["end"] is None or o["end"] >= t0)]
        if lost:
            meta["agent_lost"] = lost[0]["reason"]
            meta["agent_outages"] = [{"start_s": o["start"] - t0,
                                      "end_s": None if o["end"] is None else o["end"] - t0,
                                      "reason": o["reason"]} for o in lost]
        if est is None:
            meta["clock_end_estimate"] = "not made: the agent did not answer at the window's end"
        self._window_meta = meta
        return times, readings

    def _lost_now(self) -> bool:
        with self._lock:
            return bool(self._outages) and self._outages[-1]["end"] is None

    def _newest_mapped(self) -> float:
        with self._lock:
            if not self._samples:
                return -math.inf
            t, est = self._samples[-1].t, list(self._estimates)
        return float(to_runner_time(np.array([t]), est)[0])

    def _assemble(self, samples: list[_Sample], outages: list[dict[str, Any]],
                  estimates: list[ClockEstimate], t0: float, t_stop: float
                  ) -> tuple[list[float], list[Reading], np.ndarray]:
        chans, ctrs = self.channels, self.counter_channels
        mapped = to_runner_time(np.array([s.t for s in samples]), estimates) if samples else (
            np.empty(0))
        rows: list[tuple[float, Reading]] = [(float(m), _reading(s, chans, ctrs))
                                             for m, s in zip(mapped, samples)]
        step = self.interval_s
        for k in range(1, len(samples)):  # a hole between two readings: lost ones, an outage
            a, b = samples[k - 1], samples[k]
            if a.instance == b.instance and b.seq - a.seq <= 1:
                continue
            why = next((o["reason"] for o in outages if a.arrival <= o["start"] <= b.arrival),
                       None) or (f"{b.seq - a.seq - 1} readings of the agent lost on the way"
                                 if a.instance == b.instance else "the agent restarted")
            rows += _failed_span(mapped[k - 1] + step, mapped[k] - step, why, chans, ctrs)
        last_out = outages[-1] if outages else None
        if last_out is not None and (last_out["end"] is None
                                     or not samples or samples[-1].arrival < last_out["start"]):
            # lost, and nothing came since: a hole from the last reading to the stop
            begin = mapped[-1] + step if samples else min(t0, last_out["start"])
            rows += _failed_span(begin, max(t_stop, begin), last_out["reason"], chans, ctrs)
        rows.sort(key=lambda r: r[0])
        t = np.array([r[0] for r in rows])
        inside = [(tt, r) for tt, r in rows if t0 <= tt <= t_stop]
        first = _edge(rows, t, t0, chans, ctrs)
        last = _edge(rows, t, t_stop, chans, ctrs)
        body = ([(t0, first)] if first is not None and (not inside or inside[0][0] > t0)
                else []) + inside
        out = body + ([(t_stop, last)] if last is not None and (not body or body[-1][0] < t_stop)
                      else [])
        arrivals = np.array([s.arrival for s in samples])
        win = (mapped >= t0) & (mapped <= t_stop) if samples else np.zeros(0, bool)
        latency = arrivals[win] - mapped[win] if samples else np.empty(0)
        return [r[0] for r in out], [r[1] for r in out], latency


def _failed_span(a: float, b: float, reason: str, chans: list[str], ctrs: list[str]
                 ) -> list[tuple[float, Reading]]:
    """Failed readings marking the hole ``[a, b]`` (one in the middle when it is shorter than
    that): the trace shows a gap with the reason there, never zeros."""
    if b <= a:
        return [(0.5 * (a + b), Reading.failed(chans, reason, ctrs))]
    return [(a, Reading.failed(chans, reason, ctrs)), (b, Reading.failed(chans, reason, ctrs))]


def _unbridged(o: dict[str, Any]) -> bool:
    """An outage leaves a hole unless the same agent resumed with the very next reading."""
    if o["end"] is None:
        return True
    return not (o.get("resumed_instance") == o["instance"] and o["last_seq"] is not None
                and o.get("resumed_seq") == o["last_seq"] + 1)


def _reading(s: _Sample, channels: list[str], counters: list[str]) -> Reading:
    return Reading(dict(zip(channels, s.p)),
                   dict(zip(counters, s.e)) if s.e is not None else {},
                   dict(s.err) if s.err else {})


def _edge(rows: list[tuple[float, Reading]], t: np.ndarray, x: float, chans: list[str],
          ctrs: list[str]) -> Reading | None:
    """The reading at ``x`` interpolated linearly between the readings either side (a channel
    failed on either side is failed at ``x``); None when ``x`` is not between two readings."""
    if t.size < 2 or x < t[0] or x > t[-1]:
        return None
    k = int(np.searchsorted(t, x, side="right"))
    if k >= t.size:
        return rows[-1][1]
    if k == 0:
        return rows[0][1]
    (ta, a), (tb, b) = rows[k - 1], rows[k]
    f = 0.0 if tb == ta else (x - ta) / (tb - ta)
    power: dict[str, float] = {}
    energy: dict[str, float] = {}
    errors: dict[str | None, str] = {}
    for c in chans:
        va, vb = a.power_w.get(c, math.nan), b.power_w.get(c, math.nan)
        power[c] = va + f * (vb - va)
        if math.isnan(power[c]):
            errors[c] = a.errors.get(c) or a.errors.get(None) or b.errors.get(c) or b.errors.get(
                None) or "no reading"
    for c in ctrs:
        va, vb = a.energy_j.get(c, math.nan), b.energy_j.get(c, math.nan)
        energy[c] = va + f * (vb - va)
    if errors and len(errors) == len(chans):
        reason = next(iter(errors.values()))
        return Reading(power, energy, {None: reason})
    return Reading(power, energy, dict(errors))


class RemoteSampler(Sampler):
    """The sampler of a :class:`RemoteMeter`: no reads of its own; its trace holds the agent's
    readings of ``[start, stop]`` on this machine's clock (see the module doc). Same contract as
    :class:`~inferlca.meters.sampler.Sampler` (marks, ``now``, ``.trace``)."""

    meter: RemoteMeter

    def __init__(self, meter: RemoteMeter, period_s: float = 0.01,
                 close_meter: bool = False) -> None:
        super().__init__(meter, period_s=meter.interval_s, close_meter=close_meter)
        self.kind = "agent"
        self.asked_period_s = period_s

    def start(self) -> Sampler:
        if self._t0 is not None:
            raise RuntimeError("sampler already started")
        self._t0 = time.monotonic()
        self._t0_unix = time.time()
        self.meter.open_window(self._t0)
        return self

    def stop(self, incomplete: bool = False) -> PowerTrace:
        if self._trace is not None:
            return self._trace
        self._incomplete = self._incomplete or incomplete
        self._stop.set()
        if self._t0 is not None:
            t_stop = time.monotonic()
            times, readings = self.meter.close_window(self._t0, t_stop)
            self._t = [t - self._t0 for t in times]
            self._readings = readings
            self._read_s = []
        if self.close_meter:
            self.meter.close()
        trace = self._build()
        if abs(self.asked_period_s - self.period_s) > 1e-9:
            trace.meta["period_note"] = (
                f"the agent samples every {self.period_s * 1000:g} ms (its --interval-ms); the "
                f"{self.asked_period_s * 1000:g} ms asked here applies to local meters")
        self._trace = trace
        return trace
