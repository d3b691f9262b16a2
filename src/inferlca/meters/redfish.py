"""Node (whole-chassis) power from a Redfish service (DMTF schema), over plain HTTP(S).

Where to read, in this order, on the chassis (``chassis=`` or the first one with a power
resource):

1. ``EnvironmentMetrics`` -> ``PowerWatts.Reading`` (the chassis' power, 2021+ schema);
2. ``Power`` (deprecated but the most widely implemented) -> ``PowerControl[0].PowerConsumedWatts``;
3. ``PowerSubsystem`` -> ``PowerSupplies`` -> each supply's ``Metrics`` ->
   ``InputPowerWatts.Reading``, summed (the power drawn at the supplies' inputs).

The service is ``INFERLCA_REDFISH_URL`` (``https://bmc.example``) or ``url=``; credentials come from
``INFERLCA_REDFISH_USER``/``INFERLCA_REDFISH_PASSWORD`` (HTTP basic auth), never from the command
line; ``INFERLCA_REDFISH_VERIFY=0`` accepts a self-signed BMC certificate. A background thread polls
every ``poll_s`` (BMC readings change about once a second); ``read()`` returns the latest value.
"""

from __future__ import annotations

import base64
import json
import math
import os
import ssl
import urllib.error
import urllib.request
from typing import Any

from inferlca.errors import MeterUnavailableError
from inferlca.meters.base import PowerMeter, Reading
from inferlca.meters.polled import LatestReading


