"""Node power through ipmitool against the OpenIPMI BMC simulator (``ipmi_sim``) started here with
a power sensor read from a file the test changes, and the DCMI parser on recorded real outputs."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inferlca.errors import MeterUnavailableError
from inferlca.meters.ipmi import IpmiMeter, choose_sdr, parse_dcmi, parse_sdr_csv
from inferlca.meters.sampler import Sampler
from inferlca.traces.energy import energy, phases
from inferlca.traces.scope import measurement_scope

LOGS = Path(__file__).parent / "fixtures" / "power-logs"
NEEDS_SIM = pytest.mark.skipif(
    shutil.which("ipmi_sim") is None or shutil.which("ipmitool") is None,
    reason="ipmi_sim/ipmitool not installed (apt-get install openipmi ipmitool; .ci/run does)",
)

#: Full sensor record (IPMI 2.0 section 43.1) of "Pwr Consumption": sensor 1, type Current,
#: threshold reading, unit Watts (6), linear, M = 2, B = 0: watts = 2 x raw byte (resolution 2 W).
NAME = b"Pwr Consumption"
_BODY = [0x20, 0x00, 0x01, 0x07, 0x01, 0x7F, 0x68, 0x03, 0x01,
         0, 0, 0, 0, 0, 0,
         0x00, 0x06, 0x00, 0x00,
         0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
         0x00, 0x00, 0x00, 0x00, 0xFF, 0x00,
         0, 0, 0, 0, 0, 0,
         0, 0, 0, 0, 0,
         0xC0 | len(NAME), *NAME]
SDR = [0x01, 0x00, 0x51, 0x01, len(_BODY), *_BODY]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def bmc(tmp_path, monkeypatch):
    """A running ipmi_sim with one power sensor; yields the file holding its raw value."""
    port = _free_port()
    raw = tmp_path / "power_raw"
    raw.write_text("50\n")  # 100 W
    (tmp_path / "state").mkdir()
    (tmp_path / "lan.conf").write_text(f"""name "inferlca_test"
