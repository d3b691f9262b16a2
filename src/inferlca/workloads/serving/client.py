"""A streaming OpenAI-API client: one asyncio loop on its own thread, bounded concurrency, every
request timed from the arrival of its server-sent-event (SSE) chunks.

Each request is a ``POST {url}/chat/completions`` (or ``/completions``) with ``"stream": true``.
The response is read line by line as it arrives: every ``data: {...}`` event is one chunk, and the
arrival time of every chunk that carries text is kept (:attr:`Reply.token_times_s`). The stream
ends at ``data: [DONE]``, or when the server closes it (``[DONE]`` missing is noted, not an
error, when the last chunk said why it finished). A request fails, and says how
(:attr:`Reply.error_kind`), on a refused connection, a timeout (connect, first byte or a stall
between chunks longer than the read timeout), an HTTP status other than 200, a stream closed before
any ``finish_reason``, or a body that is not SSE JSON.

The HTTP part is :mod:`.http11` (``h11`` on asyncio protocols, kept-alive connections): every
chunk is timed when its bytes reach the loop, before any parsing. ``h11`` is imported when the
first client starts (an optional dependency: the ``serving`` extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inferlca.workloads.serving.http11 import Pool, ServerClosedError

#: error kinds a request can end with (``None`` = answered)
ERROR_KINDS = ("refused", "timeout", "http", "closed", "protocol")

#: longest wait for the end of the HTTP body after ``data: [DONE]`` (s)
DRAIN_S = 1.0


@dataclass
class Reply:
    """One streamed request as the client saw it (times in seconds on :func:`time.monotonic`).

    Attributes:
        arrival_s: when the request arrived (LoadGen issued it; queueing in the client counts).
        sent_s: when the request was written to the connection.
        token_times_s: arrival of every chunk that carried text, in order.
        text: the text received.
        chunks: data events received (with or without text).
        usage: the ``usage`` object of the stream (or ``None``: many servers send none).
        finish_reason: the last ``finish_reason`` seen.
        done_marker: the stream ended with ``data: [DONE]``.
        end_s: when the stream ended (or failed).
        error_kind: ``None``, or one of :data:`ERROR_KINDS`; ``status``: the HTTP status.
        error: a one-line description of the failure.
    """

    arrival_s: float
    sent_s: float = 0.0
    token_times_s: list[float] = field(default_factory=list)
    text: str = ""
    chunks: int = 0
    usage: dict[str, Any] | None = None
    finish_reason: str | None = None
    done_marker: bool = False
    end_s: float = 0.0
    status: int | None = None
    error_kind: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error_kind is None

    @property
    def truncated(self) -> bool:
        """Answered, but the stream ended (``[DONE]``) without any ``finish_reason``: the server
        cut the answer short (llama-cpp-python's server does so to a streaming request when
        another one waits, its ``interrupt_requests``, on by default)."""
        return self.error_kind is None and self.done_marker and self.finish_reason is None

    @property
    def ttft_s(self) -> float | None:
        """Arrival to the first text chunk (client queueing included)."""
        return self.token_times_s[0] - self.arrival_s if self.token_times_s else None

    @property
    def e2e_s(self) -> float:
        return self.end_s - self.arrival_s


def chunk_text(event: dict[str, Any]) -> str:
    """The text a chat or completions chunk carries ("" for role-only or empty chunks)."""
    out = []
    for choice in event.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        delta = choice.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("content"), str):
            out.append(delta["content"])
        elif isinstance(choice.get("text"), str):
            out.append(choice["text"])
    return "".join(out)


def _finish_reason(event: dict[str, Any]) -> str | None:
    for choice in event.get("choices") or ():
        if isinstance(choice, dict) and choice.get("finish_reason"):
            return str(choice["finish_reason"])
    return None


def request_body(api: str, model: str, prompt: str, max_tokens: int, *,
                 include_usage: bool = True, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON body of one streamed request (``api`` is ``chat`` or ``completions``)."""
    body: dict[str, Any] = {"model": model, "max_tokens": int(max_tokens), "stream": True,
                            "temperature": 0.0}
    if api == "chat":
        body["messages"] = [{"role": "user", "content": prompt}]
    else:
        body["prompt"] = prompt
    if include_usage:
        body["stream_options"] = {"include_usage": True}
    body.update(extra or {})
    return body


