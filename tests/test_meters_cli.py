"""The CLI of the measuring half: `inferlca meters`, `inferlca measure -- CMD`, `inferlca trace import`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from inferlca.traces.io import read_csv, write_trace
from inferlca.traces.trace import PowerTrace


def _default_sigint() -> None:
    """In the child: a shell running us in the background ignores SIGINT, and a Python
    started with SIGINT ignored never raises KeyboardInterrupt; restore the default."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


LOGS = Path(__file__).parent / "fixtures" / "power-logs"


def test_meters_json(cli):
    r = cli("meters", "--json")
    assert r.code == 0
    d = r.json()
    names = [m["name"] for m in d["meters"]]
    assert names == ["nvml", "tegrastats", "ina3221", "amdsmi", "amdgpu", "pyzes", "intel-gpu",
                     "zeus-apple", "powermetrics", "rapl", "ipmi", "redfish", "modelled", "replay"]
    modelled = next(m for m in d["meters"] if m["name"] == "modelled")
    assert modelled["available"] and modelled["estimated"]
    assert all(m["reason"] for m in d["meters"])  # every meter says why (or what it reads)


def test_meters_table(cli):
    r = cli("meters")
    assert r.code == 0 and "modelled" in r.out and "estimated" in r.out


def test_measure_passes_exit_code_and_reports_estimated_energy(cli, tmp_path):
    out = tmp_path / "t.csv"
    r = cli(
        "measure",
        "--meter",
        "modelled",
        "--cpu-tdp",
        "100",
        "--period-ms",
        "5",
        "--out",
        out,
        "--json",
        "--",
        sys.executable,
        "-c",
        "import sys; print('child says hi'); sys.exit(3)",
    )
    assert r.code == 3, r.err
    d = r.json()  # the child's stdout went to stderr, stdout is pure JSON
    assert "child says hi" in r.err
    assert d["exit_code"] == 3 and d["estimated"] is True and d["meter"] == "modelled"
    e = d["energy"]
    # the modelled power lies between idle share x 100 W and 100 W for the whole window
    assert 0.158 * 100 * e["duration_s"] * 0.99 <= e["energy_j"] <= 100 * e["duration_s"] * 1.01
    assert d["energy_interval_j"]["low"] <= e["energy_j"] <= d["energy_interval_j"]["high"]
    assert d["impact"]["total_gco2e"]["value"] > 0
    assert any("ESTIMATED" in n for n in d["notes"])
    tr = read_csv(out)
    assert (
        tr.estimated and [m.name for m in tr.marks] == ["run", "end"] and tr.meta["exit_code"] == 3
    )


def test_measure_with_idle_baseline_table(cli):
    r = cli(
        "measure",
        "--meter",
        "modelled",
        "--idle-baseline-s",
        "0.05",
        "--",
        sys.executable,
        "-c",
        "pass",
    )
    assert r.code == 0, r.err
    assert "ESTIMATED" in r.out and "idle baseline" in r.out and "GWP total" in r.out


@pytest.mark.parametrize(
    "args, msg",
    [
        (["--meter", "nvml", "--", "true"], "meter 'nvml' is not available"),
        (["--meter", "quantum", "--", "true"], "unknown meter 'quantum'"),
        (["--period-ms", "0", "--", "true"], "--period-ms must be a finite number > 0"),
        (["--period-ms", "0.5", "--", "true"], "sampling period must be >= 1 ms"),
        ([], "no command to measure"),
        (["--", "definitely-not-a-command-xyz"], "command not found"),
        (["--out", "x.txt", "--", "true"], "--out must end in .csv or .parquet"),
        (["--region", "DE", "--grid-year", "1999", "--", "true"],
         "--grid-year 1999: no intensity of Germany for that year"),
        (["--pue", "0.9", "--", "true"], "--pue must be >= 1"),
        (["--grid", "50", "--grid-year", "2023", "--", "true"], "not with --grid"),
        (["--scope", "rack", "--", "true"], "unknown scope 'rack'"),
    ],
)
def test_measure_bad_input_exit_2(cli, args, msg):
    r = cli("measure", *args)
    assert r.code == 2 and msg in r.err and "Traceback" not in r.err


