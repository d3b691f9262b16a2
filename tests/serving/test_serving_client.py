"""The streaming client against a real loopback SSE server: every protocol edge case is a counted
outcome, never an exception, and chunk times make the latencies."""

from __future__ import annotations

import time

import pytest
from sse_server import SSEServer

pytest.importorskip("httpx")

from inferlca.workloads.serving.client import StreamClient, chunk_text, classify, request_body


def _one(srv: SSEServer, api: str = "chat", max_tokens: int = 8, **kw):
    client = StreamClient(srv.url, api, **kw)
    client.start()
    try:
        return client.stream_one(request_body(api, "tiny", "hello", max_tokens), 10)
    finally:
        client.close()


def test_usage_chunks_and_done_marker():
    with SSEServer("usage", tokens=6, gap_s=0.01) as srv:
        r = _one(srv)
    assert r.ok and r.done_marker and r.finish_reason == "length"
    assert r.usage == {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}
    assert r.text == "w0 w1 w2 w3 w4 w5 "
    assert len(r.token_times_s) == 6
    # chunk times are in order, the first after sending, the last before the end
    assert r.arrival_s <= r.sent_s <= r.token_times_s[0]
    assert all(b >= a for a, b in zip(r.token_times_s, r.token_times_s[1:]))
    assert r.token_times_s[-1] <= r.end_s
    # five gaps of >= 10 ms between six chunks
    assert r.token_times_s[-1] - r.token_times_s[0] >= 5 * 0.01 * 0.9
    assert 0 <= r.ttft_s <= r.e2e_s


def test_request_body_asks_for_usage_and_streams():
    with SSEServer("usage", tokens=3) as srv:
        _one(srv, "completions", max_tokens=3)
        body = srv.bodies[-1]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["prompt"] == "hello" and body["max_tokens"] == 3 and body["model"] == "tiny"


@pytest.mark.parametrize("mode", ["no-usage", "empty-chunks", "no-done"])
def test_streams_without_usage_or_done_are_answers(mode):
    with SSEServer(mode, tokens=5) as srv:
        r = _one(srv)
    assert r.ok, r.error
    assert r.usage is None
    assert len(r.token_times_s) == 5  # empty chunks carry no token
    assert r.done_marker is (mode != "no-done")


@pytest.mark.parametrize("mode,status", [("429", 429), ("500", 500)])
def test_http_errors_are_counted_with_status(mode, status):
    with SSEServer(mode) as srv:
        r = _one(srv)
    assert not r.ok and r.error_kind == "http" and r.status == status
    assert f"HTTP {status}" in r.error and r.token_times_s == []


def test_stall_is_a_timeout_after_the_read_timeout():
    with SSEServer("stall", stall_s=1.5) as srv:
        t0 = time.monotonic()
        r = _one(srv, read_timeout_s=0.3)
        took = time.monotonic() - t0
    assert r.error_kind == "timeout"
    assert len(r.token_times_s) == 1  # what arrived before the stall is kept
    assert took < 1.4


def test_closed_mid_stream_and_not_json():
    with SSEServer("close-mid", tokens=8) as srv:
        r = _one(srv)
    assert r.error_kind == "closed" and len(r.token_times_s) == 4
    with SSEServer("not-json") as srv:
        r = _one(srv)
    assert r.error_kind == "protocol" and "not JSON" in r.error


def test_refused_connection():
    with SSEServer("usage") as srv:
        url = srv.url
    # the server stopped: its port refuses connections now
    client = StreamClient(url, "chat")
    client.start()
    try:
        r = client.stream_one(request_body("chat", "tiny", "x", 4), 10)
    finally:
        client.close()
    assert r.error_kind == "refused"


def test_concurrency_is_bounded():
    """8 requests of 5 chunks x 20 ms through 2 slots take about 4 rounds, not 1."""
    import threading

    with SSEServer("usage", tokens=5, gap_s=0.02) as srv:
        client = StreamClient(srv.url, "chat", max_concurrency=2)
        client.start()
        done = threading.Semaphore(0)
        replies = []

        def fin(r):
            replies.append(r)
            done.release()

        t0 = time.monotonic()
        for _ in range(8):
            client.submit(request_body("chat", "tiny", "x", 5), time.monotonic(), on_done=fin)
        for _ in range(8):
            assert done.acquire(timeout=10)
        took = time.monotonic() - t0
        client.close()
    assert all(r.ok for r in replies)
    assert took >= 4 * 5 * 0.02 * 0.9
    # waiting for a slot counts in the time to first token
    assert max(r.ttft_s for r in replies) >= 3 * 5 * 0.02 * 0.9


def test_chunk_text_and_classify():
    assert chunk_text({"choices": [{"delta": {"content": "ab"}}]}) == "ab"
    assert chunk_text({"choices": [{"text": "c"}]}) == "c"
    assert chunk_text({"choices": [{"delta": {"role": "assistant"}}]}) == ""
    assert chunk_text({"choices": []}) == ""
    assert classify(TimeoutError())[0] == "timeout"
    assert classify(ConnectionResetError())[0] == "closed"
    assert classify(ConnectionRefusedError())[0] == "refused"
    assert classify(ValueError("x"))[0] == "protocol"
