"""A small HTTP/1.1 client for streamed answers: ``h11`` on asyncio protocols, kept-alive
connections, and the arrival time of every piece of the body.

Why not a general HTTP library: a time to first token of a few milliseconds (a small model on
a local server) is measured through the client, and the client's own work lands in it. A general
asynchronous client (``httpx`` over ``anyio``) spends about half a millisecond of Python per
request before the request is on the wire, and times a chunk only after its own parsing; here the
request goes out in one write and every chunk is timed when the loop hands over its bytes
(:meth:`Connection.data_received`), before any parsing (``benchmarks/bench_serving.py`` measures
both against a minimal client).

What it does: ``http`` and ``https`` (the system's certificates, or the file OpenSSL's
``SSL_CERT_FILE`` names), bodies with a
``Content-Length``, chunked or ending at close (``h11`` parses them), a pool of idle connections
reused while the server keeps them open (a reused connection the server had closed is retried
once on a new one, before anything was received). What it does not: proxies, redirects, HTTP/2,
compressed bodies (no ``Accept-Encoding`` is sent).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from typing import Any
from urllib.parse import urlsplit

from inferlca.errors import require

#: largest error body kept (bytes)
ERROR_BODY_MAX = 4096


class ServerClosedError(ConnectionError):
    """The server closed the connection before the answer ended."""


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: events parsed by ``h11`` as bytes arrive, each with the
    :func:`time.monotonic` arrival of the bytes that completed it."""

    def __init__(self, h11: Any) -> None:
        self._h11mod = h11
        self.h11 = h11.Connection(h11.CLIENT)
        self.transport: asyncio.Transport | None = None
        self.events: collections.deque[tuple[Any, float]] = collections.deque()
        self.error: BaseException | None = None
        self.lost = False
        self.received = False  # bytes of the current answer arrived
        self._eof = False
        self._waiter: asyncio.Future[None] | None = None

    # ---- protocol callbacks (on the loop) ----------------------------------------------------
    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received = True
        self._feed(data, time.monotonic())

    def eof_received(self) -> bool:
        self._feed(b"", time.monotonic())
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if not self._eof:
            self._feed(b"", time.monotonic())
        self._wake()

    def _feed(self, data: bytes, now: float) -> None:
        if self.error is not None or self._eof:
            return
        if not data:
            self._eof = True
        h11 = self._h11mod
        try:
            self.h11.receive_data(data)
            while True:
                ev = self.h11.next_event()
                if ev is h11.NEED_DATA or ev is h11.PAUSED:
                    break
                self.events.append((ev, now))
                if isinstance(ev, h11.ConnectionClosed):
                    break
        except h11.RemoteProtocolError as exc:
            # the end of the stream where an answer was due is a closed connection (a kept-alive
            # one the server closed while the request went out is then retried), not bad HTTP
            self.error = ServerClosedError("the server closed the connection") if not data else exc
        self._wake()

    def _wake(self) -> None:
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    # ---- use ---------------------------------------------------------------------------------
    @property
    def usable(self) -> bool:
        """Idle, open, and both sides ready for a new request."""
        h11 = self._h11mod
        return (not self.lost and self.error is None and self.transport is not None
                and not self.transport.is_closing() and self.h11.our_state is h11.IDLE
                and self.h11.their_state is h11.IDLE)

    def send(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> None:
        """Write the whole request at once."""
        h11 = self._h11mod
        assert self.transport is not None
        self.received = False
        raw = self.h11.send(h11.Request(method=method, target=target, headers=headers))
        raw += self.h11.send(h11.Data(data=body)) + self.h11.send(h11.EndOfMessage())
        self.transport.write(raw)

    async def next_event(self, timeout_s: float) -> tuple[Any, float]:
        """The next event and its arrival time; ``TimeoutError`` after ``timeout_s`` of silence,
        :class:`ServerClosedError` when the connection ended first."""
        while not self.events:
            if self.error is not None:
                raise self.error
            if self.lost or self._eof:
                raise ServerClosedError("the server closed the connection")
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = loop.call_later(timeout_s, _expire, waiter)
            try:
                await waiter
            finally:
                timer.cancel()
                self._waiter = None
        return self.events.popleft()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError("no data from the server within the read timeout"))


