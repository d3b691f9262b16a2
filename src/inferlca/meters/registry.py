"""Registry of power meters: names -> lazy factories, availability probes, ``auto`` selection.

``auto`` takes the best available meter in this order: NVIDIA NVML, Jetson tegrastats, Jetson
INA3221 hwmon, Linux RAPL/powercap, then the modelled CPU meter (estimated). ``replay`` is not in
the auto order: it reads a recorded log (``inferlca trace import``).
"""

from __future__ import annotations

import importlib
from typing import Any

from inferlca.errors import MeterUnavailableError, UnknownNameError
from inferlca.meters.base import MeterInfo, PowerMeter

#: name -> "module:Class", imported only when used (vendor libraries stay unloaded otherwise).
METERS: dict[str, str] = {
    "nvml": "inferlca.meters.nvml:NvmlMeter",
    "tegrastats": "inferlca.meters.tegrastats:TegrastatsMeter",
    "ina3221": "inferlca.meters.ina3221:Ina3221Meter",
    "rapl": "inferlca.meters.rapl:RaplMeter",
    "modelled": "inferlca.meters.modelled:ModelledCpuMeter",
    "replay": "inferlca.meters.replay:ReplayMeter",
}
AUTO_ORDER = ("nvml", "tegrastats", "ina3221", "rapl", "modelled")
#: listed by ``inferlca meters`` but never picked by ``auto``
LISTED = (*AUTO_ORDER, "replay")
ALIASES = {
    "modeled": "modelled",
    "model": "modelled",
    "nvidia": "nvml",
    "jetson": "tegrastats",
    "powercap": "rapl",
}


def meter_class(name: str) -> type[PowerMeter]:
    key = ALIASES.get(name, name)
    if key not in METERS:
        raise UnknownNameError(
            "meter",
            name,
            ["auto", *METERS],
            hint=f"(accepted: {', '.join(['auto', *METERS])}; "
            "run 'inferlca meters' to see which ones work here)",
        )
    module, cls = METERS[key].split(":")
    return getattr(importlib.import_module(module), cls)  # type: ignore[no-any-return]


def _options_for(
    cls: type[PowerMeter],
    device: Any,
    gpus: Any,
    cpu_tdp_w: Any,
    extra: dict[str, Any],
    period_s: float | None = None,
) -> dict[str, Any]:
    opts: dict[str, Any] = dict(extra)
    if cls.name == "tegrastats" and period_s is not None and "interval_ms" not in opts:
        opts["interval_ms"] = max(1, round(period_s * 1000))
    if cls.name == "nvml" and gpus is not None:
        opts["gpus"] = gpus
    if cls.name == "modelled":
        opts["cpu_tdp_w"] = cpu_tdp_w
        opts["device"] = device
    return opts


def _installed() -> list[str]:
    import importlib.util

    return [n for n in LISTED if importlib.util.find_spec(METERS[n].split(":")[0]) is not None]


def list_meters(**probe_options: Any) -> list[MeterInfo]:
    """Every meter, whether it can run here, and why not (with the fix)."""
    out = []
    for name in _installed():
        cls = meter_class(name)
        try:
            ok, reason = cls.probe(**probe_options)
        except Exception as exc:  # noqa: BLE001 - a probe must never break the listing
            ok, reason = False, f"probe failed: {type(exc).__name__}: {exc}"
        out.append(MeterInfo(name, ok, reason, cls.estimated, cls.description))
    return out


def open_meter(
    name: str = "auto",
    *,
    device: Any = None,
    gpus: Any = None,
    cpu_tdp_w: float | None = None,
    period_s: float | None = None,
    **options: Any,
) -> PowerMeter:
    """Open a meter by name (``auto``: the best available one).

    Args:
        name: ``auto``, ``nvml``, ``tegrastats``, ``ina3221``, ``rapl``, ``modelled`` or ``replay``.
        device: catalog device (or name) being measured; the modelled meter takes its TDP.
        gpus: GPU indices for NVML (``[0, 1]`` or ``"0,1"``); default all.
        cpu_tdp_w: CPU TDP in watts for the modelled meter (overrides the catalog).
        period_s: the sampling period that will be used; tegrastats is started with the same
            ``--interval`` (default 50 ms, the study's).
        options: passed to the meter (paths of fake sysfs trees in tests...).

    Raises:
        UnknownNameError: not a meter name.
        MeterUnavailableError: the meter cannot run here; the message says why and how to fix.
    """
    if name == "auto":
        reasons = []
        for candidate in (n for n in _installed() if n in AUTO_ORDER):
            cls = meter_class(candidate)
            opts = _options_for(cls, device, gpus, cpu_tdp_w, options, period_s)
            ok, reason = cls.probe(**opts)
            if ok:
                return _opened(cls, opts)
            reasons.append(f"{candidate}: {reason}")
        raise MeterUnavailableError("no power meter works here: " + "; ".join(reasons))
    cls = meter_class(name)
    opts = _options_for(cls, device, gpus, cpu_tdp_w, options, period_s)
    ok, reason = cls.probe(**opts)
    if not ok:
        raise MeterUnavailableError(f"meter {cls.name!r} is not available: {reason}")
    return _opened(cls, opts)


def _opened(cls: type[PowerMeter], opts: dict[str, Any]) -> PowerMeter:
    meter = cls(**opts)
    meter.open_spec = (cls.name, dict(opts))  # how the process sampler opens its own copy
    return meter
