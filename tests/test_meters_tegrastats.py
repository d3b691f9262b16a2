"""tegrastats parsing on recorded logs (all of tests/fixtures/power-logs), the live meter on a
real subprocess replaying a recorded log, and the INA3221 sysfs reader on fake trees."""

from __future__ import annotations

import math
import stat
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from inferlca.errors import InputFileError, MeterUnavailableError
from inferlca.meters.ina3221 import Ina3221Meter
from inferlca.meters.replay import import_trace
from inferlca.meters.sampler import Sampler
from inferlca.meters.tegrastats import (
    TegrastatsMeter,
    derive,
    derived_rules,
    line_times_s,
    parse_line,
    parse_log,
)
from inferlca.traces.energy import energy, energy_j

LOGS = Path(__file__).parent / "fixtures" / "power-logs"


def lines_of(name):
    return (LOGS / name).read_text().splitlines()


def test_r32_nano_unitless_rails():
    tl = parse_line(lines_of("tegrastats_nano_4gb_r32_1.log")[0])
    assert tl.stamp is None
    assert tl.rails_w == {"POM_5V_IN": 0.920, "POM_5V_GPU": 0.0, "POM_5V_CPU": 0.119}
    rules = derived_rules(list(tl.rails_w))
    d = derive(tl.rails_w, rules)
    assert d["module"] == 0.920 and d["gpu"] == 0.0  # input rail only: CPU/GPU are inside it


def test_r36_orin_mw_rails_module_is_the_sum():
    tl = parse_line(lines_of("tegrastats_orin_agx64_r36_1.log")[0])
    assert tl.stamp is not None and tl.stamp.isoformat() == "2025-10-26T05:10:54"
    assert tl.rails_w == {
        "VDD_GPU_SOC": 2.801,
        "VDD_CPU_CV": 0.400,
        "VIN_SYS_5V0": 4.536,
        "VDDQ_VDD2_1V8AO": 0.604,
    }
    d = derive(tl.rails_w, derived_rules(list(tl.rails_w)))
    assert d["module"] == pytest.approx(2.801 + 0.400 + 4.536 + 0.604)  # 8.341 W, no input rail
    assert d["gpu"] == 2.801


def test_r35_xavier_after_a_locale_date_line():
    log = parse_log((LOGS / "tegrastats_xavier_agx32_r35_1.log").read_text())
    assert log.skipped[0][0] == 1 and log.skipped[0][1].startswith("pon, 6 maj 2024")
    assert log.rails == ["GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"]
    first = log.lines[0].rails_w
    # 11832 + 4456 + 4300 + 0 + 2151 + 4240 mW = 26.979 W
    assert derive(first, derived_rules(log.rails))["module"] == pytest.approx(26.979)


def test_single_line_fixtures_each_parse_with_the_rails_of_their_device():
    expected = {
        1: ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"],
        2: ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"],
        3: ["VDD_SYS_GPU", "VDD_SYS_SOC", "VDD_4V0_WIFI", "VDD_IN", "VDD_SYS_CPU", "VDD_SYS_DDR"],
        4: ["VDD_IN", "VDD_CPU", "VDD_GPU"],
        5: ["VDD_SYS_GPU", "VDD_SYS_SOC", "VDD_4V0_WIFI", "VDD_IN", "VDD_SYS_CPU", "VDD_SYS_DDR"],
        6: ["POM_5V_IN", "POM_5V_GPU", "POM_5V_CPU"],
        7: ["GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"],
        8: ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"],
        9: ["VDD_IN", "VDD_CPU_GPU_CV", "VDD_SOC"],
        10: ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0"],
        11: ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0"],
        12: ["GPU", "CPU", "SOC", "CV", "VDDRQ", "SYS5V"],
    }
    lines = lines_of("tegrastats_single_line_fixtures.log")
    assert len(lines) == 12
    for no, text in enumerate(lines, start=1):
        tl = parse_line(text, no)
        assert sorted(tl.rails_w) == sorted(expected[no]), no
        rules = derived_rules(list(tl.rails_w))
        assert "module" in rules and "gpu" in rules, no
    # line 10 (r36, runs of spaces): VDD_GPU_SOC 3205mW, VDD_CPU_CV 4405mW, VIN_SYS_5V0 4767mW
    assert parse_line(lines[9]).rails_w == {
        "VDD_GPU_SOC": 3.205,
        "VDD_CPU_CV": 4.405,
        "VIN_SYS_5V0": 4.767,
    }
    # line 3 (TX2, unitless): VDD_IN 5297 is the module; VDD_SYS_GPU 182 the GPU
    d = derive(parse_line(lines[2]).rails_w, derived_rules(expected[3]))
    assert d["module"] == 5.297 and d["gpu"] == 0.182