class RedfishMeter(PowerMeter):
    """Node power through Redfish (EnvironmentMetrics, Power or PowerSubsystem)."""

    name = "redfish"
    estimated = False
    description = "Node power from the BMC via Redfish (Power / PowerSubsystem / EnvironmentMetrics)"
    scope = "node"
    rail_family = "bmc"

    def __init__(
        self,
        url: str | None = None,
        chassis: str | None = None,
        poll_s: float = 1.0,
        timeout_s: float = 10.0,
        **_: Any,
    ) -> None:
        super().__init__()
        env = os.environ
        base = url or env.get("INFERLCA_REDFISH_URL")
        if not base:
            raise MeterUnavailableError(
                "no Redfish service: set INFERLCA_REDFISH_URL (and INFERLCA_REDFISH_USER/PASSWORD)"
            )
        self.base = base.rstrip("/")
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        user, pw = env.get("INFERLCA_REDFISH_USER"), env.get("INFERLCA_REDFISH_PASSWORD")
        self._auth = (
            "Basic " + base64.b64encode(f"{user}:{pw or ''}".encode()).decode() if user else None
        )
        self._ctx = None
        if self.base.startswith("https") and env.get("INFERLCA_REDFISH_VERIFY") == "0":
            self._ctx = ssl.create_default_context()
            self._ctx.check_hostname = False
            self._ctx.verify_mode = ssl.CERT_NONE
        root = self._get("/redfish/v1")
        chassis_link = (root.get("Chassis") or {}).get("@odata.id")
        if not chassis_link:
            raise MeterUnavailableError(f"{self.base}: the Redfish service root has no Chassis")
        members = [m["@odata.id"] for m in self._get(chassis_link).get("Members", [])]
        if chassis is not None:
            members = [m for m in members if m.rstrip("/").rsplit("/", 1)[-1] == chassis]
            if not members:
                raise MeterUnavailableError(f"{self.base}: no chassis named {chassis!r}")
        self.chassis = ""
        self.source = ""
        self._psu_metrics: list[str] = []
        self._uri = ""
        for m in members:
            c = self._get(m)
            if self._choose(c):
                self.chassis = m
                break
        if not self.chassis:
            raise MeterUnavailableError(
                f"{self.base}: the Redfish endpoint has no power resource (no EnvironmentMetrics "
                "PowerWatts, Power PowerControl or PowerSubsystem supply metrics on "
                f"{', '.join(members) or 'any chassis'}): it cannot measure node power"
            )
        self.channels = ["node"]
        self.primary = "node"
        self._poller = LatestReading(
            self._value, self.poll_s, "inferlca-redfish",
            (MeterUnavailableError, ValueError, KeyError, TypeError, IndexError))
        v, error = self._poller.latest()
        if math.isnan(v):
            raise MeterUnavailableError(f"Redfish gave no power reading: {error}")
        self._poller.start()

    # ---- HTTP --------------------------------------------------------------------------------
    def _get(self, path: str) -> dict[str, Any]:
        req = urllib.request.Request(self.base + path if path.startswith("/") else path)
        req.add_header("Accept", "application/json")
        if self._auth:
            req.add_header("Authorization", self._auth)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s, context=self._ctx) as r:
                data = json.loads(r.read().decode())
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise MeterUnavailableError(
                    f"the Redfish service refused the credentials (HTTP {exc.code}): check "
                    "INFERLCA_REDFISH_USER and INFERLCA_REDFISH_PASSWORD"
                ) from None
            raise MeterUnavailableError(f"Redfish GET {path}: HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise MeterUnavailableError(f"Redfish GET {self.base}{path} failed: {exc}") from None
        if isinstance(data, dict):
            return data
        raise MeterUnavailableError(f"Redfish GET {path}: not a JSON object")

    def _choose(self, chassis: dict[str, Any]) -> bool:
        env_link = (chassis.get("EnvironmentMetrics") or {}).get("@odata.id")
        if env_link:
            em = self._get(env_link)
            if isinstance((em.get("PowerWatts") or {}).get("Reading"), (int, float)):
                self.source, self._uri = "EnvironmentMetrics.PowerWatts", env_link
                return True
        power_link = (chassis.get("Power") or {}).get("@odata.id")
        if power_link:
            p = self._get(power_link)
            pcs = p.get("PowerControl") or []
            if pcs and isinstance(pcs[0].get("PowerConsumedWatts"), (int, float)):
                self.source, self._uri = "Power.PowerControl[0].PowerConsumedWatts", power_link
                return True
        sub_link = (chassis.get("PowerSubsystem") or {}).get("@odata.id")
        if sub_link:
            sub = self._get(sub_link)
            supplies_link = (sub.get("PowerSupplies") or {}).get("@odata.id")
            if supplies_link:
                for m in self._get(supplies_link).get("Members", []):
                    psu = self._get(m["@odata.id"])
                    metrics = (psu.get("Metrics") or {}).get("@odata.id")
                    if metrics:
                        self._psu_metrics.append(metrics)
            if self._psu_metrics:
                self.source = "PowerSubsystem: sum of PowerSupplyMetrics.InputPowerWatts"
                return True
        return False

    def _value(self) -> float:
        if self.source.startswith("EnvironmentMetrics"):
            return float(self._get(self._uri)["PowerWatts"]["Reading"])
        if self.source.startswith("Power."):
            return float(self._get(self._uri)["PowerControl"][0]["PowerConsumedWatts"])
        parts = []
        for m in self._psu_metrics:
            reading = (self._get(m).get("InputPowerWatts") or {}).get("Reading")
            if isinstance(reading, bool) or not isinstance(reading, (int, float)):
                raise ValueError(f"{m}: no InputPowerWatts reading")  # noqa: TRY004 - a gap
            parts.append(float(reading))
        return math.fsum(parts)

    # ---- meter -------------------------------------------------------------------------------
    @classmethod
    def probe(cls, url: str | None = None, **_: Any) -> tuple[bool, str]:
        u = url or os.environ.get("INFERLCA_REDFISH_URL")
        if not u:
            return False, "set INFERLCA_REDFISH_URL to a Redfish service (BMC) to use it"
        return True, f"Redfish service {u}"

    def read(self) -> Reading:
        v, err = self._poller.latest()
        if err is not None:
            return Reading.failed(self.channels, f"Redfish: {err}")
        return Reading({"node": v})

    def devices(self) -> list[dict[str, Any]]:
        return [{"meter": "redfish", "service": self.base, "chassis": self.chassis,
                 "source": self.source}]

    def meta(self) -> dict[str, Any]:
        return {
            "device_name": "server (Redfish)",
            "redfish_chassis": self.chassis,
            "node_rule": self.source,
            "sensor_update_s": max(1.0, self.poll_s),
            "resolution_w": 1.0,
            "power_note": "BMC power readings update about once a second",
            "redfish_polls": self._poller.polls,
        }

    def close(self) -> None:
        poller = getattr(self, "_poller", None)
        if poller is not None:
            poller.stop()
