"""Which device is a run about: the one rule, for measuring, running, importing and impacts.

Three things can name the device: the user's declaration (``device=`` in the API, ``--device``
on the command line), the device a power log names (``trace.meta["device_name"]``), and what
:func:`~inferlca.hardware.detect.detect_device` finds on this machine. :func:`resolve_device`
decides, in this order:

1. a declared device is looked up in the catalog (an unknown name raises
   :class:`~inferlca.errors.UnknownNameError` with suggestions) and stands; with
   ``cross_check=True`` this machine is detected too, so a run that measured this machine can say
   when the declared device is another one (:attr:`ResolvedDevice.declared_elsewhere`);
2. else the device named in the trace, matched against the catalog (``None`` when the catalog
   lacks it: energy is still reported, the embodied part needs a declared device);
3. else, when the run happened here (``detect_local=True``), this machine's detected device;
4. else no device: a log recorded elsewhere never takes this machine's device.

The decision and its explanation (:attr:`ResolvedDevice.notes`) are the same for every caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inferlca.hardware.catalog import Catalog, Device, get_catalog
from inferlca.hardware.detect import Detected

#: detection sources that see an accelerator (an NVIDIA GPU through NVML, a Jetson's device tree)
_ACCELERATOR_SOURCES = ("nvml", "device-tree")


NO_DEVICE_NOTE = ("no device: the log names none and none was declared (this machine's device is "
                  "not used for a log recorded elsewhere); declare the device (--device) for the "
                  "embodied part")


@dataclass(frozen=True)
class ResolvedDevice:
    """The device a run is about.

    Attributes:
        name: display name (the catalog name, or the raw name read from the trace / detection).
        device: the catalog device, or ``None`` when the catalog lacks it or nothing names one.
        source: where it came from: ``declared``, ``trace``, a detection source (``nvml``, a file
            path such as ``/proc/cpuinfo``), or ``none``.
        detected_name, detected_id, detected_source: what detection found on this machine when a
            declared device was cross-checked (``detected_source`` is ``nvml``, ``device-tree`` or
            ``cpuinfo``); ``None`` otherwise.
        notes: one line per fact a reader should know (where the device came from, not in the
            catalog...).
    """

    name: str
    device: Device | None
    source: str
    detected_name: str | None = None
    detected_id: str | None = None
    detected_source: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def id(self) -> str | None:
        """The catalog id, or ``None``."""
        return self.device.id if self.device is not None else None

    @property
    def declared_elsewhere(self) -> bool:
        """A declared device names hardware other than what this machine detects (e.g. a T4
        declared on a CPU-only machine): the run measured this machine, not the declared device.

        Detection that finds a catalog device settles it by id. When it finds only an unknown CPU
        (a VM's generic model name), declaring a catalog CPU is taken at its word, but declaring
        a GPU or a Jetson module is not: no accelerator was seen.
        """
        if self.source != "declared" or self.detected_name is None:
            return False
        if self.detected_id is not None:
            return self.id != self.detected_id
        return (getattr(self.device, "kind", None) != "cpu"
                and self.detected_source not in _ACCELERATOR_SOURCES)


def resolve_device(declared: str | None = None, trace_device_name: str | None = None, *,
                   detect_local: bool = True, cross_check: bool = False,
                   catalog: Catalog | None = None) -> ResolvedDevice:
    """Decide which device a run is about (see the module docstring for the order).

    Args:
        declared: a catalog id, name or alias given by the user, or ``None``.
        trace_device_name: the device a recorded trace names (``trace.meta["device_name"]``).
        detect_local: the run happened on this machine, so its detected device may stand in
            when nothing else names one (``False`` for a log recorded elsewhere).
        cross_check: with a declared device, detect this machine too (best effort: a failing
            detection leaves the declared device standing, without ``detected_*``).
        catalog: the catalog to look names up in (default: the shipped one).

    Raises:
        UnknownNameError: ``declared`` is not in the catalog.
    """
    cat = catalog or get_catalog()
    if declared is not None:
        dev = cat.get(declared)
        if not cross_check:
            return ResolvedDevice(dev.name, dev, "declared")
        try:
            det = _detect(catalog)
        except Exception:  # noqa: BLE001 - detection only informs here; the declared device stands
            return ResolvedDevice(dev.name, dev, "declared")
        kind = "nvml" if det.source == "nvml" else (
            "device-tree" if "device-tree" in str(det.source) else "cpuinfo")
        return ResolvedDevice(dev.name, dev, "declared", det.name,
                              det.device.id if det.device is not None else None, kind)
    if trace_device_name:
        found = cat.find(trace_device_name)
        return ResolvedDevice(
            found.name if found is not None else trace_device_name, found, "trace",
            notes=(f"device from the trace: {trace_device_name}"
                   + ("" if found else " (not in the catalog)"),))
    if not detect_local:
        return ResolvedDevice(
            "unknown device", None, "none",
            notes=(NO_DEVICE_NOTE,))
    det = _detect(catalog)
    return ResolvedDevice(
        det.name, det.device, det.source,
        notes=(f"device detected from {det.source}: {det.name}"
               + ("" if det.device else " (not in the catalog)"),))


def _detect(catalog: Catalog | None) -> Detected:
    from inferlca.hardware import detect  # looked up at call time: tests replace detect_device

    return detect.detect_device() if catalog is None else detect.detect_device(catalog=catalog)
