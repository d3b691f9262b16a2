"""GPUs that report power through Linux ``hwmon`` sysfs: the shared reader of the AMD (amdgpu) and
Intel (i915, xe) meters. No vendor library needed.

A hwmon device is a folder ``/sys/class/hwmon/hwmonN`` whose ``name`` file names the driver. The
hwmon units are fixed by the kernel ABI (Documentation/hwmon/sysfs-interface): power in microwatts
(``powerK_input`` instantaneous, ``powerK_average`` averaged), energy in microjoules
(``energyK_input``, cumulative).

* Where an energy counter exists it is a counter channel (joules since the meter opened) and the
  channel's power is the counter's delta over the time between reads (the average over the last
  period); a counter that goes backwards (a 32-bit register wrapping twice between reads, or a
  driver reload) is a failed read, never a negative power.
* Else the power file is read (``powerK_input`` preferred over ``powerK_average``, which amdgpu
  averages over about a second: the trace records it and the diagnostics warn on short windows).
* One channel per device (``<prefix><n>``), plus their sum when there are several (the primary).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from inferlca.errors import MeterUnavailableError
from inferlca.meters.base import PowerMeter, Reading

HWMON = Path("/sys/class/hwmon")


@dataclass
class HwmonDevice:
    """One hwmon folder of a GPU driver and the files chosen to read."""

    channel: str
    path: Path
    driver: str
    energy_file: Path | None = None
    power_file: Path | None = None
    label: str | None = None
    pci: str | None = None
    last_uj: float | None = None
    last_t: float = 0.0
    total_j: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def _read(path: Path) -> str:
    return path.read_text().strip()


def find_devices(root: Path, drivers: tuple[str, ...], prefix: str) -> list[HwmonDevice]:
    """hwmon folders under ``root`` whose ``name`` is one of ``drivers``, with the files to read.

    For each device: the first ``energyK_input`` whose label is the card (``card`` on xe, no label
    on i915) if any, and the first of ``power1_input`` / ``power1_average``.
    """
    out: list[HwmonDevice] = []
    if not root.is_dir():
        return out
    dirs = sorted(
        (p for p in root.iterdir() if p.name.startswith("hwmon")),
        key=lambda p: int("".join(c for c in p.name if c.isdigit()) or 0),
    )
    for d in dirs:
        try:
            name = _read(d / "name")
        except OSError:
            continue
        if name not in drivers:
            continue
        dev = HwmonDevice(f"{prefix}{len(out)}", d, name)
        energies = sorted(d.glob("energy*_input"))
        for e in energies:
            lab = d / e.name.replace("_input", "_label")
            label = _read(lab) if lab.exists() else None
            if label is None or label.lower() in ("card", "energy"):
                dev.energy_file, dev.label = e, label
                break
        for pname in ("power1_input", "power1_average"):
            if (d / pname).exists():
                dev.power_file = d / pname
                lab = d / "power1_label"
                if lab.exists() and dev.label is None:
                    dev.label = _read(lab)
                break
        link = d / "device"
        if link.is_symlink():
            dev.pci = os.path.basename(os.readlink(link))
        if dev.energy_file is None and dev.power_file is None:
            continue
        out.append(dev)
    return out


class HwmonGpuMeter(PowerMeter):
    """Base of the hwmon GPU meters; subclasses set the driver names and channel prefix."""

    drivers: ClassVar[tuple[str, ...]] = ()
    prefix: ClassVar[str] = "gpu"
    sum_channel: ClassVar[str] = "gpus"
    vendor: ClassVar[str] = ""
    scope = "accelerator"

    def __init__(self, root: str | os.PathLike[str] = HWMON, **_: Any) -> None:
        super().__init__()
        self.root = Path(root)
        self._devs = find_devices(self.root, self.drivers, self.prefix)
        if not self._devs:
            raise MeterUnavailableError(self._absent_reason())
        now = time.monotonic()
        for d in self._devs:
            if d.energy_file is not None:
                try:
                    d.last_uj = float(_read(d.energy_file))
                except (OSError, ValueError) as exc:
                    raise MeterUnavailableError(
                        f"cannot read {d.energy_file}: {exc} (run as root, or check permissions)"
                    ) from None
                d.last_t = now
        self.channels = [d.channel for d in self._devs]
        self.counter_channels = [d.channel for d in self._devs if d.energy_file is not None]
        if len(self._devs) > 1:
            self.channels.append(self.sum_channel)
            if len(self.counter_channels) == len(self._devs):
                self.counter_channels.append(self.sum_channel)
            self.primary = self.sum_channel
        else:
            self.primary = self.channels[0]
        if any(d.energy_file is None and d.power_file and d.power_file.name.endswith("average")
               for d in self._devs):
            self.averaging_s = 1.0

    @classmethod
    def _absent_reason(cls, root: Path = HWMON) -> str:
        return (
            f"no {cls.vendor} GPU hwmon device ({'/'.join(cls.drivers)}) under {root}: "
            f"no {cls.vendor} GPU, or its driver does not expose power"
        )

    @classmethod
    def probe(cls, root: str | os.PathLike[str] = HWMON, **_: Any) -> tuple[bool, str]:
        devs = find_devices(Path(root), cls.drivers, cls.prefix)
        if not devs:
            return False, cls._absent_reason(Path(root))
        what = ", ".join(
            f"{d.path.name} ({'energy counter' if d.energy_file else d.power_file.name})"  # type: ignore[union-attr]
            for d in devs
        )
        return True, f"{len(devs)} {cls.vendor} GPU(s): {what}"

    def read(self) -> Reading:
        power: dict[str, float] = {}
        energy: dict[str, float] = {}
        errors: dict[str | None, str] = {}
        for d in self._devs:
            try:
                if d.energy_file is not None:
                    uj = float(_read(d.energy_file))
                    t = time.monotonic()
                    assert d.last_uj is not None
                    if uj < d.last_uj:
                        raise ValueError(
                            f"energy counter went backwards ({d.last_uj:.0f} -> {uj:.0f} uJ)"
                        )
                    delta_j = (uj - d.last_uj) / 1e6
                    dt = t - d.last_t
                    d.total_j += delta_j
                    d.last_uj, d.last_t = uj, t
                    energy[d.channel] = d.total_j
                    power[d.channel] = delta_j / dt if dt > 0 else math.nan
                    if math.isnan(power[d.channel]) and d.power_file is not None:
                        power[d.channel] = float(_read(d.power_file)) / 1e6
                else:
                    assert d.power_file is not None
                    power[d.channel] = float(_read(d.power_file)) / 1e6
            except (OSError, ValueError) as exc:
                power[d.channel] = math.nan
                if d.energy_file is not None:
                    energy[d.channel] = math.nan
                errors[d.channel] = f"{d.path.name}: {exc}"
        if len(self._devs) > 1:
            parts = [power[d.channel] for d in self._devs]
            power[self.sum_channel] = (
                math.fsum(parts) if not any(math.isnan(p) for p in parts) else math.nan
            )
            if self.sum_channel in self.counter_channels:
                es = [energy[d.channel] for d in self._devs]
                energy[self.sum_channel] = (
                    math.fsum(es) if not any(math.isnan(e) for e in es) else math.nan
                )
        return Reading(power, energy, errors)

    def devices(self) -> list[dict[str, Any]]:
        return [
            {
                "meter": self.name,
                "index": i,
                "hwmon": d.path.name,
                "driver": d.driver,
                "pci": d.pci,
                "label": d.label,
            }
            for i, d in enumerate(self._devs)
        ]

    def meta(self) -> dict[str, Any]:
        sources = {
            d.channel: (
                f"{d.energy_file.name} (counter, uJ)"
                if d.energy_file
                else f"{d.power_file.name} (uW)"  # type: ignore[union-attr]
            )
            for d in self._devs
        }
        averaged = any(
            d.energy_file is None and d.power_file is not None
            and d.power_file.name.endswith("average")
            for d in self._devs
        )
        return {
            "device_name": f"{self.vendor} GPU",
            "hwmon_sources": sources,
            "power_averaging_s": 1.0 if averaged else None,
            "sensor_update_s": 1.0 if averaged else None,
            **(
                {"power_note": "power1_average is the driver's ~1 s average: short windows "
                 "are uncertain"}
                if averaged
                else {}
            ),
        }
