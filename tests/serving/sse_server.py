"""A small in-process OpenAI-style SSE server for protocol edge cases (a real HTTP server on a
loopback port, threads from ``http.server``).

``SSEServer(mode=...)``: ``mode`` picks how ``POST /v1/chat/completions`` and ``/v1/completions``
answer (see :data:`MODES`); ``tokens`` chunks of one word each, ``gap_s`` between chunks.
``GET /v1/models`` lists ``models``; ``key`` makes every request need ``Bearer key``;
``models_mode="html"`` answers the model list with a web page (a server that is not OpenAI's);
``fail_max_tokens=N`` answers 500 to the requests asking for ``max_tokens == N`` (one class of
a traffic file failing while the others are served); ``cut_max_tokens=N`` answers those
requests with one chunk and ``[DONE]`` without any ``finish_reason`` (a server cutting an answer
short, as llama-cpp-python's does to a streaming request when another one waits).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODES = ("usage", "no-usage", "empty-chunks", "no-done", "429", "500", "stall", "close-mid",
         "not-json", "null")


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _json(self, code: int, doc: Any) -> None:
        raw = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _authorized(self) -> bool:
        key = self.server.owner.key
        if key is None or self.headers.get("Authorization") == f"Bearer {key}":
            return True
        self._json(401, {"error": {"message": "invalid api key"}})
        return False

    def do_GET(self) -> None:
        owner = self.server.owner
        if not self._authorized():
            return
        if self.path.rstrip("/") != "/v1/models":
            self._json(404, {"detail": "Not Found"})
            return
        if owner.models_mode == "html":
            raw = b"<html><body>hello</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)
            return
        self._json(200, {"object": "list", "data": [{"id": m, "object": "model"}
                                                     for m in owner.models]})

    def _event(self, doc: Any) -> None:
        data = doc if isinstance(doc, str) else json.dumps(doc)
        self.wfile.write(f"data: {data}\n\n".encode())
        self.wfile.flush()

    def do_POST(self) -> None:
        owner = self.server.owner
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n) or b"{}")
        with owner.lock:
            owner.bodies.append(body)
        if not self._authorized():
            return
        if not self.path.startswith("/v1/"):
            self._json(404, {"detail": "Not Found"})
            return
        mode = owner.mode
        if owner.fail_max_tokens is not None and body.get("max_tokens") == owner.fail_max_tokens:
            mode = "500"
        if mode in ("429", "500"):
            self._json(int(mode), {"error": {"message": "busy" if mode == "429" else "boom"}})
            return
        chat = self.path.endswith("/chat/completions")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        k = min(int(body.get("max_tokens", owner.tokens)), owner.tokens)
        cut = owner.cut_max_tokens is not None and body.get("max_tokens") == owner.cut_max_tokens

        def chunk(text: str, finish: str | None = None) -> dict[str, Any]:
            choice: dict[str, Any] = ({"index": 0, "delta": {"content": text}} if chat
                                      else {"index": 0, "text": text})
            choice["finish_reason"] = finish
            return {"id": "x", "object": "chunk", "choices": [choice]}

        if mode == "not-json":
            self._event("this is not json")
            return
        if chat:
            self._event({"id": "x", "choices": [{"index": 0, "delta": {"role": "assistant"},
                                                 "finish_reason": None}]})
        for i in range(k):
            if mode == "stall" and i == 1:
                time.sleep(owner.stall_s)
            if mode == "close-mid" and i == k // 2:
                self.close_connection = True
                return  # the connection closes without a finish_reason
            if mode == "empty-chunks":
                self._event(chunk(""))
            if cut:  # one chunk, then [DONE] without a finish_reason
                self._event(chunk(f"w{i} "))
                break
            self._event(chunk(f"w{i} ", "length" if i == k - 1 else None))
            if owner.gap_s:
                time.sleep(owner.gap_s)
        if mode == "usage" and not cut:
            self._event({"id": "x", "choices": [], "usage": {
                "prompt_tokens": owner.prompt_tokens, "completion_tokens": k,
                "total_tokens": owner.prompt_tokens + k}})
        if mode != "no-done":
            self._event("[DONE]")
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: SSEServer


class SSEServer:
    """Start with ``with SSEServer(mode="no-usage") as srv: srv.url`` (``http://127.0.0.1:P/v1``)."""

    def __init__(self, mode: str = "usage", *, tokens: int = 8, gap_s: float = 0.0,
                 models: tuple[str, ...] = ("tiny",), key: str | None = None,
                 models_mode: str = "json", stall_s: float = 2.0, prompt_tokens: int = 5,
                 fail_max_tokens: int | None = None, cut_max_tokens: int | None = None) -> None:
        assert mode in MODES, mode
        self.mode, self.tokens, self.gap_s, self.models = mode, tokens, gap_s, models
        self.key, self.models_mode, self.stall_s = key, models_mode, stall_s
        self.prompt_tokens = prompt_tokens
        self.fail_max_tokens = fail_max_tokens
        self.cut_max_tokens = cut_max_tokens
        self.lock = threading.Lock()
        self.bodies: list[dict[str, Any]] = []
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> SSEServer:  # noqa: PYI034
        self._thread.start()
        return self

    def stop_after(self, answers: int) -> None:
        """Stop serving (from another thread, as a crash would) once ``answers`` POSTs were
        answered: a server that dies mid-run. Only this server's handler class changes."""
        base = self._httpd.RequestHandlerClass
        count = {"n": 0}
        owner = self

        class Dying(base):  # type: ignore[misc,valid-type]
            def do_POST(self) -> None:
                super().do_POST()
                count["n"] += 1
                if count["n"] == answers:
                    threading.Thread(target=owner.stop, daemon=True).start()

        self._httpd.RequestHandlerClass = Dying

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()

    def __exit__(self, *exc: object) -> None:
        self.stop()
