"""Serving client overhead (issue 12, "Performance"), ratios side by side in one run.

Client overhead: requests/s that inferlca's streaming client (:class:`StreamClient`, with its
per-chunk timing, JSON parsing and callbacks) sustains against a null SSE server, divided by what
a minimal asyncio + httpx client sustains against the same server in the same run (it streams
the same responses and only counts ``data:`` lines). Goal >= 0.9.

The null server (asyncio, keep-alive, on loopback) answers every POST at once with the same SSE
body: ``--chunks`` text chunks and ``[DONE]``. Rounds alternate (ours, minimal, ours...) so a busy
machine slows both alike; the ratio is the median of the per-round ratios.

TTFT through inferlca (``--llama``, needs ``llama-cpp-python[server]`` and ``gguf``) against a
llama.cpp server (the tiny seeded model of ``tests/serving/tiny_gguf.py``), all clients sending the
same prompt: a whole ``inferlca run -s single-stream`` (LoadGen, the meter sampling, the token SUT)
runs in this process, and after each of its requests, before LoadGen hears that it ended, a
minimal kept-alive ``httpx.Client`` sends one (so the two alternate request by request and never
overlap); ``llama_ttft_ratio`` is the median over rounds of the run's median TTFT / the minimal
client's (goal <= 1.05). Also, interleaved request by request: inferlca's client alone
(``llama_ttft_client_ratio``) and a raw blocking socket that reads the clock when the first
``data:`` bytes come out of ``recv`` (``llama_ttft_raw_floor_ratio``: the floor any client has,
as a share of the minimal client's).

Run: ``python benchmarks/bench_serving.py [--quick] [--requests N] [--concurrency C] [--llama]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from inferlca.workloads.serving.client import StreamClient, request_body


class NullSSEServer:
    """HTTP/1.1 keep-alive server on loopback answering every request with a fixed SSE body."""

    def __init__(self, chunks: int) -> None:
        events = [json.dumps({"choices": [{"index": 0, "delta": {"content": f"t{i} "},
                                           "finish_reason": "length" if i == chunks - 1 else None}]})
                  for i in range(chunks)]
        body = "".join(f"data: {e}\n\n" for e in events) + "data: [DONE]\n\n"
        raw = body.encode()
        self.response = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         b"Content-Length: " + str(len(raw)).encode() + b"\r\n\r\n" + raw)
        self.port = 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._main, daemon=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                writer.write(self.response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def _main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def start() -> None:
            server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()

        loop.run_until_complete(start())
        loop.run_forever()

    def start(self) -> str:
        self._thread.start()
        self._ready.wait()
        return f"http://127.0.0.1:{self.port}/v1"


def run_ours(url: str, n: int, concurrency: int) -> float:
    client = StreamClient(url, "chat", max_concurrency=concurrency)
    client.start()
    body = request_body("chat", "null", "hello", 16)
    done = threading.Semaphore(0)
    ok = [0]

    def fin(reply) -> None:
        ok[0] += reply.ok
        done.release()

    t0 = time.perf_counter()
    for _ in range(n):
        client.submit(body, time.monotonic(), on_done=fin)
    for _ in range(n):
        done.acquire()
    took = time.perf_counter() - t0
    client.close()
    assert ok[0] == n, f"{n - ok[0]} requests failed"
    return n / took


def run_minimal(url: str, n: int, concurrency: int) -> float:
    import httpx

    body = request_body("chat", "null", "hello", 16)

    async def main() -> float:
        sem = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            async def one() -> int:
                async with sem, client.stream("POST", url + "/chat/completions", json=body) as r:
                    k = 0
                    async for line in r.aiter_lines():
                        if line.startswith("data:"):
                            k += 1
                    return k

            t0 = time.perf_counter()
            counts = await asyncio.gather(*(one() for _ in range(n)))
            took = time.perf_counter() - t0
        assert all(c > 0 for c in counts)
        return n / took

    return asyncio.run(main())


PROMPT = "the energy of a model server"


def minimal_ttft(client, url: str, body: dict) -> float:
    """Time to the first ``data:`` line with text, with a kept-alive ``httpx.Client``."""
    t0 = time.monotonic()
    with client.stream("POST", url + "/completions", json=body) as r:
        lines = r.iter_lines()
        for line in lines:
            if line.startswith("data:") and '"text":""' not in line.replace(" ", ""):
                ttft = time.monotonic() - t0
                for _ in lines:  # read the rest: the connection is reused
                    pass
                return ttft
    raise RuntimeError("no text chunk")


class RawSocketClient:
    """The floor: one blocking socket (TCP_NODELAY), the request written at once, the clock read
    when the first ``data:`` bytes come out of ``recv`` (no HTTP parsing at all)."""

    def __init__(self, port: int, body: dict) -> None:
        import socket

        raw = json.dumps(body).encode()
        self.request = (f"POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        "Content-Type: application/json\r\nContent-Length: "
                        f"{len(raw)}\r\n\r\n").encode() + raw
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def ttft(self) -> float:
        t0 = time.monotonic()
        self.sock.sendall(self.request)
        buf, first = b"", None
        while not buf.endswith(b"0\r\n\r\n"):  # the chunked body's end
            data = self.sock.recv(65536)
            if not data:
                raise RuntimeError("the server closed the connection")
            if first is None and b"data:" in data:
                first = time.monotonic()
            buf = buf[-8:] + data
        assert first is not None
        return first - t0


def run_interleaved(url: str, prompts: Path, n: int, store: Path, minimal, body: dict
                    ) -> tuple[list[float], list[float]]:
    """A whole ``inferlca run -s single-stream`` of ``n`` requests (in this process: LoadGen,
    the meter sampling, the token SUT, the workload), with one request of the minimal client
    after each of its requests, before LoadGen hears that the request ended (so the two never
    overlap and the next LoadGen query is issued after the minimal one). Returns the TTFTs the
    run measured and those of the minimal client, request by request."""
    import contextlib
    import io

    from inferlca.cli import run as cli_run
    from inferlca.workloads.serving.workload import OpenAIEndpoint

    ours: list[float] = []
    mine: list[float] = []
    original = OpenAIEndpoint._done

    def done(self, req, reply) -> None:
        if reply.ok and reply.ttft_s is not None:
            ours.append(reply.ttft_s)
            mine.append(minimal_ttft(minimal, url, body))
        original(self, req, reply)

    OpenAIEndpoint._done = done  # type: ignore[method-assign]
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            code = cli_run(["run", "-w", "openai-endpoint", "--url", url, "--model", "tiny",
                            "--api", "completions", "-s", "single-stream", "-n", str(n),
                            "--max-new-tokens", "8", "--prompts", str(prompts), "-r", "1",
                            "--store", str(store), "--json"])
    finally:
        OpenAIEndpoint._done = original  # type: ignore[method-assign]
    if code != 0 or len(ours) != n:
        raise RuntimeError(f"inferlca run ended with code {code} after {len(ours)} requests")
    return ours, mine


def bench_llama(rounds: int, per_round: int) -> dict:
    """TTFT on a llama.cpp server, all clients sending the same prompt (the server's prompt
    cache makes the TTFT as short as it gets, so the clients' own time weighs most).

    Every round: a whole ``inferlca run`` of ``per_round`` single-stream requests, each followed
    by one request of a minimal kept-alive httpx client (:func:`run_interleaved`); then
    ``per_round`` requests each from inferlca's client alone, the minimal client and a raw
    socket, interleaved. Ratios of the round's medians, then the median over rounds."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "serving"))
    from llama_server import free_port, launch_cmd
    from tiny_gguf import write_tiny_llama

    from inferlca.workloads.serving.endpoint import LaunchedServer, health_url

    with tempfile.TemporaryDirectory() as tmp:
        model = write_tiny_llama(Path(tmp) / "tiny.gguf")
        prompts = Path(tmp) / "prompts.txt"
        prompts.write_text((PROMPT + "\n") * 64)
        port = free_port()
        url = f"http://127.0.0.1:{port}/v1"
        srv = LaunchedServer(launch_cmd(model, port))
        srv.start()
        try:
            srv.wait_ready(health_url(url, None), 120)
            client = StreamClient(url, "completions", max_concurrency=1)
            client.start()
            body = request_body("completions", "tiny", PROMPT, 8)
            import httpx

            keys = ("run", "run_minimal", "client", "minimal", "raw")
            rows: dict[str, list[float]] = {k: [] for k in keys}
            with httpx.Client(timeout=60) as minimal:
                raw = RawSocketClient(port, body)
                client.stream_one(body, 60)  # warm every connection and the server's cache
                minimal_ttft(minimal, url, body)
                raw.ttft()
                for _ in range(rounds):
                    a, b = run_interleaved(url, prompts, per_round, Path(tmp) / "r.db", minimal,
                                           body)
                    rows["run"].append(statistics.median(a))
                    rows["run_minimal"].append(statistics.median(b))
                    got: dict[str, list[float]] = {"client": [], "minimal": [], "raw": []}
                    for _ in range(per_round):  # interleaved request by request
                        got["client"].append(client.stream_one(body, 60).ttft_s)
                        got["minimal"].append(minimal_ttft(minimal, url, body))
                        got["raw"].append(raw.ttft())
                    for k, v in got.items():
                        rows[k].append(statistics.median(v))
                raw.sock.close()
            client.close()
        finally:
            srv.stop()

    def ratio(a: str, b: str) -> float:
        return statistics.median(x / y for x, y in zip(rows[a], rows[b]))

    ratio_run = ratio("run", "run_minimal")
    return {**{f"llama_ttft_{k}_median_ms": round(1e3 * statistics.median(v), 3)
               for k, v in rows.items()},
            "llama_ttft_ratio": round(ratio_run, 3),
            "llama_ttft_client_ratio": round(ratio("client", "minimal"), 3),
            "llama_ttft_raw_floor_ratio": round(ratio("raw", "minimal"), 3),
            "llama_goal": "llama_ttft_ratio <= 1.05 (inferlca run / minimal httpx client)",
            "llama_met": ratio_run <= 1.05,
            "llama_per_round_ratio": [round(x / y, 3) for x, y in zip(rows["run"],
                                                                     rows["run_minimal"])],
            "load_average_1min": round(__import__("os").getloadavg()[0], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--requests", type=int, default=None)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--chunks", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--llama", action="store_true", help="also the TTFT ratio on llama.cpp")
    args = ap.parse_args()
    n = args.requests or (200 if args.quick else 1000)
    rounds = args.rounds or (3 if args.quick else 7)
    url = NullSSEServer(args.chunks).start()
    run_ours(url, 50, args.concurrency)  # warm both paths
    run_minimal(url, 50, args.concurrency)
    ratios, ours, mine = [], [], []
    for _ in range(rounds):
        a = run_ours(url, n, args.concurrency)
        b = run_minimal(url, n, args.concurrency)
        ours.append(a)
        mine.append(b)
        ratios.append(a / b)
    ratio = statistics.median(ratios)
    llama = bench_llama(3 if args.quick else 7, 20 if args.quick else 40) if args.llama else {}
    print(json.dumps({**llama,
        "requests_per_round": n, "concurrency": args.concurrency, "chunks": args.chunks,
        "ours_rps_median": statistics.median(ours), "minimal_httpx_rps_median": statistics.median(mine),
        "client_overhead_ratio": ratio, "goal": ">= 0.9", "met": ratio >= 0.9,
        "per_round": [round(r, 3) for r in ratios]}, indent=2))


if __name__ == "__main__":
    main()
