"""Apple Silicon: a recorded powermetrics log imported to a trace, the live meter on a real
subprocess replaying that log, and zeus-apple-silicon against a fake module (vendor boundary)."""

from __future__ import annotations

import stat
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from inferlca.errors import InputFileError
from inferlca.meters.apple import PowermetricsMeter, ZeusAppleMeter, parse_powermetrics
from inferlca.meters.replay import detect_format, import_trace
from inferlca.traces.energy import energy_j
from inferlca.traces.scope import measurement_scope

LOG = Path(__file__).parent / "fixtures" / "power-logs" / "powermetrics_mac16_6_1.txt"


def test_recorded_powermetrics_block_right_channels_units_and_energy():
    s = parse_powermetrics(LOG.read_text())
    assert len(s) == 1 and s[0].elapsed_s == pytest.approx(5.02196)
    # the first GPU Power (processor section) is kept; mW -> W
    assert s[0].watts == {"cpu": 0.954, "gpu": 0.028, "ane": 0.0, "combined": 0.983}
    assert detect_format(LOG) == "powermetrics"
    tr = import_trace(LOG)
    assert tr.primary == "combined" and tr.meter == "replay:powermetrics"
    # one 5.02196 s block at 0.983 W: 4.93659 J
    assert energy_j(tr) == pytest.approx(0.983 * 5.02196)
    assert measurement_scope(tr) == "accelerator"
    assert tr.meta["sensor_update_s"] == pytest.approx(5.02196)


def test_powermetrics_two_blocks_and_watts_unit_and_no_power(tmp_path):
    two = tmp_path / "pm.txt"
    two.write_text(textwrap.dedent("""\
        *** Sampled system activity (Sat Nov  8 15:54:21 2025 +0900) (1000.00ms elapsed) ***
        CPU Power: 1.5 W
        GPU Power: 500 mW
        ANE Power: 0 mW
        Combined Power (CPU + GPU + ANE): 2000 mW
        *** Sampled system activity (Sat Nov  8 15:54:22 2025 +0900) (500.00ms elapsed) ***
        CPU Power: 3000 mW
        GPU Power: 1000 mW
        ANE Power: 0 mW
        Combined Power (CPU + GPU + ANE): 4000 mW
        """))
    tr = import_trace(two)
    assert energy_j(tr) == pytest.approx(2.0 * 1.0 + 4.0 * 0.5)
    assert tr.channels["cpu"][0] == 1.5
    none = tmp_path / "none.txt"
    none.write_text("*** Sampled system activity (x) (1000.00ms elapsed) ***\nGPU HW active: 1%\n")
    with pytest.raises(InputFileError, match="no power lines"):
        import_trace(none, fmt="powermetrics")


def test_live_powermetrics_meter_on_a_subprocess(tmp_path):
    script = tmp_path / "powermetrics"
    script.write_text(
        f"#!{sys.executable}\nimport sys, time\n"
        f"text = open({str(LOG)!r}).read()\n"
        "while True:\n    sys.stdout.write(text); sys.stdout.flush(); time.sleep(0.05)\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    assert PowermetricsMeter.probe(command=script)[0]
    m = PowermetricsMeter(interval_ms=50, command=script)
    try:
        assert m.primary == "combined"
        r = m.read()
        assert r.power_w == {"cpu": 0.954, "gpu": 0.028, "ane": 0.0, "combined": 0.983}
        assert m.meta()["measurement_scope"] == "accelerator"
    finally:
        m.close()


class FakeZeusApple:
    """Same names as zeus_apple_silicon: each window reports fixed millijoules."""

    class AppleEnergyMonitor:
        def begin_window(self, label):
            self.label = label

        def end_window(self, label):
            assert label == self.label
            return SimpleNamespace(cpu_total_mj=3000, gpu_mj=1500, ane_mj=0, dram_mj=500)


def test_zeus_apple_counters_add_up():
    m = ZeusAppleMeter(zeus_apple=FakeZeusApple)
    m.read()
    r = m.read()
    assert r.energy_j["cpu"] == pytest.approx(6.0) and r.energy_j["dram"] == pytest.approx(1.0)
    assert r.energy_j["soc"] == pytest.approx(9.0)  # cpu + gpu + ane, dram beside it
