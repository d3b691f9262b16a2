"""The CLI of the measuring half: `inferlca meters`, `inferlca measure -- CMD`, `inferlca trace import`."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest

from inferlca.traces.io import read_csv


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
            "import time; time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    preexec_fn=_default_sigint)  # noqa: PLW1509 - the child only calls signal.signal (async-signal-safe)
    _time.sleep(3.0)  # python start-up + imports before the child runs
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
