"""AMD (amdgpu) and Intel (i915, xe) GPU meters on fake hwmon sysfs trees under tmp_path, and the
amdsmi meter against a fake ``amdsmi``-shaped module (the vendor boundary)."""

from __future__ import annotations

import os

import pytest

from inferlca.errors import MeterUnavailableError
from inferlca.meters.amdgpu import AmdGpuMeter, AmdSmiMeter
from inferlca.meters.intelgpu import IntelGpuMeter
from inferlca.meters.registry import open_meter
from inferlca.meters.sampler import Sampler
from inferlca.traces.energy import energy
from inferlca.traces.scope import measurement_scope


def hwmon(root, n, name, files, pci=None):
    d = root / f"hwmon{n}"
    d.mkdir(parents=True)
    (d / "name").write_text(name + "\n")
    for k, v in files.items():
        (d / k).write_text(f"{v}\n")
    if pci:
        target = root / "devices" / pci
        target.mkdir(parents=True, exist_ok=True)
        os.symlink(target, d / "device")
    return d


def test_amdgpu_power_average_in_microwatts_is_flagged_averaged(tmp_path):
    root = tmp_path / "hwmon"
    hwmon(root, 0, "k10temp", {"temp1_input": 45000})  # a CPU sensor: ignored
    d = hwmon(root, 1, "amdgpu", {"power1_average": 35_000_000, "power1_label": "PPT"},
              pci="0000:03:00.0")
    ok, why = AmdGpuMeter.probe(root=root)
    assert ok and "power1_average" in why
    m = AmdGpuMeter(root=root)
    assert m.channels == ["amdgpu0"] and m.primary == "amdgpu0" and m.counter_channels == []
    assert m.read().power_w == {"amdgpu0": 35.0}
    (d / "power1_average").write_text("120500000\n")
    assert m.read().power_w["amdgpu0"] == pytest.approx(120.5)
    assert m.averaging_s == 1.0 and m.meta()["sensor_update_s"] == 1.0
    dev = m.devices()[0]
    assert dev["pci"] == "0000:03:00.0" and dev["label"] == "PPT"
    assert m.meta()["measurement_scope"] == "accelerator"


def test_amdgpu_two_cards_prefer_power_input_and_sum(tmp_path):
    root = tmp_path / "hwmon"
    hwmon(root, 2, "amdgpu", {"power1_input": 200_000_000, "power1_average": 1})
    hwmon(root, 3, "amdgpu", {"power1_input": 50_250_000})
    m = AmdGpuMeter(root=root)
    r = m.read()
    assert r.power_w == {"amdgpu0": 200.0, "amdgpu1": 50.25, "amdgpus": 250.25}
    assert m.primary == "amdgpus" and m.averaging_s is None


def test_amdgpu_unreadable_file_is_a_gap_not_a_zero(tmp_path):
    root = tmp_path / "hwmon"
    d = hwmon(root, 0, "amdgpu", {"power1_input": 10_000_000})
    m = AmdGpuMeter(root=root)
    (d / "power1_input").write_text("garbage\n")
    r = m.read()
    assert r.power_w["amdgpu0"] != r.power_w["amdgpu0"]  # NaN
    assert "amdgpu0" in r.errors


def test_no_amd_gpu_is_unavailable_with_the_reason(tmp_path):
    root = tmp_path / "hwmon"
    hwmon(root, 0, "nvme", {"temp1_input": 1})
    assert not AmdGpuMeter.probe(root=root)[0]
    with pytest.raises(MeterUnavailableError, match="no AMD GPU hwmon device"):
        open_meter("amdgpu", root=root)


def test_intel_xe_card_energy_counter_golden(tmp_path):
    root = tmp_path / "hwmon"
    d = hwmon(root, 4, "xe", {"energy1_input": 5_000_000, "energy1_label": "card",
                              "energy2_input": 4_000_000, "energy2_label": "pkg"})
    m = IntelGpuMeter(root=root)
    assert m.counter_channels == ["intelgpu0"]
    (d / "energy1_input").write_text(f"{5_000_000 + 12_500_000}\n")  # +12.5 J on the card
    (d / "energy2_input").write_text(f"{4_000_000 + 9_000_000}\n")  # pkg is inside: not added
    r = m.read()
    assert r.energy_j["intelgpu0"] == pytest.approx(12.5)
    assert r.power_w["intelgpu0"] > 0


def test_intel_i915_counter_in_a_sampled_trace_and_backwards_counter(tmp_path):
    import time

    root = tmp_path / "hwmon"
    d = hwmon(root, 0, "i915", {"energy1_input": 1_000_000})
    m = IntelGpuMeter(root=root)
    with Sampler(m, period_s=0.01) as s:
        for k in range(1, 6):
            tmp = d / "energy1_input.tmp"  # atomic, as sysfs: a read never sees half a write
            tmp.write_text(f"{1_000_000 + k * 2_000_000}\n")  # +2 J per step
            tmp.replace(d / "energy1_input")
            time.sleep(0.03)
        time.sleep(0.03)
    tr = s.trace
    assert energy(tr).source == "counter"
    assert energy(tr).energy_j == pytest.approx(10.0, abs=2.0)  # last reads may miss the last step
    assert measurement_scope(tr) == "accelerator"
    (d / "energy1_input").write_text("5\n")
    r = m.read()
    assert "went backwards" in r.errors["intelgpu0"]


class FakeAmdSmi:
    """Same function names as amdsmi: one GPU with a counter, one with socket power only."""

    def __init__(self):
        self.calls = 0

    def amdsmi_init(self):
        pass

    def amdsmi_shut_down(self):
        pass

    def amdsmi_get_processor_handles(self):
        return ["h0", "h1"]

    def amdsmi_get_energy_count(self, h):
        if h == "h1":
            raise RuntimeError("AMDSMI_STATUS_NOT_SUPPORTED")
        self.calls += 1
        # a counter resolution of 15.3 uJ per unit (a test value)
        return {"energy_accumulator": 1000 + 1_000_000 * (self.calls - 1),
                "counter_resolution": 15.3}

    def amdsmi_get_power_info(self, h):
        return {"current_socket_power": "N/A", "average_socket_power": 88}


def test_amdsmi_counter_and_socket_power():
    m = AmdSmiMeter(amdsmi=FakeAmdSmi())
    assert m.counter_channels == ["amdgpu0"] and m.primary == "amdgpus"
    r = m.read()
    assert r.energy_j["amdgpu0"] == pytest.approx(15.3)  # 1e6 units x 15.3 uJ
    assert r.power_w["amdgpu1"] == 88.0