class StreamClient:
    """Streams requests to one OpenAI-compatible endpoint from a background asyncio loop.

    Args:
        url: the API base, e.g. ``http://127.0.0.1:8000/v1``.
        api: ``chat`` or ``completions``.
        headers: extra headers (``Authorization``).
        max_concurrency: requests in flight at most; the others wait in the client (their time
            to first token counts the wait, as a user's would).
        connect_timeout_s, read_timeout_s: connect; longest silence while reading (a stall).
        request_timeout_s: whole request at most (None: no limit).
    """

    def __init__(self, url: str, api: str = "chat", *, headers: dict[str, str] | None = None,
                 max_concurrency: int = 64, connect_timeout_s: float = 10.0,
                 read_timeout_s: float = 60.0, request_timeout_s: float | None = None) -> None:
        self.url = url.rstrip("/")
        self.api = api
        self.headers = dict(headers or {})
        self.max_concurrency = int(max_concurrency)
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.request_timeout_s = request_timeout_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pool: Pool | None = None
        self._path = "/chat/completions" if api == "chat" else "/completions"
        self._sem: asyncio.Semaphore | None = None
        self._ready = threading.Event()
        self._tasks: set[Any] = set()
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"{self.url}/{'chat/completions' if self.api == 'chat' else 'completions'}"

    # ---- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the loop thread and the connection pool (imports ``h11``)."""
        if self._thread is not None:
            return
        self._pool = Pool(self.url, connect_timeout_s=self.connect_timeout_s,
                          read_timeout_s=self.read_timeout_s, headers=self.headers)
        self._ready.clear()

        def main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            self._sem = asyncio.Semaphore(self.max_concurrency)
            self._ready.set()
            try:
                loop.run_forever()
            finally:
                with contextlib.suppress(Exception):
                    loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=main, name="inferlca-sse-client", daemon=True)
        self._thread.start()
        self._ready.wait()

    def close(self) -> None:
        """Cancel what is still in flight and stop the loop."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self._pool is not None:
                self._pool.close()

        def stop_soon() -> None:
            fut = asyncio.ensure_future(shutdown())
            fut.add_done_callback(lambda _f: loop.stop())

        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(stop_soon)
        thread.join(10.0)
        self._loop = self._thread = None

    # ---- requests ----------------------------------------------------------------------------
    def submit(self, body: dict[str, Any], arrival_s: float, *,
               on_start: Callable[[], bool] | None = None,
               on_first_token: Callable[[Reply], None] | None = None,
               on_done: Callable[[Reply], None] | None = None) -> None:
        """Queue one streamed request (returns at once). ``on_first_token(reply)`` runs on the
        client's thread when the first text chunk arrives; ``on_done(reply)`` when it ended, in
        success or failure. ``on_start()`` runs when a concurrency slot is free, just before
        sending: when it returns False the request is dropped (no ``on_done``)."""
        if self._loop is None:
            raise RuntimeError("StreamClient: call start() first")
        reply = Reply(arrival_s)
        fut = asyncio.run_coroutine_threadsafe(self._one(body, reply, on_start, on_first_token,
                                                         on_done),
                                               self._loop)
        with self._lock:
            self._tasks.add(fut)
        fut.add_done_callback(self._forget)

    def _forget(self, fut: Any) -> None:
        with self._lock:
            self._tasks.discard(fut)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._tasks)

    def stream_one(self, body: dict[str, Any], timeout_s: float | None = None) -> Reply:
        """One request, blocking until it ended (tests, probes)."""
        done = threading.Event()
        out: list[Reply] = []

        def finished(r: Reply) -> None:
            out.append(r)
            done.set()

        self.submit(body, time.monotonic(), on_done=finished)
        done.wait(timeout_s)
        if not out:
            raise TimeoutError("the request did not end in time")
        return out[0]

    async def _one(self, body: dict[str, Any], reply: Reply,
                   on_start: Callable[[], bool] | None,
                   on_first_token: Callable[[Reply], None] | None,
                   on_done: Callable[[Reply], None] | None) -> None:
        assert self._sem is not None
        try:
            async with self._sem:
                if on_start is not None and not on_start():
                    on_done = None
                    return
                if self.request_timeout_s is not None:
                    await asyncio.wait_for(self._stream(body, reply, on_first_token),
                                           self.request_timeout_s)
                else:
                    await self._stream(body, reply, on_first_token)
        except asyncio.CancelledError:
            _fail(reply, "closed", "cancelled: the client stopped before the answer ended")
        except BaseException as exc:  # noqa: BLE001 - every failure is counted, not raised
            kind, text = classify(exc)
            _fail(reply, kind, text)
        finally:
            if not reply.end_s:
                reply.end_s = time.monotonic()
            if on_done is not None:
                on_done(reply)

    async def _stream(self, body: dict[str, Any], reply: Reply,
                      on_first_token: Callable[[Reply], None] | None) -> None:
        pool = self._pool
        assert pool is not None
        raw = json.dumps(body).encode()

        def sent() -> None:
            reply.sent_s = time.monotonic()

        conn, reply.status, _t = await pool.post(self._path, raw, on_sent=sent)
        try:
            if reply.status != 200:
                err = await pool.read_error_body(conn)
                _fail(reply, "http", f"HTTP {reply.status}: {_short(err)}")
                return
            buf = b""
            while True:
                piece, now = await pool.read(conn)
                if piece is None:
                    break
                buf += piece
                while True:
                    cut = buf.find(b"\n")
                    if cut < 0:
                        break
                    line, buf = buf[:cut], buf[cut + 1:]
                    if self._line(line, now, reply, on_first_token):
                        if reply.done_marker:
                            # read the end of the HTTP body too: a connection left mid-answer
                            # is closed, and the next request would pay for a new one
                            await pool.finish(conn, DRAIN_S)
                        return
            if buf.strip():
                self._line(buf, time.monotonic(), reply, on_first_token)
            reply.end_s = time.monotonic()
            if not reply.done_marker and reply.finish_reason is None:
                _fail(reply, "closed", "the server closed the stream before the answer ended")
        finally:
            pool.release(conn)

    @staticmethod
    def _line(line: bytes, now: float, reply: Reply,
              on_first_token: Callable[[Reply], None] | None) -> bool:
        """Take one line of the event stream; True when the stream ends here (``[DONE]``, an
        error event, or a body that is not SSE JSON)."""
        if not line.startswith(b"data:"):
            return False  # comments (": ping"), event names, blank separators
        data = line[5:].strip()
        if data == b"[DONE]":
            reply.done_marker = True
            reply.end_s = now
            return True
        try:
            event = json.loads(data)
        except ValueError:
            _fail(reply, "protocol", f"not JSON in the event stream: {_short(data)}")
            return True
        if not isinstance(event, dict):
            return False
        if "error" in event and not event.get("choices"):
            _fail(reply, "http", f"error event: {_short(json.dumps(event['error']))}")
            return True
        reply.chunks += 1
        if isinstance(event.get("usage"), dict):
            reply.usage = event["usage"]
        text = chunk_text(event)
        if text:
            reply.token_times_s.append(now)
            reply.text += text
            if len(reply.token_times_s) == 1 and on_first_token is not None:
                on_first_token(reply)
        reply.finish_reason = _finish_reason(event) or reply.finish_reason
        return False


def _short(raw: bytes | str, n: int = 160) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _fail(reply: Reply, kind: str, text: str) -> None:
    if reply.error_kind is None:
        reply.error_kind = kind
        reply.error = text


def classify(exc: BaseException) -> tuple[str, str]:
    """``(kind, one line)`` for an exception raised while streaming."""
    name = type(exc).__name__
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) or "Timeout" in name:
        return "timeout", f"timed out ({exc or name})"
    if isinstance(exc, (ServerClosedError, ConnectionResetError, BrokenPipeError,
                        ConnectionAbortedError)) or name in ("RemoteProtocolError", "ReadError",
                                                             "IncompleteRead"):
        return "closed", f"the server closed the connection mid-answer ({exc or name})"
    if isinstance(exc, OSError):  # refused, unreachable, unknown host
        return "refused", f"connection refused or unreachable ({exc or name})"
    return "protocol", f"{name}: {exc}"
