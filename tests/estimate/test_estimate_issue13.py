"""Issue 13: estimates held against published measurements.

Precision follows the deployment (rates per precision, with sources), memory is a constraint,
decoders are served with continuous batching, a whole run has load/compute/idle phases, published
results validate and calibrate the estimator (leave-one-out), and the study's StarCoder case is
held down to its gCO2e."""

from __future__ import annotations

import csv
import math
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferlca.estimate.memory import check_memory
from inferlca.estimate.models import PRESETS
from inferlca.estimate.published import load_published, validate
from inferlca.estimate.rates import default_precision, peak_for, rates_for
from inferlca.estimate.serving import serving_point
from inferlca.hardware.catalog import get_catalog
from inferlca.uncertainty import UValue

CAT = get_catalog()


# --- 1. precision and rates -------------------------------------------------------------------

def test_every_rate_row_has_a_source_and_a_catalogued_device() -> None:
    text = resources.files("inferlca.estimate").joinpath("data/device_rates.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) > 60
    for r in rows:
        assert r["source"].strip(), r
        assert CAT.find(r["device_id"]) is not None, r["device_id"]
        if r["sparse_tflops"]:
            assert float(r["sparse_tflops"]) >= float(r["dense_tflops"])


def test_issue_devices_have_their_low_precision_rates() -> None:
    orin, xavier, t4 = CAT.get("jetson-agx-orin-64gb"), CAT.get("jetson-agx-xavier-32gb"), CAT.get("t4")
    assert peak_for(orin, "fp16").dense == 42.5e12 and peak_for(orin, "int8").dense == 85e12
    assert peak_for(xavier, "fp16").dense == pytest.approx(8 * 1.41e12, rel=1e-3)
    assert peak_for(xavier, "int8").dense == pytest.approx(16 * 1.41e12, rel=1e-3)
    assert peak_for(t4, "int8").dense == 130e12
    # sparse rates are kept apart: the default peak is the dense one
    assert peak_for(orin, "int8", sparse=True).dense == 170e12
    assert peak_for(t4, "int8", sparse=True) is None  # Turing has no 2:4 sparsity
    # the catalog's values are the fallback
    assert rates_for(CAT.get("gtx-1080-ti"))["fp32"].dense == 11.34e12


def test_default_precision_is_the_serving_one_and_printed(cli) -> None:
    assert default_precision(CAT.get("h100-sxm5-80gb"))[0] == "fp16"
    assert default_precision(CAT.get("jetson-agx-orin-64gb"))[0] == "fp16"
    assert default_precision(CAT.get("gtx-1080-ti"))[0] == "fp32"  # no half-precision rate
    r = cli("estimate", "-m", "bert-large", "-d", "Orin", "--json")
    d = r.json()
    assert d["devices"][0]["precision"] == "fp16"
    assert any("precision fp16 (the usual serving precision" in n for n in d["notes"])
    sp = cli("estimate", "-m", "bert-large", "-d", "Orin", "--precision", "int8", "--sparse",
             "--json").json()["devices"][0]
    assert sp["roof"]["peak_flops"] == 170e12 and sp["roof"]["sparse"] is True


def test_precision_without_a_rate_lists_the_rates(cli) -> None:
    r = cli("estimate", "-m", "bert-large", "-d", "t4", "--precision", "fp8")
    assert r.code == 2 and r.err.count("\n") == 1
    assert "fp8 peak FLOP/s (catalog has: fp32 8.1, fp16 65, int8 130, int4 260 (TFLOP/s)" in r.err


# --- 2. memory --------------------------------------------------------------------------------

def test_starcoder_fp32_does_not_fit_and_says_what_it_would_take(cli) -> None:
    sc = PRESETS["starcoder"]
    m = check_memory(sc, CAT.get("a100-sxm4-40gb"), "fp32", tokens=512, context=576)
    assert m.weight_bytes == 15_517_456_384 * 4
    # KV cache: 40 layers x 2 x 128 (one K/V head) x 4 B per token, 576 tokens
    assert m.kv_bytes_per_token == 40 * 2 * 128 * 4 and m.kv_cache_bytes == 576 * 40_960
    assert m.fits is False
    assert any("quantised to fp16" in a for a in m.advice)
    assert any("split over 2 such devices" in a for a in m.advice)
    r = cli("estimate", "-m", "starcoder", "-d", "a100-sxm4-40gb", "--precision", "fp32",
            "--tokens-in", "512", "--tokens-out", "64", "--json")
    d = r.json()["devices"][0]
    assert r.code == 0 and d["fits"] is False and d["time_per_query_s"] is None
    assert d["memory"]["need_gb"] > 40
    table = cli("estimate", "-m", "starcoder", "-d", "a100-sxm4-40gb", "--precision", "fp32")
    assert "does not fit" in table.out and "DOES NOT FIT" in " ".join(table.out.split())
    # the thesis method keeps its numbers but carries the warning
    th = cli("estimate", "-m", "starcoder", "-d", "a100-sxm4-40gb", "--precision", "fp32",
             "--method", "thesis", "--json").json()["devices"][0]
    assert th["time_per_query_s"]["value"] > 0 and any("DOES NOT FIT" in n for n in th["notes"])


def test_batch_that_does_not_fit_is_an_error(cli) -> None:
    r = cli("estimate", "-m", "bert-large", "-d", "jetson-orin-nano-4gb", "--batch", "100000")
    assert r.code == 2 and r.err.count("\n") == 1
    assert "--batch 100000 does not fit" in r.err and "needs" in r.err and "at most" in r.err
    r = cli("estimate", "-m", "llama-3-8b", "-d", "l4", "--concurrency", "4096")
    assert r.code == 2 and "--concurrency 4096 does not fit" in r.err and "at most" in r.err


# --- 3. batching and serving ------------------------------------------------------------------

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


# --- 4. whole run -----------------------------------------------------------------------------

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


# --- 5, 6. published results, validation, calibration -----------------------------------------

def test_published_file_is_sourced_and_validates_the_done_when_targets() -> None:
    points = load_published()
    assert all(p.source and p.unit for p in points)
    rep = validate(points, CAT)
    assert not rep.skipped
    lat = [r for r in rep.rows if r.point.kind == "latency"]
    devices = {r.point.device_id for r in lat}
    assert {"jetson-agx-orin-64gb", "l4", "a100-sxm4-40gb", "jetson-agx-xavier-32gb"} <= devices
    # the roofline lower bound at the deployment precision is at or below every published
    # minimum latency
    for r in lat:
        if r.point.statistic == "min":
            assert r.bound_holds, r.point.id
    # calibrated (leave-one-out) within x1.5 of the published mean for most devices
    means = [r for r in lat if r.point.statistic == "mean"]
    within = [r for r in means if abs(math.log(r.ratio_calibrated)) <= math.log(1.5)]
    assert len(within) > len(means) / 2
    # 7-8 B decoder on H100: energy per output token within x2 at the published concurrency
    llm = [r for r in rep.rows if r.point.kind == "energy_per_token"]
    assert llm and all(abs(math.log(r.ratio_calibrated)) <= math.log(2) for r in llm)
    assert rep.mean_abs_log(True) < rep.mean_abs_log(False)


def test_leave_one_out_a_point_never_calibrates_itself(tmp_path: Path) -> None:
    points = load_published()
    base = {r.point.id: r for r in validate(points, CAT).rows}
    target = points[0]
    from dataclasses import replace

    changed = [replace(p, value=p.value * 7, value_si=p.value_si * 7) if p is target else p
               for p in points]
    moved = {r.point.id: r for r in validate(changed, CAT).rows}
    # its own calibrated estimate does not move when its published value does
    assert moved[target.id].calibrated.value == pytest.approx(base[target.id].calibrated.value)
    # but the others calibrated on it do
    same_cls = [k for k, r in base.items() if k != target.id and r.point.statistic ==
                target.statistic and r.device_class == base[target.id].device_class]
    assert same_cls
    assert any(moved[k].calibrated.value != pytest.approx(base[k].calibrated.value)
               for k in same_cls)


def test_validate_command_table_and_json(cli) -> None:
    r = cli("estimate", "validate")
    assert r.code == 0, r.err
    flat = " ".join(r.out.split())
    assert "median |ln(estimate / published)|" in flat and "calibrated" in flat
    j = cli("estimate", "validate", "--json").json()
    assert j["median_abs_log_error_calibrated"] < j["median_abs_log_error_uncalibrated"]


@pytest.mark.parametrize("edit, message", [
    (lambda row: row.update(source=""), "no source"),
    (lambda row: row.update(unit=""), "no unit"),
    (lambda row: row.update(unit="furlongs"), "unknown unit 'furlongs'"),
    (lambda row: row.update(value="fast"), "value must be a number"),
])
def test_bad_published_file_exits_2(cli, tmp_path: Path, edit, message: str) -> None:
    text = resources.files("inferlca.estimate").joinpath("data/published_results.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    edit(rows[2])
    f = tmp_path / "pub.csv"
    with f.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    r = cli("estimate", "validate", "--published", str(f))
    assert r.code == 2 and message in r.err and r.err.count("\n") == 1
    assert "Traceback" not in r.err


def test_measured_run_faster_than_the_bound_is_not_clipped(tmp_path: Path) -> None:
    from inferlca.estimate.calibration import calibrate
    from inferlca.spec import RunSpec
    from inferlca.store.sqlite import Store

    db = tmp_path / "runs.db"
    with Store.open(db) as store:
        rid = store.create_run(RunSpec(workload="bert-large-squad", device="t4", repetitions=1),
                               kind="measured", device_id="t4", device_name="NVIDIA Tesla T4",
                               meter="nvml", estimated=False)
        store.add_repetition(rid, 0, metrics={"latency_mean_s": 1e-6, "queries": 4.0})
        store.finish_run(rid, "complete")
        cal = calibrate(store, CAT)
    (pair,) = cal.pairs
    assert pair.beats_bound and pair.efficiency > 1  # reported, never clipped to 1
    assert cal.by_device()["t4"].efficiency.value == pytest.approx(pair.efficiency)


# --- 7. the study's StarCoder case, down to gCO2e ----------------------------------------------

def test_study_starcoder_golden_gco2e(cli) -> None:
    """docs/method.md (seed study, roofline): StarCoder, FP32 weights, thesis count over 8192 positions,
    energy = time x TDP, France 79.1 gCO2e/kWh, PUE 1.0 for the edge Xavier and 1.5 for the
    datacenter A100 (the values the study's published figures use), lifetime 7 years."""
    flops = 16_504_754_012_160
    year_s = 365.25 * 86_400
    for dev, peak, tdp, pue in (("jetson-agx-xavier-32gb", 1.41e12, 30, "1.0"),
                                ("a100-sxm4-40gb", 19.5e12, 400, "1.5")):
        r = cli("estimate", "-m", "starcoder", "-d", dev, "--method", "thesis", "--seq-len",
                "8192", "--precision", "fp32", "--grid", "79.1", "--pue", pue,
                "--lifetime-years", "7", "--json")
        assert r.code == 0, r.err
        imp = r.json()["devices"][0]["impact"]
        t = flops / peak
        e_kwh = t * tdp / 3.6e6
        use = e_kwh * 79.1 * float(pue)
        assert imp["use_gco2e"]["value"] == pytest.approx(use)
        alloc = t / (7 * year_s)
        f_kg = imp["device_embodied_kgco2e"]
        f_kg = f_kg["value"] if isinstance(f_kg, dict) else f_kg
        total = use + alloc * f_kg * 1000
        assert imp["total_gco2e"]["value"] == pytest.approx(total)
        # the hand-computed use phase: 0.0077159 g (Xavier) and 0.0111583 g (A100)
        assert use == pytest.approx(0.0077159 if pue == "1.0" else 0.0111583, rel=1e-4)


def test_calibrate_on_published_gives_an_expected_value_with_interval(cli) -> None:
    lb = cli("estimate", "-m", "bert-large", "-d", "jetson-agx-orin-32gb", "--precision", "int8",
             "--json").json()["devices"][0]
    assert lb["kind"] == "lower bound"
    r = cli("estimate", "-m", "bert-large", "-d", "jetson-agx-orin-32gb", "--precision", "int8",
            "--calibrate-on", "published", "--json")
    d = r.json()["devices"][0]
    assert d["kind"] == "expected" and "published latency results of edge devices" in \
        d["efficiency_source"]
    # edge class: the three edge devices' mean-latency efficiencies (bound / published)
    rep = validate([p for p in load_published() if p.kind == "latency"
                    and p.statistic == "mean"], CAT)
    effs = [x.efficiency for x in rep.rows if x.device_class == "edge"]
    geo = math.exp(sum(map(math.log, effs)) / len(effs))
    assert d["efficiency"]["value"] == pytest.approx(geo)
    assert (d["efficiency"]["low"], d["efficiency"]["high"]) == pytest.approx((min(effs), max(effs)))
    assert d["time_per_query_s"]["value"] == pytest.approx(lb["time_per_query_s"]["value"] / geo)
    bad = cli("estimate", "-m", "bert-large", "-d", "t4", "--calibrate-on", "magic")
    assert bad.code == 2 and "--calibrate-on takes 'published'" in bad.err
