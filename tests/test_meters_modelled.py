"""The modelled CPU meter on fake /proc/stat files (its energy interval included), and the sampler
on it (real thread)."""

from __future__ import annotations

import time

import pytest

from inferlca.errors import InvalidValueError, MeterUnavailableError, UnknownNameError
from inferlca.meters.modelled import ModelledCpuMeter, default_idle_share, read_proc_stat
from inferlca.meters.registry import list_meters, open_meter
from inferlca.meters.sampler import Sampler
from inferlca.traces.energy import energy, phase_energies_j


def write_stat(path, user, idle, iowait=0, guest=0, steal=0):
    # user nice system idle iowait irq softirq steal guest guest_nice
    path.write_text(
        f"cpu  {user} 0 0 {idle} {iowait} 0 0 {steal} {guest} 0\n"
        f"cpu0 {user} 0 0 {idle} {iowait} 0 0 {steal} {guest} 0\n"
        f"cpu1 0 0 0 0 0 0 0 0 0 0\nintr 1 2 3\n"
    )


def test_read_proc_stat(tmp_path):
    p = tmp_path / "stat"
    write_stat(p, user=300, idle=500, iowait=100, guest=50, steal=100)
    busy, total, n = read_proc_stat(p)
    # total = 300 + 500 + 100 + 100 (steal) = 1000; guest is inside user: not added again;
    # busy = user only: idle, iowait and steal are not this machine's work
    assert (busy, total, n) == (300, 1000, 2)


def test_idle_share_is_the_median_of_the_sourced_table():
    nominal, low, high = default_idle_share()
    # min/max W per vCPU: Haswell 1.90/5.99, Broadwell .71/3.54, Skylake .64/4.05, Cascade .64/3.80,
    # Milan .45/1.87 -> median is Broadwell 0.71/3.54 = 0.2006; range Skylake .158 .. Haswell .317
    assert nominal == pytest.approx(0.71 / 3.54)
    assert low == pytest.approx(0.64 / 4.05)
    assert high == pytest.approx(1.90 / 5.99)


def test_power_from_utilisation(tmp_path):
    p = tmp_path / "stat"
    write_stat(p, user=0, idle=0)
    m = ModelledCpuMeter(cpu_tdp_w=100.0, idle_share=0.2, proc_stat=p)
    write_stat(p, user=75, idle=25)  # 75 % busy since the last read
    r = m.read()
    assert r.power_w["cpu"] == pytest.approx(100 * (0.2 + 0.8 * 0.75))  # 80 W
    r2 = m.read()  # no tick elapsed: the previous utilisation is repeated
    assert r2.power_w["cpu"] == pytest.approx(80.0)
    write_stat(p, user=75, idle=125)  # fully idle for 100 ticks
    assert m.read().power_w["cpu"] == pytest.approx(20.0)
    assert m.estimated and m.meta()["max_power_source"] == "--cpu-tdp"


def test_unreadable_stat_becomes_nan_not_zero(tmp_path):
    p = tmp_path / "stat"
    write_stat(p, 0, 0)
    m = ModelledCpuMeter(cpu_tdp_w=10, proc_stat=p)
    p.unlink()
    r = m.read()
    assert r.power_w["cpu"] != r.power_w["cpu"]  # NaN
    assert "unreadable" in r.errors[None]


def test_fallback_without_tdp_uses_vcpus(tmp_path):
    p = tmp_path / "stat"
    write_stat(p, 0, 0)
    unknown = tmp_path / "cpuinfo"  # a CPU without a micro-architecture row: the median applies
    unknown.write_text("processor\t: 0\nvendor_id\t: SomeVendor\ncpu family\t: 1\nmodel\t\t: 1\n")
    m = ModelledCpuMeter(proc_stat=p, cpuinfo=unknown)
    assert m.max_power_w == pytest.approx(2 * 3.80)  # 2 CPUs x median max W per vCPU


def test_bad_inputs(tmp_path):
    p = tmp_path / "stat"
    write_stat(p, 0, 0)
    with pytest.raises(InvalidValueError):
        ModelledCpuMeter(cpu_tdp_w=-5, proc_stat=p)
    with pytest.raises(MeterUnavailableError, match="needs Linux /proc"):
        ModelledCpuMeter(proc_stat=tmp_path / "missing")
    with pytest.raises(UnknownNameError, match="did you mean 'modelled'"):
        open_meter("modeledd")


def test_registry_lists_modelled_as_available_and_estimated():
    infos = {i.name: i for i in list_meters()}
    assert infos["modelled"].available and infos["modelled"].estimated


