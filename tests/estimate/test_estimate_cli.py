"""`inferlca estimate` end to end: the study's StarCoder case, calibration on a real store,
stored estimates read back, the roofline figure, option names shared with `impact`, measured
workload names as models, and bad input (exit 2, one line, listing what is accepted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inferlca.spec import RunSpec
from inferlca.store.sqlite import Store


def test_study_starcoder_xavier_vs_a100(cli) -> None:
    """The seed study's roofline case (docs/method.md): StarCoder, FP32 weights, thesis count over the 8192 positions."""
    r = cli("estimate", "--model", "starcoder", "--device", "jetson-agx-xavier-32gb",
            "--device", "a100-sxm4-40gb", "--method", "thesis", "--seq-len", "8192",
            "--precision", "fp32", "--json")
    assert r.code == 0, r.err
    out = r.json()
    thesis = out["costs"]["thesis"]
    # 40 layers * (8192^2 * 6144 + 2 * 24576 * 6144) = 40 * (412,316,860,416 + 301,989,888)
    assert thesis["flops"] == 16_504_754_012_160
    # 15,517,456,384 parameters * 4 bytes
    assert thesis["bytes"] == 62_069_825_536
    xavier, a100 = out["devices"]
    # Xavier: 1.41 TFLOP/s, 136.5 GB/s -> ridge 10.3 FLOP/B < 265.9: compute-bound
    assert xavier["bound"] == "compute" and a100["bound"] == "compute"
    assert xavier["roof"]["ridge_flop_per_byte"] == pytest.approx(1.41e12 / 136.5e9)
    t_x = 16_504_754_012_160 / 1.41e12   # 11.706 s
    t_a = 16_504_754_012_160 / 19.5e12   # 0.8464 s (catalog: 19.5 TFLOP/s FP32, 400 W)
    assert xavier["time_per_query_s"]["value"] == pytest.approx(t_x)
    assert a100["time_per_query_s"]["value"] == pytest.approx(t_a)
    e_x, e_a = t_x * 30, t_a * 400       # time x TDP: 351.2 J and 338.6 J
    assert xavier["energy_per_query_j"]["tdp"]["value"] == pytest.approx(e_x)
    assert a100["energy_per_query_j"]["tdp"]["value"] == pytest.approx(e_a)
    assert e_x == pytest.approx(351.17, abs=0.01) and e_a == pytest.approx(338.56, abs=0.01)
    # use phase through the impact core: kWh x grid x PUE (edge 1.0, datacenter 1.5 by default)
    for d, e in ((xavier, e_x), (a100, e_a)):
        imp = d["impact"]
        expected = e / 3.6e6 * imp["grid_gco2e_per_kwh"]["value"] * imp["pue"]["value"]
        assert imp["use_gco2e"]["value"] == pytest.approx(expected)
        assert imp["total_gco2e"]["value"] > imp["use_gco2e"]["value"]


def test_faithful_is_side_by_side_and_splits_decoders(cli) -> None:
    r = cli("estimate", "--model", "starcoder", "--device", "a100-sxm4-40gb",
            "--tokens-in", "512", "--tokens-out", "64", "--json")
    out = r.json()
    assert set(out["costs"]) == {"thesis", "faithful"}
    f = out["costs"]["faithful"]
    assert set(f["passes"]) == {"prefill", "decode_step"} and f["decode_steps"] == 63
    d = out["devices"][0]
    assert d["bound"] == "prefill:compute, decode:memory"
    m = d["metrics"]
    assert m["tokens_in"] == 512 and m["tokens_out"] == 64
    assert m["latency_mean_s"] == pytest.approx(m["ttft_p50_s"] + 63 * m["tpot_p50_s"])
    assert m["energy_per_token_j"] == pytest.approx(m["energy_per_query_j"] / 64)
    assert m["energy_prefill_j"] + m["energy_decode_j"] == pytest.approx(m["energy_total_j"])


def test_table_output(cli) -> None:
    r = cli("estimate", "--model", "bert-large", "--device", "t4", "--device", "Orin")
    assert r.code == 0, r.err
    for text in ("thesis", "faithful (used)", "time / query", "GWP total", "NVIDIA Tesla T4",
                 "Jetson AGX Orin 64GB", "bound"):
        assert text in r.out