set_working_mc 0x20
  startlan 1
    addr 127.0.0.1 {port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  user 2 true  "admin"   "s3cret"  admin    10 none md2 md5 straight
""")
    (tmp_path / "sim.emu").write_text(
        "mc_setbmc 0x20\n"
        "mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr\n"
        "sel_enable 0x20 1000 0x0a\n"
        f'sensor_add 0x20 0 1 0x03 0x01 poll 50 file "{raw}"\n'
        "main_sdr_add 0x20 " + " ".join(f"0x{b:02x}" for b in SDR) + "\n"
        # scanning on (a fresh simulator reports the sensor as not scanning, 'ns', otherwise)
        "sensor_set_event_support 0x20 0 1 enable scanning none 000000000000000 "
        "000000000000000 000000000000000 000000000000000\n"
        "mc_enable 0x20\n"
    )
    proc = subprocess.Popen(
        ["ipmi_sim", "-c", str(tmp_path / "lan.conf"), "-f", str(tmp_path / "sim.emu"),
         "-s", str(tmp_path / "state"), "-n"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    monkeypatch.setenv("INFERLCA_BMC_HOST", "127.0.0.1")
    monkeypatch.setenv("INFERLCA_BMC_PORT", str(port))
    monkeypatch.setenv("INFERLCA_BMC_INTERFACE", "lan")  # ipmi_sim's RMCP+ needs more setup
    monkeypatch.setenv("INFERLCA_BMC_USER", "admin")
    monkeypatch.setenv("INFERLCA_BMC_PASSWORD", "s3cret")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # wait for the simulator to answer
        p = subprocess.run(["ipmitool", "-I", "lan", "-H", "127.0.0.1", "-p", str(port), "-U",
                            "admin", "-E", "-N", "1", "-R", "1", "-c", "sdr", "list", "full"],
                           capture_output=True, text=True, check=False,
                           env={"IPMI_PASSWORD": "s3cret", "PATH": "/usr/bin:/bin"})
        if "Pwr Consumption,100,Watts" in p.stdout:
            break
        time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("ipmi_sim did not start")
    yield raw
    proc.terminate()
    proc.wait(timeout=5)


@NEEDS_SIM
def test_ipmi_sim_without_dcmi_falls_back_to_the_sdr_sensor_and_follows_the_profile(bmc):
    m = IpmiMeter(poll_s=0.1)
    assert m.mode == "sdr" and "Pwr Consumption" in m.rule
    assert "no DCMI power reading" in m.meta()["dcmi_note"]
    assert m.read().power_w == {"node": 100.0}
    with Sampler(m, period_s=0.05, close_meter=True) as s:
        s.mark("low")
        time.sleep(1.5)
        bmc.write_text("100\n")  # 200 W
        s.mark("step")
        time.sleep(1.0)
        s.mark("high")
        time.sleep(1.5)
        s.mark("end")
    tr = s.trace
    assert measurement_scope(tr) == "node" and tr.primary == "node"
    # away from the step, the trace is the simulated profile within the sensor resolution (2 W)
    for phase, watts in (("low", 100.0), ("high", 200.0)):
        a, b = next((x, y) for n, x, y in phases(tr) if n == phase)
        e = energy(tr, a, b).energy_j
        assert e == pytest.approx(watts * (b - a), abs=2.0 * (b - a))


@NEEDS_SIM
def test_measure_through_ipmi_gives_a_node_scope_trace(bmc, cli, tmp_path):
    out = tmp_path / "node.csv"
    r = cli("measure", "--meter", "ipmi", "--period-ms", "100", "--json", "--out", out, "--",
            sys.executable, "-c", "import time; time.sleep(1.5)")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["measurement_scope"] == "node"
    assert d["energy"]["energy_j"] == pytest.approx(100.0 * d["duration_s"], rel=0.05)
    assert any("sensor updates" in w for w in d["warnings"])  # a 1.5 s window of a ~1 s sensor
    # the slow, 1 W-step sensor's interval: +- (mean power x 1 s update + 1 W x duration)
    iv, e, dur = d["energy_interval_j"], d["energy"]["energy_j"], d["duration_s"]
    assert iv["high"] - e == pytest.approx(e / dur * 1.0 + 1.0 * dur)


@NEEDS_SIM
def test_bmc_refusing_the_credentials_is_exit_2_one_line(bmc, cli, monkeypatch):
    monkeypatch.setenv("INFERLCA_BMC_PASSWORD", "wrong")
    r = cli("measure", "--meter", "ipmi", "--", sys.executable, "-c", "pass")
    assert r.code == 2 and "refused" in r.err and "INFERLCA_BMC_PASSWORD" in r.err
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


@NEEDS_SIM
def test_bmc_without_dcmi_when_dcmi_is_required(bmc):
    with pytest.raises(MeterUnavailableError, match="does not support the DCMI power reading"):
        IpmiMeter(mode="dcmi")


def test_dcmi_recorded_outputs():
    w, state = parse_dcmi((LOGS / "ipmitool_dcmi_power_reading_power8_1.txt").read_text())
    assert (w, state) == (262.0, "activated")
    w, state = parse_dcmi((LOGS / "ipmitool_dcmi_power_reading_deactivated_2.txt").read_text())
    assert (w, state) == (235.0, "deactivated")


def test_sdr_choice_rules():
    csv = "Inlet Temp,23,degrees C,ok\nPS1 Input Power,180,Watts,ok\nPS2 Input Power,170,Watts,ok\n"
    sensors = parse_sdr_csv(csv)
    assert sensors == {"PS1 Input Power": 180.0, "PS2 Input Power": 170.0}
    names, rule = choose_sdr(sensors)
    assert names == ["PS1 Input Power", "PS2 Input Power"] and "sum" in rule
    assert choose_sdr({"Pwr Consumption": 140.0, "CPU Power": 60.0})[0] == ["Pwr Consumption"]
    with pytest.raises(MeterUnavailableError, match="no power sensor"):
        choose_sdr({})
    with pytest.raises(MeterUnavailableError, match="sensor=NAME"):
        choose_sdr({"CPU Power": 60.0, "Mem Power": 20.0})
