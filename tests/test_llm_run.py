"""llm-generate through ``inferlca run``: real LoadGen, real sampler, real SQLite store.

The power comes from a meter that implements the real :class:`PowerMeter` protocol and reads a
constant 50 W (a fake at the vendor boundary): every energy then has a value computable by hand
(50 W x the window), which is what these tests check. The catalog device is given with
``--device`` so that embodied GWP is available.
"""

from __future__ import annotations

import json
import math
import signal

import numpy as np
import pytest
from llm_helpers import DECODER_KEYS, POWER_W, ConstantMeter, llm_cache_dir  # noqa: F401

from inferlca.spec import RunSpec
from inferlca.store.sqlite import Store

pytest.importorskip("torch")
pytest.importorskip("mlperf_loadgen")


def _default_sigint() -> None:
    """In the child: a shell running us in the background ignores SIGINT, and a Python
    started with SIGINT ignored never raises KeyboardInterrupt; restore the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


MAX_NEW = 4


def _spec(scenario: str, **kw) -> RunSpec:
    base = {"workload": "llm-generate", "preset": "tiny", "scenario": scenario, "queries": 4,
            "repetitions": 1, "max_new_tokens": MAX_NEW, "device": "a100-pcie-40gb",
            "period_ms": 5.0, "samples_per_query": 2, "target_qps": 50.0,
            "extra": {"prompt_len": "4..24", "max_batch": 4}}
    base.update(kw)
    return RunSpec(**base)


def _run(benchmark_and_read, spec: RunSpec):
    stored = benchmark_and_read(spec, meter=ConstantMeter())
    return stored.out, stored.record, stored.series(0)


def _check_repetition(rep_metrics, impact, series, requests):
    m = rep_metrics
    for key in DECODER_KEYS:
        assert key in m, key
    # token counts exact: EOS masked with synthetic weights, every request gives MAX_NEW tokens
    assert m["tokens_out"] == MAX_NEW
    assert list(series["tokens_out"]) == [MAX_NEW] * requests
    assert m["samples"] == requests
    assert math.isclose(m["tokens_in"], float(np.mean(series["tokens_in"])))
    # TTFT <= end-to-end latency for every request
    assert np.all(series["ttft_s"] <= series["e2e_s"])
    assert np.all(series["ttft_s"] >= 0)
    # constant 50 W: compute energy = 50 W x the compute phase
    assert math.isclose(m["energy_compute_j"], POWER_W * m["compute_duration_s"], rel_tol=1e-9)
    # energy per request: the repetition's energy (load + compute) over its requests
    assert math.isclose(m["energy_per_request_j"] * requests, m["energy_total_j"], rel_tol=1e-12)
    # energy per token x tokens per request x requests = energy of the compute phase
    assert math.isclose(m["energy_per_token_j"] * m["tokens_out"] * m["samples"], m["energy_compute_j"],
                        rel_tol=1e-12)
    # prefill and decode steps lie inside the compute phase: 50 W x their time, at most the phase
    assert 0 < m["energy_prefill_j"] and 0 < m["energy_decode_j"]
    assert m["energy_prefill_j"] + m["energy_decode_j"] <= m["energy_compute_j"] * (1 + 1e-9)
    # GWP per 1,000 tokens = repetition GWP x 1000 / all output tokens, for use, embodied, total
    per_1k = impact["tokens"]["per_1k_tokens"]
    for key in ("use_gco2e", "embodied_gco2e", "total_gco2e"):
        for bound in ("value", "low", "high"):
            want = impact[key][bound] * 1000.0 / (MAX_NEW * requests)
            assert math.isclose(per_1k[key][bound], want, rel_tol=1e-12)
    assert impact["embodied_gco2e"]["value"] > 0  # catalog device: embodied share available
    assert per_1k["total_gco2e"]["low"] <= per_1k["total_gco2e"]["value"] <= per_1k["total_gco2e"]["high"]


@pytest.mark.parametrize("scenario, requests", [
    ("single-stream", 4), ("multi-stream", 8), ("server", 4), ("offline", 4),
])
def test_run_every_loadgen_scenario_stored(benchmark_and_read, tmp_path, scenario, requests):
    out, rec, series = _run(benchmark_and_read, _spec(scenario))
    rep = rec.repetitions[0]
    _check_repetition(rep.metrics, rep.impact, series, requests)
    # LoadGen got our first tokens: its detail log has first-token latencies (not in Offline)
    from inferlca.loadgen.logs import read_detail

    detail = read_detail(tmp_path / "logs" / out.run_id / "rep0" / "mlperf_log_detail.txt")
    assert detail["requested_use_token_latencies"] is True
    if scenario != "offline":
        assert detail["result_first_token_99.00_percentile_latency_ns"] > 0
    # the summary averages the token metrics like every other metric
    assert rec.summary["metrics"]["tokens_out"]["mean"] == MAX_NEW
    assert rec.summary["impact"]["tokens"]["per_1k_tokens"]["total_gco2e"]["value"] > 0
    assert any("synthetic weights" in n for n in rec.summary["notes"])


def test_run_interactive_users(benchmark_and_read, tmp_path):
    spec = _spec("interactive", users=2, think_time_s=0.02, duration_s=1.0)
    _, rec, series = _run(benchmark_and_read, spec)
    rep = rec.repetitions[0]
    n = int(rep.metrics["queries"])
    assert n >= 2
    _check_repetition(rep.metrics, rep.impact, series, n)
    # a request's TTFT counts the time it waited behind the other user's request
    wait = np.sort(series["wait_s"])
    assert np.all(np.sort(series["ttft_s"]) >= wait - 1e-9)


def test_cli_run_json_and_table(tmp_path, cli):
    db = tmp_path / "c.db"
    r = cli("run", "-w", "llm-generate", "--preset", "tiny", "-n", "3", "-r", "1",
            "--max-new-tokens", "3", "--meter", "modelled", "--store", db, "--logs-dir",
            tmp_path / "logs", "--prompt-len", "5", "--sampling", "sample", "--top-k", "20", "--json")
    assert r.code == 0, r.err
    data = r.json()
    m = data["repetitions"][0]["metrics"]
    assert m["tokens_out"] == 3 and m["tokens_in"] == 5
    assert data["spec"]["llm"] == {"prompt_len": "5", "sampling": "sample", "top_k": 20}
    assert data["repetitions"][0]["impact"]["tokens"]["per_request"]["total_gco2e"]["value"] > 0
    r = cli("run", "-w", "llm-generate", "--preset", "tiny", "-n", "2", "-r", "1",
            "--max-new-tokens", "2", "--meter", "modelled", "--store", db, "--logs-dir",
            tmp_path / "logs", "--device", "a100-pcie-40gb")  # a catalog device: embodied known
    assert r.code == 0, r.err
    for row in ("time to first token p50 (ms)", "time per output token p99 (ms)",
                "energy / output token (mJ, compute)", "GWP / 1,000 tokens: total (mgCO2e)",
                "GWP / 1,000 tokens: embodied (mgCO2e)"):
        assert row in r.out
    assert "needs --device" not in r.out


@pytest.fixture
def bert_folder(tmp_path):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.BertConfig(num_hidden_layers=1, hidden_size=32, num_attention_heads=2,
                                  intermediate_size=64, vocab_size=100)
    transformers.BertForQuestionAnswering(cfg).save_pretrained(tmp_path / "bert")
    return tmp_path / "bert"


@pytest.mark.parametrize("args, message", [
    (["--prompts", "EMPTY"], "the prompt file is empty"),
    (["--max-new-tokens", "0"], "max-new-tokens must be an integer >= 1"),
    (["--prompts", "LONG", "--max-new-tokens", "8"], "allows at most 248"),
    (["--prompts", "LONG", "--max-new-tokens", "8"], "--prompt-overflow truncate"),  # the CLI option
    (["--weights", "BERT"], "is not a causal language model"),
    (["--prompt-overflow", "drop"], "unknown --prompt-overflow 'drop' (accepted: refuse, truncate)"),
    (["--sampling", "beam"], "unknown --sampling 'beam' (accepted: greedy, sample)"),
    (["--max-batch", "0"], "--max-batch must be an integer >= 1"),
    (["--batching", "dynamic"], "unknown --batching 'dynamic' (accepted: static, continuous)"),
    (["--preset", "huge"], "unknown llm-generate preset 'huge'"),
    (["--backend", "onnxruntime"], "torch backend only"),
    (["--precision", "int8"], "llm-generate runs in fp32, fp16, bf16"),
])
def test_bad_input_exit_2(tmp_path, cli, bert_folder, args, message):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    long = tmp_path / "long.txt"
    long.write_text("x" * 300 + "\n")  # 300 byte-tokens > 256 - 8 positions of the tiny preset
    subst = {"EMPTY": str(empty), "LONG": str(long), "BERT": str(bert_folder)}
    args = [subst.get(a, a) for a in args]
    base = ["run", "-w", "llm-generate", "-n", "1", "-r", "1", "--meter", "modelled",
            "--store", tmp_path / "bad.db", "--logs-dir", tmp_path / "logs"]
    if "--preset" not in args and "--weights" not in args:
        base += ["--preset", "tiny"]
    r = cli(*base, *args)
    assert r.code == 2, (r.out, r.err)
    assert message in r.err
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1
    if (tmp_path / "bad.db").exists():  # nothing measured, nothing stored
        with Store.open(tmp_path / "bad.db") as st:
            assert st.list_runs() == []


def test_truncate_policy_runs_with_a_warning(tmp_path, cli):
    long = tmp_path / "long.jsonl"
    long.write_text(json.dumps({"input_ids": list(range(1, 251))}) + "\n")
    r = cli("run", "-w", "llm-generate", "--preset", "tiny", "-n", "1", "-r", "1",
            "--max-new-tokens", "8", "--prompts", long, "--prompt-overflow", "truncate",
            "--meter", "modelled", "--store", tmp_path / "t.db", "--logs-dir", tmp_path / "logs",
            "--json")
    assert r.code == 0, r.err
    data = r.json()
    # 250 tokens + 8 new > 256 positions: the last 248 are kept
    assert data["repetitions"][0]["metrics"]["tokens_in"] == 248
    assert any("truncated by 2 tokens" in n for n in data["notes"])


def test_weights_not_a_causal_lm_in_a_subprocess(tmp_path, cli_subprocess, bert_folder):
    r = cli_subprocess("run", "-w", "llm-generate", "--weights", bert_folder, "-n", "1", "-r", "1",
                       "--meter", "modelled", "--store", tmp_path / "s.db", "--logs-dir",
                       tmp_path / "logs", timeout=300)
    assert r.code == 2
    assert r.err.strip().startswith("error: --weights")
    assert "BertForQuestionAnswering is not a causal language model" in r.err
    assert "Traceback" not in r.err


def test_ctrl_c_keeps_an_incomplete_run(tmp_path, cli_subprocess):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    db = tmp_path / "int.db"
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "inferlca", "run", "-w", "llm-generate", "--preset", "tiny",
         "-n", "100000", "-r", "2", "--max-new-tokens", "8", "--meter", "modelled",
         "--store", str(db), "--logs-dir", str(tmp_path / "logs")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint)  # noqa: PLW1509 - the child only calls signal.signal (async-signal-safe)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if list((tmp_path / "logs").glob("*/rep0/mlperf_log_detail.txt")):
                break
            time.sleep(0.2)
        time.sleep(1.5)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    with Store.open(db) as st:
        run = st.list_runs()[0]
        rec = st.get_run(run.run_id)
        series = st.load_series(run.run_id, 0)
    assert rec.status == "incomplete" and len(rec.repetitions) == 1
    m = rec.repetitions[0].metrics
    # what ran before Ctrl-C is kept, token metrics included; nothing skipped is counted
    n = len(series["tokens_out"])
    assert 0 < n < 100000 and list(series["tokens_out"]) == [8.0] * n
    assert m["samples"] == n
    assert m["tokens_out"] == 8 and m["energy_per_token_j"] > 0


def test_run_server_with_continuous_batching(benchmark_and_read, tmp_path):
    spec = _spec("server", target_qps=200.0,
                 extra={"prompt_len": "4..24", "max_batch": 4, "batching": "continuous"})
    _, rec, series = _run(benchmark_and_read, spec)
    rep = rec.repetitions[0]
    _check_repetition(rep.metrics, rep.impact, series, 4)
    assert rec.spec["llm"]["batching"] == "continuous"
