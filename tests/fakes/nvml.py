"""One fake of NVML: an object with the ``pynvml`` function names our code calls (the NVML meter
and device detection), scripted per GPU and per call, raising pynvml's real exception classes."""

from __future__ import annotations

from types import SimpleNamespace

import pynvml


class FakeNvml:
    """Same function names as pynvml; power/energy scripted per GPU and per call.

    ``n`` GPUs named from ``names`` (cycled); ``power_mw`` per GPU (cycled); ``energy_mj`` is
    ``None`` (counter unsupported) or one callable per GPU giving the counter at its k-th read;
    ``instant`` offers the instantaneous power field; ``fail_power_at`` lists the power reads
    (per GPU, counted from 0) that fail; ``init_error`` is raised by ``nvmlInit``."""

    NVMLError = pynvml.NVMLError

    def __init__(
        self,
        n=1,
        power_mw=(100_000,),
        energy_mj=None,
        instant=False,
        fail_power_at=(),
        init_error=None,
        names=("NVIDIA A100-SXM4-40GB",),
    ):
        self.n = n
        self.power_mw = power_mw
        self.energy_mj = (
            energy_mj  # None: counter unsupported; else list of callables/values per GPU
        )
        self.instant = instant
        self.fail_power_at = set(fail_power_at)
        self.init_error = init_error
        self.names = names
        self.power_calls = [0] * n
        self.energy_calls = [0] * n
        self.shutdowns = 0

    @property
    def shutdown_called(self) -> bool:
        return self.shutdowns > 0

    def nvmlInit(self):
        if self.init_error:
            raise self.init_error

    def nvmlShutdown(self):
        self.shutdowns += 1

    def nvmlDeviceGetCount(self):
        return self.n

    def nvmlDeviceGetHandleByIndex(self, i):
        return i

    def nvmlSystemGetDriverVersion(self):
        return b"550.54.15"

    def nvmlDeviceGetName(self, h):
        return self.names[h % len(self.names)]

    def nvmlDeviceGetEnforcedPowerLimit(self, h):
        return 400_000

    def nvmlDeviceGetMigMode(self, h):
        raise pynvml.NVMLError_NotSupported()

    def nvmlDeviceGetTotalEnergyConsumption(self, h):
        if self.energy_mj is None:
            raise pynvml.NVMLError_NotSupported()
        k = self.energy_calls[h]
        self.energy_calls[h] += 1
        return self.energy_mj[h](k)

    def _power(self, h):
        k = self.power_calls[h]
        self.power_calls[h] += 1
        if k in self.fail_power_at:
            raise pynvml.NVMLError_GpuIsLost()
        return self.power_mw[h % len(self.power_mw)]

    def nvmlDeviceGetPowerUsage(self, h):
        return self._power(h)

    def nvmlDeviceGetFieldValues(self, h, ids):
        if not self.instant:
            raise pynvml.NVMLError_NotSupported()
        return [SimpleNamespace(nvmlReturn=0, value=SimpleNamespace(uiVal=self._power(h)))]


class FakeNvmlUuid(FakeNvml):
    """Adds UUIDs and MIG handles to the fake (same names as pynvml)."""

    def nvmlDeviceGetUUID(self, h):
        return f"GPU-{h:08d}-aaaa-bbbb-cccc-dddddddddddd"

    def nvmlDeviceGetHandleByUUID(self, uuid):
        if uuid.startswith("MIG-") and uuid.endswith("-g1"):
            return ("mig", 1, 42)  # 42 of 98 SMs (a 3g instance on an A100: 3/7)
        raise pynvml.NVMLError_NotFound()

    def nvmlDeviceGetDeviceHandleFromMigDeviceHandle(self, h):
        return h[1]

    def nvmlDeviceGetIndex(self, h):
        return h

    def nvmlDeviceGetAttributes(self, h):
        return SimpleNamespace(multiprocessorCount=h[2] if isinstance(h, tuple) else 98)
