"""Intel GPUs (Arc, Data Center GPU Flex/Max, recent iGPUs) through i915/xe hwmon energy counters.

The i915 driver exposes ``energy1_input`` (microjoules, the driver accumulates the 32-bit register,
kernel 5.14+ for discrete GPUs); xe exposes ``energy1_input`` labelled ``card`` and
``energy2_input`` labelled ``pkg`` (the card is the total: the package is inside it). See
:mod:`inferlca.meters.hwmon`. Integrated GPUs without a hwmon device have no power reading here
(their power is inside the CPU package that RAPL measures).

:class:`ZesMeter` (``--meter pyzes``) reads the same cards through Level Zero Sysman when the
``pyzes`` package is installed (imported only then).
"""

from __future__ import annotations

import ctypes
import math
import os
from typing import Any

from inferlca.errors import MeterUnavailableError
from inferlca.meters.base import PowerMeter, Reading
from inferlca.meters.hwmon import HWMON, HwmonGpuMeter


class IntelGpuMeter(HwmonGpuMeter):
    """Intel GPUs via i915/xe hwmon energy counters."""

    name = "intel-gpu"
    estimated = False
    description = "Intel GPUs via i915/xe hwmon energy counters (card energy)"
    rail_family = "intel-gpu"
    drivers = ("i915", "xe")
    prefix = "intelgpu"
    sum_channel = "intelgpus"
    vendor = "Intel"

    def __init__(self, root: str | os.PathLike[str] = HWMON, **options: Any) -> None:
        super().__init__(root, **options)


class ZesMeter(PowerMeter):
    """Intel GPUs through Level Zero Sysman (``pyzes``): each device's energy counter.

    Per device, the power domains that are not on a sub-device (``onSubdevice == 0``: the whole
    card; tiles would count it twice) are read with ``zesPowerGetEnergyCounter`` (microjoules,
    with the driver's timestamp in microseconds); power is the counter's rate between reads.
    Same sensors as the hwmon ``intel-gpu`` meter: the two are never combined.
    """

    name = "pyzes"
    estimated = False
    description = "Intel GPUs via Level Zero Sysman (pyzes): card energy counters"
    rail_family = "intel-gpu"
    scope = "accelerator"

    def __init__(self, pyzes: Any = None, **_: Any) -> None:
        super().__init__()
        self._z = z = pyzes if pyzes is not None else _load_pyzes()
        try:
            rc = z.zesInit(0)
        except Exception as exc:  # noqa: BLE001 - the loader cannot find libze_loader...
            raise MeterUnavailableError(f"pyzes cannot start ({exc}); install the Level Zero "
                                        "loader and GPU driver") from None
        if rc != z.ZE_RESULT_SUCCESS:
            raise MeterUnavailableError("pyzes: zesInit failed (no Level Zero driver, or no "
                                        "access to the GPU: check the render group)")
        self._domains: list[Any] = []
        for driver in _enum(z, z.zes_driver_handle_t, z.zesDriverGet):
            for device in _enum(z, z.zes_device_handle_t, z.zesDeviceGet, driver):
                card = None
                for dom in _enum(z, z.zes_pwr_handle_t, z.zesDeviceEnumPowerDomains, device):
                    props = z.zes_power_properties_t()
                    if z.zesPowerGetProperties(dom, ctypes.byref(props)) != z.ZE_RESULT_SUCCESS:
                        continue
                    if not props.onSubdevice:
                        card = dom
                        break
                if card is not None:
                    self._domains.append(card)
        if not self._domains:
            raise MeterUnavailableError("pyzes works but sees no Intel GPU with a card power "
                                        "domain")
        self._last = [self._counter(d) for d in self._domains]
        self._total = [0.0] * len(self._domains)
        self.channels = [f"intelgpu{i}" for i in range(len(self._domains))]
        self.counter_channels = list(self.channels)
        if len(self._domains) > 1:
            self.channels.append("intelgpus")
            self.counter_channels.append("intelgpus")
            self.primary = "intelgpus"
        else:
            self.primary = self.channels[0]

    @classmethod
    def probe(cls, pyzes: Any = None, **_: Any) -> tuple[bool, str]:
        try:
            z = pyzes if pyzes is not None else _load_pyzes()
        except ImportError:
            return False, "the pyzes package is not installed (Level Zero Sysman bindings)"
        return True, f"pyzes {getattr(z, '__version__', '')}".strip()

    def _counter(self, dom: Any) -> tuple[float, float] | None:
        """(microjoules, microseconds) of one domain, or None when the read fails."""
        z = self._z
        c = z.zes_power_energy_counter_t()
        if z.zesPowerGetEnergyCounter(dom, ctypes.byref(c)) != z.ZE_RESULT_SUCCESS:
            return None
        return float(c.energy), float(c.timestamp)

    def read(self) -> Reading:
        power: dict[str, float] = {}
        energy: dict[str, float] = {}
        errors: dict[str | None, str] = {}
        for i, (dom, ch) in enumerate(zip(self._domains, self.channels)):
            now, last = self._counter(dom), self._last[i]
            if now is None or last is None or now[0] < last[0] or now[1] <= last[1]:
                power[ch] = energy[ch] = math.nan
                errors[ch] = "pyzes energy counter unreadable, unchanged in time or went backwards"
                if now is not None:
                    self._last[i] = now
                continue
            dj = (now[0] - last[0]) / 1e6
            self._total[i] += dj
            energy[ch] = self._total[i]
            power[ch] = dj / ((now[1] - last[1]) / 1e6)
            self._last[i] = now
        if "intelgpus" in self.channels:
            parts = self.channels[:-1]
            bad = any(math.isnan(power[c]) for c in parts)
            power["intelgpus"] = math.nan if bad else math.fsum(power[c] for c in parts)
            energy["intelgpus"] = math.nan if bad else math.fsum(energy[c] for c in parts)
        return Reading(power, energy, errors)

    def devices(self) -> list[dict[str, Any]]:
        return [{"meter": "pyzes", "index": i} for i in range(len(self._domains))]

    def meta(self) -> dict[str, Any]:
        return {"device_name": "Intel GPU", "sensor_update_s": None}


def _enum(z: Any, handle_type: Any, fn: Any, *parent: Any) -> list[Any]:
    """Level Zero's two-call enumeration: the count, then an array of that many handles."""
    count = ctypes.c_uint32(0)
    if fn(*parent, ctypes.byref(count), None) != z.ZE_RESULT_SUCCESS or count.value == 0:
        return []
    arr = (handle_type * count.value)()
    if fn(*parent, ctypes.byref(count), arr) != z.ZE_RESULT_SUCCESS:
        return []
    return [arr[i] for i in range(count.value)]


def _load_pyzes() -> Any:
    import pyzes  # type: ignore[import-not-found]

    return pyzes
