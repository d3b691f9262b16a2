"""Node power through Redfish against sushy-tools' static emulator (``sushy-static``) serving a
mockup folder this test writes, with power values it changes while the meter reads."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from inferlca.errors import MeterUnavailableError
from inferlca.meters.redfish import RedfishMeter
from inferlca.meters.sampler import Sampler
from inferlca.traces.energy import energy, phases
from inferlca.traces.scope import measurement_scope

SUSHY = shutil.which("sushy-static") or str(Path(sys.executable).with_name("sushy-static"))
pytestmark = pytest.mark.skipif(
    not Path(SUSHY).exists(), reason="sushy-tools not installed (pip install -e '.[dev]')"
)


def put(root: Path, uri: str, body: dict) -> None:
    d = root / uri.removeprefix("/redfish/v1").strip("/")
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / "index.json.tmp"
    tmp.write_text(json.dumps(body))
    tmp.replace(d / "index.json")  # atomic: the server never serves half a file


def mockup(root: Path, kind: str, watts: float = 250.0) -> None:
    put(root, "/redfish/v1", {"@odata.id": "/redfish/v1", "Chassis": {"@odata.id": "/redfish/v1/Chassis"}})
    put(root, "/redfish/v1/Chassis", {"Members": [{"@odata.id": "/redfish/v1/Chassis/1U"}]})
    chassis = {"@odata.id": "/redfish/v1/Chassis/1U", "Id": "1U"}
    if kind == "power":
        chassis["Power"] = {"@odata.id": "/redfish/v1/Chassis/1U/Power"}
        set_power(root, watts)
    elif kind == "subsystem":
        chassis["PowerSubsystem"] = {"@odata.id": "/redfish/v1/Chassis/1U/PowerSubsystem"}
        put(root, "/redfish/v1/Chassis/1U/PowerSubsystem",
            {"PowerSupplies": {"@odata.id": "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies"}})
        put(root, "/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies", {"Members": [
            {"@odata.id": f"/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/{i}"} for i in (1, 2)]})
        for i, w in ((1, 120.0), (2, 130.5)):
            base = f"/redfish/v1/Chassis/1U/PowerSubsystem/PowerSupplies/{i}"
            put(root, base, {"Metrics": {"@odata.id": base + "/Metrics"}})
            put(root, base + "/Metrics", {"InputPowerWatts": {"Reading": w}})
    put(root, "/redfish/v1/Chassis/1U", chassis)


def set_power(root: Path, watts: float) -> None:
    put(root, "/redfish/v1/Chassis/1U/Power",
        {"PowerControl": [{"MemberId": "0", "PowerConsumedWatts": watts}]})


@pytest.fixture
def service(tmp_path, monkeypatch):
    root = tmp_path / "mockup"
    root.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([SUSHY, "-i", "127.0.0.1", "-p", str(port), "-m", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("INFERLCA_REDFISH_URL", url)
    put(root, "/redfish/v1", {"Chassis": {"@odata.id": "/redfish/v1/Chassis"}})
    for _ in range(100):
        try:
            urllib.request.urlopen(url + "/redfish/v1", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    yield root
    proc.terminate()
    proc.wait(timeout=5)


def test_power_control_followed_while_the_mockup_changes(service):
    mockup(service, "power", 250.0)
    m = RedfishMeter(poll_s=0.05)
    assert m.source.startswith("Power.PowerControl")
    with Sampler(m, period_s=0.02, close_meter=True) as s:
        s.mark("low")
        time.sleep(1.0)
        set_power(service, 400.0)
        s.mark("step")
        time.sleep(0.5)
        s.mark("high")
        time.sleep(1.0)
        s.mark("end")
    tr = s.trace
    assert measurement_scope(tr) == "node"
    for phase, watts in (("low", 250.0), ("high", 400.0)):
        a, b = next((x, y) for n, x, y in phases(tr) if n == phase)
        assert energy(tr, a, b).energy_j == pytest.approx(watts * (b - a), abs=1.0 * (b - a))


def test_power_subsystem_sums_the_supply_inputs(service):
    mockup(service, "subsystem")
    m = RedfishMeter(poll_s=0.05)
    try:
        assert m.read().power_w == {"node": 250.5}
        assert "PowerSubsystem" in m.meta()["node_rule"]
    finally:
        m.close()


def test_measure_through_redfish_and_an_endpoint_without_power(service, cli):
    mockup(service, "power", 300.0)
    r = cli("measure", "--meter", "redfish", "--period-ms", "50", "--json", "--",
            sys.executable, "-c", "import time; time.sleep(1.2)")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["measurement_scope"] == "node"
    assert d["energy"]["energy_j"] == pytest.approx(300.0 * d["duration_s"], rel=0.02)
    mockup(service, "none")
    r = cli("measure", "--meter", "redfish", "--", sys.executable, "-c", "pass")
    assert r.code == 2 and "no power resource" in r.err and "Traceback" not in r.err
    with pytest.raises(MeterUnavailableError, match="no power resource"):
        RedfishMeter()
