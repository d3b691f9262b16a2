"""End to end against a REAL model server: llama-cpp-python's OpenAI server serving a tiny llama
model these tests write with ``gguf`` from seeded random weights (:mod:`tiny_gguf`).

Skipped, with the reason, when ``llama_cpp`` (``pip install 'llama-cpp-python[server]'``, built
from source by ``.ci/run``) or ``gguf`` is not installed.
"""

from __future__ import annotations

import json
import urllib.request

import llama_server
import pytest

llama_server.require()

from tiny_gguf import write_tiny_llama

from inferlca.workloads.serving.client import StreamClient, request_body

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny.gguf", seed=0)


@pytest.fixture(scope="module")
def server(model_path):
    with llama_server.running(model_path) as url:
        yield url


def _post(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read())


def test_model_is_deterministic_and_small(tmp_path, model_path):
    again = write_tiny_llama(tmp_path / "again.gguf", seed=0)
    assert again.read_bytes() == model_path.read_bytes()
    assert 300_000 < model_path.stat().st_size < 600_000


def test_stream_vs_non_streamed_usage(server):
    """The server streams without usage; chunks then count the tokens that usage reports for the
    same request not streamed (greedy decoding: the same tokens)."""
    body = request_body("completions", "tiny", "the energy of a model", 12)
    plain = dict(body, stream=False)
    plain.pop("stream_options")
    answer = _post(server + "/completions", plain)
    n_usage = answer["usage"]["completion_tokens"]
    assert n_usage == 12  # the end token is never the likeliest: every answer runs to max_tokens
    client = StreamClient(server, "completions")
    client.start()
    try:
        r = client.stream_one(body, 60)
    finally:
        client.close()
    assert r.ok, r.error
    assert r.usage is None  # llama-cpp-python's stream has no usage, even when asked
    assert r.text == answer["choices"][0]["text"]
    assert 1 <= len(r.token_times_s) <= n_usage
    assert 0 < r.ttft_s <= r.e2e_s


@pytest.mark.parametrize("scenario", ["single-stream", "server"])
def test_run_with_launch(cli, tmp_path, model_path, scenario):
    port = llama_server.free_port()
    res = cli("run", "-w", "openai-endpoint", "--url", f"http://127.0.0.1:{port}/v1",
              "--model", "tiny", "--api", "completions", "--launch", llama_server.launch_cmd(model_path, port),
              "-s", scenario, "-n", "4", "--target-qps", "4", "--max-new-tokens", "8",
              "--max-concurrency", "2", "-r", "1", "--period-ms", "5",
              "--store", tmp_path / "r.db", "--logs-dir", tmp_path / "logs", "--json")
    assert res.code == 0, res.err
    out = res.json()
    m = out["repetitions"][0]["metrics"]
    assert m["requests_ok"] == 4 and m["requests_failed"] == 0
    # no usage in the stream: the chunks counted the tokens, and the result says so
    assert m["tokens_from_usage"] == 0 and m["tokens_from_chunks"] == 4
    assert 1 <= m["tokens_out"] <= 8
    assert 0 < m["ttft_p50_s"] <= m["e2e_p50_s"]
    assert m["ttft_p99_s"] <= m["e2e_p99_s"]
    total_tokens = m["tokens_out"] * m["requests_ok"]
    assert m["energy_per_token_j"] * total_tokens == pytest.approx(m["energy_compute_j"])
    # the launched server's start-up is the load phase
    assert m["load_duration_s"] > 0.2
    assert out["facts"]["extra"]["load_s"] > 0.2 and out["facts"]["extra"]["launched"]
    assert any("start-up of the launched server" in n for n in out["notes"])
    # stopped at the end: nothing answers on the port any more
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)


