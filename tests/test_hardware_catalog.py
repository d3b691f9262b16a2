"""The device catalog: every row valid and sourced, lookup by id / name / alias."""

from __future__ import annotations

import math

import pytest

from inferlca.errors import InputFileError, UnknownNameError
from inferlca.hardware.catalog import (
    CATEGORIES,
    KINDS,
    PRECISIONS,
    Catalog,
    Device,
    get_catalog,
    normalize_name,
    parse_devices,
)

CAT = get_catalog()

# every device the seed study covered (docs/method.md, "Seed study"), plus those the issue adds (by catalog id)
STUDY_AND_ISSUE_DEVICES = [
    "a100-sxm4-40gb", "a40", "rtx-a5000", "jetson-agx-xavier-32gb", "jetson-agx-xavier-16gb",
    "gtx-1080-ti", "l40", "quadro-p6000", "quadro-rtx-6000", "quadro-rtx-8000", "rtx-2080-ti",
    "h100-sxm5-80gb", "l40s", "tesla-m2075", "p100-pcie-16gb", "t4", "v100-pcie-32gb",
    "jetson-agx-orin-64gb", "jetson-agx-orin-32gb", "h200-sxm-141gb", "b200", "l4", "rtx-4090",
    "jetson-orin-nano-8gb", "jetson-orin-nx-16gb",
]


def test_at_least_30_devices_and_the_required_ones():
    assert len(CAT) >= 30
    ids = set(CAT.ids())
    missing = [d for d in STUDY_AND_ISSUE_DEVICES if d not in ids]
    assert not missing
    cpus = CAT.devices(kind="cpu")
    assert len(cpus) >= 3
    names = " ".join(d.name for d in cpus)
    assert "Xeon" in names and "EPYC" in names and ("Ryzen" in names or "Core" in names)


@pytest.mark.parametrize("dev", list(CAT), ids=lambda d: d.id)
def test_every_row_is_valid_and_sourced(dev: Device):
    assert dev.id == dev.id.lower() and " " not in dev.id
    assert dev.category in CATEGORIES and dev.kind in KINDS
    assert dev.sources.get("specs"), f"{dev.id}: no source for its specs"
    # a value that is present must come with the source of its group
    if dev.die_area_mm2 is not None:
        assert dev.sources.get("die") and 20 <= dev.die_area_mm2 <= 2500
        assert dev.process_node_nm is not None and 3 <= dev.process_node_nm <= 65
    else:
        assert dev.notes, f"{dev.id}: missing die area needs a note"
    if dev.die_area_low_mm2 is not None or dev.die_area_high_mm2 is not None:
        assert dev.die_area_low_mm2 <= dev.die_area_mm2 <= dev.die_area_high_mm2
    if dev.memory_gb is not None:
        assert dev.sources.get("memory") and 1 <= dev.memory_gb <= 512 and dev.memory_type
    if dev.bandwidth_gbs is not None:
        assert 10 <= dev.bandwidth_gbs <= 20000
    if dev.tdp_w is not None:
        assert 1 <= dev.tdp_w <= 1500  # edge AI accelerators draw about 2 W (Edge TPU, Hailo-8)
    if dev.peak_flops:
        assert dev.sources.get("performance")
    for prec, flops in dev.peak_flops.items():
        assert prec in PRECISIONS
        assert 1e11 <= flops <= 1e16 and math.isfinite(flops)  # FLOP/s, not TFLOP/s
    if dev.dies:
        total = sum(d.count * d.area_mm2 for d in dev.dies)
        assert total == pytest.approx(dev.die_area_mm2, rel=0.01)
    assert dev.release_year is None or 2009 <= dev.release_year <= 2026
    if dev.kind == "soc":
        assert dev.category == "edge"


def test_peak_flops_are_in_flop_per_second():
    a100 = CAT.get("a100-sxm4-40gb")
    assert a100.peak_flops["fp32"] == pytest.approx(19.5e12)
    assert a100.peak_flops["fp16"] == pytest.approx(312e12)
    assert a100.peak_flops["int8"] == pytest.approx(624e12)
    # Orin's 275 TOPS headline is sparse INT8 with the DLAs: it must not appear as a dense peak
    assert "int8" not in CAT.get("jetson-agx-orin-64gb").peak_flops


@pytest.mark.parametrize("name,expected", [
    ("NVIDIA A100-SXM4-40GB", "a100-sxm4-40gb"),        # NVML
    ("NVIDIA A100-PCIE-40GB", "a100-pcie-40gb"),
    ("NVIDIA H100 80GB HBM3", "h100-sxm5-80gb"),
    ("Tesla T4", "t4"),
    ("tesla t4", "t4"),
    ("Tesla V100-SXM2-16GB", "v100-sxm2-16gb"),         # the name in the recorded V100 log
    ("NVIDIA GeForce RTX 4090", "rtx-4090"),
    ("geforce_rtx-4090", "rtx-4090"),
    ("H100", "h100-sxm5-80gb"),
    ("h100 sxm5 80gb", "h100-sxm5-80gb"),
    ("Intel(R) Xeon(R) Platinum 8480+", "xeon-platinum-8480plus"),  # /proc/cpuinfo
    ("AMD EPYC 9654 96-Core Processor", "epyc-9654"),
    ("AMD Ryzen 9 7950X 16-Core Processor", "ryzen-9-7950x"),
    ("13th Gen Intel(R) Core(TM) i9-13900K", "core-i9-13900k"),
    ("Jetson AGX Orin", "jetson-agx-orin-64gb"),
])
def test_lookup_is_case_and_punctuation_insensitive(name, expected):
    assert CAT.get(name).id == expected
    assert CAT.find(name).id == expected


def test_unknown_device_suggests():
    with pytest.raises(UnknownNameError) as ei:
        CAT.get("h100x")  # ("h10" now suggests the A10 / A10G first)
    assert "did you mean" in str(ei.value) and "H100" in str(ei.value)
    assert ei.value.exit_code == 2
    assert CAT.find("no such gpu") is None


def test_plus_sign_is_significant():
    assert normalize_name("Xeon 8480+") != normalize_name("Xeon 8480")
    assert CAT.find("Xeon 8480") is None


def test_devices_filter_and_bad_category():
    edge = CAT.devices(category="edge")
    assert edge and all(d.category == "edge" for d in edge)
    with pytest.raises(UnknownNameError):
        CAT.devices(category="mobile")


def test_duplicate_alias_is_rejected():
    text = ("id,name,aliases,vendor,category,kind,src_specs\n"
            "a,A,shared,X,edge,gpu,tpu\n"
            "b,B,shared,X,edge,gpu,tpu\n")
    with pytest.raises(InputFileError, match="used by both"):
        Catalog(parse_devices(text, {"tpu": "a source"}))


def test_unknown_source_key_is_rejected():
    text = "id,name,aliases,vendor,category,kind,src_specs\na,A,,X,edge,gpu,nowhere\n"
    with pytest.raises(InputFileError, match="unknown source"):
        parse_devices(text, {"tpu": "a source"})


def test_orin_die_area_decision_is_documented():
    orin = CAT.get("jetson-agx-orin-64gb")
    # 17e9 transistors / (28.3e9 / 628 mm2) = 377.2 mm2
    assert orin.die_area_mm2 == pytest.approx(17e9 / (28.3e9 / 628), abs=0.5)
    assert orin.die_area_low_mm2 < orin.die_area_mm2 < orin.die_area_high_mm2
    assert "placeholder" in orin.notes and "200" in orin.notes
    assert "17" in orin.sources["die"]
