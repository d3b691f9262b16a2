"""Mixed traffic against the loopback SSE server (``inferlca run -w openai-endpoint --traffic``):
every class sends its own prompts and ``max_tokens``, failures are counted per class and kind,
prompt tokens come from ``usage`` when the server gives it and are marked as word counts when it
does not, and the classes' energies add up to the measured energy."""

from __future__ import annotations

import math

import pytest
from sse_server import SSEServer

pytest.importorskip("httpx")

TRAFFIC = """\
classes:
  users:
    kind: interactive
    users: 2
    think_time_s: 0.02
    requests: 6
    prompt_len: 3
    max_new_tokens: 3
  stream:
    kind: poisson
    rate_qps: 60
    requests: 8
    prompt_len: 7
    max_new_tokens: 5
  batch:
    kind: offline
    requests: 5
    prompt_len: 11
    max_new_tokens: 2
"""


def _run(cli, tmp_path, url, traffic=TRAFFIC, *extra):
    (tmp_path / "t.yaml").write_text(traffic)
    return cli("run", "-w", "openai-endpoint", "--url", url, "--model", "tiny", "--period-ms",
               "5", "-r", "1", "--max-concurrency", "4", "--traffic", tmp_path / "t.yaml",
               *extra, "--store", tmp_path / "r.db", "--logs-dir", tmp_path / "logs", "--json")


def test_classes_send_their_own_lengths_and_count_failures(cli, tmp_path):
    # the offline class (max_tokens 2) gets HTTP 500, the others are served with usage
    with SSEServer("usage", tokens=8, gap_s=0.002, fail_max_tokens=2) as srv:
        res = _run(cli, tmp_path, srv.url)
        bodies = list(srv.bodies)
    assert res.code == 0, res.err
    out = res.json()
    assert out["spec"]["scenario"] == "mixed"
    rep = out["repetitions"][0]
    classes = rep["loadgen"]["traffic"]["classes"]
    sent = sorted(b["max_tokens"] for b in bodies)
    assert sent == [2] * 5 + [3] * 6 + [5] * 8
    users, stream, batch = (classes[n]["metrics"] for n in ("users", "stream", "batch"))
    assert users["requests_ok"] == 6 and users["tokens_out"] == 18
    assert stream["requests_ok"] == 8 and stream["tokens_out"] == 40
    assert batch["requests"] == 5 and batch["requests_ok"] == 0
    assert batch["requests_failed"] == 5 and batch["errors_http"] == 5
    assert users["errors_http"] == stream["errors_http"] == 0
    # the server's usage gave the prompt tokens (5 per request)
    assert users["tokens_in"] == 30 and classes["users"]["tokens_in_source"] == "usage"
    for m in (users, stream):
        assert 0 < m["ttft_p50_s"] <= m["e2e_p50_s"] and m["ttft_p99_s"] <= m["e2e_p99_s"]
        assert m["itl_p50_s"] > 0
    # whole run: the endpoint's own figures agree
    wm = rep["metrics"]
    assert wm["requests_ok"] == 14 and wm["requests_failed"] == 5 and wm["errors_http"] == 5
    # the classes' energies add up to the measured energy; the failed class processed no
    # token, so it only has its share of idle steps: none, as it has no token at all
    total = sum(c["metrics"]["energy_j"] for c in classes.values())
    assert math.isclose(total, wm["energy_total_j"], rel_tol=1e-9)
    assert batch["energy_j"] == 0.0


def test_without_usage_prompt_tokens_are_word_counts(cli, tmp_path):
    with SSEServer("no-usage", tokens=8) as srv:
        res = _run(cli, tmp_path, srv.url)
    assert res.code == 0, res.err
    classes = res.json()["repetitions"][0]["loadgen"]["traffic"]["classes"]
    # synthetic prompts of N words: N "tokens" per request, marked as words
    assert classes["batch"]["metrics"]["tokens_in"] == 5 * 11
    assert classes["batch"]["tokens_in_source"] == "words"
    # chunks counted the output tokens
    assert classes["stream"]["metrics"]["tokens_out"] == 8 * 5


