"""Regression tests from the acceptance review of issue 3 (power measurement)."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from inferlca.traces.diagnostics import diagnose
from inferlca.traces.energy import energy, trapezoid_window_j
from inferlca.traces.io import write_trace
from inferlca.traces.trace import PowerTrace

LOGS = Path(__file__).parent / "fixtures" / "power-logs"
ALL_LOGS = sorted(p for p in LOGS.iterdir() if p.suffix in (".csv", ".txt", ".log"))

#: logs that must be refused (no power in them, or lines of unrelated devices), with the reason
REFUSED = {
    "nvidia_smi_dmon_TD_mutc_gddr6_1.txt": "no pwr column",
    "nvidia_smi_dmon_not_supported_4.txt": "line 2: nvidia-smi reported an error",
    "nvidia_smi_dmon_s_m_8gpu_2.txt": "cannot find a pwr column",
    "nvidia_smi_dmon_util_only_1.txt": "no pwr column",
    "tegrastats_orin_r35_no_power_rails_1.log": "no power rails",
    "tegrastats_single_line_fixtures.log": "line 3: truncated or inconsistent tegrastats line",
    "tegrastats_r39_single_line_fixtures.log": "line 3: truncated or inconsistent tegrastats line",
    # single BMC answers (read by the IPMI meter, not power logs): refused as a log format
    "ipmitool_dcmi_power_reading_deactivated_2.txt": "unknown power log format",
    "ipmitool_dcmi_power_reading_power8_1.txt": "unknown power log format",
}


def _touch_cmd(path: Path) -> list[str]:
    return [sys.executable, "-c", f"open({str(path)!r}, 'w').close()"]


@pytest.mark.parametrize("log", ALL_LOGS, ids=lambda p: p.name)
def test_every_recorded_log_imports_or_is_refused_clearly(cli, log):
    r = cli("trace", "import", log, "--region", "FR", "--json")
    assert "Traceback" not in r.err
    if log.name in REFUSED:
        assert r.code == 2 and REFUSED[log.name] in r.err, r.err
        return
    assert r.code == 0, r.err
    d = r.json()
    e = d["energy"]["energy_j"]
    if d["samples"] < 2:  # one sample: energy unknown (None), never 0
        assert e is None and d["impact"] is None
    else:
        assert e is not None and e > 0 and d["impact"]["total_gco2e"]["value"] > 0


def test_single_sample_log_has_unknown_energy_not_zero(cli):
    # dmon pasted in an issue: one round of 4 GPUs (one sample per GPU)
    r = cli("trace", "import", LOGS / "nvidia_smi_dmon_issue_quoted_3.txt", "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["samples"] == 1
    assert d["energy"]["energy_j"] is None and d["energy"]["energy_wh"] is None
    assert all(c["energy_j"] is None for c in d["channels"].values())
    assert d["channels"]["gpu0"]["peak_power_w"] == 111
    assert any("energy unknown" in w for w in d["warnings"])
    r = cli("trace", "import", LOGS / "nvidia_smi_dmon_issue_quoted_3.txt")
    assert "0 J" not in r.out and "n/a" in r.out


def test_one_sample_trapezoid_is_nan_even_on_an_empty_window():
    assert math.isnan(trapezoid_window_j(np.array([0.0]), np.array([100.0]), 0.0, 0.0))
    tr = PowerTrace(t_s=np.array([0.0]), channels={"g": np.array([100.0])}, primary="g", meter="x")
    assert math.isnan(energy(tr).energy_j)
    # with two samples an empty window is an exact 0
    assert trapezoid_window_j(np.array([0.0, 1.0]), np.array([1.0, 1.0]), 0.5, 0.5) == 0.0


def test_a100_energy_and_gwp_by_hand(cli):
    """Trapezoid over the 49 samples of power.draw.instant, by hand, and use-phase GWP."""
    import csv
    from datetime import datetime

    rows = list(csv.reader((LOGS / "nvidia_smi_a100_1.csv").open()))
    col = [c.strip() for c in rows[0]].index("power.draw.instant [W]")
    t = [datetime.strptime(r[0].strip(), "%Y/%m/%d %H:%M:%S.%f") for r in rows[1:]]
    p = [float(r[col]) for r in rows[1:]]
    e_j = sum((p[k] + p[k + 1]) / 2 * (t[k + 1] - t[k]).total_seconds() for k in range(len(p) - 1))
    r = cli(
        "trace",
        "import",
        LOGS / "nvidia_smi_a100_1.csv",
        "--device",
        "a100-pcie-40gb",
        "--region",
        "FR",
        "--json",
    )
    assert r.code == 0, r.err
    d = r.json()
    assert d["energy"]["energy_j"] == pytest.approx(e_j, rel=1e-9)
    assert e_j == pytest.approx(72.7319, abs=1e-3)
    assert d["duration_s"] == pytest.approx(0.606)
    imp = d["impact"]
    use_g = e_j / 3.6e6 * imp["pue"]["value"] * imp["grid_gco2e_per_kwh"]["value"]
    assert imp["use_gco2e"]["value"] == pytest.approx(use_g, rel=1e-9)
    assert imp["region"] == "FR" and imp["device"] == "a100-pcie-40gb"


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--device", "no-such-device"], "unknown device 'no-such-device'"),
        (["--region", "XX"], "unknown region 'XX'"),
        (["--gpus", "a,b"], "--gpus takes GPU indices"),
        (["--meter", "modelled", "--gpus", "0"], "--gpus selects NVIDIA GPUs"),
        (["--meter", "replay", "--replay", "/nonexistent/log.csv"], "no such file"),
    ],
)
def test_measure_checks_options_before_running_the_command(cli, tmp_path, args, msg):
    flag = tmp_path / "ran"
    r = cli("measure", *args, "--", *_touch_cmd(flag))
    assert r.code == 2 and msg in r.err and "Traceback" not in r.err, r.err
    assert not flag.exists(), "the command ran although the options were wrong"


def test_unknown_meter_and_format_say_what_is_accepted(cli, tmp_path):
    r = cli("measure", "--meter", "quantum", "--", "true")
    assert r.code == 2 and "accepted: auto, nvml, tegrastats, ina3221, rapl, modelled" in r.err
    r = cli("trace", "import", LOGS / "nvidia_smi_a100_1.csv", "--format", "foo")
    assert r.code == 2 and "accepted: auto, inferlca, nvidia-smi, dmon, tegrastats" in r.err


def test_gap_count_from_empty_cells_of_a_recorded_csv(tmp_path):
    t = np.arange(0, 2.0001, 0.01)
    p = np.full(t.size, 100.0)
    p[50:120] = np.nan
    p[150:160] = np.nan
    path = tmp_path / "gaps.csv"
    write_trace(PowerTrace(t_s=t, channels={"gpu0": p}, primary="gpu0", meter="x"), path)
    from inferlca.meters.replay import import_trace

    tr = import_trace(path, "auto", None)
    d = diagnose(tr)
    assert d.coverage < 0.6
    assert any("(gaps: 2)" in w for w in d.warnings), d.warnings
    # energy bridges the gaps at 100 W: never zeros
    assert energy(tr).energy_j == pytest.approx(200.0)


def test_measure_replay_with_failed_reads_warns_and_keeps_gaps(cli, tmp_path):
    """A meter failing mid-run (here a recording with a hole) gives gaps and a warning, not 0 W."""
    t = np.arange(0, 3.0001, 0.01)
    p = np.full(t.size, 100.0)
    p[20:60] = np.nan
    rec = tmp_path / "rec.csv"
    write_trace(PowerTrace(t_s=t, channels={"gpu0": p}, primary="gpu0", meter="x"), rec)
    out = tmp_path / "m.csv"
    r = cli(
        "measure",
        "--meter",
        "replay",
        "--replay",
        rec,
        "--period-ms",
        "10",
        "--out",
        out,
        "--json",
        "--",
        sys.executable,
        "-c",
        "import time; time.sleep(0.8)",
    )
    assert r.code == 0, r.err
    d = r.json()
    assert d["gaps"] >= 1 and d["energy"]["coverage"] < 0.9
    assert any("never as zeros" in w for w in d["warnings"])
    # the run is ~0.8 s at a constant 100 W: the bridged energy is ~80 J, not 80 J x coverage
    assert d["energy"]["energy_j"] == pytest.approx(100.0 * d["duration_s"], rel=0.02)
    from inferlca.traces.io import read_csv

    tr = read_csv(out)
    assert np.isnan(tr.channels["gpu0"]).any() and not (tr.channels["gpu0"] == 0).any()


def test_missing_tegrastats_lines_are_reported_even_with_full_coverage(cli):
    # AGX Orin at 500 ms: 05:10:58 holds one line instead of two (and 05:11:09 too)
    r = cli("trace", "import", LOGS / "tegrastats_orin_agx64_r36_1.log", "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["gaps"] == 2
    assert any(w.startswith("2 gap(s) in the recording (first at 4 s") for w in d["warnings"])
    # module = the sum of the four AGX Orin rails, first line: 2801 + 400 + 4536 + 604 mW
    from inferlca.meters.replay import import_trace

    tr = import_trace(LOGS / "tegrastats_orin_agx64_r36_1.log", "auto", None)
    assert tr.channels["module"][0] == pytest.approx(8.341)


def test_imported_log_never_takes_this_machines_device(cli, monkeypatch):
    from inferlca.hardware import detect

    def boom(*a, **k):
        raise AssertionError("trace import must not detect the local device")

    monkeypatch.setattr(detect, "detect_device", boom)
    r = cli("trace", "import", LOGS / "nvidia_smi_a100_1.csv", "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["impact"]["device"] is None
    assert any(n.startswith("no device: the log names none") for n in d["notes"])
    # with --device the catalog device is used
    r = cli(
        "trace", "import", LOGS / "nvidia_smi_a100_1.csv", "--device", "a100-pcie-40gb", "--json"
    )
    assert r.json()["impact"]["device"] == "a100-pcie-40gb"


def test_measure_passes_a_signal_death_through_as_the_shell_does(cli):
    cmd = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"]
    r = cli("measure", "--json", "--", *cmd)
    assert r.code == 143, r.err  # 128 + SIGTERM, not 256 - 15
    d = r.json()
    assert d["exit_code"] == 143 and d["killed_by_signal"] == 15
    r = cli("measure", "--", *cmd)
    assert r.code == 143 and "killed by SIGTERM, exit code 143" in r.out


def test_forced_wrong_format_says_so(cli):
    r = cli("trace", "import", LOGS / "nvidia_smi_a100_1.csv", "--format", "dmon")
    assert r.code == 2 and "line 1: not nvidia-smi dmon output (a CSV line" in r.err
    assert "reported an error" not in r.err


def test_ctrl_c_during_the_idle_baseline_keeps_the_idle_trace(cli, tmp_path, monkeypatch):
    import types

    from inferlca.meters import measure as measure_mod
    from inferlca.traces.io import read_csv

    def interrupted_sleep(s):
        raise KeyboardInterrupt

    monkeypatch.setattr(measure_mod, "time", types.SimpleNamespace(sleep=interrupted_sleep))
    flag, out = tmp_path / "ran", tmp_path / "idle.csv"
    r = cli("measure", "--idle-baseline-s", "5", "--out", out, "--", *_touch_cmd(flag))
    assert r.code == 130 and "interrupted during the idle baseline" in r.err, r.err
    assert not flag.exists()
    tr = read_csv(out)
    assert tr.meta["incomplete"] is True and [m.name for m in tr.marks] == ["idle"]


def test_missing_command_fails_before_the_idle_baseline(cli, monkeypatch):
    import time

    def no_sleep(s):
        raise AssertionError("the idle baseline ran for a command that cannot start")

    monkeypatch.setattr(time, "sleep", no_sleep)
    r = cli("measure", "--idle-baseline-s", "30", "--", "definitely-not-a-command-xyz")
    assert r.code == 2 and "command not found: 'definitely-not-a-command-xyz'" in r.err
    r = cli("measure", "--", str(Path(__file__).parent))
    assert r.code == 2 and "command not executable" in r.err


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


def test_imported_log_reports_its_achieved_period(cli):
    r = cli("trace", "import", LOGS / "nvidia_smi_a100_1.csv", "--json")
    d = r.json()
    assert d["period_achieved_s"] == pytest.approx(0.606 / 48)
    assert d["period_requested_s"] is None
    r = cli("trace", "import", LOGS / "nvidia_smi_a100_1.csv")
    assert "achieved 12.63 ms" in r.out and "asked 0 ms" not in r.out


def test_unknown_phase_lists_the_phases_of_the_trace(cli, tmp_path):
    r = cli("trace", "import", LOGS / "nvidia_smi_a100_1.csv", "--phase", "compute")
    assert r.code == 2 and "this trace has none" in r.err
    from inferlca.traces.trace import Mark

    t = np.arange(0, 1.0001, 0.1)
    tr = PowerTrace(
        t_s=t,
        channels={"c": np.full(t.size, 5.0)},
        primary="c",
        meter="x",
        marks=[Mark(0.0, "idle"), Mark(0.5, "run"), Mark(1.0, "end")],
    )
    write_trace(tr, tmp_path / "m.csv")
    r = cli("trace", "import", tmp_path / "m.csv", "--phase", "compute")
    assert r.code == 2 and "accepted: idle, run" in r.err
    r = cli("trace", "import", tmp_path / "m.csv", "--phase", "run", "--json")
    assert r.code == 0 and r.json()["energy"]["energy_j"] == pytest.approx(2.5)


def test_interval_ms_on_a_timestamped_log_is_said_to_be_ignored(cli):
    r = cli("trace", "import", LOGS / "nvidia_smi_a100_1.csv", "--interval-ms", "500", "--json")
    d = r.json()
    assert d["duration_s"] == pytest.approx(0.606)
    assert any(n.startswith("--interval-ms ignored") for n in d["notes"])


def test_window_edges_without_samples_are_called_a_lower_bound():
    t = np.arange(0, 0.5001, 0.01)
    tr = PowerTrace(t_s=t, channels={"g": np.full(t.size, 50.0)}, primary="g", meter="x")
    e = energy(tr, 0.0, 1.0)  # the meter stopped answering at 0.5 s
    assert e.energy_j == pytest.approx(25.0) and e.coverage == pytest.approx(0.5)
    assert any("no good sample in 0.5 s" in w and "lower bound" in w for w in e.warnings)
    # a gap inside the window is bridged, not a lower bound
    p = np.full(t.size, 50.0)
    p[10:20] = np.nan
    e2 = energy(PowerTrace(t_s=t, channels={"g": p}, primary="g", meter="x"))
    assert e2.energy_j == pytest.approx(25.0)
    assert not any("lower bound" in w for w in e2.warnings)