def test_efficiency_and_utilisation_model(cli) -> None:
    base = cli("estimate", "--model", "bert-large", "--device", "t4", "--json").json()["devices"][0]
    r = cli("estimate", "--model", "bert-large", "--device", "t4", "--efficiency", "0.25..0.5",
            "--power-model", "utilisation", "--idle-fraction", "0.2", "--json")
    d = r.json()["devices"][0]
    t_lb = base["time_per_query_s"]["value"]
    assert d["time_per_query_s"]["low"] == pytest.approx(t_lb / 0.5)
    assert d["time_per_query_s"]["high"] == pytest.approx(t_lb / 0.25)
    # E = TDP * t_lb * (idle + (1 - idle) e) / e; TDP 70 W
    e_low = 70 * t_lb * (0.2 + 0.8 * 0.5) / 0.5
    e_high = 70 * t_lb * (0.2 + 0.8 * 0.25) / 0.25
    util = d["energy_per_query_j"]["utilisation"]
    assert util["low"] == pytest.approx(e_low) and util["high"] == pytest.approx(e_high)
    assert d["power_model"] == "utilisation"
    assert d["metrics"]["energy_per_query_j"] == pytest.approx(util["value"])


def _measured_run(store: Store, device_id: str, name: str, latency_s: float, energy_j: float,
                  workload: str = "bert-large-squad", modelled_power: bool = False) -> str:
    rid = store.create_run(RunSpec(workload=workload, device=device_id, repetitions=1),
                           kind="measured", device_id=device_id, device_name=name,
                           meter="modelled" if modelled_power else "nvml",
                           estimated=modelled_power)
    store.add_repetition(rid, 0, metrics={"latency_mean_s": latency_s, "queries": 16.0,
                                          "energy_per_query_j": energy_j})
    store.finish_run(rid, "complete")
    return rid


def test_calibration_fits_per_class_and_applies_to_unmeasured(cli, tmp_path: Path) -> None:
    # the measured runs below are fp32 (RunSpec's default), so is the bound they are set beside
    lb = {d: cli("estimate", "--model", "bert-large", "--device", d, "--precision", "fp32",
                 "--json").json()["devices"][0] for d in ("t4", "a100-pcie-40gb")}
    db = tmp_path / "runs.db"
    with Store.open(db) as store:
        # T4 ran at a quarter of its roof, the A100 at half (measured latency = bound / e)
        _measured_run(store, "t4", "NVIDIA Tesla T4", lb["t4"]["time_per_query_s"]["value"] / 0.25,
                      energy_j=2 * lb["t4"]["energy_per_query_j"]["tdp"]["value"])
        _measured_run(store, "a100-pcie-40gb", "NVIDIA A100 40GB PCIe",
                      lb["a100-pcie-40gb"]["time_per_query_s"]["value"] / 0.5,
                      energy_j=lb["a100-pcie-40gb"]["energy_per_query_j"]["tdp"]["value"])
        _measured_run(store, "t4", "NVIDIA Tesla T4", 1.0, 1.0, workload="null")  # no model: skipped
    r = cli("estimate", "--model", "bert-large", "--device", "t4", "--device", "l4",
            "--device", "jetson-agx-orin-64gb", "--store", str(db), "--precision", "fp32",
            "--json")
    assert r.code == 0, r.err
    out = r.json()
    cal = out["calibration"]
    ratios = sorted(p["time_ratio"] for p in cal["pairs"])
    assert ratios == pytest.approx([2.0, 4.0])
    assert sorted(p["energy_ratio"] for p in cal["pairs"]) == pytest.approx([1.0, 2.0])
    assert any("no estimator model" in s for s in cal["skipped"])
    # datacenter class: geometric mean of 0.25 and 0.5 = sqrt(0.125), spread 0.25 .. 0.5
    fit = cal["by_class"]["datacenter"]["efficiency"]
    assert fit["value"] == pytest.approx(0.125 ** 0.5)
    assert (fit["low"], fit["high"]) == pytest.approx((0.25, 0.5))
    t4, l4, orin = out["devices"]
    # T4 was measured: its own efficiency (one run: 0.25 with the x/÷2 interval)
    assert t4["efficiency"] == pytest.approx({"value": 0.25, "low": 0.125, "high": 0.5})
    assert "this device" in t4["efficiency_source"]
    # L4 never measured: the datacenter fit, and its time interval follows it
    assert l4["efficiency"] == pytest.approx(fit)
    assert "never measured" in l4["efficiency_source"]
    assert l4["time_per_query_s"]["high"] / l4["time_per_query_s"]["low"] == pytest.approx(2.0)
    # no edge device measured: the lower bound
    assert orin["efficiency"]["value"] == 1.0 and "lower bound" in orin["efficiency_source"]
    # the table shows the calibration
    table = cli("estimate", "--model", "bert-large", "--device", "l4", "--store", str(db))
    flat = " ".join(table.out.split())
    assert "Calibration" in flat and "time ratio" in flat


