"""Intel GPUs (Arc, Data Center GPU Flex/Max, recent iGPUs) through i915/xe hwmon energy counters.

The i915 driver exposes ``energy1_input`` (microjoules, the driver accumulates the 32-bit register,
kernel 5.14+ for discrete GPUs); xe exposes ``energy1_input`` labelled ``card`` and
``energy2_input`` labelled ``pkg`` (the card is the total: the package is inside it). See
:mod:`inferlca.meters.hwmon`. Integrated GPUs without a hwmon device have no power reading here
(their power is inside the CPU package that RAPL measures).
"""

from __future__ import annotations

import os
from typing import Any

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
