"""The meter agent: ``inferlca meters serve`` on the machine that serves, read by another machine.

A model server often runs on another host than the one that sends the requests. The agent samples
a meter of its own host (any meter name or ``a+b`` combination, as ``--meter``) on a fixed grid
and keeps the last readings in a ring; clients read them over plain HTTP:

* ``GET /info``: who this is (``agent`` = :data:`AGENT_NAME`, protocol, instance id, host, meter,
  channels, counters, primary, scopes, devices, the sampling interval).
* ``GET /time``: the agent's clock now (``t`` monotonic seconds, ``wall`` Unix seconds); the
  runner times several of these round trips to estimate the offset between the two clocks
  (:mod:`inferlca.meters.remote`).
* ``GET /stream[?since=SEQ]``: the readings as they are taken, one JSON object per line
  (``seq``, ``t`` = the agent's monotonic time of the middle of the read, ``w`` = its wall
  clock, ``p`` = watts per channel in the order of ``/info``, ``e`` = counters, ``err`` =
  reasons of failed channels, ``"*"`` for the whole read); ``null`` where a read failed, never 0.
  Without ``since`` the stream starts at the newest reading; with it, at that reading when the
  ring still holds it.
* ``GET /metrics``: Prometheus text format: power per channel (latest reading), energy per
  channel (the hardware counter where the meter has one, else the agent's own integral of the
  power since it started, gaps left out), reading and error counts.

The agent binds 127.0.0.1 unless told otherwise. With a token, every request must carry
``Authorization: Bearer TOKEN`` (else 401). The HTTP is plain: the token and the readings cross
the network in clear, so on an untrusted network use an SSH tunnel or a VPN.

The clocks are injectable (``clock``, ``wall_clock``) so tests can give the agent a clock that is
off by a known amount.
"""

from __future__ import annotations

import hmac
import json
import math
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from inferlca.errors import InvalidValueError
from inferlca.meters.base import PowerMeter, Reading

#: what ``/info`` calls itself; a URL that answers otherwise is not an agent
AGENT_NAME = "inferlca-meter-agent"
#: version of the wire format above
PROTOCOL = 1
#: port of ``inferlca meters serve`` when none is given
DEFAULT_PORT = 9642
#: environment variable holding the token, on both sides, unless another is named
TOKEN_ENV = "INFERLCA_METER_TOKEN"
#: readings kept for clients that reconnect (``since=``): 60 s at 100 Hz
RING_SIZE = 6000


