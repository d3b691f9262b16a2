"""Linux RAPL through powercap sysfs (Intel, and AMD through the same ``intel-rapl`` interface).

Zones live in ``/sys/class/powercap/intel-rapl:N`` (``package-N``, ``psys``) with sub-zones
``intel-rapl:N:M`` (``core``, ``uncore``, ``dram``). Each has ``energy_uj``, a cumulative
counter in microjoules that wraps to 0 after ``max_energy_range_uj``.

* Every zone is a counter channel (joules since the meter opened, wrap-arounds added back) and a
  power channel (counter delta / time between reads, i.e. the average over the last period).
* ``cpu`` = sum of the ``package-*`` zones: the primary. Sub-zones (core, uncore, dram) and psys
  are kept as their own channels and never added to it (core/uncore are inside the package; dram
  and psys are reported beside it).
* Unreadable ``energy_uj`` (root only since Linux 5.10, CVE-2020-8694) makes the meter unavailable
  with the fix; a read failing later is a gap.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferlca.errors import MeterUnavailableError
from inferlca.meters.base import PowerMeter, Reading

POWERCAP = Path("/sys/class/powercap")
FIX = (
    "run as root, or let users read the counters: "
    "sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj /sys/class/powercap/intel-rapl:*:*/energy_uj"
)


@dataclass
class _Zone:
    channel: str
    path: Path
    max_range_uj: int
    last_uj: int
    last_t: float = 0.0
    total_j: float = 0.0
    wraps: int = 0


def find_zones(root: Path) -> list[tuple[str, Path]]:
    """``(channel, zone dir)`` for every RAPL zone under a powercap root, parents first."""
    zones: list[tuple[str, Path]] = []
    if not root.is_dir():
        return zones
    tops = sorted(p for p in root.iterdir() if p.name.count(":") == 1 and "rapl" in p.name)
    for top in tops:
        top_name = _read_name(top)
        zones.append((top_name, top))
        subs = sorted(p for p in top.iterdir() if p.name.startswith(top.name + ":"))
        subs += sorted(p for p in root.iterdir() if p.name.startswith(top.name + ":"))
        seen = set()
        for sub in subs:
            if sub.name in seen:
                continue
            seen.add(sub.name)
            zones.append((f"{top_name}:{_read_name(sub)}", sub))
    return zones


def _read_name(zone: Path) -> str:
    try:
        return (zone / "name").read_text().strip() or zone.name
    except OSError:
        return zone.name


def _read_int(path: Path) -> int:
    with open(path, "rb") as fh:
        return int(fh.read().strip())


class RaplMeter(PowerMeter):
    """CPU package (and dram, psys...) energy from Linux RAPL powercap counters."""

    name = "rapl"
    estimated = False
    scope = "host"
    rail_family = "cpu-package"
    description = "CPU packages via Linux RAPL / powercap energy counters (Intel and AMD)"

    def __init__(self, root: str | os.PathLike[str] = POWERCAP, **_: Any) -> None:
        super().__init__()
        self.root = Path(root)
        ok, reason = self.probe(root=self.root)
        if not ok:
            raise MeterUnavailableError(reason)
        self._zones: list[_Zone] = []
        for channel, path in find_zones(self.root):
            max_uj = _read_int(path / "max_energy_range_uj")
            self._zones.append(
                _Zone(
                    channel,
                    path / "energy_uj",
                    max_uj,
                    _read_int(path / "energy_uj"),
                    time.monotonic(),
                )
            )
        self._packages = [
            z.channel
            for z in self._zones
            if z.channel.startswith("package") and ":" not in z.channel
        ]
        self.channels = [z.channel for z in self._zones]
        self.counter_channels = list(self.channels)
        if self._packages:
            self.channels.append("cpu")
            self.counter_channels.append("cpu")
            self.primary = "cpu"
        else:
            self.primary = self.channels[0]

    @classmethod
    def probe(cls, root: str | os.PathLike[str] = POWERCAP, **_: Any) -> tuple[bool, str]:
        root = Path(root)
        zones = find_zones(root)
        if not zones:
            return False, (
                f"no RAPL zones under {root} (not an Intel/AMD machine, a VM without RAPL, "
                "or the intel_rapl_common module is not loaded: sudo modprobe intel_rapl_msr)"
            )
        for _zone, path in zones:
            f = path / "energy_uj"
            try:
                _read_int(f)
                _read_int(path / "max_energy_range_uj")
            except PermissionError:
                return False, f"{f} is not readable (root only since Linux 5.10); {FIX}"
            except (OSError, ValueError) as exc:
                return False, f"cannot read {f}: {exc}"
        return True, f"{len(zones)} RAPL zone(s): " + ", ".join(z for z, _ in zones)

    def read(self) -> Reading:
        now = time.monotonic()
        power: dict[str, float] = {}
        energy: dict[str, float] = {}
        errors: dict[str | None, str] = {}
        for z in self._zones:
            try:
                raw = _read_int(z.path)
            except (OSError, ValueError) as exc:
                power[z.channel] = energy[z.channel] = math.nan
                errors[z.channel] = f"RAPL read failed: {exc}"
                continue
            delta = raw - z.last_uj
            if delta < 0:  # the counter wrapped past max_energy_range_uj
                delta += z.max_range_uj
                z.wraps += 1
            dt = now - z.last_t  # since this zone's last good read (spans a gap after a failure)
            z.last_uj, z.last_t = raw, now
            z.total_j += delta / 1e6
            energy[z.channel] = z.total_j
            power[z.channel] = (delta / 1e6) / dt if dt > 0 else math.nan
            if math.isnan(power[z.channel]):
                errors[z.channel] = "two reads at the same instant"  # never a made-up zero
        if self._packages:
            parts_p = [power[c] for c in self._packages]
            parts_e = [energy[c] for c in self._packages]
            bad = any(math.isnan(x) for x in parts_p)
            power["cpu"] = math.nan if bad else math.fsum(parts_p)
            energy["cpu"] = math.nan if bad else math.fsum(parts_e)
            if bad:
                errors["cpu"] = "a package zone read failed"
        return Reading(power, energy, errors)

    def meta(self) -> dict[str, Any]:
        return {
            "zones": {z.channel: str(z.path.parent) for z in self._zones},
            "wraps": {z.channel: z.wraps for z in self._zones},
            "power_from": "energy counter delta / interval",
            "primary_rule": "cpu = sum of package-* zones (sub-zones and psys not added)",
            "device_name": "CPU (RAPL)",
        }
