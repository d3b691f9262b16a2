"""Measurement scope on every trace, composite meters (``nvml+rapl``, ``auto``), the GPUs a run
uses (``--gpus``, ``CUDA_VISIBLE_DEVICES`` incl. MIG), against fake NVML and fake powercap trees."""

from __future__ import annotations

import pytest
from fakes.nvml import FakeNvmlUuid
from test_meters_rapl import set_uj, zone

from inferlca.errors import InvalidValueError, MeterUnavailableError
from inferlca.meters.composite import CompositeMeter
from inferlca.meters.nvml import NvmlMeter
from inferlca.meters.rapl import RaplMeter
from inferlca.meters.registry import open_meter
from inferlca.meters.sampler import Sampler
from inferlca.meters.summary import summarize
from inferlca.traces.energy import energy
from inferlca.traces.scope import channel_scopes, measurement_scope, scope_totals


def four_gpus():
    # GPU k draws (k + 1) x 100 W, its counter grows by (k + 1) x 10 J per read
    return FakeNvmlUuid(
        n=4,
        power_mw=(100_000, 200_000, 300_000, 400_000),
        energy_mj=[(lambda k, g=g: 1_000_000 + (g + 1) * 10_000 * k) for g in range(4)],
    )


@pytest.fixture
def rapl_root(tmp_path):
    root = tmp_path / "powercap"
    p0 = zone(root, "intel-rapl:0", "package-0", 1_000_000)
    return root, p0


def test_cuda_visible_devices_1_measures_gpu_1_only(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    m = NvmlMeter(nvml=four_gpus())
    assert m.gpus == [1] and m.channels == ["gpu1"] and m.primary == "gpu1"
    r = m.read()
    assert r.power_w == {"gpu1": 200.0}
    assert [d["index"] for d in m.devices()] == [1]
    assert m.meta()["devices_measured"][0]["uuid"].startswith("GPU-00000001")
    assert m.meta()["gpu_selection"] == "CUDA_VISIBLE_DEVICES"


def test_explicit_gpus_win_over_the_environment_and_uuids_resolve(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3")
    m = NvmlMeter(gpus="0,2", nvml=four_gpus())
    assert m.gpus == [0, 2] and m.read().power_w["gpus"] == pytest.approx(400.0)
    m2 = NvmlMeter(nvml=four_gpus(), visible_devices="GPU-00000002,GPU-00000003-aaaa")
    assert m2.gpus == [2, 3]
    # CUDA stops at the first entry that names no device
    m3 = NvmlMeter(nvml=four_gpus(), visible_devices="1,GPU-ffff,2")
    assert m3.gpus == [1]


def test_a_gpu_that_does_not_exist_is_refused():
    with pytest.raises(InvalidValueError, match="GPU 7, which does not exist"):
        NvmlMeter(nvml=four_gpus(), visible_devices="7")
    with pytest.raises(InvalidValueError, match="GPU index 5 does not exist"):
        NvmlMeter(gpus="5", nvml=four_gpus())
    with pytest.raises(MeterUnavailableError, match="no NVIDIA GPU visible"):
        NvmlMeter(nvml=four_gpus(), visible_devices="")


def test_mig_instance_measures_the_whole_gpu_and_records_its_share():
    m = NvmlMeter(nvml=four_gpus(), visible_devices="MIG-1234-g1")
    assert m.gpus == [1]
    dev = m.devices()[0]
    assert dev["mig_instances"] == ["MIG-1234-g1"]
    assert dev["mig_share"] == pytest.approx(42 / 98)
    assert "whole GPU" in m.meta()["mig_note"]


def test_nvml_plus_rapl_one_trace_two_scopes_right_sums(rapl_root):
    root, p0 = rapl_root
    nv = four_gpus()
    m = open_meter("nvml+rapl", gpus="0,1", nvml=nv, root=root)
    assert isinstance(m, CompositeMeter) and m.name == "nvml+rapl"
    assert m.primary == "total"
    assert set(m.channels) >= {"gpu0", "gpu1", "gpus", "package-0", "cpu", "accelerator", "host"}
    set_uj(p0, 1_000_000 + 6_000_000)  # RAPL +6 J
    r = m.read()
    assert r.power_w["accelerator"] == pytest.approx(300.0)  # gpu0 100 + gpu1 200
    assert r.energy_j["host"] == pytest.approx(6.0)
    assert r.energy_j["accelerator"] == pytest.approx(r.energy_j["gpus"])
    assert r.power_w["total"] == pytest.approx(r.power_w["accelerator"] + r.power_w["host"])
    assert m.channel_scopes()["package-0"] == "host" and m.channel_scopes()["gpu1"] == "accelerator"
    m.close()


def test_auto_on_fake_nvml_and_fake_rapl_gives_both_scopes(rapl_root, monkeypatch):
    root, p0 = rapl_root
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    nv = four_gpus()
    m = open_meter("auto", nvml=nv, root=root)
    assert m.name == "nvml+rapl"
    with Sampler(m, period_s=0.01, close_meter=True) as s:
        s.mark("compute")
        import time

        for k in range(1, 6):
            set_uj(p0, 1_000_000 + 2_000_000 * k)
            time.sleep(0.02)
        s.mark("end")
    tr = s.trace
    assert measurement_scope(tr) == "accelerator+host"
    assert scope_totals(tr) == {"accelerator": "accelerator", "host": "host"}
    assert channel_scopes(tr)["gpu3"] == "accelerator" and channel_scopes(tr)["cpu"] == "host"
    summary = summarize(tr)
    assert summary["measurement_scope"] == "accelerator+host"
    acc = summary["scopes"]["accelerator"]["energy_j"]
    host = summary["scopes"]["host"]["energy_j"]
    assert acc == pytest.approx(energy(tr, channel="gpus").energy_j)
    assert host == pytest.approx(energy(tr, channel="cpu").energy_j)
    assert summary["energy"]["energy_j"] == pytest.approx(acc + host)
    ph = {p["name"]: p for p in summary["phases"]}
    assert set(ph["compute"]["scopes"]) == {"accelerator", "host"}
    assert [d["index"] for d in summary["devices_measured"]] == [0, 1, 2, 3]


def test_a_combination_counting_a_rail_twice_is_refused(rapl_root):
    root, _ = rapl_root
    with pytest.raises(InvalidValueError, match="counts a rail twice"):
        open_meter("rapl+modelled", root=root)
    with pytest.raises(InvalidValueError, match="counts a rail twice"):
        open_meter("tegrastats+ina3221")
    with pytest.raises(InvalidValueError, match="same meter twice"):
        open_meter("nvml+nvml")


def test_single_meters_and_imported_logs_carry_their_scope(rapl_root):
    root, _ = rapl_root
    m = RaplMeter(root=root)
    assert m.meta()["measurement_scope"] == "host"
    assert m.meta()["channel_scopes"]["cpu"] == "host"
    from pathlib import Path

    from inferlca.meters.replay import import_trace

    logs = Path(__file__).parent / "fixtures" / "power-logs"
    tr = import_trace(logs / "tegrastats_xavier_nx_r35_1.log")
    assert tr.meta["measurement_scope"] == "accelerator"
    assert scope_totals(tr) == {"accelerator": "module"}
