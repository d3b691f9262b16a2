"""Registry of power meters: names -> lazy factories, availability probes, ``auto`` selection.

``auto`` takes every available meter that covers a distinct part, one per sensor family, in this
order: accelerators (NVIDIA NVML, Jetson tegrastats, else Jetson INA3221 hwmon, AMD amdgpu hwmon,
Intel Level Zero (pyzes) else i915/xe hwmon, Apple powermetrics), the host (Linux RAPL/powercap), the node (IPMI through
``ipmitool`` on a local BMC, Redfish when ``INFERLCA_REDFISH_URL`` is set). Several found: one
:class:`~inferlca.meters.composite.CompositeMeter`. None found: the modelled CPU meter (estimated).
``a+b`` names a combination explicitly (``nvml+rapl``); one that reads the same sensors twice is
refused. ``replay`` and the log importers are not in the auto order.
"""

from __future__ import annotations

import importlib
from typing import Any

from inferlca.errors import InvalidValueError, MeterUnavailableError, UnknownNameError
from inferlca.meters.base import MeterInfo, PowerMeter

#: name -> "module:Class", imported only when used (vendor libraries stay unloaded otherwise).
METERS: dict[str, str] = {
    "nvml": "inferlca.meters.nvml:NvmlMeter",
    "tegrastats": "inferlca.meters.tegrastats:TegrastatsMeter",
    "ina3221": "inferlca.meters.ina3221:Ina3221Meter",
    "rapl": "inferlca.meters.rapl:RaplMeter",
    "modelled": "inferlca.meters.modelled:ModelledCpuMeter",
    "amdsmi": "inferlca.meters.amdgpu:AmdSmiMeter",
    "amdgpu": "inferlca.meters.amdgpu:AmdGpuMeter",
    "intel-gpu": "inferlca.meters.intelgpu:IntelGpuMeter",
    "pyzes": "inferlca.meters.intelgpu:ZesMeter",
    "zeus-apple": "inferlca.meters.apple:ZeusAppleMeter",
    "powermetrics": "inferlca.meters.apple:PowermetricsMeter",
    "ipmi": "inferlca.meters.ipmi:IpmiMeter",
    "redfish": "inferlca.meters.redfish:RedfishMeter",
    "replay": "inferlca.meters.replay:ReplayMeter",
    "remote": "inferlca.meters.remote:RemoteMeter",
}
#: ``remote:http://HOST:PORT`` names the remote meter with its agent's URL (``--meter-url``)
REMOTE_PREFIX = "remote:"
#: measured meters ``auto`` combines (one per sensor family), in order of preference
AUTO_ORDER = (
    "nvml",
    "tegrastats",
    "ina3221",
    "amdsmi",
    "amdgpu",
    "pyzes",
    "intel-gpu",
    "zeus-apple",
    "powermetrics",
    "rapl",
    "ipmi",
    "redfish",
    "modelled",
)
#: ``auto`` falls back to these only when no measured meter works
AUTO_FALLBACK = ("modelled",)
#: listed by ``inferlca meters`` but never picked by ``auto``
LISTED = (*AUTO_ORDER, "replay")
ALIASES = {
    "modeled": "modelled",
    "model": "modelled",
    "nvidia": "nvml",
    "jetson": "tegrastats",
    "powercap": "rapl",
    "amd": "amdgpu",
    "intel": "intel-gpu",
    "apple": "powermetrics",
    "bmc": "ipmi",
}


def remote_url(name: str) -> str | None:
    """The agent URL of ``remote:http://HOST:PORT``; None for any other meter name."""
    return name[len(REMOTE_PREFIX):] if name.startswith(REMOTE_PREFIX) else None


def meter_class(name: str) -> type[PowerMeter]:
    if remote_url(name) is not None:
        name = "remote"
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
    return _accepted(cls, opts)


def _accepted(cls: type[PowerMeter], opts: dict[str, Any]) -> dict[str, Any]:
    """Only the options this meter's constructor takes (a combination passes each its own)."""
    import inspect

    params = inspect.signature(cls.__init__).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return opts
    return {k: v for k, v in opts.items() if k in params}


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
        name: ``auto``, a meter name (``inferlca meters`` lists them) or several joined by ``+``
            (``nvml+rapl``: one composite meter, one trace with the channels of each).
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
        return _open_auto(device, gpus, cpu_tdp_w, period_s, options)
    url = remote_url(name)
    if url is not None:  # the URL is the meter's option
        if "+" in url:
            from inferlca.meters.composite import check_distinct

            check_distinct([meter_class("remote"), meter_class("remote")])  # says why not
        name, options = "remote", {**options, "url": url}
    if "+" in name:
        return open_combination(
            name.split("+"), device=device, gpus=gpus, cpu_tdp_w=cpu_tdp_w, period_s=period_s,
            **options,
        )
    cls = meter_class(name)
    opts = _options_for(cls, device, gpus, cpu_tdp_w, options, period_s)
    ok, reason = cls.probe(**opts)
    if not ok:
        raise MeterUnavailableError(f"meter {cls.name!r} is not available: {reason}")
    return _opened(cls, opts)


