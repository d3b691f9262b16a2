"""Decoders served with continuous batching: the steady state by hand, energy per token against
concurrency, the concurrency sweep, and the load/compute/idle phases of a whole run."""


from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferlca.estimate.models import PRESETS
from inferlca.estimate.serving import serving_point
from inferlca.hardware.catalog import get_catalog
from inferlca.uncertainty import UValue

CAT = get_catalog()


def test_serving_steady_state_golden_and_regimes() -> None:
    m, h100 = PRESETS["llama-3-8b"], CAT.get("h100-sxm5-80gb")
    one = serving_point(m, h100, "fp16", 1, tokens_in=512, tokens_out=129,
                        efficiency=UValue.exact(1.0))
    big = serving_point(m, h100, "fp16", 256, tokens_in=512, tokens_out=129,
                        efficiency=UValue.exact(1.0))
    assert one.step_bound == "memory"
    # device time per request = prefill + (tokens_out - 1) step / C
    assert one.device_s_per_request.value == pytest.approx(
        one.prefill_s.value + 128 * one.step_s.value)
    assert big.device_s_per_request.value == pytest.approx(
        big.prefill_s.value + 128 * big.step_s.value / 256)
    # energy per token at TDP: 700 W x device time per request / tokens_out
    assert one.energy_per_token_j.value == pytest.approx(700 * one.device_s_per_request.value / 129)
    assert big.energy_per_token_j.value < one.energy_per_token_j.value / 10
    # a batch-1 decode step is the estimator's TPOT at the same lengths (fused, fp16)
    from inferlca.estimate.api import estimate

    e = estimate("llama-3-8b", [h100], precision="fp16", tokens_in=512, tokens_out=129,
                 with_impact=False).devices[0]
    assert e.tpot_s.value == pytest.approx(one.step_s.value)
    # the step turns compute-bound once the batch passes the ridge
    huge = serving_point(m, h100, "fp16", 2048, tokens_in=16, tokens_out=16,
                         efficiency=UValue.exact(1.0))
    assert huge.step_bound == "compute"


@settings(max_examples=25, deadline=None)
@given(c1=st.integers(1, 128), c2=st.integers(1, 128))
def test_more_concurrency_never_costs_more_energy_per_token(c1: int, c2: int) -> None:
    m, a100 = PRESETS["llama-3-8b"], CAT.get("a100-sxm4-40gb")
    lo, hi = sorted((c1, c2))
    kw = {"tokens_in": 256, "tokens_out": 256, "efficiency": UValue.exact(1.0)}
    e_lo = serving_point(m, a100, "fp16", lo, **kw).energy_per_token_j.value
    e_hi = serving_point(m, a100, "fp16", hi, **kw).energy_per_token_j.value
    assert e_hi <= e_lo * (1 + 1e-12)


def test_concurrency_sweep_with_figure(cli, tmp_path: Path) -> None:
    r = cli("estimate", "-m", "llama-3-8b", "-d", "h100-sxm5-80gb", "--tokens-in", "512",
            "--tokens-out", "256", "--concurrency", "1,8,32,64", "--plot", str(tmp_path),
            "--json")
    assert r.code == 0, r.err
    pts = r.json()["serving"]["NVIDIA H100 SXM5 80GB"]
    assert [p["concurrency"] for p in pts] == [1, 8, 32, 64]
    e = [p["energy_per_token_j"]["value"] for p in pts]
    assert e == sorted(e, reverse=True) and e[0] / e[-1] > 10
    assert (tmp_path / "serving-llama-3-8b.svg").exists()
    bad = cli("estimate", "-m", "bert-large", "-d", "t4", "--concurrency", "8")
    assert bad.code == 2 and "give encoders --batch" in bad.err


def test_whole_16_query_bert_run_has_phases(cli) -> None:
    r = cli("estimate", "-m", "bert-large", "-d", "h100-sxm5-80gb", "-d", "jetson-agx-orin-64gb",
            "--precision", "int8", "--queries", "16", "--whole-run", "--json")
    h100, orin = r.json()["devices"]
    w = 335_141_888 + 384 * 1024 * 3  # int8 weights read by one pass: parameters + looked-up rows
    # Orin: weights from eMMC at 0.3 GB/s (class assumption), at its recorded idle 7.737 W
    load = orin["phases"]["load"]
    assert load["duration_s"]["value"] == pytest.approx(335_141_888 / 0.3e9)
    assert load["energy_j"]["value"] == pytest.approx(335_141_888 / 0.3e9 * 7.737)
    m = orin["metrics"]
    assert m["energy_total_j"] == pytest.approx(m["energy_load_j"] + m["energy_compute_j"])
    assert m["duration_s"] == pytest.approx(m["load_duration_s"] + m["compute_duration_s"])
    assert m["energy_compute_j"] == pytest.approx(16 * m["energy_per_query_j"])
    assert w > 0
    # the impact covers the whole run (the study counted load and compute)
    e_kwh = orin["impact"]["energy_kwh"]["value"] if isinstance(
        orin["impact"]["energy_kwh"], dict) else orin["impact"]["energy_kwh"]
    assert e_kwh == pytest.approx(m["energy_total_j"] / 3.6e6)
    # H100 loads faster but idles at a default fraction of its 700 W
    assert h100["phases"]["load"]["duration_s"]["value"] < load["duration_s"]["value"]
    assert "default fraction of TDP" in " ".join(h100["notes"])