def test_terminal_capture_with_prompts_golden_energy():
    tr = import_trace(LOGS / "tegrastats_tx2_8gb_terminal_capture_2.log")
    assert [s[:12] for s in tr.meta["skipped_header_lines"]] == ["1: nvidia@li", "2: [sudo] pa"]
    # two lines, 1 s apart (tegrastats default; assumed and said): VDD_IN 3566 -> 3445 mW
    # trapezoid = 0.5 * (3.566 + 3.445) * 1 = 3.5055 J
    assert energy_j(tr) == pytest.approx(3.5055)
    assert "assumed" in tr.meta["times"]


def test_interval_from_stamps_and_resync_after_a_jump():
    tr = import_trace(LOGS / "tegrastats_xavier_agx32_r35_100ms_2.log")
    # 8 lines per whole second in this log: the real interval is 1/8 s (the file name says 100 ms)
    assert tr.meta["interval_s"] == pytest.approx(0.125)
    assert (np.diff(tr.t_s) >= 0).all()
    tr1 = import_trace(LOGS / "tegrastats_xavier_agx32_r35_1.log")
    assert tr1.meta["interval_s"] == 1.0
    # the stamps jump 11:26:50 -> 11:26:52: one 2 s step, recorded as a gap note
    assert any("log lines missing" in g.reason for g in tr1.gaps)
    assert np.max(np.diff(tr1.t_s)) == pytest.approx(2.0)


def test_every_tegrastats_fixture_parses_or_fails_clearly():
    for f in sorted(LOGS.glob("tegrastats_*.log")):
        if f.name == "tegrastats_orin_r35_no_power_rails_1.log":
            with pytest.raises(InputFileError, match="no power rails.*never invented"):
                import_trace(f)
            log = parse_log(f.read_text())
            assert log.rails == [] and len(log.lines) == 43  # parsed, no power invented
            continue
        if f.name == "tegrastats_current_only_rails_example.log":
            continue  # one line: tested below
        if f.name in ("tegrastats_single_line_fixtures.log", "tegrastats_r39_single_line_fixtures.log"):
            with pytest.raises(InputFileError, match="line [23]"):
                import_trace(f)  # a mix of devices is not one log
            continue
        tr = import_trace(f)
        e = energy(tr)
        assert tr.primary == "module" and e.energy_j > 0 and e.coverage == 1.0, f.name
        assert not np.isnan(tr.channels["module"]).any()


def test_truncated_last_line_is_an_error_with_its_line_number(tmp_path):
    lines = lines_of("tegrastats_xavier_nx_r35_1.log")[:3]
    cut = lines[2][: lines[2].index("VDD_SOC")]
    p = tmp_path / "cut.log"
    p.write_text("\n".join(lines[:2] + [cut]) + "\n")
    with pytest.raises(InputFileError, match=r"line 3: truncated.*missing \['VDD_SOC'\]"):
        import_trace(p)
    p.write_text("\n".join(lines[:2] + ["garbage here"]) + "\n")
    with pytest.raises(InputFileError, match="line 3: not a tegrastats line"):
        import_trace(p, fmt="tegrastats")


