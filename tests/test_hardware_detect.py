"""Device detection with injected NVML, device-tree and /proc files."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakes.nvml import FakeNvml

from inferlca.hardware.detect import (
    Detected,
    cpu_model_name,
    detect_device,
    match_cpu,
    match_jetson,
    mem_total_gb,
)


class FakeNVMLError(Exception):
    pass


def _files(tmp_path: Path, model: str | None = None, cpu: str | None = None,
           mem_kb: int | None = None) -> dict:
    paths = {"device_tree_model": tmp_path / "model", "cpuinfo": tmp_path / "cpuinfo",
             "meminfo": tmp_path / "meminfo"}
    if model is not None:
        paths["device_tree_model"].write_bytes(model.encode() + b"\x00")  # as the kernel writes it
    if cpu is not None:
        paths["cpuinfo"].write_text(f"processor\t: 0\nvendor_id\t: X\nmodel name\t: {cpu}\n\n"
                                    f"processor\t: 1\nmodel name\t: {cpu}\n")
    if mem_kb is not None:
        paths["meminfo"].write_text(f"MemTotal:       {mem_kb} kB\nMemFree:        1000 kB\n")
    return paths


def test_nvml_name_is_matched(tmp_path):
    nvml = FakeNvml(n=1, names=[b"NVIDIA A100-SXM4-40GB"])
    det = detect_device(nvml=nvml, **_files(tmp_path, cpu="AMD EPYC 9654 96-Core Processor"))
    assert det.source == "nvml" and det.name == "NVIDIA A100-SXM4-40GB"
    assert det.device.id == "a100-sxm4-40gb"
    assert nvml.shutdown_called


def test_nvml_several_gpus_and_index(tmp_path):
    nvml = FakeNvml(n=2, names=["Tesla T4", "NVIDIA L4"])
    det = detect_device(nvml=nvml, gpu_index=1, **_files(tmp_path))
    assert det.device.id == "l4"
    assert any("different GPUs" in n for n in det.notes)
    det = detect_device(nvml=nvml, gpu_index=5, **_files(tmp_path))
    assert det.device.id == "t4" and any("does not exist" in n for n in det.notes)


def test_unknown_nvml_gpu_keeps_its_name(tmp_path):
    det = detect_device(nvml=FakeNvml(n=1, names=["NVIDIA GeForce GTX 1650"]), **_files(tmp_path))
    assert det.name == "NVIDIA GeForce GTX 1650" and det.device is None and det.source == "nvml"


def test_nvml_failure_falls_back_to_cpu(tmp_path):
    det = detect_device(nvml=FakeNvml(n=0, init_error=FakeNVMLError("Driver Not Loaded")),
                        **_files(tmp_path, cpu="Intel(R) Xeon(R) Platinum 8480+"))
    assert det.device.id == "xeon-platinum-8480plus"
    assert det.source.endswith("cpuinfo")
    assert any("Driver Not Loaded" in n for n in det.notes)


@pytest.mark.parametrize("model,mem_kb,expected", [
    # 62841 MB is what the recorded AGX Orin 64GB tegrastats log reports as total RAM
    ("NVIDIA Jetson AGX Orin Developer Kit", 62841 * 1024, "jetson-agx-orin-64gb"),
    ("NVIDIA Jetson AGX Orin Developer Kit", 30536 * 1024, "jetson-agx-orin-32gb"),
    ("NVIDIA Jetson Orin NX Engineering Reference Developer Kit", 15388 * 1024,
     "jetson-orin-nx-16gb"),
    ("NVIDIA Jetson Orin NX Engineering Reference Developer Kit", 7600 * 1024,
     "jetson-orin-nx-8gb"),
    ("NVIDIA Jetson Orin Nano Developer Kit", 7620 * 1024, "jetson-orin-nano-8gb"),
    ("NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super", 7620 * 1024,
     "jetson-orin-nano-super-8gb"),
    ("Jetson-AGX", 31920 * 1024, "jetson-agx-xavier-32gb"),
    ("NVIDIA Jetson AGX Xavier", 15820 * 1024, "jetson-agx-xavier-16gb"),
])
def test_jetson_models(tmp_path, model, mem_kb, expected):
    det = detect_device(nvml=FakeNvml(n=0, init_error=FakeNVMLError("Driver Not Loaded")),
                        **_files(tmp_path, model=model, mem_kb=mem_kb, cpu="ARMv8 Processor"))
    assert det.device is not None and det.device.id == expected
    assert det.name == model and det.source.endswith("model")


def test_jetson_without_meminfo_assumes_the_largest_with_a_note():
    dev, notes = match_jetson("NVIDIA Jetson AGX Orin Developer Kit", None)
    assert dev.id == "jetson-agx-orin-64gb" and "assumed" in notes[0]


def test_generic_vm_cpu_is_not_matched(tmp_path):
    # no real part matches a generic name: the machine gets a flagged archetype, not a catalog
    # entry (issue 14: never a silent zero)
    det = detect_device(use_nvml=False, **_files(tmp_path, cpu="Intel(R) Xeon(R) Processor"))
    assert det.name == "Intel(R) Xeon(R) Processor" and det.device is not None
    assert det.device.archetype == "intel-server" and det.device.id.startswith("archetype-")
    assert any("not in the catalog" in n and "ARCHETYPE" in n for n in det.notes)


def test_cpu_containment_match():
    assert match_cpu("AMD EPYC 9654 96-Core Processor").id == "epyc-9654"
    assert match_cpu("AMD Ryzen 9 7950X 16-Core Processor").id == "ryzen-9-7950x"
    assert match_cpu("AMD EPYC 7763 64-Core Processor") is None


def test_nothing_readable(tmp_path):
    det = detect_device(use_nvml=False, **_files(tmp_path))
    assert det == Detected("unknown", None, "none", det.notes) and det.notes


def test_helpers_read_files(tmp_path):
    p = _files(tmp_path, cpu="AMD EPYC 9654 96-Core Processor", mem_kb=1_000_000)
    assert cpu_model_name(p["cpuinfo"]) == "AMD EPYC 9654 96-Core Processor"
    assert mem_total_gb(p["meminfo"]) == pytest.approx(1_000_000 * 1024 / 1e9)
    assert mem_total_gb(tmp_path / "missing") is None


def test_this_machine_is_detected():
    det = detect_device()
    assert det.name and det.source in ("nvml", "/proc/device-tree/model", "/proc/cpuinfo")
    assert isinstance(det.to_dict()["notes"], list)
