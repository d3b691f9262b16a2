"""Importers of recorded logs (nvidia-smi CSV, dmon, tegrastats, our CSV), golden values by hand,
the replay meter, and sensor diagnostics."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from inferlca.errors import InputFileError, UnknownNameError
from inferlca.meters.registry import open_meter
from inferlca.meters.replay import ReplayMeter, detect_format, import_trace
from inferlca.meters.sampler import Sampler
from inferlca.traces.diagnostics import diagnose, estimate_update_period_s
from inferlca.traces.energy import energy, energy_j
from inferlca.traces.io import write_csv
from inferlca.traces.trace import PowerTrace

LOGS = Path(__file__).parent / "fixtures" / "power-logs"


def test_detect_formats():
    assert detect_format(LOGS / "nvidia_smi_a100_1.csv") == "nvidia-smi"
    assert detect_format(LOGS / "nvidia_smi_dmon_issue_quoted_3.txt") == "dmon"
    assert detect_format(LOGS / "nvidia_smi_dmon_not_supported_4.txt") == "dmon"
    assert detect_format(LOGS / "tegrastats_tx2_8gb_terminal_capture_2.log") == "tegrastats"
    with pytest.raises(InputFileError, match="unknown power log format"):
        detect_format(LOGS / "SOURCES.md")


def test_v100_takes_the_instant_column_by_name():
    tr = import_trace(LOGS / "nvidia_smi_v100_1.csv")
    # row 1: power.draw 103.79, power.draw.instant 122.13
    assert tr.channels["gpu0"][0] == 122.13 and tr.meta["power_column"] == "power.draw.instant"
    assert "power_averaging_s" not in tr.meta


def test_k40m_has_no_instant_column_and_is_flagged_averaged():
    tr = import_trace(LOGS / "nvidia_smi_k40m_1.csv")
    assert tr.meta["power_column"] == "power.draw" and tr.meta["power_averaging_s"] == 1.0
    assert tr.channels["gpu0"][0] == 60.16 and tr.t_s[1] == pytest.approx(0.006)  # 33.425 -> 33.431


def test_units_in_cells_and_golden_energy():
    tr = import_trace(LOGS / "nvidia_smi_power_only_unknown_gpu_1.csv")
    # rows: .189 22.89 W, .239 22.73 W, .290 22.73 W
    # 0.5*(22.89+22.73)*0.050 + 22.73*0.051 = 1.1405 + 1.15923 = 2.29973 J
    assert tr.t_s[:3] == pytest.approx([0.0, 0.050, 0.101])
    assert energy_j(tr, 0.0, tr.t_s[2]) == pytest.approx(2.29973)
    g = import_trace(LOGS / "nvidia_smi_gtx1650_1.csv")
    assert g.channels["gpu0"][0] == 19.90 and g.meta["device_name"] == "NVIDIA GeForce GTX 1650"


def test_every_nvidia_smi_csv_imports():
    for f in sorted(LOGS.glob("nvidia_smi_*.csv")):
        tr = import_trace(f)
        e = energy(tr)
        assert e.energy_j > 0 and e.coverage == 1.0, f.name
        assert (np.diff(tr.t_s) >= 0).all()


def test_multi_gpu_csv_and_na_values(tmp_path):
    p = tmp_path / "multi.csv"
    p.write_text(
        "timestamp, index, power.draw [W]\n"
        "2024/01/01 00:00:00.000, 0, 100.00 W\n"
        "2024/01/01 00:00:00.001, 1, 50.00 W\n"
        "2024/01/01 00:00:01.000, 0, [N/A]\n"
        "2024/01/01 00:00:01.001, 1, 50.00 W\n"
        "2024/01/01 00:00:02.000, 0, 100.00 W\n"
        "2024/01/01 00:00:02.001, 1, 50.00 W\n"
    )
    tr = import_trace(p)
    assert tr.primary == "gpus" and tr.t_s.tolist() == [0.0, 1.0, 2.0]
    assert np.isnan(tr.channels["gpu0"][1]) and np.isnan(tr.channels["gpus"][1])
    assert tr.gaps[0].channel == "gpu0" and "no power.draw" in tr.gaps[0].reason
    # gpu1 alone: 50 W x 2 s = 100 J; gpu0 bridged at 100 W, coverage 0
    assert energy_j(tr, channel="gpu1") == pytest.approx(100.0)
    assert energy(tr, channel="gpu0").coverage == 0.0


@pytest.mark.parametrize(
    "text, line, msg",
    [
        (
            "timestamp, power.draw [W]\n2024/01/01 00:00:00.000, 1 W\n2024/01/01 00:00:0\n",
            3,
            "truncated row",
        ),
        ("timestamp, power.draw [W]\n2024/13/45 00:00:00.000, 1 W\n", 2, "bad timestamp"),
        ("timestamp, power.draw [W]\n2024/01/01 00:00:00.000, lots\n", 2, "bad power.draw value"),
        (
            "timestamp, utilization.gpu [%]\n2024/01/01 00:00:00.000, 5 %\n",
            1,
            "no power.draw column",
        ),
    ],
)
def test_malformed_nvidia_smi(tmp_path, text, line, msg):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(InputFileError, match=f"line {line}: {msg}"):
        import_trace(p)


def test_dmon_quoted_from_an_issue():
    tr = import_trace(LOGS / "nvidia_smi_dmon_issue_quoted_3.txt")
    assert list(tr.channels) == ["gpu0", "gpu1", "gpu2", "gpu3", "gpus"]
    assert tr.channels["gpus"][0] == 111 + 111 + 112 + 86
    d = diagnose(tr)
    assert any("fewer than two good samples" in w for w in d.warnings)


@pytest.mark.parametrize(
    "name, msg",
    [
        ("nvidia_smi_dmon_TD_mutc_gddr6_1.txt", "line 1: no pwr column"),
        ("nvidia_smi_dmon_util_only_1.txt", "line 1: no pwr column"),
        ("nvidia_smi_dmon_s_m_8gpu_2.txt", "line 1: dmon output without its column-name header"),
        (
            "nvidia_smi_dmon_not_supported_4.txt",
            "line 2: nvidia-smi reported an error.*Not supported",
        ),
    ],
)
def test_dmon_without_power_never_invents_it(name, msg):
    with pytest.raises(InputFileError, match=msg):
        import_trace(LOGS / name)


def test_dmon_with_time_column(tmp_path):
    p = tmp_path / "d.txt"
    p.write_text(
        "#Date       Time        gpu   pwr\n#YYYYMMDD   HH:MM:SS    Idx     W\n"
        " 20240104   13:54:35      0    60\n 20240104   13:54:36      0    -\n"
        " 20240104   13:54:37      0    80\n"
    )
    tr = import_trace(p)
    assert tr.t_s.tolist() == [0.0, 1.0, 2.0] and np.isnan(tr.channels["gpu0"][1])
    assert energy_j(tr) == pytest.approx(0.5 * (60 + 80) * 2)  # bridged: 140 J, never 60 + 0


def test_import_errors(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        import_trace(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputFileError, match="empty"):
        import_trace(tmp_path / "empty.csv")
    with pytest.raises(UnknownNameError):
        import_trace(LOGS / "nvidia_smi_a100_1.csv", fmt="xls")


def test_our_csv_imports_back(tmp_path):
    tr = import_trace(LOGS / "nvidia_smi_a100_2.csv")
    back = import_trace(write_csv(tr, tmp_path / "a.csv"))
    assert energy_j(back) == pytest.approx(energy_j(tr))


def test_replay_meter_plays_a_recording_through_the_sampler():
    rec = PowerTrace(
        t_s=np.array([0.0, 10.0]), channels={"p": np.array([40.0, 40.0])}, primary="p", meter="x"
    )
    m = open_meter("replay", trace=rec)
    assert isinstance(m, ReplayMeter)
    with Sampler(m, period_s=0.01) as s:
        time.sleep(0.1)
    e = energy(s.trace)
    assert e.energy_j == pytest.approx(40.0 * e.duration_s)


def test_update_period_and_repeat_diagnostics():
    # polled every 10 ms, the value changes every 100 ms: update period 0.1 s, 90 % repeats
    t = np.arange(0, 2.0, 0.01)
    p = np.floor(t / 0.1 + 1e-9) * 1.0 + 50
    tr = PowerTrace(t_s=t, channels={"g": p}, primary="g", meter="x")
    assert estimate_update_period_s(t, p) == pytest.approx(0.1)
    d = diagnose(tr)
    assert d.repeat_fraction == pytest.approx(180 / 199)
    assert any("repeat the previous value" in w for w in d.warnings)
    short = diagnose(tr, start_s=0.0, end_s=0.5)  # 0.5 s < 10 updates of 0.1 s
    assert any("fewer than 10 sensor updates" in w for w in short.warnings)
    assert diagnose(tr, start_s=0.0, end_s=1.99).coverage == pytest.approx(1.0)


def test_summary_of_a_dead_channel_is_strict_json_with_warnings():
    import json

    from inferlca.meters.summary import summarize

    tr = PowerTrace(
        t_s=np.array([0.0, 1.0, 2.0]),
        channels={"g": np.full(3, np.nan), "h": np.ones(3)},
        primary="g",
        meter="x",
    )
    s = summarize(tr)
    json.dumps(s, allow_nan=False)  # raises on NaN
    assert s["energy"]["energy_j"] is None and s["channels"]["h"]["energy_j"] == 2.0
    assert any("fewer than two good samples" in w for w in s["warnings"])


# ---- nvidia-smi query logs without times, headerless logs (issue 17) -----------------------------
def test_nvidia_smi_without_timestamp_takes_the_given_interval():
    f = LOGS / "nvidia_smi_no_timestamp_lms100_1.csv"
    tr = import_trace(f, interval_s=0.1)
    assert tr.channels["gpu0"].size == 33
    assert tr.t_s[-1] == pytest.approx(3.2)
    # trapezoid of the 33 recorded watts at 0.1 s steps, summed by hand from the file
    assert energy_j(tr) == pytest.approx(50.7155, abs=1e-6)
    assert tr.meta["times_assumed"] and "given interval" in tr.meta["times"]
    assert any("times were not recorded" in w for w in diagnose(tr).warnings)


def test_nvidia_smi_without_timestamp_and_without_interval_assumes_1s_and_says_so():
    tr = import_trace(LOGS / "nvidia_smi_no_timestamp_lms100_1.csv")
    assert tr.t_s[-1] == pytest.approx(32.0)
    assert "assumed 1 s" in tr.meta["times"]


def test_headerless_nvidia_smi_log_is_named_as_such(tmp_path):
    rows = (LOGS / "nvidia_smi_no_timestamp_lms100_1.csv").read_text().splitlines()[1:]
    p = tmp_path / "noheader.csv"
    p.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputFileError, match="noheader"):
        import_trace(p)
    stamped = tmp_path / "stamped.csv"
    stamped.write_text("2026/09/23 12:00:00.500, 0, 120.5 W\n2026/09/23 12:00:01.000, 0, 121 W\n")
    with pytest.raises(InputFileError, match="noheader"):
        import_trace(stamped)
