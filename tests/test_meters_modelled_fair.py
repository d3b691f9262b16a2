"""The fairer modelled CPU meter: micro-architecture rows from recorded /proc/cpuinfo files (an
Intel Xeon VM and an AMD EPYC VM, never the live CPU), the measured process tree's own CPU time
(a busy neighbour is not charged), the DRAM term."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inferlca.meters.cpumodel import microarch_of, parse_cpuinfo
from inferlca.meters.modelled import ModelledCpuMeter
from inferlca.meters.proctree import tree_cpu_seconds
from inferlca.meters.sampler import Sampler
from inferlca.meters.summary import summarize

CPUINFO = Path(__file__).parent / "fixtures" / "cpuinfo"
AMD = CPUINFO / "cpuinfo_amd_epyc_genoa_vm_2vcpu.txt"
INTEL = CPUINFO / "cpuinfo_intel_xeon_8259cl_aws_t3micro_head.txt"


def stat(path, n=2, user=0, idle=0):
    path.write_text(f"cpu  {user} 0 0 {idle} 0 0 0 0 0 0\n"
                    + "".join(f"cpu{i} 0 0 0 0 0 0 0 0 0 0\n" for i in range(n)) + "intr 1\n")


def test_recorded_cpuinfo_files_give_their_microarchitecture():
    amd = parse_cpuinfo(AMD.read_text())
    assert (amd.vendor, amd.family, amd.model, amd.threads) == ("AuthenticAMD", 25, 17, 2)
    assert microarch_of(amd)["microarchitecture"] == "EPYC 4th Gen"
    assert "Zen 4" in microarch_of(amd)["generation"]
    intel = parse_cpuinfo(INTEL.read_text())
    assert (intel.family, intel.model, intel.stepping) == (6, 85, 7)
    assert microarch_of(intel)["microarchitecture"] == "Cascade Lake"  # not Skylake (stepping 7)


@pytest.mark.parametrize(
    "cpuinfo, lo, hi",
    [
        # max W per vCPU of the sources (CCF AWS, CCF GCP) for that vendor and generation
        (AMD, 2.1958768628048784, 2.282155106707317),  # EPYC 4th Gen (Zen 4)
        (INTEL, 3.754854273784877, 4.063193520161689),  # Cascade Lake
    ],
)
def test_full_load_per_hardware_thread_is_within_the_sources_spread(tmp_path, cpuinfo, lo, hi):
    p = tmp_path / "stat"
    stat(p, n=2)
    m = ModelledCpuMeter(proc_stat=p, cpuinfo=cpuinfo, track_process=False)
    per_thread = m.power_at(1.0) / m.n_cpus
    assert lo <= per_thread <= hi
    assert m.meta()["max_power_range_w"] == pytest.approx([2 * lo, 2 * hi])
    assert m.estimated and "Cloud Carbon Footprint" in m.meta()["max_power_source"]


def test_amd_epyc_is_no_longer_charged_the_intel_heavy_median(tmp_path):
    p = tmp_path / "stat"
    stat(p, n=2)
    m = ModelledCpuMeter(proc_stat=p, cpuinfo=AMD, track_process=False)
    # the old single median was 3.80 W per vCPU (Cascade Lake-like); EPYC 4th Gen is ~2.24
    assert m.max_power_w == pytest.approx(2 * (2.282155106707317 + 2.1958768628048784) / 2)
    assert m.idle_share == pytest.approx(0.7391482469512195 / m.max_power_w * 2)


def _busy(seconds):
    return subprocess.Popen([sys.executable, "-c",
                             f"import time\nt=time.time()\nwhile time.time()-t<{seconds}: pass"])


def _idle(seconds):
    return subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])


def test_a_busy_neighbour_is_not_charged_to_the_measured_process(tmp_path):
    p = tmp_path / "stat"
    stat(p, n=2)
    neighbour, measured = _busy(1.2), _idle(1.2)
    try:
        m = ModelledCpuMeter(cpu_tdp_w=100.0, idle_share=0.2, proc_stat=p, cpuinfo=AMD,
                             root_pid=measured.pid)
        with Sampler(m, period_s=0.02, close_meter=True) as s:
            time.sleep(0.8)
        summary = summarize(s.trace)
    finally:
        neighbour.wait()
        measured.wait()
    # the sleeping command used (almost) no CPU: its dynamic energy is ~0 J although the
    # neighbour kept one of the two CPUs busy (which would be 100 x 0.8 x 0.5 x 0.8 s = 32 J)
    assert summary["dynamic_energy_j"] < 2.0


def test_the_measured_busy_process_is_charged_its_own_cpu(tmp_path):
    p = tmp_path / "stat"
    stat(p, n=2)
    # the measured command: waits, then runs a busy grandchild that reports its own CPU time
    # (time.process_time, the child's own clock: an independent figure)
    out = tmp_path / "cpu_s"
    busy = tmp_path / "busy.py"
    busy.write_text("import sys, time\nt = time.time()\nwhile time.time() - t < 0.6:\n    pass\n"
                    "open(sys.argv[1], 'w').write(str(time.process_time()))\n")
    code = (f"import subprocess, sys, time\ntime.sleep(0.3)\n"
            f"subprocess.run([sys.executable, {str(busy)!r}, {str(out)!r}])\ntime.sleep(0.2)\n")
    measured = subprocess.Popen([sys.executable, "-c", code])
    try:
        m = ModelledCpuMeter(cpu_tdp_w=100.0, idle_share=0.2, proc_stat=p, cpuinfo=AMD,
                             root_pid=measured.pid)
        with Sampler(m, period_s=0.02, close_meter=True) as s:
            measured.wait()
            time.sleep(0.4)  # past the meter's next process-tree refresh (0.2 s)
        summary = summarize(s.trace)
    finally:
        measured.wait()
    cpu_s = float(out.read_text())
    # 100 W x (1 - 0.2) x (CPU seconds / 2 CPUs); the parent's own start-up CPU is charged too
    expected = 100.0 * 0.8 * cpu_s / 2
    assert expected * 0.9 - 0.5 <= summary["dynamic_energy_j"] <= expected * 1.1 + 8.0
    assert "machine's total" in summary["dynamic_energy_note"]


def test_tree_cpu_seconds_counts_children(tmp_path):
    own = tree_cpu_seconds(os.getpid())
    assert own is not None and own > 0
    assert tree_cpu_seconds(2**22 + 12345) is None  # no such process


def test_dram_term(tmp_path):
    p = tmp_path / "stat"
    stat(p, n=2)
    m = ModelledCpuMeter(cpu_tdp_w=10.0, idle_share=0.5, proc_stat=p, cpuinfo=AMD, dram_gb=16,
                         track_process=False)
    r = m.read()
    assert r.power_w["dram"] == pytest.approx(16 * 0.392)
    assert r.power_w["host"] == pytest.approx(r.power_w["cpu"] + 16 * 0.392)
    assert m.primary == "host" and "Cloud Carbon Footprint" in m.meta()["dram_source"]


def test_the_sampler_process_charges_the_measured_process_not_itself(tmp_path):
    """The copy of the meter opened in the sampler process follows the measuring process's tree
    (its open_spec names it); before, it charged the sampler process's own CPU (~1 J here)."""
    from inferlca.meters.registry import open_meter
    from inferlca.meters.sampler_process import open_sampler

    p = tmp_path / "stat"
    stat(p, n=2)
    m = open_meter("modelled", cpu_tdp_w=100.0, idle_share=0.2, proc_stat=str(p))
    assert m.open_spec[1]["root_pid"] == os.getpid()
    c0 = time.process_time()
    with open_sampler(m, period_s=0.01, close_meter=True, kind="process") as s:
        end = time.monotonic() + 1.5
        while time.monotonic() < end:  # the measured process: busy, holding the GIL
            pass
    cpu_s = time.process_time() - c0
    assert s.trace.meta["sampler"] == "process"
    expected = 100.0 * 0.8 * cpu_s / 2  # 100 W x (1 - 0.2) x CPU seconds / 2 CPUs
    # the tree is re-read every 0.2 s: up to ~0.3 s of the 1.5 s may be charged late or not at all
    assert expected * 0.7 <= summarize(s.trace)["dynamic_energy_j"] <= expected * 1.05


def test_a_meter_that_tracks_no_process_reopens_without_one(tmp_path):
    from inferlca.meters.registry import open_meter, reopen

    p = tmp_path / "stat"
    stat(p, n=2)
    m = open_meter("modelled", cpu_tdp_w=100.0, proc_stat=str(p), track_process=False)
    again = reopen(*m.open_spec)
    assert again.channels == m.channels == ["cpu"]
