"""``inferlca estimate`` for the model, tokens in and out of a measured
``llm-generate`` run gives figures with the same keys and units, and calibration pairs them."""

from __future__ import annotations

import math

import pytest
from llm_helpers import DECODER_KEYS, ConstantMeter, llm_cache_dir  # noqa: F401

from inferlca.spec import RunSpec
from inferlca.store.sqlite import Store

pytest.importorskip("torch")
pytest.importorskip("mlperf_loadgen")

DEVICE = "a100-pcie-40gb"
TOKENS_IN, TOKENS_OUT = 12, 4


@pytest.fixture
def measured(tmp_path, monkeypatch, benchmark_and_read):
    """A measured tiny-preset run (prompts of exactly 12 tokens, 4 new tokens) in a store.

    The power comes from a fake meter standing in for the A100's sensor, and detection is faked at
    the same boundary (NVML reporting that A100), so the run counts as measured on that device.
    """
    from inferlca.hardware import detect
    from inferlca.hardware.catalog import get_catalog

    a100 = get_catalog().get(DEVICE)
    monkeypatch.setattr(detect, "detect_device",
                        lambda *a, **k: detect.Detected(a100.name, a100, "nvml"))

    spec = RunSpec(workload="llm-generate", preset="tiny", queries=3, repetitions=1, device=DEVICE,
                   max_new_tokens=TOKENS_OUT, period_ms=5.0, extra={"prompt_len": str(TOKENS_IN)})
    stored = benchmark_and_read(spec, store=tmp_path / "c.db", meter=ConstantMeter())
    return stored.store, stored.record.run_id


def test_estimate_gives_the_same_keys_and_units(measured, cli):
    db, run_id = measured
    r = cli("estimate", "--model", "llm-tiny", "--device", DEVICE, "--tokens-in", TOKENS_IN,
            "--tokens-out", TOKENS_OUT, "--queries", 3, "--save", "--store", db, "--json")
    assert r.code == 0, r.err
    est_id = r.json()["saved_run_ids"][0]
    with Store.open(db) as st:
        meas = st.get_run(run_id)
        est = st.get_run(est_id)
    assert (meas.kind, est.kind) == ("measured", "estimated")
    assert est.workload == meas.workload == "llm-generate"
    assert est.spec["preset"] == meas.spec["preset"] == "tiny"
    m, e = meas.repetitions[0].metrics, est.repetitions[0].metrics
    for key in DECODER_KEYS:
        assert key in m and key in e, key
    # the same per-request token counts, in the same units
    assert m["tokens_in"] == e["tokens_in"] == TOKENS_IN
    assert m["tokens_out"] == e["tokens_out"] == TOKENS_OUT
    # the same definitions: energy per token x tokens per query x queries = compute energy,
    # and TTFT + (tokens_out - 1) x TPOT is a request's time, for both kinds of run
    for metrics in (m, e):
        assert math.isclose(metrics["energy_per_token_j"] * metrics["tokens_out"] * metrics["queries"],
                            metrics["energy_compute_j"], rel_tol=1e-9)
        assert metrics["ttft_p50_s"] > 0 and metrics["tpot_p50_s"] > 0
        assert metrics["energy_prefill_j"] + metrics["energy_decode_j"] <= metrics["energy_compute_j"] * (1 + 1e-9)
    assert math.isclose(e["ttft_p50_s"] + (TOKENS_OUT - 1) * e["tpot_p50_s"], e["latency_mean_s"],
                        rel_tol=1e-9)


def test_calibration_pairs_the_measured_decoder_run(measured, cli):
    db, run_id = measured
    from inferlca.estimate.calibration import calibrate
    from inferlca.hardware.catalog import get_catalog

    with Store.open(db) as st:
        cal = calibrate(st, get_catalog())
    pairs = [p for p in cal.pairs if p.run_id == run_id]
    assert len(pairs) == 1, cal.skipped
    pair = pairs[0]
    assert pair.model == "llm-tiny" and pair.device_id == DEVICE
    assert pair.measured_time_s > 0 and pair.time_ratio > 0
    # the estimate then uses the fit from this run instead of the lower bound
    r = cli("estimate", "--model", "llm-tiny", "--device", DEVICE, "--tokens-in", TOKENS_IN,
            "--tokens-out", TOKENS_OUT, "--store", db, "--json")
    assert r.code == 0, r.err
    dev = r.json()["devices"][0]
    assert "calibrat" in dev["efficiency_source"]
    assert dev["efficiency"]["value"] < 1


def test_compare_measured_and_estimated_decoder_runs(measured, cli):
    db, run_id = measured
    r = cli("estimate", "--model", "llm-tiny", "--device", "t4", "--tokens-in", TOKENS_IN,
            "--tokens-out", TOKENS_OUT, "--queries", 3, "--save", "--store", db, "--json")
    assert r.code == 0, r.err
    est_id = r.json()["saved_run_ids"][0]
    r = cli("compare", run_id, est_id, "--store", db, "--json")
    assert r.code == 0, r.err
    ratios = r.json()["ratios"]
    for key in ("gwp_per_1k_tokens", "energy_per_token", "ttft_p99", "tpot_p99"):
        a, b, q = ratios[key]["a"], ratios[key]["b"], ratios[key]["ratio"]
        assert a and b and q, key
        assert math.isclose(q["value"], a["value"] / b["value"], rel_tol=1e-9)
    with Store.open(db) as st:
        meas, est = st.get_run(run_id), st.get_run(est_id)
    # measured: the stored per-1k-token GWP; estimated: GWP per query x 1000 / tokens per query
    assert math.isclose(ratios["gwp_per_1k_tokens"]["a"]["value"],
                        meas.summary["impact"]["tokens"]["per_1k_tokens"]["total_gco2e"]["value"])
    assert math.isclose(ratios["gwp_per_1k_tokens"]["b"]["value"],
                        est.summary["impact"]["per_query_gco2e"]["value"] * 1000 / TOKENS_OUT)
    r = cli("compare", run_id, est_id, "--store", db)
    assert r.code == 0 and "p99 time per output token" in r.out