def test_trace_import_tegrastats_json(cli):
    r = cli("trace", "import", LOGS / "tegrastats_tx2_8gb_terminal_capture_2.log", "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["format"] == "tegrastats" and d["primary"] == "module"
    assert d["energy"]["energy_j"] == pytest.approx(3.5055)  # see test_meters_tegrastats
    assert d["channels"]["VDD_SYS_GPU"]["mean_power_w"] == pytest.approx(0.192)
    assert any("module rule" in n for n in d["notes"])


def test_trace_import_nvidia_smi_with_device_and_region(cli, tmp_path):
    out = tmp_path / "a100.parquet"
    r = cli(
        "trace",
        "import",
        LOGS / "nvidia_smi_a100_2.csv",
        "--device",
        "A100 40GB SXM4",
        "--region",
        "DE",
        "--out",
        out,
        "--json",
    )
    assert r.code == 0, r.err
    d = r.json()
    assert d["impact"]["region"] == "DE" and d["impact"]["embodied_gco2e"]["value"] > 0
    assert out.exists()
    r2 = cli("trace", "import", out)
    assert r2.code == 0 and "gpu0" in r2.out


@pytest.mark.parametrize(
    "name, msg",
    [
        ("tegrastats_orin_r35_no_power_rails_1.log", "no power rails"),
        ("nvidia_smi_dmon_util_only_1.txt", "line 1: no pwr column"),
        ("nvidia_smi_dmon_not_supported_4.txt", "line 2"),
        ("SOURCES.md", "unknown power log format"),
    ],
)
def test_trace_import_bad_files_exit_2(cli, name, msg):
    r = cli("trace", "import", LOGS / name)
    assert r.code == 2 and msg in r.err and "Traceback" not in r.err


def test_trace_import_truncated_csv_line_number(cli, tmp_path):
    p = tmp_path / "cut.csv"
    lines = (LOGS / "nvidia_smi_k40m_1.csv").read_text().splitlines()
    p.write_text("\n".join(lines[:5] + [lines[5][:20]]) + "\n")
    r = cli("trace", "import", p)
    assert r.code == 2 and "line 6: truncated row" in r.err


def test_measure_in_a_subprocess_end_to_end(cli_subprocess, tmp_path):
    r = cli_subprocess(
        "measure",
        "--meter",
        "modelled",
        "--json",
        "--",
        sys.executable,
        "-c",
        "print(1)",
        timeout=120,
    )
    assert r.code == 0, r.err
    assert r.json()["estimated"] is True


def test_measure_ctrl_c_keeps_the_measurement(tmp_path):
    import os
    import signal
    import subprocess
    import time as _time

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    out = tmp_path / "int.csv"
    ready = tmp_path / "child-started"
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "inferlca",
            "measure",
            "--meter",
            "modelled",
            "--out",
            str(out),
            "--json",
            "--",
            sys.executable,
            "-c",
            f"import pathlib, time; pathlib.Path({str(ready)!r}).touch(); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    preexec_fn=_default_sigint)  # noqa: PLW1509 - the child only calls signal.signal (async-signal-safe)
    deadline = _time.monotonic() + 60  # the measured command has started (slow when loaded)
    while not ready.exists() and _time.monotonic() < deadline and p.poll() is None:
        _time.sleep(0.05)
    _time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    stdout, stderr = p.communicate(timeout=60)
    assert p.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    import json

    d = json.loads(stdout)
    assert d["interrupted"] is True and d["energy"]["energy_j"] > 0
    assert read_csv(out).meta["incomplete"] is True
    assert os.path.exists(out)


def test_trace_import_of_our_csv_shows_phases(cli, tmp_path):
    import numpy as np

    from inferlca.traces.io import write_csv
    from inferlca.traces.trace import Mark, PowerTrace

    # 10 W for 2 s (idle), then 30 W for 2 s (compute): 20 J + 60 J; static = 10 W x 2 s = 20 J
    tr = PowerTrace(
        t_s=np.array([0.0, 2.0, 2.0, 4.0]),
        channels={"gpu0": np.array([10.0, 10.0, 30.0, 30.0])},
        primary="gpu0",
        meter="nvml",
        marks=[Mark(0.0, "idle"), Mark(2.0, "compute")],
    )
    p = write_csv(tr, tmp_path / "ours.csv")
    r = cli("trace", "import", p, "--phase", "compute", "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["energy"]["energy_j"] == pytest.approx(60.0)
    assert [(x["name"], x["energy_j"]) for x in d["phases"]] == [("idle", 20.0), ("compute", 60.0)]
    assert d["baseline"]["static_j"] == pytest.approx(20.0) and d["baseline"][
        "dynamic_j"
    ] == pytest.approx(40.0)
    r2 = cli("trace", "import", p, "--phase", "warmup")
    assert r2.code == 2 and "unknown phase 'warmup'" in r2.err


def test_measure_json_is_strict_and_carries_the_model(cli):
    r = cli(
        "measure",
        "--meter",
        "modelled",
        "--device",
        "ryzen-9-7950x",
        "--json",
        "--",
        sys.executable,
        "-c",
        "pass",
    )
    assert r.code == 0, r.err
    d = r.json()  # strict JSON (no NaN) parsed
    # this machine's share of the Ryzen's 32 hardware threads: 170 W x n / 32 (all of it at 32+)
    n = d["meta"]["n_cpus"]
    assert d["meta"]["max_power_w"] == pytest.approx(170.0 * min(n, 32) / 32)
    assert "hardware catalog" in d["meta"]["max_power_source"]
    assert d["impact"]["device"] == "ryzen-9-7950x"


def test_measure_on_a_replayed_recording(cli):
    # the A100 log starts at 80.61 W and steps to ~160 W after ~0.3 s; a 0.2 s command sees the idle part
    r = cli(
        "measure",
        "--meter",
        "replay",
        "--replay",
        LOGS / "nvidia_smi_a100_1.csv",
        "--period-ms",
        "5",
        "--json",
        "--",
        sys.executable,
        "-c",
        "import time; time.sleep(0.2)",
    )
    assert r.code == 0, r.err
    d = r.json()
    assert d["meter"] == "replay" and d["estimated"] is False and d["primary"] == "gpu0"
    assert 50 < d["channels"]["gpu0"]["mean_power_w"] < 200
    assert d["meta"]["read_p99_s"] >= 0 and d["meta"]["recorded_meter"] == "replay:nvidia-smi"
    bad = cli("measure", "--meter", "replay", "--", "true")
    assert bad.code == 2 and "--replay FILE" in bad.err


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


def test_trace_import_takes_the_impact_settings(cli):
    """`trace import` (and `measure`) take --grid-year, --grid, --pue, --lifetime-years and
    --scope as `impact` does; by hand: use = energy (J) / 3.6e6 x 380.9 (Germany 2023) x 1.2."""
    log = LOGS / "nvidia_smi_a100_2.csv"
    base = ("trace", "import", log, "--device", "a100-pcie-40gb", "--json")
    d = cli(*base, "--region", "DE", "--grid-year", "2023", "--pue", "1.2",
            "--lifetime-years", "4").json()
    imp, e_j = d["impact"], d["energy"]["energy_j"]
    assert imp["grid_gco2e_per_kwh"]["value"] == 380.9 and imp["pue"]["value"] == 1.2
    assert imp["lifetime_years"]["value"] == 4.0
    assert (imp["region"], imp["grid_year"]) == ("DE", 2023)
    assert imp["use_gco2e"]["value"] == pytest.approx(e_j / 3.6e6 * 380.9 * 1.2, rel=1e-9)
    custom = cli(*base, "--grid", "100").json()["impact"]
    assert custom["grid_gco2e_per_kwh"]["value"] == 100.0
    chip = cli(*base).json()["impact"]["embodied_gco2e"]["value"]
    card = cli(*base, "--scope", "card").json()["impact"]["embodied_gco2e"]["value"]
    assert card > chip > 0
    r = cli(*base, "--grid-year", "abc")
    assert r.code == 2 and "--grid-year must be a year such as 2023" in r.err


def test_measure_takes_the_impact_settings(cli):
    r = cli("measure", "--region", "DE", "--grid-year", "2023", "--pue", "1.3", "--json", "--",
            sys.executable, "-c", "pass")
    assert r.code == 0, r.err
    imp = r.json()["impact"]
    assert imp["grid_gco2e_per_kwh"]["value"] == 380.9 and imp["pue"]["value"] == 1.3
    text = cli("measure", "--region", "DE", "--grid-year", "2023", "--", sys.executable, "-c",
               "pass")
    assert "grid DE 2023 380.9 gCO2e/kWh" in " ".join(text.out.replace("│", " ").split())
