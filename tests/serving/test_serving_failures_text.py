"""Failed requests in the text output of ``run`` and ``results show`` (not only in JSON): the
table rows per kind and one line with the counts over all repetitions."""

from __future__ import annotations

import pytest
from sse_server import SSEServer

pytest.importorskip("h11")
pytest.importorskip("mlperf_loadgen")

from inferlca.cli._requests import failure_line, request_rows


def _text_run(cli, tmp_path, url, *args):
    return cli("run", "-w", "openai-endpoint", "--url", url, "--model", "tiny", "--period-ms",
               "5", "--max-new-tokens", "4", "--store", tmp_path / "r.db", "--logs-dir",
               tmp_path / "logs", *args)


def test_run_and_results_show_say_how_many_requests_failed(cli, tmp_path):
    with SSEServer("500") as srv:
        res = _text_run(cli, tmp_path, srv.url, "-s", "single-stream", "-n", "3", "-r", "2")
    assert res.code == 1, res.err  # every request failed: the run failed (tables still printed)
    out = " ".join(res.out.split())  # rich wraps long lines
    # 2 repetitions x 3 requests, every one answered 500
    assert "failed requests: 6 of 6 requests failed (HTTP error 6)" in out
    assert "requests failed / repetition" in res.out and "failed: HTTP error" in res.out
    run_id = out.split("results show ")[1].split(")")[0]
    shown = cli("results", "show", run_id, "--store", tmp_path / "r.db")
    assert shown.code == 0, shown.err
    assert "failed requests: 6 of 6 requests failed (HTTP error 6)" in " ".join(shown.out.split())


def test_no_failure_line_when_every_request_was_answered(cli, tmp_path):
    with SSEServer("usage", tokens=3) as srv:
        res = _text_run(cli, tmp_path, srv.url, "-s", "single-stream", "-n", "3", "-r", "1")
    assert res.code == 0, res.err
    assert "failed requests:" not in res.out
    assert "requests answered / repetition" in res.out


def test_failure_line_counts_over_repetitions():
    def m(mean, n=3):
        return {"mean": mean, "n": n}

    s = {"metrics": {"requests_ok": m(8.0), "requests_failed": m(2.0), "errors_timeout": m(1.0),
                     "errors_http": m(0.0), "errors_refused": m(1 / 3), "errors_closed": m(2 / 3),
                     "errors_protocol": m(0.0), "server_gone": m(1 / 3)}}
    # 3 repetitions: 24 answered, 6 failed = 3 timeouts + 1 refused + 2 closed
    assert failure_line(s) == ("6 of 30 requests failed (timeout 3, refused 1, closed mid-answer "
                               "2); latencies and token figures are those of the answered "
                               "requests; the server went away during the run")
    labels = [label for label, _ in request_rows(s, lambda _s, key: key)]
    assert labels == ["requests answered / repetition", "requests failed / repetition",
                      "  failed: timeout / repetition", "  failed: refused / repetition",
                      "  failed: closed mid-answer / repetition"]
    assert failure_line({"metrics": {"requests_ok": m(4.0), "requests_failed": m(0.0)}}) is None
    assert request_rows({"metrics": {"queries": m(4.0)}}, lambda _s, key: key) == []


def test_every_request_failed_exits_1_with_the_run_stored_as_failed(cli, tmp_path):
    """Both repetitions answered nothing: exit 1, one error line, the run and its repetitions
    stored as failed with their counts and the error saying why."""
    from inferlca.store.sqlite import Store

    with SSEServer("429") as srv:
        res = _text_run(cli, tmp_path, srv.url, "-s", "single-stream", "-n", "2", "-r", "2")
    assert res.code == 1
    err = " ".join(res.err.split())
    assert "every request of repetitions 1, 2 (of 2) failed (4 requests: http 4)" in err
    assert "Traceback" not in res.err
    assert "failed requests: 4 of 4 requests failed (HTTP error 4)" in " ".join(res.out.split())
    with Store.open_readonly(tmp_path / "r.db") as st:
        run = st.get_run(st.list_runs()[0].run_id)
    assert run.status == "failed" and "every request of repetitions 1, 2" in run.error
    assert [r.status for r in run.repetitions] == ["failed", "failed"]
    assert [r.metrics["errors_http"] for r in run.repetitions] == [2.0, 2.0]


def test_some_requests_failed_is_still_exit_0(cli, tmp_path):
    """A repetition with answers and failures: exit 0, the failure line, the run complete."""
    from inferlca.store.sqlite import Store

    with SSEServer("usage", tokens=3, fail_max_tokens=2) as srv:
        traffic = tmp_path / "t.yaml"
        traffic.write_text("classes:\n  a:\n    kind: offline\n    requests: 2\n"
                           "    max_new_tokens: 2\n  b:\n    kind: offline\n    requests: 3\n"
                           "    max_new_tokens: 3\n")
        res = _text_run(cli, tmp_path, srv.url, "--traffic", traffic, "-r", "1")
    assert res.code == 0, res.err
    assert "failed requests: 2 of 5 requests failed (HTTP error 2)" in " ".join(res.out.split())
    with Store.open_readonly(tmp_path / "r.db") as st:
        run = st.get_run(st.list_runs()[0].run_id)
    assert run.status == "complete" and run.repetitions[0].status == "complete"
