"""Recorded idle power per device (estimate/data/device_idle.csv): sourced, within the catalog,
the fixture-backed rows recomputed from the copied logs, and the output names the devices still
on the default fraction of TDP."""

from __future__ import annotations

import csv
import re
from importlib import resources
from pathlib import Path

import pytest

from inferlca.estimate.api import estimate
from inferlca.estimate.power import idle_fraction_default, idle_power_w, recorded_idle_devices
from inferlca.hardware.catalog import get_catalog

CAT = get_catalog()
LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "power-logs"


def _rows() -> list[dict[str, str]]:
    text = resources.files("inferlca.estimate").joinpath("data/device_idle.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def test_every_row_is_sourced_and_catalogued() -> None:
    rows = _rows()
    assert len(rows) >= 14
    ids = [r["device_id"] for r in rows]
    assert len(ids) == len(set(ids))
    for r in rows:
        assert r["source"].strip(), r["device_id"]
        CAT.get(r["device_id"])  # raises for an unknown id
        w = float(r["idle_w"])
        lo = float(r["idle_low_w"] or w)
        hi = float(r["idle_high_w"] or w)
        assert 0 < lo <= w <= hi
        tdp = CAT.get(r["device_id"]).tdp_w
        assert tdp is None or w < tdp


def _rail(line: str, name: str) -> float:
    m = re.search(rf"\b{name} (\d+)(?:mW)?/", line)
    assert m, (name, line[:80])
    return float(m.group(1))


def test_fixture_rows_recomputed_from_the_logs() -> None:
    nano = (LOGS / "tegrastats_nano_4gb_r32_1.log").read_text().splitlines()
    tx2 = (LOGS / "tegrastats_tx2_8gb_r32_1.log").read_text().splitlines()
    single = (LOGS / "tegrastats_single_line_fixtures.log").read_text().splitlines()
    orin = (LOGS / "tegrastats_orin_agx64_r36_1.log").read_text().splitlines()
    want = {
        "jetson-nano-4gb": _rail(nano[0], "POM_5V_IN") / 1000,
        "jetson-tx2": _rail(tx2[1], "VDD_IN") / 1000,
        "jetson-orin-nano-8gb": _rail(single[1], "VDD_IN") / 1000,
        "jetson-orin-nx-16gb": _rail(single[8], "VDD_IN") / 1000,
        "jetson-agx-xavier-32gb": sum(_rail(single[6], n) for n in
                                      ("GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V")) / 1000,
        "jetson-agx-xavier-16gb": sum(_rail(single[11], n) for n in
                                      ("GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V")) / 1000,
        "jetson-agx-orin-64gb": sum(_rail(orin[0], n) for n in
                                    ("VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0")) / 1000,
    }
    for line in (nano[0], tx2[1], single[1], single[8], single[6], single[11], orin[0]):
        assert re.search(r"GR3D_FREQ 0%", line)  # the GPU was idle in every sample used
    got = {r["device_id"]: float(r["idle_w"]) for r in _rows()}
    for dev, w in want.items():
        assert got[dev] == pytest.approx(w, abs=1e-9), dev
    # hand sums: Xavier 32GB 0+311+932+0+621+1482 mW, Orin 64GB 2801+400+4536 mW
    assert want["jetson-agx-xavier-32gb"] == pytest.approx(3.346)
    assert want["jetson-agx-orin-64gb"] == pytest.approx(7.737)


def test_idle_power_recorded_with_interval_else_fraction() -> None:
    u, note = idle_power_w("a100-sxm4-80gb", 400.0)
    assert (u.value, u.low, u.high) == pytest.approx((61.85, 58.99, 62.13))
    assert "recorded idle 61.85 [58.99 - 62.13] W" in note
    u, note = idle_power_w("h100-sxm5-80gb", 700.0)
    f = idle_fraction_default()
    assert (u.value, u.low, u.high) == pytest.approx((700 * f.value, 700 * f.low, 700 * f.high))
    assert "default fraction of TDP" in note
    assert "h100-sxm5-80gb" not in recorded_idle_devices()


def test_whole_run_uses_recorded_idle_and_names_the_rest() -> None:
    res = estimate("bert-large", [CAT.get("jetson-nano-4gb"), CAT.get("h100-sxm5-80gb"),
                                  CAT.get("t4")], precision="fp32", queries=4, whole_run=True,
                   idle_s=10.0)
    nano = res.devices[0]
    assert nano.phases["idle"]["energy_j"].value == pytest.approx(0.92 * 10.0)
    (line,) = [n for n in res.notes if n.startswith("idle power still from the default")]
    assert line.endswith("NVIDIA H100 SXM5 80GB, NVIDIA Tesla T4")
    assert "Jetson Nano" not in line
