"""Node (whole-server) power from the BMC through ``ipmitool``: DCMI power reading where the BMC
supports it, else its SDR power sensors (e.g. ``Pwr Consumption``).

* ``ipmitool`` runs with an argument list, never a shell. Local (in-band, ``/dev/ipmi0``, root)
  when no host is set; remote with ``-I lanplus -H HOST`` (``INFERLCA_BMC_HOST``, optional
  ``INFERLCA_BMC_PORT``, ``INFERLCA_BMC_INTERFACE`` = ``lanplus``/``lan``). The user name comes from
  ``INFERLCA_BMC_USER``; the password from ``INFERLCA_BMC_PASSWORD`` and is handed to ipmitool in its
  environment (``-E`` reads ``IPMI_PASSWORD``), never on the command line.
* DCMI: ``dcmi power reading``'s ``Instantaneous power reading: N Watts``, only when the BMC says
  ``Power reading state is: activated`` (a deactivated reading is not a measurement).
* SDR: ``-c sdr list full`` rows ``name,value,Watts,status``; the node total is the sensor named
  like a total (``Pwr Consumption``, ``Total Power``, ``System Power``, ``Sys Power``), else the
  only Watts sensor, else the sum of the power-supply input sensors (``PS1 Input Power``...), else
  ``sensor=`` must name one. The rule used is stored in the trace meta.
* BMC readings update about once a second and in whole watts: the meter polls in a background
  thread (``poll_s``, default 1 s) and ``read()`` returns the latest value; the trace says
  ``sensor_update_s`` and ``resolution_w``, so short windows get the uncertainty they carry.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
from typing import Any

from inferlca.errors import MeterUnavailableError
from inferlca.meters.base import PowerMeter, Reading
from inferlca.meters.polled import LatestReading

_DCMI = re.compile(r"Instantaneous power reading:\s*([\d.]+)\s*Watts", re.IGNORECASE)
_DCMI_STATE = re.compile(r"Power reading state is:\s*(\w+)", re.IGNORECASE)
_TOTAL_NAMES = ("pwr consumption", "total power", "system power", "sys power", "power meter")
_REFUSED = (
    "unable to establish",
    "invalid user name",
    "activate session",
    "password",
    "authentication",
    "rakp",
    "unauthorized",
)


def parse_dcmi(text: str) -> tuple[float | None, str | None]:
    """``(watts, state)`` of ``ipmitool dcmi power reading`` output (None where absent)."""
    m = _DCMI.search(text)
    s = _DCMI_STATE.search(text)
    return (float(m.group(1)) if m else None, s.group(1).lower() if s else None)


def parse_sdr_csv(text: str) -> dict[str, float]:
    """Watts sensors of ``ipmitool -c sdr list full``: name -> watts (unreadable ones left out)."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.split(",")]
        if len(cells) < 3 or cells[2].lower() != "watts":
            continue
        try:
            out[cells[0]] = float(cells[1])
        except ValueError:
            continue
    return out


def choose_sdr(sensors: dict[str, float], wanted: str | None = None) -> tuple[list[str], str]:
    """The sensor(s) standing for the node total, and the rule that chose them.

    Raises:
        MeterUnavailableError: no Watts sensor, ``wanted`` absent, or an ambiguous set.
    """
    if not sensors:
        raise MeterUnavailableError(
            "the BMC has no power sensor in its SDR (no sensor in Watts) and no DCMI power "
            "reading: this server's BMC cannot measure node power"
        )
    if wanted is not None:
        if wanted not in sensors:
            raise MeterUnavailableError(
                f"no SDR power sensor named {wanted!r}; the BMC has: {', '.join(sensors)}"
            )
        return [wanted], f"SDR sensor {wanted!r} (chosen)"
    for name in sensors:
        if any(t in name.lower() for t in _TOTAL_NAMES):
            return [name], f"SDR sensor {name!r} (named as the node total)"
    if len(sensors) == 1:
        name = next(iter(sensors))
        return [name], f"SDR sensor {name!r} (the only power sensor)"
    psu = [n for n in sensors if re.search(r"\bps\w*\s*\d*\b", n.lower()) and "in" in n.lower()]
    if psu:
        return psu, f"sum of the power-supply input sensors {psu}"
    raise MeterUnavailableError(
        f"several power sensors and none is the node total ({', '.join(sensors)}): "
        "name one with the meter option sensor=NAME"
    )


