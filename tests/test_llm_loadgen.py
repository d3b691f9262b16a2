"""llm-generate through the real mlcommons-loadgen in its four scenarios (tiny preset)."""

from __future__ import annotations

import pytest
from llm_helpers import llm_cache_dir  # noqa: F401  (autouse: weights in a temporary cache)

from inferlca.loadgen.harness import make_sut
from inferlca.loadgen.token_run import run_token_test, token_latency_summary
from inferlca.spec import LLMOptions, RunSpec
from inferlca.workloads.llm import LLMGenerate

pytest.importorskip("torch")
pytest.importorskip("mlperf_loadgen")

MAX_NEW = 4


@pytest.fixture(scope="module")
def tiny():
    w = LLMGenerate(max_new_tokens=MAX_NEW, preset="tiny", n_samples=12, seed=0,
                    options=LLMOptions(prompt_len="3..16", max_batch=4))
    w.load()
    w.warmup()
    return w


@pytest.mark.parametrize("scenario, queries, requests", [
    ("single-stream", 6, 6),
    ("multi-stream", 3, 3 * 2),     # 2 samples per query
    ("server", 6, 6),
    ("offline", 6, 6),
])
def test_every_scenario_end_to_end(tiny, scenario, queries, requests):
    spec = RunSpec(workload="llm-generate", preset="tiny", scenario=scenario, queries=queries,
                   samples_per_query=2, target_qps=100.0, max_new_tokens=MAX_NEW)
    out = run_token_test(tiny, spec)
    assert len(out.results) == requests
    # token counts exact: every request produced exactly max-new-tokens (EOS masked)
    assert [r.tokens_out for r in out.results] == [MAX_NEW] * requests
    assert sum(r.tokens_in for r in out.results) == sum(len(tiny.samples[r.index].input_ids)
                                                        for r in out.results)
    for r in out.results:
        assert 0 <= r.ttft_s <= r.e2e_s
        assert out.start_s <= r.arrival_s <= r.end_s <= out.end_s
    # every request was batched exactly once
    assert sum(out.batch_sizes) == requests
    prefills = [s for s in out.steps if s.phase == "prefill"]
    assert sum(s.batch for s in prefills) == requests
    if scenario == "single-stream":
        assert out.batch_sizes == [1] * requests
    if scenario == "multi-stream":
        assert out.batch_sizes == [2] * queries
    if scenario == "offline":
        assert out.batch_sizes == [4, 2]
    if scenario != "offline":
        # LoadGen's own log has the first-token latencies we reported with FirstTokenComplete
        assert out.loadgen["ttft_p50_s"] > 0 and out.loadgen["tpot_p50_s"] > 0
        ours = sorted(r.ttft_s for r in out.results)
        # LoadGen times from its own issue, before our SUT sees the query: never shorter than ours
        assert out.loadgen["ttft_p99_s"] >= ours[0]


def test_loadgen_log_kept_when_asked(tiny, tmp_path):
    out = run_token_test(tiny, RunSpec(workload="llm-generate", queries=2), log_dir=tmp_path)
    assert (tmp_path / "mlperf_log_detail.txt").is_file()
    assert out.loadgen["validity"]["valid"] is False  # 2 queries: too few for MLPerf, said plainly
    assert out.loadgen["log_dir"] == str(tmp_path)


def test_token_latency_summary():
    detail = {"result_first_token_50.00_percentile_latency_ns": 495559,
              "result_first_token_99.00_percentile_latency_ns": 724835,
              "result_time_per_output_token_50.00_percentile_ns": 724472,
              "result_completed_tokens_per_second": 187.58, "result_validity": "INVALID",
              "result_first_token_max_latency_ns": "n/a"}
    s = token_latency_summary(detail)
    assert s == {"ttft_p50_s": pytest.approx(495559e-9), "ttft_p99_s": pytest.approx(724835e-9),
                 "tpot_p50_s": pytest.approx(724472e-9), "tokens_per_s": 187.58}
    assert token_latency_summary({}) == {}


def test_server_batches_requests_that_arrive_together(tiny):
    # 1000 QPS Poisson arrivals: 8 requests within ~8 ms, while one batch of 48 tokens takes tens
    # of ms, so requests that arrive during a batch are served together in the next one
    # (all arrivals spaced > 1 batch apart has probability ~ e^-30).
    tiny.max_new_tokens = 48
    try:
        spec = RunSpec(workload="llm-generate", preset="tiny", scenario="server", queries=8,
                       target_qps=1000.0, max_new_tokens=48)
        out = run_token_test(tiny, spec)
    finally:
        tiny.max_new_tokens = MAX_NEW
    assert sum(out.batch_sizes) == 8 and max(out.batch_sizes) > 1
    assert [r.tokens_out for r in out.results] == [48] * 8
    # a request that waited for the running batch has a longer TTFT than its batch's prefill
    assert max(r.ttft_s for r in out.results) > min(r.ttft_s for r in out.results)


def test_requests_before_the_test_are_not_counted(tiny):
    # the runner's latency probe (--mlperf-compliant) runs a request before the LoadGen test
    tiny.take_results()
    tiny.run([0])
    sut = make_sut(tiny, "single-stream")
    sut.close()
    results, steps = tiny.take_results()
    assert results == [] and steps == []
    tiny.run([1])
    results, steps = tiny.take_results()
    assert [r.index for r in results] == [1] and steps[0].phase == "prefill"


@pytest.mark.parametrize("scenario", ["server", "offline", "multi-stream"])
def test_continuous_batching_through_loadgen(scenario):
    w = LLMGenerate(max_new_tokens=16, preset="tiny", n_samples=8, seed=0,
                    options=LLMOptions(prompt_len="3..16", max_batch=4, batching="continuous"))
    w.load()
    try:
        spec = RunSpec(workload="llm-generate", preset="tiny", scenario=scenario, queries=4,
                       samples_per_query=2, target_qps=1000.0, max_new_tokens=16)
        out = run_token_test(w, spec)
    finally:
        w.unload()
    n = 8 if scenario == "multi-stream" else 4
    assert len(out.results) == n and [r.tokens_out for r in out.results] == [16] * n
    assert sum(out.batch_sizes) == n
    assert all(0 <= r.ttft_s <= r.e2e_s for r in out.results)
    # never more rows than max-batch in a forward pass
    assert max(s.batch for s in out.steps) <= 4
    if scenario == "offline":  # 4 requests at once fill one batch
        assert out.batch_sizes == [4]
