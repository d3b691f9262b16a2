"""The workload's figures from chunk times, against values worked out by hand."""

from __future__ import annotations

import pytest

from inferlca.spec import RunSpec
from inferlca.workloads.serving.client import Reply
from inferlca.workloads.serving.workload import (
    EndpointOptions,
    EndpointRequest,
    OpenAIEndpoint,
    read_prompts,
    synthetic_prompts,
)


def _workload(**endpoint) -> OpenAIEndpoint:
    spec = RunSpec(workload="openai-endpoint", extra={"endpoint": {
        "url": "http://127.0.0.1:9/v1", "model": "m", **endpoint}})
    return OpenAIEndpoint(spec)


def _reply(arrival, times, text="", usage=None, end=None, kind=None):
    r = Reply(arrival)
    r.token_times_s = list(times)
    r.text = text or "x" * len(times)
    r.usage = usage
    r.end_s = end if end is not None else (times[-1] if times else arrival)
    r.error_kind = kind
    r.error = kind
    return r


def test_metrics_hand_computed():
    w = _workload()
    done = []
    # request A: arrives at 0, chunks at 0.10, 0.12, 0.16 (3 tokens by usage), ends 0.17
    # request B: arrives at 1, chunks at 1.30, 1.40 (no usage: 2 chunks), ends 1.40
    # request C: HTTP 429
    reqs = [EndpointRequest(i, a, tag=i, on_done=done.append) for i, a in enumerate((0.0, 1.0, 2.0))]
    w._done(reqs[0], _reply(0.0, [0.10, 0.12, 0.16], usage={"completion_tokens": 3,
                                                             "prompt_tokens": 7}, end=0.17))
    w._done(reqs[1], _reply(1.0, [1.30, 1.40]))
    w._done(reqs[2], _reply(2.0, [], end=2.01, kind="http"))
    assert [r.tokens_out for r in done] == [3, 2, 1]  # the failed one answers LoadGen with 1
    m = w.repetition_metrics(None, {"energy_compute_j": 10.0, "energy_total_j": 12.0})
    assert m["requests_ok"] == 2 and m["requests_failed"] == 1 and m["errors_http"] == 1
    assert m["tokens_from_usage"] == 1 and m["tokens_from_chunks"] == 1
    assert m["tokens_out"] == pytest.approx(2.5) and m["tokens_in"] == 7
    # TTFT 0.10 and 0.30: p50 = 0.20 (linear), mean 0.20
    assert m["ttft_p50_s"] == pytest.approx(0.20) and m["ttft_mean_s"] == pytest.approx(0.20)
    # TPOT: A (0.16 - 0.10) / 2 = 0.03, B (1.40 - 1.30) / 1 = 0.10
    assert m["tpot_p50_s"] == pytest.approx(0.065)
    # inter-token gaps 0.02, 0.04, 0.10: p50 0.04, p99 = 0.04 + 0.98 * 0.06
    assert m["itl_p50_s"] == pytest.approx(0.04)
    assert m["itl_p99_s"] == pytest.approx(0.04 + 0.98 * 0.06)
    # end to end 0.17 and 0.40
    assert m["e2e_p50_s"] == pytest.approx(0.285)
    # tokens / e2e: 3 / 0.17 and 2 / 0.40
    assert m["tokens_per_s"] == pytest.approx((3 / 0.17 + 2 / 0.40) / 2)
    # 5 tokens from the first arrival (0) to the last end (1.40)
    assert m["output_tokens_per_s"] == pytest.approx(5 / 1.40)
    assert m["energy_per_token_j"] == pytest.approx(10.0 / 5)
    assert m["energy_per_request_j"] == pytest.approx(12.0 / 2)
    # taken: a second call has nothing left
    assert w.repetition_metrics(None, {})["requests_ok"] == 0


def test_skip_waiting_drops_unsent_requests():
    w = _workload()
    req = EndpointRequest(0, 0.0, tag=5)
    w._queued[id(req)] = req
    assert [r.tag for r in w.skip_waiting()] == [5]
    assert w._start(req) is False  # never sent afterwards
    assert w.skip_waiting() == []


@pytest.mark.parametrize("raw,needle", [
    ({"url": "127.0.0.1:8000", "model": "m"}, "url"),
    ({"url": "http://h/v1"}, "model"),
    ({"url": "http://h/v1", "model": "m", "api": "rpc"}, "api"),
    ({"url": "http://h/v1", "model": "m", "max_concurrency": 0}, "max_concurrency"),
    ({"url": "http://h/v1", "model": "m", "launch_timeout_s": -1}, "launch_timeout_s"),
    ({"url": "http://h/v1", "model": "m", "colour": "red"}, "colour"),
])
def test_options_are_checked(raw, needle):
    from inferlca.errors import UsageError

    with pytest.raises(UsageError) as exc:
        EndpointOptions.from_dict(raw)
    assert needle in str(exc.value)


def test_prompts_synthetic_and_from_file(tmp_path):
    a = synthetic_prompts(5, 3, (4, 6))
    assert a == synthetic_prompts(5, 3, (4, 6))  # seeded
    assert all(4 <= len(p.split()) <= 6 for p in a)
    f = tmp_path / "p.txt"
    f.write_text("one\n\n  two words  \n")
    assert read_prompts(str(f)) == ["one", "two words"]


@pytest.mark.parametrize("meter", ["auto", "remote:http://10.0.0.7:9642"])
def test_the_energy_note_names_the_machine_that_was_measured(meter):
    """Regression: a run with --meter-url said "energy is that of the meters on this machine"
    beside the note that the agent of another machine measured it."""
    spec = RunSpec(workload="openai-endpoint", meter=meter, extra={"endpoint": {
        "url": "http://127.0.0.1:9/v1", "model": "m", "launch": "true"}})
    w = OpenAIEndpoint(spec)
    w.prepare()  # with a launch command nothing is probed before the load phase
    energy = [n for n in w.notes if n.startswith("energy is that of")]
    assert len(energy) == 1, w.notes
    if meter == "auto":
        assert "meters on this machine" in energy[0]
    else:
        assert "meter agent at http://10.0.0.7:9642" in energy[0]
        assert "this machine" not in energy[0]
