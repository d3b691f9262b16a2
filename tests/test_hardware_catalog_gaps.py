"""Issue 14 catalog gaps: Raspberry Pi 5, Coral Edge TPU, Hailo-8, GH200, GB200, EPYC 9005 and
Xeon 6 rows, each figure with its source; unpublished die areas left empty (never invented), and
a detected CPU whose area is unpublished gets a flagged archetype footprint of its own vendor."""

from __future__ import annotations

import pytest

from inferlca.hardware.archetypes import vendor_of
from inferlca.hardware.catalog import get_catalog
from inferlca.lca.embodied import EmbodiedUnavailableError, embodied_footprint

CAT = get_catalog()
NEW = ["raspberry-pi-5-8gb", "coral-edge-tpu", "hailo-8", "gh200-96gb", "gb200-gpu", "epyc-9755",
       "epyc-9965", "xeon-6980p", "xeon-6780e"]


@pytest.mark.parametrize("dev_id", NEW)
def test_new_rows_are_sourced_and_unpublished_areas_stay_empty(dev_id):
    d = CAT.get(dev_id)
    assert d.sources.get("specs") and d.release_year in (2019, 2020, 2023, 2024)
    if d.die_area_mm2 is None:
        assert "NOT published" in d.notes or "not in a stored source" in d.notes
        with pytest.raises(EmbodiedUnavailableError):
            embodied_footprint(d)


def test_sourced_figures():
    assert CAT.get("coral-edge-tpu").peak_flops["int8"] == 4e12 and CAT.get("coral-edge-tpu").tdp_w == 2
    assert CAT.get("hailo-8").peak_flops["int8"] == 26e12 and CAT.get("hailo-8").tdp_w == 2.5
    pi = CAT.get("raspberry-pi-5-8gb")
    assert pi.process_node_nm == 16 and pi.memory_type == "LPDDR4X"
    assert pi.bandwidth_gbs == pytest.approx(32 / 8 * 4267 / 1000, rel=1e-3)
    gh = CAT.get("gh200-96gb")
    assert (gh.memory_gb, gh.memory_type, gh.tdp_w) == (96, "HBM3", 1000)
    gb = CAT.get("gb200-gpu")
    assert (gb.memory_gb, gb.tdp_w) == (186, 1200) and gb.peak_flops["fp16"] == 2.5e15
    gnr = CAT.get("xeon-6980p")  # 3 compute tiles of ~598 mm2 + 2 I/O tiles of ~241 mm2
    assert gnr.die_area_mm2 == pytest.approx(3 * 598 + 2 * 241)
    assert gnr.die_area_low_mm2 < gnr.die_area_mm2 < gnr.die_area_high_mm2
    e = embodied_footprint(gnr)
    assert e.total_kg.low < e.total_kg.value < e.total_kg.high


def test_names_that_tools_report_find_the_rows():
    assert CAT.find("NVIDIA GH200 480GB").id == "gh200-96gb"
    assert CAT.find("Raspberry Pi 5 Model B Rev 1.0").id == "raspberry-pi-5-8gb"
    assert CAT.find("AMD EPYC 9755 128-Core Processor").id == "epyc-9755"


def test_amd_names_with_core_are_amd():
    # "128-Core Processor" holds "core": AMD must still be AMD
    assert vendor_of("AMD EPYC 9755 128-Core Processor") == "AMD"
    assert vendor_of("AMD Ryzen 7 5800X 8-Core Processor") == "AMD"
    assert vendor_of("Intel(R) Core(TM) i7-1185G7") == "Intel"


def test_detected_cpu_with_unpublished_area_gets_its_vendors_archetype(tmp_path):
    from inferlca.hardware.detect import detect_device

    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: AMD EPYC 9755 128-Core Processor\n"
                    "flags\t\t: fpu sse\n")
    none = tmp_path / "none"
    d = detect_device(use_nvml=False, device_tree_model=none, cpuinfo=info, chassis_type=none)
    assert d.device.archetype == "amd-server"
    assert any("die area is not published" in n and "ARCHETYPE" in n for n in d.notes)
    f = embodied_footprint(d.device).total_kg
    assert 0 < f.low < f.value < f.high
