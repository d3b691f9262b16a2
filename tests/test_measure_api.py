"""The measuring protocol as a library call (`inferlca.meters.measure`) and the one rule that
decides which device a run is about (`inferlca.hardware.resolve`)."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from inferlca.errors import InvalidValueError, UnknownNameError, UsageError
from inferlca.hardware import detect
from inferlca.hardware.catalog import get_catalog
from inferlca.hardware.resolve import NO_DEVICE_NOTE, ResolvedDevice, resolve_device
from inferlca.meters.measure import measure_command, measured_impact, shell_exit_code
from inferlca.traces.io import read_csv

LOGS = Path(__file__).parent / "fixtures" / "power-logs"


def _no_detection(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("this machine's device must not be detected here")

    monkeypatch.setattr(detect, "detect_device", boom)


def _detects(monkeypatch, name, device_id, source):
    dev = get_catalog().get(device_id) if device_id else None
    monkeypatch.setattr(detect, "detect_device", lambda *a, **k: detect.Detected(name, dev, source))


# --- resolve_device ----------------------------------------------------------------------------

def test_a_declared_device_stands_without_detection(monkeypatch):
    _no_detection(monkeypatch)
    r = resolve_device("A100 40GB SXM4", "Tesla T4")  # declared beats the trace's name
    assert (r.id, r.source, r.notes) == ("a100-sxm4-40gb", "declared", ())
    assert r.name == get_catalog().get("a100-sxm4-40gb").name and not r.declared_elsewhere


def test_an_unknown_declared_device_is_refused_with_suggestions(monkeypatch):
    _no_detection(monkeypatch)
    with pytest.raises(UnknownNameError, match="unknown device 'a100-typo'"):
        resolve_device("a100-typo")


def test_cross_check_records_what_this_machine_is(monkeypatch):
    _detects(monkeypatch, "Intel(R) Xeon(R) Processor", None, "/proc/cpuinfo")
    r = resolve_device("t4", cross_check=True)
    assert (r.id, r.detected_name, r.detected_id, r.detected_source) == (
        "t4", "Intel(R) Xeon(R) Processor", None, "cpuinfo")
    assert r.declared_elsewhere  # a GPU declared where no accelerator was seen
    _detects(monkeypatch, "NVIDIA T4", "t4", "nvml")
    r = resolve_device("t4", cross_check=True)
    assert r.detected_source == "nvml" and not r.declared_elsewhere

    def failing(*a, **k):
        raise OSError("no /proc here")

    monkeypatch.setattr(detect, "detect_device", failing)
    r = resolve_device("t4", cross_check=True)  # detection only informs: the declaration stands
    assert r.id == "t4" and r.detected_name is None and not r.declared_elsewhere


def test_the_trace_names_the_device_when_none_is_declared(monkeypatch):
    _no_detection(monkeypatch)
    r = resolve_device(None, "NVIDIA A100-SXM4-40GB", detect_local=True)
    assert (r.id, r.source) == ("a100-sxm4-40gb", "trace")
    assert r.notes == ("device from the trace: NVIDIA A100-SXM4-40GB",)
    r = resolve_device(None, "Quantum Accelerator 9000")
    assert r.device is None and r.name == "Quantum Accelerator 9000"
    assert r.notes == ("device from the trace: Quantum Accelerator 9000 (not in the catalog)",)


def test_a_log_from_elsewhere_never_takes_this_machines_device(monkeypatch):
    _no_detection(monkeypatch)
    r = resolve_device(None, None, detect_local=False)
    assert r.device is None and r.source == "none" and r.notes == (NO_DEVICE_NOTE,)


def test_a_run_here_falls_back_to_detection(monkeypatch):
    _detects(monkeypatch, "NVIDIA A100-SXM4-40GB", "a100-sxm4-40gb", "nvml")
    r = resolve_device()
    assert (r.id, r.source) == ("a100-sxm4-40gb", "nvml")
    assert r.notes == ("device detected from nvml: NVIDIA A100-SXM4-40GB",)
    _detects(monkeypatch, "Mystery CPU 1", None, "/proc/cpuinfo")
    r = resolve_device()
    assert r.device is None and r.name == "Mystery CPU 1" and not r.declared_elsewhere
    assert r.notes == ("device detected from /proc/cpuinfo: Mystery CPU 1 (not in the catalog)",)


# --- measure_command ---------------------------------------------------------------------------

def test_measure_command_from_python(tmp_path, monkeypatch):
    _detects(monkeypatch, "Mystery CPU 1", None, "/proc/cpuinfo")
    out = tmp_path / "t.csv"
    res = measure_command(
        [sys.executable, "-c", "import sys; print('hello from the child'); sys.exit(4)"],
        meter="modelled", cpu_tdp_w=100.0, period_s=0.005, idle_baseline_s=0.05, out=out,
        capture_output=True, region="DE")
    assert res.returncode == 4 and res.exit_code == 4 and not res.interrupted
    assert res.stdout is not None and b"hello from the child" in res.stdout
    assert [m.name for m in res.trace.marks] == ["idle", "run", "end"]
    e = res.summary["energy"]["energy_j"]
    d = res.summary["duration_s"]
    # modelled: between the idle share (0.158) of 100 W and 100 W over the run window
    assert 0.158 * 100 * d * 0.99 <= e <= 100 * d * 1.01
    assert "baseline" in res.summary  # the idle phase gives the static/dynamic split
    assert res.impact is not None and res.impact["region"] == "DE"
    assert res.impact["device"] is None  # the detected CPU is not in the catalog
    assert res.notes[0].startswith("ESTIMATED") and any("Mystery CPU 1" in n for n in res.notes)
    tr = read_csv(out)
    assert tr.meta["exit_code"] == 4 and res.trace_file == out
    js = res.to_dict()
    assert js["exit_code"] == 4 and js["killed_by_signal"] is None and js["trace_file"] == str(out)


def test_measure_command_with_an_open_meter_and_a_declared_device(monkeypatch):
    from inferlca.meters.registry import open_meter

    _no_detection(monkeypatch)
    meter = open_meter("replay", path=LOGS / "nvidia_smi_a100_1.csv")
    try:
        res = measure_command([sys.executable, "-c", "import time; time.sleep(0.2)"],
                              meter=meter, period_s=0.005, device="a100-pcie-40gb")
    finally:
        meter.close()
    assert res.summary["meter"] == "replay" and res.summary["estimated"] is False
    assert 50 < res.summary["channels"]["gpu0"]["mean_power_w"] < 200
    imp = res.impact
    assert imp is not None and imp["device"] == "a100-pcie-40gb" and imp["region"] == "FR"
    e_j = res.summary["energy"]["energy_j"]
    use_g = e_j / 3.6e6 * imp["pue"]["value"] * imp["grid_gco2e_per_kwh"]["value"]
    assert imp["use_gco2e"]["value"] == pytest.approx(use_g, rel=1e-9)


@pytest.mark.parametrize("kwargs, error, msg", [
    ({"period_s": 0}, InvalidValueError, "period_s must be a finite number > 0"),
    ({"idle_baseline_s": float("nan")}, InvalidValueError, "idle_baseline_s must be"),
    ({"out": "trace.txt"}, InvalidValueError, "must end in .csv or .parquet"),
    ({"device": "no-such-device"}, UnknownNameError, "unknown device 'no-such-device'"),
    ({"region": "XX"}, UsageError, "unknown region 'XX'"),
    ({"meter": "replay"}, UsageError, "the replay meter needs a replay file"),
])
def test_measure_command_refuses_bad_input_before_running(tmp_path, kwargs, error, msg):
    flag = tmp_path / "ran"
    argv = [sys.executable, "-c", f"open({str(flag)!r}, 'w').close()"]
    with pytest.raises(error, match=msg):
        measure_command(argv, **{"meter": "modelled", **kwargs})
    assert not flag.exists()
    with pytest.raises(UsageError, match="no command to measure"):
        measure_command([], meter="modelled")


def test_a_signal_death_reads_as_the_shell_says(monkeypatch):
    _no_detection(monkeypatch)
    res = measure_command(
        [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"],
        meter="modelled", device="xeon-platinum-8480plus", period_s=0.005)
    assert res.returncode == -signal.SIGTERM and res.exit_code == 143
    assert res.killed_by_signal == 15 and res.status == "killed by SIGTERM, exit code 143"
    assert [shell_exit_code(c) for c in (None, 0, 3, -9)] == [0, 0, 3, 137]


def test_measured_impact_of_nothing_is_not_computed():
    dev = ResolvedDevice("t4", get_catalog().get("t4"), "declared")
    impact, notes = measured_impact({"energy": {"energy_j": 0.0}, "duration_s": 1.0}, dev, None)
    assert impact is None and notes == [
        "GWP not computed: the energy or the duration is zero or unknown"]