class IpmiMeter(PowerMeter):
    """Node power through ipmitool (DCMI, else SDR power sensors)."""

    name = "ipmi"
    estimated = False
    description = "Node power from the BMC via ipmitool (DCMI power reading, else SDR sensors)"
    scope = "node"
    rail_family = "bmc"

    def __init__(
        self,
        host: str | None = None,
        port: int | str | None = None,
        interface: str | None = None,
        mode: str = "auto",
        sensor: str | None = None,
        poll_s: float = 1.0,
        command: str | os.PathLike[str] | None = None,
        timeout_s: float = 10.0,
        **_: Any,
    ) -> None:
        super().__init__()
        env = os.environ
        self.host = host or env.get("INFERLCA_BMC_HOST") or None
        self.port = str(port or env.get("INFERLCA_BMC_PORT") or "") or None
        self.interface = interface or env.get("INFERLCA_BMC_INTERFACE") or "lanplus"
        self.user = env.get("INFERLCA_BMC_USER")
        self._password = env.get("INFERLCA_BMC_PASSWORD")
        self.exe = str(command) if command else shutil.which("ipmitool") or "ipmitool"
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        if mode not in ("auto", "dcmi", "sdr"):
            raise MeterUnavailableError(f"IPMI mode must be auto, dcmi or sdr, got {mode!r}")
        self.mode = mode
        self.rule = ""
        self._sensors: list[str] = []
        self._dcmi_note: str | None = None
        if mode in ("auto", "dcmi"):
            ok, out = self._run(["dcmi", "power", "reading"])
            watts, state = parse_dcmi(out) if ok else (None, None)
            if ok and watts is not None and state in (None, "activated"):
                self.mode = "dcmi"
                self.rule = "DCMI instantaneous power reading"
            else:
                self._dcmi_note = (
                    "DCMI power reading deactivated on this BMC" if state == "deactivated"
                    else f"no DCMI power reading ({_first_line(out) or 'not supported'})"
                )
                if mode == "dcmi":
                    raise MeterUnavailableError(
                        f"the BMC does not support the DCMI power reading: {self._dcmi_note}; "
                        "use the SDR power sensors (meter option mode=sdr, or mode=auto)"
                    )
        if self.mode != "dcmi":
            ok, out = self._run(["-c", "sdr", "list", "full"])
            if not ok:
                raise MeterUnavailableError(f"ipmitool sdr failed: {_first_line(out)}")
            self._sensors, self.rule = choose_sdr(parse_sdr_csv(out), sensor)
            self.mode = "sdr"
        self.channels = ["node"]
        self.primary = "node"
        self._poller = LatestReading(self._fetch_watts, self.poll_s, "inferlca-ipmi",
                                     (ValueError, MeterUnavailableError))
        watts, error = self._poller.latest()
        if math.isnan(watts):
            raise MeterUnavailableError(f"the BMC gave no power reading: {error}")
        self._poller.start()

    # ---- ipmitool ----------------------------------------------------------------------------
    def _argv(self, args: list[str]) -> list[str]:
        argv = [self.exe]
        if self.host:
            argv += ["-I", self.interface, "-H", self.host]
            if self.port:
                argv += ["-p", self.port]
            if self.user:
                argv += ["-U", self.user]
            if self._password is not None:
                argv += ["-E"]  # password from IPMI_PASSWORD in the child's environment
            argv += ["-N", "1", "-R", "2"]
        return argv + args

    def _run(self, args: list[str]) -> tuple[bool, str]:
        env = dict(os.environ)
        env.pop("IPMI_PASSWORD", None)
        if self._password is not None:
            env["IPMI_PASSWORD"] = self._password
        try:
            p = subprocess.run(
                self._argv(args), capture_output=True, text=True, timeout=self.timeout_s, env=env,
                check=False,
            )
        except FileNotFoundError:
            raise MeterUnavailableError(
                f"ipmitool not found ({self.exe}): install it (apt-get install ipmitool)"
            ) from None
        except subprocess.TimeoutExpired:
            raise MeterUnavailableError(
                f"the BMC did not answer within {self.timeout_s:g} s"
                + (f" ({self.host})" if self.host else "")
                + ": check INFERLCA_BMC_HOST/PORT and the interface (lanplus or lan)"
            ) from None
        out = (p.stdout or "") + (p.stderr or "")
        if p.returncode != 0 and any(k in out.lower() for k in _REFUSED):
            raise MeterUnavailableError(
                f"the BMC refused the session ({_first_line(out, refused=True)}): check "
                "INFERLCA_BMC_USER and INFERLCA_BMC_PASSWORD"
            )
        return p.returncode == 0, out

    def _fetch_watts(self) -> float:
        if self.mode == "dcmi":
            ok, out = self._run(["dcmi", "power", "reading"])
            watts, _ = parse_dcmi(out) if ok else (None, None)
            if watts is None:
                raise ValueError(_first_line(out) or "no DCMI reading")
            return float(watts)
        ok, out = self._run(["-c", "sdr", "list", "full"])
        vals = parse_sdr_csv(out)
        missing = [s for s in self._sensors if s not in vals]
        if not ok or missing:
            raise ValueError(f"sensor(s) {missing or self._sensors} unreadable")
        return math.fsum(vals[s] for s in self._sensors)

    # ---- meter -------------------------------------------------------------------------------
    @classmethod
    def probe(
        cls, host: str | None = None, command: str | os.PathLike[str] | None = None, **_: Any
    ) -> tuple[bool, str]:
        exe = str(command) if command else shutil.which("ipmitool")
        if exe is None:
            return False, "ipmitool not found (apt-get install ipmitool)"
        host = host or os.environ.get("INFERLCA_BMC_HOST")
        if host:
            return True, f"BMC at {host} (credentials from INFERLCA_BMC_USER/PASSWORD)"
        if not any(os.path.exists(p) for p in ("/dev/ipmi0", "/dev/ipmi/0", "/dev/ipmidev/0")):
            return False, "no local BMC (/dev/ipmi0); set INFERLCA_BMC_HOST for a remote BMC"
        if not os.access("/dev/ipmi0", os.R_OK | os.W_OK):
            return False, "/dev/ipmi0 needs root"
        return True, "local BMC (/dev/ipmi0)"

    def read(self) -> Reading:
        watts, err = self._poller.latest()
        if err is not None:
            return Reading.failed(self.channels, f"BMC: {err}")
        return Reading({"node": watts})

    def devices(self) -> list[dict[str, Any]]:
        return [{"meter": "ipmi", "bmc": self.host or "local", "mode": self.mode,
                 "sensors": self._sensors}]

    def meta(self) -> dict[str, Any]:
        return {
            "device_name": "server (BMC)",
            "bmc": self.host or "local",
            "ipmi_mode": self.mode,
            "node_rule": self.rule,
            "dcmi_note": self._dcmi_note,
            "sensor_update_s": max(1.0, self.poll_s),
            "resolution_w": 1.0,
            "power_note": "BMC power readings update about once a second, in whole watts",
            "bmc_polls": self._poller.polls,
        }

    def close(self) -> None:
        poller = getattr(self, "_poller", None)
        if poller is not None:
            poller.stop()


def _first_line(text: str, refused: bool = False) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if refused:
        for ln in lines:
            if any(k in ln.lower() for k in _REFUSED):
                return ln
    return lines[0] if lines else ""