def test_saved_estimates_read_back_like_measured_runs(cli, tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    r = cli("estimate", "--model", "gpt2", "--device", "t4", "--device", "jetson-agx-orin-64gb",
            "--tokens-in", "64", "--tokens-out", "16", "--queries", "16", "--store", str(db),
            "--save", "--label", "est", "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert len(out["saved_run_ids"]) == 2
    with Store.open(db) as store:
        runs = store.list_runs(kind="estimated")
        assert [run.device_id for run in runs] == ["t4", "jetson-agx-orin-64gb"]
        for run, dev in zip(runs, out["devices"]):
            assert run.estimated and not run.measured and run.status == "complete"
            assert run.workload == "llm-generate" and run.label == "est" and run.queries == 16
            assert run.spec["extra"]["estimate"]["model"] == "gpt2"
            metrics = run.repetitions[0].metrics
            assert metrics == pytest.approx(dev["metrics"])
            for key in ("duration_s", "energy_total_j", "energy_per_query_j", "latency_p99_s",
                        "ttft_p50_s", "tpot_p50_s", "energy_per_token_j", "tokens_out"):
                assert key in metrics
            assert metrics["energy_total_j"] == pytest.approx(16 * metrics["energy_per_query_j"])
            assert run.metric("tpot_p50_s") == pytest.approx(dev["tpot_s"]["value"])
            assert run.impact("total_gco2e") == pytest.approx(dev["impact"]["total_gco2e"]["value"])
            assert run.summary["measured"] is False
            assert any("estimated" in n for n in run.notes)
        # estimated runs never calibrate the estimator
        again = cli("estimate", "--model", "gpt2", "--device", "t4", "--store", str(db), "--json")
        assert again.json()["calibration"]["pairs"] == []


def test_roofline_figure(cli, tmp_path: Path) -> None:
    r = cli("estimate", "--model", "llama-3-8b", "--device", "h100-sxm5-80gb", "--device",
            "jetson-agx-orin-64gb", "--precision", "fp32", "--plot", str(tmp_path), "--json")
    assert r.code == 0, r.err
    png, svg = (Path(p) for p in r.json()["figures"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    text = svg.read_text()
    assert "<svg" in text and "H100" in text and "Orin" in text and "decode (memory)" in text


def test_config_json_model(cli, tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "estimate" / "minilm-l6"
    r = cli("estimate", "--model", str(fixture), "--device", "t4", "--seq-len", "128", "--json")
    assert r.code == 0, r.err
    assert r.json()["model"]["parameters"] == 22_713_216
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"model_type": "llama", "hidden_size": 64}))
    r = cli("estimate", "--model", str(bad), "--device", "t4")
    assert r.code == 2
    assert "num_hidden_layers" in r.err and "intermediate_size" in r.err and "Traceback" not in r.err


@pytest.mark.parametrize("args, expected", [
    (["--model", "bert-larg", "--device", "t4"], "unknown model 'bert-larg'; did you mean"),
    (["--model", "gpt2", "--device", "t44"], "unknown device 't44'"),
    (["--model", "gpt2", "--device", "t4", "--tokens-out", "0"], "--tokens-out must be"),
    (["--model", "gpt2", "--device", "t4", "--tokens-in", "-5"], "--tokens-in must be"),
    (["--model", "bert-large", "--device", "t4", "--seq-len", "0"], "--seq-len must be"),
    (["--model", "bert-large", "--device", "t4", "--seq-len", "600"], "exceeds the 512 positions"),
    # the T4 has an INT8 rate since issue 13; the GTX 1080 Ti (no tensor cores) has none
    (["--model", "gpt2", "--device", "gtx-1080-ti", "--precision", "int8"],
     ("lacks int8 peak FLOP/s (catalog has: fp32 11.34 (TFLOP/s); pick one of those with "
      "--precision, or give --peak-flops")),
    # a CPU without a sourced memory bandwidth asks for it (epyc-9654 has one since AMD's spec sheet)
    (["--model", "gpt2", "--device", "epyc-9755"], "give --bandwidth-gbs"),
    (["--model", "gpt2", "--device", "t4", "--method", "exact"], "unknown estimate method"),
    (["--model", "gpt2", "--device", "t4", "--efficiency", "0"], "--efficiency must be > 0"),
    (["--model", "gpt2", "--device", "t4", "--memory-method", "volume"], "unknown memory method"),
])
def test_bad_input_exits_2_with_one_line(cli, args: list[str], expected: str) -> None:
    r = cli("estimate", *args)
    assert r.code == 2
    assert expected in r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err


def test_missing_values_accepted_as_options(cli) -> None:
    r = cli("estimate", "--model", "gpt2", "--device", "t4", "--precision", "int8",
            "--peak-flops", "130e12", "--json")
    assert r.code == 0, r.err
    d = r.json()["devices"][0]
    assert d["roof"]["peak_flops"] == 130e12 and d["roof"]["given_by_user"] == ["peak_flops"]
    r = cli("estimate", "--model", "gpt2", "--device", "epyc-9654", "--peak-flops", "5e12",
            "--bandwidth-gbs", "460.8", "--tdp", "360", "--json")
    assert r.code == 0, r.err
    assert r.json()["devices"][0]["roof"]["bandwidth_gbs"] == pytest.approx(460.8)


def test_subprocess_entry_point(cli_subprocess, tmp_path: Path) -> None:
    # --save without --store writes to $INFERLCA_STORE
    db = tmp_path / "env.db"
    r = cli_subprocess("estimate", "--model", "tiny-gpt2", "--device", "t4", "--tokens-in", "8",
                       "--tokens-out", "4", "--save", "--json", INFERLCA_STORE=str(db))
    assert r.code == 0, r.err
    with Store.open(db) as store:
        assert [run.kind for run in store.list_runs()] == ["estimated"]
    # the golden tiny count (see test_estimate_flops.py)
    assert r.json()["costs"]["faithful"]["flops"] == 2_722_816


def test_model_for_run_maps_the_measured_workloads() -> None:
    from inferlca.estimate.calibration import model_for_run

    def spec(**kw):
        return RunSpec(**kw).to_dict()

    assert model_for_run(spec(workload="bert-large-squad"))[0].name == "bert-large"
    tiny, lengths = model_for_run(spec(workload="bert-large-squad", preset="tiny"))
    assert (tiny.name, tiny.layers, tiny.hidden, lengths) == ("bert-tiny", 2, 128, {"seq_len": 128})
    m, lengths = model_for_run(spec(workload="llm-generate", preset="tiny", max_new_tokens=8))
    assert (m.name, m.vocab, m.max_positions, lengths) == ("llm-tiny", 512, 256, {"tokens_out": 8})
    assert model_for_run(spec(workload="minilm-embed"))[0].name == "minilm-l6"
    assert model_for_run(spec(workload="null")) is None


def test_decoder_runs_calibrate_through_ttft_and_tpot(cli, tmp_path: Path) -> None:
    # measured runs are fp32 (RunSpec's default): so is the bound they are set beside
    est = cli("estimate", "--model", "gpt2", "--device", "t4", "--tokens-in", "32",
              "--tokens-out", "9", "--precision", "fp32", "--json").json()["devices"][0]
    db = tmp_path / "runs.db"
    with Store.open(db) as store:
        rid = store.create_run(RunSpec(workload="llm-generate", preset="gpt2", max_new_tokens=9),
                               kind="measured", device_id="t4", device_name="NVIDIA Tesla T4",
                               meter="nvml", estimated=False)
        # measured 3 x slower than the roofline in prefill and decode alike
        store.add_repetition(rid, 0, metrics={
            "tokens_in": 32.0, "tokens_out": 9.0, "ttft_p50_s": 3 * est["ttft_s"]["value"],
            "tpot_p50_s": 3 * est["tpot_s"]["value"], "energy_per_token_j": 0.5})
        store.finish_run(rid, "complete")
    out = cli("estimate", "--model", "gpt2", "--device", "t4", "--tokens-in", "32",
              "--tokens-out", "9", "--store", str(db), "--precision", "fp32", "--json").json()
    (pair,) = out["calibration"]["pairs"]
    # ttft + (9 - 1) tpot, measured over estimated
    assert pair["time_ratio"] == pytest.approx(3.0)
    # energy: 0.5 J/token x 9 tokens over (lower-bound time x 70 W)
    assert pair["energy_ratio"] == pytest.approx(4.5 / (est["time_per_query_s"]["value"] * 70))
    assert out["devices"][0]["efficiency"]["value"] == pytest.approx(1 / 3)


def test_calibrate_command_lists_pairs_and_fits(cli, tmp_path: Path) -> None:
    lb = cli("estimate", "--model", "bert-large", "--device", "l4", "--precision", "fp32",
             "--json").json()["devices"][0]
    db = tmp_path / "runs.db"
    with Store.open(db) as store:
        _measured_run(store, "l4", "NVIDIA L4", lb["time_per_query_s"]["value"] * 5, 1.0)
        _measured_run(store, "jetson-agx-xavier-16gb", "Xavier", 0.5, 1.0, workload="null")
        # timed by LoadGen, power modelled: a time ratio but no energy ratio
        _measured_run(store, "l4", "NVIDIA L4", lb["time_per_query_s"]["value"] * 2.5, 1.0,
                      modelled_power=True)
    r = cli("calibrate", "--store", str(db), "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert [p["time_ratio"] for p in out["pairs"]] == pytest.approx([5.0, 2.5])
    assert [p["energy_ratio"] is None for p in out["pairs"]] == [False, True]
    # geometric mean of 0.2 and 0.4
    assert out["by_class"]["datacenter"]["efficiency"]["value"] == pytest.approx(0.08 ** 0.5)
    assert len(out["skipped"]) == 1
    table = cli("calibrate", "--store", str(db))
    flat = " ".join(table.out.split())
    assert "class datacenter: efficiency 0.283 [0.200 - 0.400]" in flat and "skipped" in flat
    assert cli("calibrate", "--store", str(db), "--method", "nope").code == 2


def test_figure_shows_measured_runs(cli, tmp_path: Path) -> None:
    lb = cli("estimate", "--model", "bert-large", "--device", "t4", "--precision", "fp32",
             "--json").json()["devices"][0]
    db = tmp_path / "runs.db"
    with Store.open(db) as store:
        rid = _measured_run(store, "t4", "NVIDIA Tesla T4", lb["time_per_query_s"]["value"] * 4, 1.0)
    r = cli("estimate", "--model", "bert-large", "--device", "t4", "--store", str(db),
            "--plot", str(tmp_path / "fig"), "--precision", "fp32", "--json")
    (pair,) = r.json()["calibration"]["pairs"]
    # achieved FLOP/s = FLOPs / measured time = a quarter of the attainable (compute roof)
    assert pair["achieved_flops"] == pytest.approx(pair["flops"] / pair["measured_time_s"])
    assert pair["achieved_flops"] == pytest.approx(lb["points"]["sequence"]["attainable_flops"] / 4)
    svg = Path(r.json()["figures"][1]).read_text()
    assert f"measured {rid[:8]} (25% of roof)" in svg


def test_lifetime_years_as_in_impact(cli) -> None:
    r = cli("estimate", "-m", "bert-large", "-d", "h100", "--lifetime-years", "4..7", "--json")
    assert r.code == 0, r.err
    assert r.json()["devices"][0]["impact"]["lifetime_years"] == {"value": 5.5, "low": 4.0,
                                                                   "high": 7.0}
    # the older spelling still works
    old = cli("estimate", "-m", "bert-large", "-d", "h100", "--lifetime", "4..7", "--json")
    assert old.code == 0 and old.json()["devices"][0]["impact"]["lifetime_years"]["low"] == 4.0
    bad = cli("estimate", "-m", "bert-large", "-d", "h100", "--lifetime-years", "7..4")
    assert bad.code == 2 and "--lifetime-years: inverted interval" in bad.err


def test_measured_workload_names_are_models(cli) -> None:
    # `inferlca run -w bert-base-squad` users type the same name here
    r = cli("estimate", "-m", "bert-base-squad", "-d", "t4", "--json")
    assert r.code == 0, r.err
    assert r.json()["model"]["name"] == "bert-base"


@pytest.mark.parametrize("args,accepted", [
    (["--method", "x"], "(accepted: thesis, faithful)"),
    (["--power-model", "x"], "(accepted: tdp, utilisation)"),
    (["--precision", "fp64"], "(accepted: fp32, tf32, fp16, bf16, fp8, int8, int4)"),
])
def test_unknown_names_list_what_is_accepted(cli, args, accepted) -> None:
    r = cli("estimate", "-m", "bert-large", "-d", "h100", *args)
    assert r.code == 2 and accepted in r.err


def test_calibration_energy_is_the_compute_phase(cli, tmp_path) -> None:
    """Regression: the energy ratio used energy_per_query_j, which carries the model-loading
    energy (57.9 of 74.6 J in a real 4-query tiny run), while the estimate has none."""
    from inferlca.spec import RunSpec
    from inferlca.store.sqlite import Store

    # the measured run is fp32 (RunSpec's default), so is the bound
    lb = cli("estimate", "-m", "bert-large", "-d", "l4", "--precision", "fp32",
             "--json").json()["devices"][0]
    e_lb = lb["energy_per_query_j"]["tdp"]["value"]
    db = tmp_path / "runs.db"
    with Store.open(db) as store:
        rid = store.create_run(RunSpec(workload="bert-large-squad", device="l4", repetitions=1),
                               kind="measured", device_id="l4", device_name="NVIDIA L4",
                               meter="nvml", estimated=False)
        store.add_repetition(rid, 0, metrics={
            "latency_mean_s": 2 * lb["time_per_query_s"]["value"], "queries": 4.0,
            "energy_per_query_j": 10 * e_lb,            # load + compute, per query
            "energy_per_query_compute_j": 3 * e_lb})    # compute phase only
        store.finish_run(rid, "complete")
    pair = cli("calibrate", "--store", str(db), "--json").json()["pairs"][0]
    assert pair["energy_ratio"] == pytest.approx(3.0)
    assert pair["time_ratio"] == pytest.approx(2.0)


def test_saved_bert_base_estimate_is_the_bert_base_squad_workload(cli, tmp_path) -> None:
    """Regression: saved as workload 'bert-base', so `compare` refused to set it beside a
    measured bert-base-squad run."""
    from inferlca.store.sqlite import Store

    db = tmp_path / "runs.db"
    r = cli("estimate", "-m", "bert-base", "-d", "t4", "--store", str(db), "--save", "--json")
    assert r.code == 0, r.err
    with Store.open_readonly(db) as store:
        run = store.get_run(r.json()["saved_run_ids"][0])
    assert run.workload == "bert-base-squad" and run.kind == "estimated"


def test_store_that_does_not_exist_is_an_error_without_save(cli, tmp_path) -> None:
    """Regression: a mistyped --store created an empty store and calibrated on nothing."""
    missing = tmp_path / "typo.db"
    r = cli("estimate", "-m", "bert-large", "-d", "t4", "--store", str(missing))
    assert r.code == 2 and "no results store" in r.err
    assert not missing.exists()
    # --save creates it
    r = cli("estimate", "-m", "bert-large", "-d", "t4", "--store", str(missing), "--save")
    assert r.code == 0, r.err
    assert missing.exists()
