"""The client's HTTP/1.1 transport against a real keep-alive server on loopback (raw asyncio, so
every byte and connection is the test's): connections are reused after ``[DONE]`` even when the
body's end comes later, a kept-alive connection the server closed is retried once on a new one,
chunked bodies split anywhere still make whole lines, and error bodies keep the connection."""

from __future__ import annotations

import asyncio
import json
import shutil
import ssl
import subprocess
import threading
from typing import Any

import pytest

pytest.importorskip("h11")

from inferlca.workloads.serving.client import StreamClient, request_body


def _event(text: str, finish: str | None = None) -> bytes:
    doc = {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
    return f"data: {json.dumps(doc)}\r\n\r\n".encode()


def _chunk(raw: bytes) -> bytes:
    return f"{len(raw):x}\r\n".encode() + raw + b"\r\n"


class KeepAliveServer:
    """Answers every POST with a chunked SSE stream of ``tokens`` words on kept-alive connections.

    ``split``: write the body in pieces of this many bytes (lines cut anywhere); ``late_end_s``:
    send the body's end (``0\\r\\n\\r\\n``) this long after ``[DONE]``; ``close_idle``: close
    every connection right after its first answer (the next request meets a closed socket);
    ``status``: answer with this status and a JSON error body of known length instead;
    ``drop_second``: read a connection's second request, then close it without an answer (the
    close reaches the client after its request went out).
    """

    def __init__(self, tokens: int = 4, split: int = 0, late_end_s: float = 0.0,
                 close_idle: bool = False, status: int = 200, tls: Any = None,
                 drop_second: bool = False) -> None:
        self.tls = tls
        self.drop_second = drop_second
        self.tokens, self.split, self.late_end_s = tokens, split, late_end_s
        self.close_idle, self.status = close_idle, status
        self.connections = 0
        self.requests = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(int(h.split(b":")[1]) for h in head.split(b"\r\n")
                              if h.lower().startswith(b"content-length"))
                await reader.readexactly(length)
                served += 1
                if self.drop_second and served == 2:
                    break
                self.requests += 1
                if self.status != 200:
                    raw = json.dumps({"error": {"message": "busy"}}).encode()
                    writer.write(f"HTTP/1.1 {self.status} Busy\r\nContent-Length: {len(raw)}\r\n"
                                 "Content-Type: application/json\r\n\r\n".encode() + raw)
                    await writer.drain()
                    continue
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\n")
                body = b"".join(_event(f"w{i} ", "length" if i == self.tokens - 1 else None)
                                for i in range(self.tokens)) + b"data: [DONE]\r\n\r\n"
                step = self.split or len(body)
                for k in range(0, len(body), step):
                    writer.write(_chunk(body[k:k + step]))
                    await writer.drain()
                if self.late_end_s:
                    await asyncio.sleep(self.late_end_s)
                writer.write(b"0\r\n\r\n")
                await writer.drain()
                if self.close_idle:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _main(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0,
                                                      ssl=self.tls)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        self._loop.run_until_complete(start())
        self._loop.run_forever()
        self._loop.close()

    def __enter__(self) -> KeepAliveServer:  # noqa: PYI034
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            self._server.close()
            for w in self._writers:
                w.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def _replies(srv: KeepAliveServer, n: int, url: str | None = None):
    client = StreamClient(url or srv.url, "chat", max_concurrency=1)
    client.start()
    try:
        return [client.stream_one(request_body("chat", "m", "x", 8), 10) for _ in range(n)]
    finally:
        client.close()


def test_one_connection_serves_every_request():
    with KeepAliveServer(tokens=4) as srv:
        replies = _replies(srv, 5)
    assert all(r.ok and r.done_marker for r in replies)
    assert [r.text for r in replies] == ["w0 w1 w2 w3 "] * 5
    assert srv.requests == 5 and srv.connections == 1


def test_body_end_after_done_is_waited_for_not_timed():
    """The body's end 50 ms after [DONE]: the request ends at [DONE], and the connection is kept
    (the client read the end before the next request)."""
    with KeepAliveServer(tokens=3, late_end_s=0.05) as srv:
        replies = _replies(srv, 3)
    assert all(r.ok for r in replies)
    assert srv.connections == 1
    # end_s is the [DONE] line's arrival, before the late end of the body
    assert all(r.end_s - r.token_times_s[-1] < 0.05 for r in replies)


@pytest.mark.parametrize("split", [1, 7, 50])
def test_lines_cut_anywhere_are_whole(split):
    with KeepAliveServer(tokens=6, split=split) as srv:
        (r,) = _replies(srv, 1)
    assert r.ok and r.done_marker and r.finish_reason == "length"
    assert r.text == "w0 w1 w2 w3 w4 w5 " and r.chunks == 6 and len(r.token_times_s) == 6


def test_closed_keepalive_connection_is_retried_once():
    """The server closes every connection after one answer: each next request finds its idle
    connection closed and goes out again on a new one, without a failure."""
    with KeepAliveServer(tokens=2, close_idle=True) as srv:
        replies = _replies(srv, 4)
    assert all(r.ok for r in replies), [r.error for r in replies]
    assert srv.requests == 4 and srv.connections == 4


def test_connection_closed_after_the_request_went_out_is_retried():
    """The server reads the request on a kept-alive connection, then closes it unanswered: the
    end of the stream is a closed connection (not a protocol error) and the request goes out
    again on a new connection, without a failure."""
    with KeepAliveServer(tokens=2, drop_second=True) as srv:
        replies = _replies(srv, 3)
    assert all(r.ok for r in replies), [r.error for r in replies]
    assert srv.requests == 3 and srv.connections == 3  # every second request meets a close


def test_error_answers_keep_the_connection():
    with KeepAliveServer(status=429) as srv:
        replies = _replies(srv, 3)
    assert all(r.error_kind == "http" and r.status == 429 for r in replies)
    assert "busy" in replies[0].error
    assert srv.connections == 1


def test_https_verified_against_the_system_or_ssl_cert_file(tmp_path, monkeypatch):
    """TLS with the system's verification: a self-signed certificate is refused (and says
    why), and accepted once ``SSL_CERT_FILE`` names it (OpenSSL's own variable)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl command to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True,
                   capture_output=True)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    with KeepAliveServer(tokens=3, tls=tls) as srv:
        url = f"https://127.0.0.1:{srv.port}/v1"
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
        (bad,) = _replies(srv, 1, url)
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
        good = _replies(srv, 3, url)
    assert bad.error_kind == "refused" and "CERTIFICATE_VERIFY_FAILED" in bad.error
    assert all(r.ok and r.text == "w0 w1 w2 " for r in good)
    assert srv.requests == 3  # the refused handshake sent no request
