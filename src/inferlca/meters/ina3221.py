"""Direct reader of the Jetson INA3221 power monitors through sysfs (faster than tegrastats).

Two kernel interfaces:

* hwmon (L4T r35/r36, kernel 5.10+): ``/sys/class/hwmon/hwmonN`` with ``name`` = ``ina3221``,
  ``inK_label`` (rail name), ``inK_input`` (bus voltage, mV) and ``currK_input`` (current, mA);
  power = V x I.
* iio (L4T r32, driver ``ina3221x``): ``/sys/bus/i2c/drivers/ina3221x/*/iio:device*/`` with
  ``rail_name_K`` and ``in_power K_input`` (mW).

Rails become channels with the same ``module``/``gpu`` rules as tegrastats (no double counting).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from inferlca.errors import MeterUnavailableError
from inferlca.meters.base import PowerMeter, Reading
from inferlca.meters.tegrastats import derive, derived_rules

HWMON = Path("/sys/class/hwmon")
IIO = Path("/sys/bus/i2c/drivers/ina3221x")


def _read(path: Path) -> str:
    with open(path) as fh:
        return fh.read().strip()


def find_rails(
    hwmon_root: Path = HWMON, iio_root: Path = IIO
) -> list[tuple[str, str, tuple[Path, ...]]]:
    """``(rail, kind, files)``: kind ``vi`` (files = voltage mV, current mA) or ``p`` (power mW)."""
    rails: list[tuple[str, str, tuple[Path, ...]]] = []
    if hwmon_root.is_dir():
        for dev in sorted(hwmon_root.iterdir()):
            try:
                if _read(dev / "name") != "ina3221":
                    continue
            except OSError:
                continue
            for label in sorted(dev.glob("in*_label")):
                k = label.name[2:-6]
                try:
                    rail = _read(label)
                except OSError:
                    continue
                volt, curr = dev / f"in{k}_input", dev / f"curr{k}_input"
                if rail and rail.upper() != "NC" and volt.exists() and curr.exists():
                    rails.append((rail, "vi", (volt, curr)))
    if not rails and iio_root.is_dir():
        for dev in sorted(iio_root.glob("*/iio:device*")):
            for name_file in sorted(dev.glob("rail_name_*")):
                k = name_file.name.rsplit("_", 1)[1]
                power = dev / f"in_power{k}_input"
                try:
                    rail = _read(name_file)
                except OSError:
                    continue
                if rail and power.exists():
                    rails.append((rail, "p", (power,)))
    return rails


class Ina3221Meter(PowerMeter):
    """Jetson rails read straight from the INA3221 sysfs files."""

    name = "ina3221"
    estimated = False
    description = "NVIDIA Jetson INA3221 power monitors via sysfs (hwmon or iio)"
    scope = "accelerator"
    rail_family = "jetson-ina3221"

    def __init__(
        self,
        hwmon_root: str | os.PathLike[str] = HWMON,
        iio_root: str | os.PathLike[str] = IIO,
        **_: Any,
    ) -> None:
        super().__init__()
        ok, reason = self.probe(hwmon_root=hwmon_root, iio_root=iio_root)
        if not ok:
            raise MeterUnavailableError(reason)
        self._rails = find_rails(Path(hwmon_root), Path(iio_root))
        names = [r for r, _, _ in self._rails]
        self.rules = derived_rules(names)
        self.channels = names + [c for c in ("module", "gpu") if c in self.rules]
        self.primary = "module"

    @classmethod
    def probe(
        cls,
        hwmon_root: str | os.PathLike[str] = HWMON,
        iio_root: str | os.PathLike[str] = IIO,
        **_: Any,
    ) -> tuple[bool, str]:
        rails = find_rails(Path(hwmon_root), Path(iio_root))
        if not rails:
            return False, "no INA3221 power monitor in sysfs (not a Jetson)"
        for _rail, _kind, files in rails:
            for f in files:
                try:
                    float(_read(f))
                except PermissionError:
                    return (
                        False,
                        f"{f} is not readable; run as root or make it readable (sudo chmod a+r)",
                    )
                except (OSError, ValueError) as exc:
                    return False, f"cannot read {f}: {exc}"
        return True, "INA3221 rails: " + ", ".join(r for r, _, _ in rails)

    def read(self) -> Reading:
        rails_w: dict[str, float] = {}
        errors: dict[str | None, str] = {}
        for rail, kind, files in self._rails:
            try:
                if kind == "vi":
                    rails_w[rail] = float(_read(files[0])) * float(_read(files[1])) / 1e6
                else:
                    rails_w[rail] = float(_read(files[0])) / 1e3
            except (OSError, ValueError) as exc:
                rails_w[rail] = math.nan
                errors[rail] = f"INA3221 read failed: {exc}"
        power = derive(rails_w, self.rules)
        for ch in ("module", "gpu"):
            if ch in power and math.isnan(power[ch]) and errors:
                errors[ch] = "a rail read failed"
        return Reading(power, {}, errors)

    def meta(self) -> dict[str, Any]:
        return {
            "rails": [r for r, _, _ in self._rails],
            **self.rules,
            "interface": self._rails[0][1] == "vi" and "hwmon" or "iio",
            "device_name": "NVIDIA Jetson",
        }