def _num(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _jsonable(obj: Any) -> Any:
    """JSON-ready copy (NaN/inf -> None, numpy scalars -> numbers, the rest as text)."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, (int, str)):
        return obj
    if isinstance(obj, float):
        return _num(obj)
    if hasattr(obj, "item"):
        try:
            return _jsonable(obj.item())
        except (TypeError, ValueError):
            pass
    return str(obj)


class MeterAgent:
    """Sample ``meter`` every ``interval_s`` and serve the readings over HTTP (module doc).

    Args:
        meter: an open meter (closed by :meth:`close` when ``close_meter``).
        host: address to bind (default 127.0.0.1: this machine only).
        port: TCP port (0: any free one; :attr:`port` says which).
        interval_s: sampling period (>= 1 ms).
        token: required bearer token (None: none).
        clock: the agent's monotonic clock (seconds); injectable for tests.
        wall_clock: the agent's wall clock (Unix seconds).
        hostname: the host name ``/info`` gives (default: this machine's).
        ring_size: readings kept for reconnecting clients.
    """

    def __init__(self, meter: PowerMeter, *, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 interval_s: float = 0.01, token: str | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time, hostname: str | None = None,
                 ring_size: int = RING_SIZE, close_meter: bool = True) -> None:
        if not (isinstance(interval_s, (int, float)) and math.isfinite(interval_s)
                and 0.001 <= interval_s <= 60):
            raise InvalidValueError(f"the agent's interval must be 1 ms to 60 s, got {interval_s!r}")
        if not (isinstance(port, int) and 0 <= port <= 65535):
            raise InvalidValueError(f"port must be 0 to 65535, got {port!r}")
        self.meter = meter
        self.interval_s = float(interval_s)
        self.token = token or None
        self.clock = clock
        self.wall_clock = wall_clock
        self.hostname = hostname or socket.gethostname()
        self.close_meter = close_meter
        self.instance = uuid.uuid4().hex
        self.channels = list(meter.channels)
        self.counters = list(meter.counter_channels)
        self._ring: deque[tuple[int, bytes]] = deque(maxlen=max(16, int(ring_size)))
        self._cond = threading.Lock()  # the ring, the counts, the subscribers
        self._subscribers: list[_Subscriber] = []
        self._stop = threading.Event()
        self._seq = 0
        self._errors = 0
        self.missed_ticks = 0
        self._latest: Reading | None = None
        self._last_t: float | None = None
        self._integral = {c: 0.0 for c in self.channels}
        self._info = self._make_info()
        self._sampler: threading.Thread | None = None
        self._server_thread: threading.Thread | None = None
        try:
            self.server = _Server((host, port), _Handler)
        except OSError as exc:
            raise InvalidValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}"
                                    "; choose another with --port (or stop what uses it)"
                                    ) from None
        self.server.agent = self

    # ---- life cycle ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def url(self) -> str:
        host = str(self.server.server_address[0])
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    def start(self) -> MeterAgent:
        """Start sampling and serving (both in daemon threads); returns self (idempotent)."""
        if self._sampler is not None:
            return self
        self._take()  # the first reading exists before any client can ask
        self._sampler = threading.Thread(target=self._loop, name="inferlca-agent-sampler",
                                         daemon=True)
        self._sampler.start()
        self._server_thread = threading.Thread(target=self.server.serve_forever,
                                               kwargs={"poll_interval": 0.5},
                                               name="inferlca-agent-http", daemon=True)
        self._server_thread.start()
        return self

    def close(self) -> None:
        """Stop serving and sampling (open streams end), close the meter; idempotent."""
        if self._stop.is_set():
            return
        self._stop.set()
        with self._cond:
            for sub in self._subscribers:
                sub.done.set()
            self._subscribers.clear()
        if self._server_thread is not None:
            self.server.shutdown()
        self.server.server_close()
        if self._sampler is not None:
            self._sampler.join(timeout=5)
        if self.close_meter:
            self.meter.close()

    def __enter__(self) -> MeterAgent:  # noqa: PYI034 - start() returns this very agent
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- sampling -----------------------------------------------------------------------------
    def _loop(self) -> None:
        start = time.monotonic()
        period = self.interval_s
        k = 1
        while True:
            delay = start + k * period - time.monotonic()
            while delay > 0 and not self._stop.is_set():
                # a plain sleep wakes at half the CPU cost of Event.wait (measured at 100 Hz)
                time.sleep(min(delay, 0.1))
                delay = start + k * period - time.monotonic()
            if self._stop.is_set():
                return
            self._take()
            k += 1
            late = time.monotonic() - (start + k * period)
            if late > 0:  # overran: skip the missed ticks rather than bunch reads
                skipped = int(late // period) + 1
                self.missed_ticks += skipped
                k += skipped

    def _take(self) -> None:
        before = self.clock()
        try:
            r = self.meter.read()
        except Exception as exc:  # noqa: BLE001 - a meter bug is a failed reading, not a dead agent
            r = Reading.failed(self.channels, f"{type(exc).__name__}: {exc}", self.counters)
        after = self.clock()
        t = 0.5 * (before + after)
        wall = self.wall_clock()
        power = [r.power_w.get(c, math.nan) for c in self.channels]
        doc: dict[str, Any] = {
            "seq": self._seq, "t": t, "w": wall, "p": [_num(v) for v in power],
        }
        if self.counters:
            doc["e"] = [_num(r.energy_j.get(c, math.nan)) for c in self.counters]
        if r.errors:
            doc["err"] = {("*" if k is None else k): str(v) for k, v in r.errors.items()}
            self._errors += 1
        line = (json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n").encode()
        with self._cond:
            self._integrate(t, r)
            self._ring.append((self._seq, line))
            self._seq += 1
            self._latest = r
            for sub in self._subscribers:  # a send per client, no thread to wake
                sub.push(line)
            if any(sub.done.is_set() for sub in self._subscribers):
                self._subscribers = [s for s in self._subscribers if not s.done.is_set()]

    def _integrate(self, t: float, r: Reading) -> None:
        """The agent's own energy per channel since it started (trapezoids; a gap adds nothing)."""
        prev, last_t = self._latest, self._last_t
        self._last_t = t
        if prev is None or last_t is None:
            return
        dt = t - last_t
        for c in self.channels:
            a, b = prev.power_w.get(c, math.nan), r.power_w.get(c, math.nan)
            if math.isfinite(a) and math.isfinite(b):
                self._integral[c] += 0.5 * (a + b) * dt

    # ---- what the handlers serve --------------------------------------------------------------
    def _make_info(self) -> dict[str, Any]:
        m = self.meter
        try:
            meta = _jsonable(m.meta())
        except Exception as exc:  # noqa: BLE001 - a meta bug must not stop the agent
            meta = {"meta_error": f"{type(exc).__name__}: {exc}"}
        return {
            "agent": AGENT_NAME, "protocol": PROTOCOL, "instance": self.instance,
            "host": self.hostname, "meter": m.name, "estimated": bool(m.estimated),
            "channels": self.channels, "counter_channels": self.counters, "primary": m.primary,
            "scope": m.scope, "channel_scopes": _jsonable(m.channel_scopes()),
            "scope_totals": _jsonable(m.scope_totals()), "devices": _jsonable(m.devices()),
            "averaging_s": m.averaging_s, "interval_s": self.interval_s, "meta": meta,
        }

    def info(self) -> dict[str, Any]:
        return dict(self._info)

    def subscribe(self, sock: socket.socket, since: int | None) -> _Subscriber:
        """Send the readings from ``since`` on (None: the newest one) to ``sock``, and every new
        one as it is taken (from the sampling thread: a non-blocking send, no wake-up of another
        thread); the subscriber's ``done`` is set when the client goes or the agent stops."""
        sub = _Subscriber(sock)
        with self._cond:
            start = since if since is not None else (self._seq - 1 if self._seq else 0)
            backlog: list[bytes] = []
            for seq, line in reversed(self._ring):
                if seq < start:
                    break
                backlog.append(line)
            backlog.reverse()
            sub.push(b"".join(backlog))
            if self._stop.is_set():
                sub.done.set()
            else:
                self._subscribers.append(sub)
        return sub

    def metrics_text(self) -> str:
        """The Prometheus exposition (text format 0.0.4) of the latest reading."""
        with self._cond:
            r, integral, n, errors = self._latest, dict(self._integral), self._seq, self._errors
        meter = _label(self.meter.name)
        scopes = self._info.get("channel_scopes") or {}
        out = [("# HELP inferlca_power_watts Power of each channel at the latest reading (NaN: "
                "the read failed)."), "# TYPE inferlca_power_watts gauge"]
        for c in self.channels:
            v = r.power_w.get(c, math.nan) if r is not None else math.nan
            out.append(f'inferlca_power_watts{{meter="{meter}",channel="{_label(c)}",'
                       f'scope="{_label(str(scopes.get(c, "")))}"}} {_value(v)}')
        out += [("# HELP inferlca_energy_joules_total Energy of each channel: the meter's counter "
                 "where it has one, else the agent's integral of the power since it started."),
                "# TYPE inferlca_energy_joules_total counter"]
        for c in self.channels:
            if c in self.counters and r is not None and math.isfinite(r.energy_j.get(c, math.nan)):
                v, src = r.energy_j[c], "counter"
            else:
                v, src = integral[c], "integrated"
            out.append(f'inferlca_energy_joules_total{{meter="{meter}",channel="{_label(c)}",'
                       f'source="{src}"}} {_value(v)}')
        out += ["# HELP inferlca_readings_total Readings taken since the agent started.",
                "# TYPE inferlca_readings_total counter",
                f'inferlca_readings_total{{meter="{meter}"}} {n}',
                "# HELP inferlca_read_errors_total Readings with a failed channel.",
                "# TYPE inferlca_read_errors_total counter",
                f'inferlca_read_errors_total{{meter="{meter}"}} {errors}',
                "# HELP inferlca_sampling_interval_seconds The agent's sampling period.",
                "# TYPE inferlca_sampling_interval_seconds gauge",
                f'inferlca_sampling_interval_seconds{{meter="{meter}"}} {self.interval_s!r}']
        return "\n".join(out) + "\n"

    def authorized(self, header: str | None) -> bool:
        if self.token is None:
            return True
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[7:].strip().encode(), self.token.encode())


def _label(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    agent: MeterAgent


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive for the /time round trips
    server: _Server

    def setup(self) -> None:
        super().setup()
        # small lines must leave at once: no Nagle delay on the stream
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # no line per request on the agent's terminal

    def do_GET(self) -> None:
        agent = self.server.agent
        now = agent.clock()  # as early as possible: the /time answer
        if not agent.authorized(self.headers.get("Authorization")):
            self._send(401, {"error": "this meter agent needs its token (Authorization: Bearer "
                                      "TOKEN)"}, extra={"WWW-Authenticate": "Bearer"})
            return
        parts = urlsplit(self.path)
        if parts.path == "/time":
            self._send(200, {"t": now, "wall": agent.wall_clock()})
        elif parts.path == "/info":
            self._send(200, agent.info())
        elif parts.path == "/metrics":
            body = agent.metrics_text().encode()
            self._raw(200, body, "text/plain; version=0.0.4; charset=utf-8")
        elif parts.path == "/stream":
            self._stream(parse_qs(parts.query))
        elif parts.path == "/":
            self._send(200, {"agent": AGENT_NAME, "endpoints": ["/info", "/time", "/stream",
                                                                "/metrics"]})
        else:
            self._send(404, {"error": f"no such path {parts.path!r}"})

    def _send(self, code: int, doc: dict[str, Any], extra: dict[str, str] | None = None) -> None:
        body = json.dumps(doc, allow_nan=False).encode()
        self._raw(code, body, "application/json", extra)

    def _raw(self, code: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
             ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, query: dict[str, list[str]]) -> None:
        agent = self.server.agent
        try:
            since: int | None = int(query["since"][0]) if "since" in query else None
        except ValueError:
            self._send(400, {"error": "since must be a reading number"})
            return
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/x-ndjson")
        self.send_header("Connection", "close")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.flush()
        self.connection.setblocking(False)
        sub = agent.subscribe(self.connection, since)
        sub.done.wait()  # until the client goes or the agent stops


class _Subscriber:
    """One client of ``/stream``: its socket (non-blocking) and what could not be sent yet."""

    #: a client this far behind (bytes not taken) is dropped: it reconnects with ``since=``
    MAX_PENDING = 1 << 20

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.pending = b""
        self.done = threading.Event()

    def push(self, data: bytes) -> None:
        if self.done.is_set():
            return
        data = self.pending + data if self.pending else data
        if not data:
            return
        try:
            n = self.sock.send(data)
        except BlockingIOError:
            n = 0
        except OSError:  # the client went away
            self.done.set()
            return
        self.pending = data[n:]
        if len(self.pending) > self.MAX_PENDING:
            self.done.set()