def _opened(cls: type[PowerMeter], opts: dict[str, Any]) -> PowerMeter:
    meter = cls(**opts)
    # how the process sampler opens its own copy
    meter.open_spec = (cls.name, {**opts, **meter.reopen_options()})
    return meter


def _open_one(
    name: str, device: Any, gpus: Any, cpu_tdp_w: Any, period_s: Any, options: dict[str, Any]
) -> PowerMeter:
    cls = meter_class(name)
    opts = _options_for(cls, device, gpus, cpu_tdp_w, options, period_s)
    ok, reason = cls.probe(**opts)
    if not ok:
        raise MeterUnavailableError(f"meter {cls.name!r} is not available: {reason}")
    return _opened(cls, opts)


def open_combination(
    names: list[str],
    *,
    device: Any = None,
    gpus: Any = None,
    cpu_tdp_w: float | None = None,
    period_s: float | None = None,
    **options: Any,
) -> PowerMeter:
    """Open ``nvml+rapl``-style combinations as one composite meter.

    Raises:
        InvalidValueError: a meter named twice, or two meters reading the same sensors.
        MeterUnavailableError: one of them cannot run here (the others are closed again).
    """
    from inferlca.meters.composite import check_distinct

    names = [n.strip() for n in names if n.strip()]
    if "auto" in names:
        raise InvalidValueError("'auto' cannot be combined with '+': name the meters, or use auto")
    classes = [meter_class(n) for n in names]
    check_distinct(classes)
    if len(classes) == 1:
        return _open_one(classes[0].name, device, gpus, cpu_tdp_w, period_s, options)
    opened: list[PowerMeter] = []
    try:
        for cls in classes:
            opened.append(_open_one(cls.name, device, gpus, cpu_tdp_w, period_s, options))
        return _composite(opened)
    except BaseException:
        for m in opened:
            m.close()
        raise


def _composite(members: list[PowerMeter]) -> PowerMeter:
    """A composite of opened meters, with an ``open_spec`` naming each member's own spec, so the
    process sampler can open the same combination in its process (:func:`reopen`)."""
    from inferlca.meters.composite import CompositeMeter

    meter = CompositeMeter(members)
    specs = [m.open_spec for m in members]
    if all(s is not None for s in specs):
        meter.open_spec = (COMPOSITE, {"members": [[s[0], dict(s[1])] for s in specs if s]})
    return meter


#: the ``open_spec`` name of a combination: its options are ``{"members": [[name, options], ...]}``
COMPOSITE = "composite"


def reopen(name: str, options: dict[str, Any]) -> PowerMeter:
    """Open a meter again from its ``open_spec`` (in the sampler process), without probing.

    A combination (``name == "composite"``) reopens each member in its order, so the channels come
    out in the same order as in the measuring process.
    """
    if name != COMPOSITE:
        return meter_class(name)(**options)
    from inferlca.meters.composite import CompositeMeter

    members = options.get("members")
    if not isinstance(members, list) or len(members) < 2:
        raise InvalidValueError("a composite open_spec needs a list of at least two members")
    opened: list[PowerMeter] = []
    try:
        for member_name, member_options in members:
            opened.append(reopen(str(member_name), dict(member_options)))
        return CompositeMeter(opened)
    except BaseException:
        for m in opened:
            m.close()
        raise


def _open_auto(
    device: Any, gpus: Any, cpu_tdp_w: Any, period_s: Any, options: dict[str, Any]
) -> PowerMeter:
    reasons = []
    opened: list[PowerMeter] = []
    families: set[str] = set()
    try:
        for candidate in (n for n in _installed() if n in AUTO_ORDER):
            cls = meter_class(candidate)
            fam = cls.rail_family or cls.name
            if candidate in AUTO_FALLBACK or fam in families:
                continue
            opts = _options_for(cls, device, gpus, cpu_tdp_w, options, period_s)
            ok, reason = cls.probe(**opts)
            if not ok:
                reasons.append(f"{candidate}: {reason}")
                continue
            try:
                opened.append(_opened(cls, opts))
            except MeterUnavailableError as exc:
                reasons.append(f"{candidate}: {exc}")
                continue
            families.add(fam)
        if not opened:
            for candidate in AUTO_FALLBACK:
                cls = meter_class(candidate)
                opts = _options_for(cls, device, gpus, cpu_tdp_w, options, period_s)
                ok, reason = cls.probe(**opts)
                if ok:
                    return _opened(cls, opts)
                reasons.append(f"{candidate}: {reason}")
            raise MeterUnavailableError("no power meter works here: " + "; ".join(reasons))
        return opened[0] if len(opened) == 1 else _composite(opened)
    except BaseException:
        for m in opened:
            m.close()
        raise
