"""llm-generate through the real mlcommons-loadgen in its four scenarios (tiny preset)."""

from __future__ import annotations

import pytest

from inferlca.loadgen.token_sut import parse_token_summary, run_token_test
from inferlca.workloads.generation import GenerationOptions, LLMGenerate

pytest.importorskip("torch")
pytest.importorskip("mlperf_loadgen")

MAX_NEW = 4


@pytest.fixture(scope="module")
def tiny():
    w = LLMGenerate(max_new_tokens=MAX_NEW, preset="tiny", n_samples=12, seed=0,
                    options=GenerationOptions(prompt_len="3..16", max_batch=4))
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
    out = run_token_test(tiny, scenario, queries, samples_per_query=2, target_qps=100.0)
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
    out = run_token_test(tiny, "single-stream", 2, log_dir=tmp_path)
    assert (tmp_path / "mlperf_log_summary.txt").is_file()
    assert out.loadgen["log_dir"] == str(tmp_path)


def test_parse_token_summary(tmp_path):
    p = tmp_path / "mlperf_log_summary.txt"
    p.write_text("Result is : INVALID\nCompleted tokens per second: 187.58\n"
                 "50.00 percentile first token latency (ns)   : 495559\n"
                 "99.00 percentile first token latency (ns)   : 724835\n"
                 "50.00 percentile time to output token (ns)   : 724472\n")
    s = parse_token_summary(p)
    assert s["result_valid"] is False and s["tokens_per_s"] == 187.58
    assert s["ttft_p50_s"] == pytest.approx(495559e-9) and s["tpot_p50_s"] == pytest.approx(724472e-9)
    assert "tpot_p99_s" not in s
    assert parse_token_summary(tmp_path / "missing.txt") == {}