def test_a_class_with_a_prompt_file(cli, tmp_path):
    (tmp_path / "p.txt").write_text("alpha beta\ngamma delta epsilon\n")
    traffic = ("classes:\n  files:\n    kind: offline\n    requests: 4\n    prompts: p.txt\n"
               "    max_new_tokens: 2\n")
    with SSEServer("usage", tokens=4) as srv:
        res = _run(cli, tmp_path, srv.url, traffic)
        prompts = [b["messages"][-1]["content"] for b in srv.bodies]
    assert res.code == 0, res.err
    assert prompts.count("alpha beta") == 2 and prompts.count("gamma delta epsilon") == 2


def test_the_runs_prompt_file_serves_the_classes_without_their_own(cli, tmp_path):
    """Regression: ``--prompts FILE`` beside ``--traffic`` was ignored (the classes sent 32-word
    synthetic prompts) while the run's notes said the prompts came from FILE."""
    (tmp_path / "p.txt").write_text("alpha beta\ngamma delta epsilon\n")
    traffic = ("classes:\n  plain:\n    kind: offline\n    requests: 4\n    max_new_tokens: 2\n"
               "  own:\n    kind: offline\n    requests: 2\n    prompt_len: 5\n"
               "    max_new_tokens: 3\n")
    with SSEServer("usage", tokens=4) as srv:
        res = _run(cli, tmp_path, srv.url, traffic, "--prompts", tmp_path / "p.txt")
        sent = [(b["max_tokens"], b["messages"][-1]["content"]) for b in srv.bodies]
    assert res.code == 0, res.err
    plain = [p for k, p in sent if k == 2]
    own = [p for k, p in sent if k == 3]
    assert sorted(plain) == ["alpha beta", "alpha beta", "gamma delta epsilon",
                             "gamma delta epsilon"]
    assert len(own) == 2 and all(len(p.split()) == 5 for p in own)  # its prompt_len wins
    # the notes say where each class's prompts came from (the run's seed 0: class k's is k),
    # and no longer describe the whole-run prompts, which were not sent
    notes = res.json()["notes"]
    assert (f"class prompts: plain: 2 from {tmp_path / 'p.txt'}; own: 2 synthetic "
            "(prompt_len 5, seed 1)") in notes
    assert not any(n.startswith(("synthetic prompts of", "2 prompts from")) for n in notes)


def test_duration_keeps_the_window_open(cli, tmp_path):
    traffic = "duration_s: 1.0\nclasses:\n  a:\n    kind: offline\n    requests: 2\n"
    with SSEServer("usage", tokens=2) as srv:
        res = _run(cli, tmp_path, srv.url, traffic)
    assert res.code == 0, res.err
    m = res.json()["repetitions"][0]["metrics"]
    assert m["compute_duration_s"] >= 1.0  # idle until the file's duration: part of the traffic


def test_server_gone_mid_traffic_keeps_the_classes_measured(cli, tmp_path):
    """The server stops after its 4th answer: the repetition and the run end incomplete (exit 2,
    one line), the answered requests of each class are stored with their figures."""
    from inferlca.store.sqlite import Store

    srv = SSEServer("usage", tokens=3)
    srv.stop_after(4)
    srv.__enter__()
    traffic = ("classes:\n  a:\n    kind: interactive\n    users: 1\n    requests: 20\n"
               "  b:\n    kind: poisson\n    rate_qps: 20\n    requests: 20\n")
    try:
        res = _run(cli, tmp_path, srv.url, traffic)
    finally:
        srv.stop()
    assert res.code == 2, res.err
    assert "stopped accepting connections" in res.err and "Traceback" not in res.err
    with Store.open_readonly(tmp_path / "r.db") as st:
        run = st.get_run(st.list_runs()[0].run_id)
    rep = run.repetitions[0]
    assert run.status == "incomplete" and rep.status == "incomplete"
    classes = rep.loadgen["traffic"]["classes"]
    ok = sum(c["metrics"]["requests_ok"] for c in classes.values())
    assert 4 <= ok <= 6 and ok == rep.metrics["requests_ok"]
    assert sum(c["metrics"]["energy_j"] for c in classes.values()) == \
        pytest.approx(rep.metrics["energy_total_j"], rel=1e-9)


