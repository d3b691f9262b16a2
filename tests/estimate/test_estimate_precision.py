"""Precision follows the deployment: arithmetic rates per precision, each with its source, and
the serving precision chosen by default and printed."""


from __future__ import annotations

import csv
from importlib import resources

import pytest

from inferlca.estimate.rates import default_precision, peak_for, rates_for
from inferlca.hardware.catalog import get_catalog

CAT = get_catalog()


def test_every_rate_row_has_a_source_and_a_catalogued_device() -> None:
    text = resources.files("inferlca.estimate").joinpath("data/device_rates.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) > 60
    for r in rows:
        assert r["source"].strip(), r
        assert CAT.find(r["device_id"]) is not None, r["device_id"]
        if r["sparse_tflops"]:
            assert float(r["sparse_tflops"]) >= float(r["dense_tflops"])


def test_edge_and_older_devices_have_their_low_precision_rates() -> None:
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
