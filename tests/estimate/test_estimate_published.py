"""Estimates held against published measurements: the sourced file, validation and leave-one-out
calibration, measured runs as calibration points, and the study's StarCoder case down to its
gCO2e."""


from __future__ import annotations

import csv
import math
from importlib import resources
from pathlib import Path

import pytest

from inferlca.estimate.published import load_published, validate
from inferlca.hardware.catalog import get_catalog

CAT = get_catalog()


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