def test_sampler_on_modelled_meter(tmp_path):
    p = tmp_path / "stat"
    write_stat(p, 0, 0)
    meter = ModelledCpuMeter(cpu_tdp_w=50.0, idle_share=0.2, proc_stat=p)
    with Sampler(meter, period_s=0.005) as s:
        s.mark("idle")
        time.sleep(0.05)
        write_stat(p, 100, 0)  # fully busy from now on: 50 W
        s.mark("compute")
        time.sleep(0.05)
    tr = s.trace
    assert tr.estimated and tr.meter == "modelled" and tr.primary == "cpu"
    assert tr.t_s.size >= 5 and (tr.t_s[1:] >= tr.t_s[:-1]).all()
    assert [m.name for m in tr.marks] == ["idle", "compute"]
    assert tr.meta["period_achieved_s"] > 0 and "jitter_p99_s" in tr.meta
    # power is 10 W (idle share x 50 W) before the write and 50 W after, so the mean is in between
    e = energy(tr)
    assert 10.0 * e.duration_s * 0.99 <= e.energy_j <= 50.0 * e.duration_s * 1.01
    assert set(phase_energies_j(tr)) == {"idle", "compute"}


def test_tdp_from_the_hardware_catalog(tmp_path):
    p = tmp_path / "stat"
    write_stat(p, 0, 0)
    # this fake machine sees 2 CPUs of the Ryzen's 32 hardware threads: 170 W x 2 / 32 = 10.625 W
    m = ModelledCpuMeter(device="ryzen-9-7950x", proc_stat=p)
    assert m.max_power_w == pytest.approx(10.625)
    assert "2 of 32 hardware threads" in m.meta()["max_power_source"]
    # a VM with 2 vCPUs of a 112-thread Xeon 8480+ (350 W) is not charged the whole package:
    # 350 x 2 / 112 = 6.25 W
    assert ModelledCpuMeter(device="xeon-platinum-8480plus", proc_stat=p).max_power_w == (
        pytest.approx(6.25))
    # seeing every thread of the package, the meter takes the whole TDP
    whole = tmp_path / "stat32"
    whole.write_text("cpu  0 0 0 0 0 0 0 0 0 0\n"
                     + "".join(f"cpu{i} 0 0 0 0 0 0 0 0 0 0\n" for i in range(32)) + "intr 1\n")
    full = ModelledCpuMeter(device="ryzen-9-7950x", proc_stat=whole)
    assert full.max_power_w == 170.0 and "hardware catalog" in full.meta()["max_power_source"]
    unknown = tmp_path / "cpuinfo"
    unknown.write_text("processor\t: 0\nvendor_id\t: SomeVendor\n")
    # a GPU's TDP is not the CPU's
    gpu = ModelledCpuMeter(device="A100 40GB SXM4", proc_stat=p, cpuinfo=unknown)
    assert gpu.max_power_w == pytest.approx(2 * 3.80)


def test_energy_interval_over_the_idle_share_range():
    from inferlca.meters.modelled import energy_interval_j

    meta = {"max_power_w": 100.0, "idle_share": 0.2, "idle_share_range": [0.1, 0.3]}
    # 10 s at 50 % utilisation: E(s) = 100 * (10 s + (1 - s) * 5) -> nominal s=.2: 100*(2+4) = 600 J
    # s=.1: 100*(1+4.5) = 550 J ; s=.3: 100*(3+3.5) = 650 J
    assert energy_interval_j(meta, 600.0, 10.0) == pytest.approx((550.0, 650.0))


def test_modelled_interval_includes_the_default_max_power_range(tmp_path):
    """Without a known TDP, P_max is n_vcpu x a median W per vCPU: its range (1.87 .. 5.99 W per
    vCPU in the coefficient table) widens the interval; at full load it is no longer a point."""
    from inferlca.meters.modelled import ModelledCpuMeter, energy_interval_j

    stat = tmp_path / "stat"
    stat.write_text(
        "cpu  10 0 0 10 0 0 0 0 0 0\ncpu0 10 0 0 10 0 0 0 0 0 0\ncpu1 0 0 0 0 0 0 0 0 0 0\n"
    )
    unknown = tmp_path / "cpuinfo"  # no micro-architecture row: the table-wide median applies
    unknown.write_text("processor\t: 0\nvendor_id\t: SomeVendor\n")
    m = ModelledCpuMeter(device="no-such-cpu-in-the-catalog", proc_stat=stat, cpuinfo=unknown)
    meta = m.meta()
    assert meta["max_power_w"] == pytest.approx(2 * 3.80)
    assert meta["max_power_range_w"] == pytest.approx([2 * 1.87, 2 * 5.99])
    full_load_j = meta["max_power_w"] * 10.0  # u = 1 for 10 s
    lo, hi = energy_interval_j(meta, full_load_j, 10.0)
    assert lo == pytest.approx(2 * 1.87 * 10.0) and hi == pytest.approx(2 * 5.99 * 10.0)
    # a given TDP is an input: at full load the idle share does not matter, a point
    m2 = ModelledCpuMeter(cpu_tdp_w=100.0, proc_stat=stat)
    assert m2.meta()["max_power_range_w"] is None
    assert energy_interval_j(m2.meta(), 1000.0, 10.0) == pytest.approx((1000.0, 1000.0))