def test_line_times_with_given_interval_stays_in_its_second():
    log = parse_log("\n".join(lines_of("tegrastats_orin_agx64_r36_1.log")[:4]))
    t, _, how = line_times_s(log, 0.5)
    assert t == [0.0, 0.5, 1.0, 1.5] and how == "given"


@pytest.fixture
def fake_tegrastats(tmp_path):
    """A real executable printing a recorded log at the requested --interval (vendor boundary)."""
    script = tmp_path / "tegrastats"
    log = LOGS / "tegrastats_xavier_nx_r35_1.log"
    script.write_text(
        textwrap.dedent(f"""\
        #!{sys.executable}
        import sys, time
        ms = int(sys.argv[sys.argv.index("--interval") + 1])
        for line in open({str(log)!r}):
            print(line.rstrip(), flush=True)
            time.sleep(ms / 1000)
        """)
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_live_meter_on_a_subprocess(fake_tegrastats):
    assert TegrastatsMeter.probe(command=fake_tegrastats)[0]
    m = TegrastatsMeter(interval_ms=20, command=fake_tegrastats)
    assert m.primary == "module" and m.channels == [
        "VDD_IN",
        "VDD_CPU_GPU_CV",
        "VDD_SOC",
        "module",
        "gpu",
    ]
    with Sampler(m, period_s=0.02, close_meter=True) as s:
        import time

        time.sleep(0.3)
    tr = s.trace
    recorded = {parse_line(x).rails_w["VDD_IN"] for x in lines_of("tegrastats_xavier_nx_r35_1.log")}
    assert set(tr.channels["module"][~np.isnan(tr.channels["module"])]) <= recorded
    assert tr.meta["module_rule"].startswith("VDD_IN") and tr.meta["sensor_update_s"] == 0.02


def test_live_meter_unavailable_without_tegrastats(tmp_path):
    ok, reason = TegrastatsMeter.probe(command=tmp_path / "nope")
    assert not ok and "not an NVIDIA Jetson" in reason
    with pytest.raises(MeterUnavailableError):
        TegrastatsMeter(command=tmp_path / "nope")


# ---- INA3221 sysfs ------------------------------------------------------------------------------
def hwmon_tree(root):
    d = root / "hwmon3"
    d.mkdir(parents=True)
    (d / "name").write_text("ina3221\n")
    for k, (label, mv, ma) in enumerate(
        [("VDD_IN", 5000, 1000), ("VDD_CPU_GPU_CV", 5000, 200), ("NC", 0, 0)], start=1
    ):
        (d / f"in{k}_label").write_text(label + "\n")
        (d / f"in{k}_input").write_text(f"{mv}\n")
        (d / f"curr{k}_input").write_text(f"{ma}\n")
    other = root / "hwmon0"
    other.mkdir()
    (other / "name").write_text("cpu_thermal\n")
    return d


def test_ina3221_hwmon(tmp_path):
    d = hwmon_tree(tmp_path / "hwmon")
    m = Ina3221Meter(hwmon_root=tmp_path / "hwmon", iio_root=tmp_path / "none")
    assert m.channels == ["VDD_IN", "VDD_CPU_GPU_CV", "module", "gpu"]  # NC skipped
    r = m.read()
    # 5000 mV x 1000 mA = 5 W; 5000 mV x 200 mA = 1 W; module = VDD_IN (input rail)
    assert r.power_w == {"VDD_IN": 5.0, "VDD_CPU_GPU_CV": 1.0, "module": 5.0, "gpu": 1.0}
    (d / "curr1_input").unlink()
    r2 = m.read()
    assert math.isnan(r2.power_w["VDD_IN"]) and math.isnan(r2.power_w["module"])
    assert "INA3221 read failed" in r2.errors["VDD_IN"]


def test_ina3221_iio_r32(tmp_path):
    dev = tmp_path / "iio" / "6-0040" / "iio:device0"
    dev.mkdir(parents=True)
    for k, (name, mw) in enumerate([("POM_5V_IN", 920), ("POM_5V_GPU", 76), ("POM_5V_CPU", 119)]):
        (dev / f"rail_name_{k}").write_text(name + "\n")
        (dev / f"in_power{k}_input").write_text(f"{mw}\n")
    m = Ina3221Meter(hwmon_root=tmp_path / "none", iio_root=tmp_path / "iio")
    r = m.read()
    assert r.power_w["module"] == 0.920 and r.power_w["gpu"] == 0.076
    assert m.meta()["interface"] == "iio"


def test_ina3221_absent(tmp_path):
    with pytest.raises(MeterUnavailableError, match="not a Jetson"):
        Ina3221Meter(hwmon_root=tmp_path, iio_root=tmp_path)


# ---- JetPack 7.2 (L4T r39) three-value rails, current-only rails ------------------------------
R39_EXPECTED = [
    # rails in W (current value), module, gpu
    ({"VDD_GPU_SOC": 5.139, "VDD_CPU_CV": 3.268, "VIN_SYS_5V0": 5.5}, 13.907, 5.139),
    ({"VDD_GPU_SOC": 3.034, "VDD_CPU_CV": 1.137, "VIN_SYS_5V0": 4.939}, 9.11, 3.034),
    ({"VDD_IN": 4.548, "VDD_CPU_GPU_CV": 0.483, "VDD_SOC": 1.489}, 4.548, 0.483),
    ({"VDD_IN": 7.28}, 7.28, None),
    ({"VDD_GPU_SOC": 2.792, "VDD_CPU_CV": 0.0, "VIN_SYS_5V0": 3.918}, 6.71, 2.792),
]


def test_r39_three_value_rails_keep_the_current_value():
    lines = lines_of("tegrastats_r39_single_line_fixtures.log")
    assert len(lines) == len(R39_EXPECTED)
    for line, (rails, module, gpu) in zip(lines, R39_EXPECTED, strict=True):
        tl = parse_line(line)
        assert tl.rails_w == pytest.approx(rails), line[:40]
        assert tl.stamp is not None
        d = derive(tl.rails_w, derived_rules(list(tl.rails_w)))
        assert d["module"] == pytest.approx(module)
        if gpu is None:
            assert "gpu" not in d
        else:
            assert d["gpu"] == pytest.approx(gpu)


def test_r39_log_imports_with_the_right_watts(tmp_path):
    line = lines_of("tegrastats_r39_single_line_fixtures.log")[0]
    p = tmp_path / "r39.log"
    p.write_text(line + "\n" + line.replace("09:08:28", "09:08:29") + "\n")
    tr = import_trace(p)
    assert tr.channels["module"].tolist() == pytest.approx([13.907, 13.907])
    assert energy_j(tr) == pytest.approx(13.907)  # 1 s at 13.907 W


def test_current_only_rails_are_read_and_bare_numbers_are_not_rails():
    tl = parse_line(lines_of("tegrastats_current_only_rails_example.log")[0])
    assert tl.rails_w == {"VDD_GPU_SOC": 1.234, "VDD_CPU_CV": 0.567}  # not APE, not EMC
    assert "APE" not in parse_line(lines_of("tegrastats_r39_single_line_fixtures.log")[0]).rails_w


def test_line_without_rails_keeps_the_sudo_advice_and_unreadable_rails_say_so(tmp_path):
    with pytest.raises(InputFileError, match="no power rails.*sudo"):
        import_trace(LOGS / "tegrastats_orin_r35_no_power_rails_1.log")
    odd = tmp_path / "odd.log"
    odd.write_text("RAM 999/62841MB CPU [0%@729,off] GR3D_FREQ 0% VDD_IN 5000mW;5000mW\n")
    with pytest.raises(InputFileError, match="form not understood"):
        import_trace(odd, fmt="tegrastats")