class Pool:
    """Kept-alive connections to the host of ``base_url`` (a loop's own; not thread-safe).

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1``; request paths are appended to its path.
        connect_timeout_s: connecting (and TLS) at most.
        read_timeout_s: longest silence while waiting for the answer.
        headers: sent with every request (e.g. ``Authorization``).
    """

    def __init__(self, base_url: str, *, connect_timeout_s: float = 10.0,
                 read_timeout_s: float = 60.0, headers: dict[str, str] | None = None) -> None:
        self.h11 = require("h11", "serving", "the openai-endpoint workload")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.tls = parts.scheme == "https"
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.prefix = parts.path.rstrip("/")
        default_port = self.port == (443 if self.tls else 80)
        host_header = self.host if ":" not in self.host else f"[{self.host}]"
        self.host_header = host_header if default_port else f"{host_header}:{self.port}"
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.headers = dict(headers or {})
        self._idle: list[Connection] = []
        self._open: set[Connection] = set()
        self._ssl: Any = None

    async def _connect(self) -> Connection:
        loop = asyncio.get_running_loop()
        if self.tls and self._ssl is None:
            import ssl

            self._ssl = ssl.create_default_context()
        _, conn = await asyncio.wait_for(
            loop.create_connection(lambda: Connection(self.h11), self.host, self.port,
                                   ssl=self._ssl if self.tls else None,
                                   server_hostname=self.host if self.tls else None),
            self.connect_timeout_s)
        self._open.add(conn)
        return conn

    def _take_idle(self) -> Connection | None:
        while self._idle:
            conn = self._idle.pop()
            if conn.usable:
                return conn
            self._discard(conn)
        return None

    def _discard(self, conn: Connection) -> None:
        conn.close()
        self._open.discard(conn)

    async def post(self, path: str, body: bytes, *, on_sent: Any = None
                   ) -> tuple[Connection, int, float]:
        """Send ``POST {prefix}{path}``; returns the connection, the status and the arrival of
        the status line. ``on_sent()`` runs just before the request is written. The caller reads
        the body with :meth:`read` and must end with :meth:`release` (in a ``finally``)."""
        h11 = self.h11
        headers = [("Host", self.host_header), ("User-Agent", "inferlca"),
                   ("Accept", "text/event-stream"), ("Content-Type", "application/json"),
                   ("Content-Length", str(len(body))), *self.headers.items()]
        for attempt in (0, 1):
            conn = self._take_idle()
            reused = conn is not None
            if conn is None:
                conn = await self._connect()
            if on_sent is not None:
                on_sent()
            try:
                conn.send("POST", self.prefix + path, headers, body)
                while True:
                    ev, t = await conn.next_event(self.read_timeout_s)
                    if isinstance(ev, h11.Response):
                        return conn, int(ev.status_code), t
                    if not isinstance(ev, h11.InformationalResponse):
                        raise ServerClosedError(f"unexpected {type(ev).__name__} before the "
                                                "status line")
            except (ServerClosedError, ConnectionError):
                self._discard(conn)
                # a kept-alive connection the server had closed: once more on a new one
                if attempt == 0 and reused and not conn.received:
                    continue
                raise
            except BaseException:
                self._discard(conn)
                raise
        raise AssertionError("unreachable")

    async def read(self, conn: Connection) -> tuple[bytes | None, float]:
        """The next piece of the body and its arrival time; ``None`` at the body's end."""
        h11 = self.h11
        while True:
            ev, t = await conn.next_event(self.read_timeout_s)
            if isinstance(ev, h11.Data):
                return bytes(ev.data), t
            if isinstance(ev, (h11.EndOfMessage, h11.ConnectionClosed)):
                return None, t

    async def read_error_body(self, conn: Connection) -> bytes:
        """The body of an error answer, its first :data:`ERROR_BODY_MAX` bytes (a longer one is
        not read further: its connection is then closed by :meth:`release`)."""
        out = b""
        with contextlib.suppress(Exception):
            while len(out) < ERROR_BODY_MAX:
                data, _t = await self.read(conn)
                if data is None:
                    break
                out += data
        return out[:ERROR_BODY_MAX]

    async def finish(self, conn: Connection, timeout_s: float) -> None:
        """Read the rest of the answer (at most ``timeout_s``) so the connection can be
        reused; :meth:`release` then keeps it."""

        async def rest() -> None:
            while (await self.read(conn))[0] is not None:
                pass

        with contextlib.suppress(Exception):
            await asyncio.wait_for(rest(), timeout_s)

    def release(self, conn: Connection) -> None:
        """Keep the connection for the next request when its answer ended cleanly, else close."""
        h11 = self.h11
        if (conn.error is None and not conn.lost and conn.h11.our_state is h11.DONE
                and conn.h11.their_state is h11.DONE):
            conn.events.clear()  # the end of the answer already parsed
            try:
                conn.h11.start_next_cycle()
            except h11.LocalProtocolError:
                self._discard(conn)
                return
            self._idle.append(conn)
        else:
            self._discard(conn)

    def close(self) -> None:
        """Close every connection."""
        for conn in list(self._open):
            conn.close()
        self._open.clear()
        self._idle.clear()
