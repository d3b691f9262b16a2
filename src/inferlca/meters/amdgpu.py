"""AMD GPUs through the amdgpu driver's hwmon sysfs (no dependency), or ``amdsmi`` when installed.

hwmon (see :mod:`inferlca.meters.hwmon`): ``power1_input`` (instantaneous, recent kernels and
GPUs) or ``power1_average`` (the SMU's ~1 s average), microwatts; an ``energy1_input`` counter
where the driver has one. On APUs the ``power1_label`` is ``PPT`` (socket power, CPU included:
recorded in the devices measured).

``amdsmi`` (ROCm's Python binding; injected as ``amdsmi=`` in tests): ``amdsmi_get_energy_count``
(counter x resolution, microjoules) where supported, else ``amdsmi_get_power_info``
(``current_socket_power`` or ``average_socket_power``, watts).
"""

from __future__ import annotations

import math
import os
import time
from typing import Any

from inferlca.errors import MeterUnavailableError
from inferlca.meters.base import PowerMeter, Reading
from inferlca.meters.hwmon import HWMON, HwmonGpuMeter


class AmdGpuMeter(HwmonGpuMeter):
    """AMD GPUs via amdgpu hwmon sysfs."""

    name = "amdgpu"
    estimated = False
    description = "AMD GPUs via amdgpu hwmon sysfs (power1_input/average, energy where present)"
    rail_family = "amd-gpu"
    drivers = ("amdgpu",)
    prefix = "amdgpu"
    sum_channel = "amdgpus"
    vendor = "AMD"

    def __init__(self, root: str | os.PathLike[str] = HWMON, **options: Any) -> None:
        super().__init__(root, **options)


class AmdSmiMeter(PowerMeter):
    """AMD GPUs through the ``amdsmi`` library (ROCm); counter first, else socket power."""

    name = "amdsmi"
    estimated = False
    description = "AMD GPUs via amdsmi (ROCm): energy counter, else socket power"
    rail_family = "amd-gpu"
    scope = "accelerator"

    def __init__(self, amdsmi: Any = None, **_: Any) -> None:
        super().__init__()
        self._lib = lib = amdsmi if amdsmi is not None else _load()
        try:
            lib.amdsmi_init()
        except Exception as exc:  # noqa: BLE001 - AmdSmiLibraryException and friends
            raise MeterUnavailableError(f"amdsmi cannot start ({exc}); install ROCm") from None
        self._open = True
        self._handles = list(lib.amdsmi_get_processor_handles())
        if not self._handles:
            self.close()
            raise MeterUnavailableError("amdsmi works but sees no AMD GPU")
        self._last: list[tuple[float, float] | None] = []
        self._total = [0.0] * len(self._handles)
        for h in self._handles:
            self._last.append(self._energy_uj(h))
        self.channels = [f"amdgpu{i}" for i in range(len(self._handles))]
        self.counter_channels = [c for c, e in zip(self.channels, self._last) if e is not None]
        if len(self._handles) > 1:
            self.channels.append("amdgpus")
            self.primary = "amdgpus"
        else:
            self.primary = self.channels[0]

    @classmethod
    def probe(cls, amdsmi: Any = None, **_: Any) -> tuple[bool, str]:
        try:
            lib = amdsmi if amdsmi is not None else _load()
        except ImportError:
            return False, "the amdsmi package is not installed (ROCm's Python binding)"
        return True, f"amdsmi {getattr(lib, '__version__', '')}".strip()

    def _energy_uj(self, h: Any) -> tuple[float, float] | None:
        try:
            e = self._lib.amdsmi_get_energy_count(h)
            return float(e["energy_accumulator"]) * float(e["counter_resolution"]), time.monotonic()
        except Exception:  # noqa: BLE001 - not supported on this GPU
            return None

    def read(self) -> Reading:
        power: dict[str, float] = {}
        energy: dict[str, float] = {}
        errors: dict[str | None, str] = {}
        for i, (h, ch) in enumerate(zip(self._handles, self.channels)):
            try:
                last = self._last[i]
                if last is not None:
                    now = self._energy_uj(h)
                    if now is None or now[0] < last[0]:
                        raise ValueError("energy counter unreadable or went backwards")
                    dj = (now[0] - last[0]) / 1e6
                    self._total[i] += dj
                    energy[ch] = self._total[i]
                    power[ch] = dj / (now[1] - last[1]) if now[1] > last[1] else math.nan
                    self._last[i] = now
                else:
                    info = self._lib.amdsmi_get_power_info(h)
                    w = info.get("current_socket_power")
                    if w in (None, "N/A"):
                        w = info.get("average_socket_power")
                    power[ch] = float(w)
            except Exception as exc:  # noqa: BLE001 - a failed read is a gap
                power[ch] = math.nan
                errors[ch] = f"amdsmi read failed: {exc}"
        if "amdgpus" in self.channels:
            parts = [power[c] for c in self.channels[:-1]]
            power["amdgpus"] = math.fsum(parts) if not any(map(math.isnan, parts)) else math.nan
        return Reading(power, energy, errors)

    def devices(self) -> list[dict[str, Any]]:
        return [{"meter": "amdsmi", "index": i} for i in range(len(self._handles))]

    def meta(self) -> dict[str, Any]:
        return {"device_name": "AMD GPU", "sensor_update_s": None}

    def close(self) -> None:
        if getattr(self, "_open", False):
            self._open = False
            try:
                self._lib.amdsmi_shut_down()
            except Exception:  # noqa: BLE001, S110
                pass


def _load() -> Any:
    import amdsmi  # type: ignore[import-not-found]

    return amdsmi