def test_answers_cut_short_by_the_server_are_counted_per_class(cli, tmp_path):
    """The offline class (max_tokens 2) gets one chunk and [DONE] without a finish_reason (what
    llama-cpp-python's server sends when another request waits): answered, but counted as
    truncated in its class, in the whole run and in a note; the others finish by length."""
    with SSEServer("no-usage", tokens=8, gap_s=0.002, cut_max_tokens=2) as srv:
        res = _run(cli, tmp_path, srv.url)
    assert res.code == 0, res.err
    out = res.json()
    rep = out["repetitions"][0]
    classes = rep["loadgen"]["traffic"]["classes"]
    users, stream, batch = (classes[n]["metrics"] for n in ("users", "stream", "batch"))
    assert batch["requests_ok"] == 5 and batch["requests_truncated"] == 5
    assert batch["finish_length"] == 0 and batch["tokens_out"] == 5  # one chunk each
    assert users["requests_truncated"] == stream["requests_truncated"] == 0
    assert users["finish_length"] == 6 and stream["finish_length"] == 8
    m = rep["metrics"]
    assert m["requests_truncated"] == 5 and m["finish_length"] == 14
    assert any("5 of 19 answers were cut short by the server" in n for n in out["notes"])


def test_a_mixed_run_stores_its_request_count_as_queries(cli, tmp_path):
    """Not the unused -n (16 by default): the requests a repetition sent (6 + 8 + 5, failed ones
    included), in the store, the report's view of the run and the Monte Carlo inputs."""
    from inferlca.report.data import load_runs
    from inferlca.store.sqlite import Store

    with SSEServer("usage", tokens=4, fail_max_tokens=2) as srv:
        res = _run(cli, tmp_path, srv.url, TRAFFIC, "-r", "2")
    assert res.code == 0, res.err
    with Store.open_readonly(tmp_path / "r.db") as st:
        run = st.get_run(st.list_runs()[0].run_id)
        inputs = st.impact_inputs()
        views = load_runs(st)
    assert run.queries == 19 and run.spec["queries"] == 16
    assert inputs[0][1] == 19
    assert views[0].queries == 19
    # each repetition's own `queries` metric stays the answered requests (as every run's)
    assert [r.metrics["queries"] for r in run.repetitions] == [14.0, 14.0]


def test_a_mixed_run_without_its_count_is_not_filed_under_the_default(tmp_path):
    """A mixed run closed before any repetition: no count (not -n's 16)."""
    from inferlca.report.data import load_runs
    from inferlca.store.sqlite import Store

    with Store.open(tmp_path / "r.db") as st:
        rid = st.create_run({"workload": "openai-endpoint", "scenario": "mixed", "queries": 16})
        st.finish_run(rid, "incomplete", {})
        other = st.create_run({"workload": "bert", "scenario": "offline", "queries": 16})
        st.finish_run(other, "complete", {})
        assert st.get_run(rid).queries is None and st.get_run(other).queries == 16
        views = {v.run_id: v.queries for v in load_runs(st, statuses=())}
        assert views == {rid: None, other: 16}
        assert {q for _, q, *_ in st.impact_inputs()} == {16}  # only the complete run
        st.finish_run(rid, "complete", {}, queries=7)
        assert st.get_run(rid).queries == 7
        assert {v.run_id: v.queries for v in load_runs(st)} == {rid: 7, other: 16}