def test_mixed_traffic_with_launch(cli, tmp_path, model_path):
    """Three classes at once on the launched llama.cpp server: per-class counts, latencies and
    energies that add up to the measured energy."""
    port = llama_server.free_port()
    (tmp_path / "t.yaml").write_text(
        "classes:\n"
        "  chat:\n    kind: interactive\n    users: 2\n    think_time_s: 0.05\n"
        "    requests: 4\n    prompt_len: 4\n    max_new_tokens: 4\n"
        "  api:\n    kind: poisson\n    rate_qps: 8\n    requests: 3\n    max_new_tokens: 6\n"
        "  batch:\n    kind: offline\n    requests: 3\n    prompt_len: 12\n    max_new_tokens: 2\n")
    res = cli("run", "-w", "openai-endpoint", "--url", f"http://127.0.0.1:{port}/v1",
              "--model", "tiny", "--api", "completions",
              # served in turn: with llama.cpp's default interrupt_requests, a request waiting
              # under load cut another to one chunk, at times an empty one (no text, no TTFT),
              # so the class's TTFT and e2e percentiles were over different requests (flaky)
              "--launch", llama_server.launch_cmd(model_path, port) + " --interrupt_requests False",
              "--traffic", tmp_path / "t.yaml", "--max-concurrency", "2", "-r", "1",
              "--period-ms", "5", "--store", tmp_path / "r.db", "--logs-dir", tmp_path / "logs",
              "--json")
    assert res.code == 0, res.err
    out = res.json()
    rep = out["repetitions"][0]
    m = rep["metrics"]
    classes = rep["loadgen"]["traffic"]["classes"]
    want = {"chat": (4, 4), "api": (3, 6), "batch": (3, 2)}
    for name, (n, max_new) in want.items():
        c = classes[name]["metrics"]
        assert c["requests_ok"] == n and c["requests_failed"] == 0, (name, c)
        # no usage in llama.cpp's stream: chunks counted, at most max_tokens per request
        assert n <= c["tokens_out"] <= n * max_new
        assert 0 < c["ttft_p50_s"] <= c["e2e_p50_s"] and c["ttft_p99_s"] <= c["e2e_p99_s"]
        assert c["energy_per_token_j"] * c["tokens_out"] == pytest.approx(c["energy_compute_j"])
        assert classes[name]["tokens_in_source"] == "words"
    assert m["requests_ok"] == 10 and m["tokens_from_chunks"] == 10
    total = sum(c["metrics"]["energy_j"] for c in classes.values())
    assert total == pytest.approx(m["energy_total_j"], rel=1e-9)
    # energy per token x tokens = compute energy, whole run
    assert m["energy_per_token_j"] * m["tokens_out"] * m["requests_ok"] == \
        pytest.approx(m["energy_compute_j"])
    assert m["load_duration_s"] > 0.2  # the launched server's start-up
    res = cli("results", "show", out["run_id"], "--store", tmp_path / "r.db")
    assert res.code == 0 and "request classes" in res.out


@pytest.mark.parametrize("interrupt", [True, False])
def test_offline_class_cut_short_by_the_server(cli, tmp_path, model_path, interrupt):
    """An offline class (4 requests at once, 8 tokens each): llama-cpp-python's server, by
    default, ends a streaming answer with [DONE] and no finish_reason as soon as another request
    waits, so most answers stop after one chunk. The run counts them as truncated, per class and
    in a note; with ``--interrupt_requests False`` the server serves them in turn and every answer
    finishes by length."""
    port = llama_server.free_port()
    (tmp_path / "t.yaml").write_text(
        "classes:\n  batch:\n    kind: offline\n    requests: 4\n    prompt_len: 6\n"
        "    max_new_tokens: 8\n")
    launch = llama_server.launch_cmd(model_path, port) + ("" if interrupt else " --interrupt_requests False")
    res = cli("run", "-w", "openai-endpoint", "--url", f"http://127.0.0.1:{port}/v1",
              "--model", "tiny", "--launch", launch, "--traffic", tmp_path / "t.yaml",
              "--max-concurrency", "4", "-r", "1", "--period-ms", "5",
              "--store", tmp_path / "r.db", "--logs-dir", tmp_path / "logs", "--json")
    assert res.code == 0, res.err
    out = res.json()
    c = out["repetitions"][0]["loadgen"]["traffic"]["classes"]["batch"]["metrics"]
    assert c["requests_ok"] == 4
    assert c["requests_truncated"] + c["finish_length"] == 4
    if interrupt:
        assert c["requests_truncated"] >= 1
        assert any("cut short by the server" in n for n in out["notes"])
    else:
        assert c["requests_truncated"] == 0 and c["finish_length"] == 4
        assert not any("cut short by the server" in n for n in out["notes"])
