"""Which device is this machine? NVIDIA GPU (NVML), Jetson board (device tree), or the CPU.

:func:`detect_device` tries, in order:

1. NVML (``nvidia-ml-py``): the name of GPU ``gpu_index``, e.g. ``"NVIDIA A100-SXM4-40GB"``;
2. ``/proc/device-tree/model`` on Jetson boards, e.g. ``"NVIDIA Jetson AGX Orin Developer Kit"``;
   the module variant (32 or 64 GB...) is told apart by ``MemTotal`` in ``/proc/meminfo``;
3. the ``model name`` line of ``/proc/cpuinfo``.

Every path and the NVML module are parameters so tests inject fakes (a ``pynvml``-shaped object,
files under ``tmp_path``). Nothing here raises for a missing source: it says what it found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferlca.hardware.archetypes import archetype_device, choose_archetype
from inferlca.hardware.catalog import Catalog, Device, get_catalog, normalize_name
from inferlca.hardware.catalog import match_cpu as _match_cpu

DEVICE_TREE_MODEL = Path("/proc/device-tree/model")
CPUINFO = Path("/proc/cpuinfo")
MEMINFO = Path("/proc/meminfo")
CHASSIS_TYPE = Path("/sys/class/dmi/id/chassis_type")
#: SMBIOS chassis types of portable machines (laptop, notebook, sub-notebook, convertible...)
LAPTOP_CHASSIS = {8, 9, 10, 14, 31, 32}

# Jetson families told apart by memory: (substrings that must all be in the normalized model string,
# [(minimum MemTotal in GB, device id), ...] from the largest module down). A module reports a
# little less than its nominal memory (e.g. 62.8 GB for 64 GB), hence the thresholds between sizes.
_JETSON_RULES: tuple[tuple[tuple[str, ...], tuple[tuple[float, str], ...]], ...] = (
    (("orinnano", "super"), ((0.0, "jetson-orin-nano-super-8gb"),)),
    (("agxorin",), ((40.0, "jetson-agx-orin-64gb"), (0.0, "jetson-agx-orin-32gb"))),
    (("orinnx",), ((12.0, "jetson-orin-nx-16gb"), (0.0, "jetson-orin-nx-8gb"))),
    (("orinnano",), ((6.0, "jetson-orin-nano-8gb"), (0.0, "jetson-orin-nano-4gb"))),
    (("agxxavier",), ((24.0, "jetson-agx-xavier-32gb"), (0.0, "jetson-agx-xavier-16gb"))),
    (("jetsonagx",), ((24.0, "jetson-agx-xavier-32gb"), (0.0, "jetson-agx-xavier-16gb"))),
)


@dataclass(frozen=True)
class Detected:
    """What was found: the raw ``name``, the catalog ``device`` (``None`` when not in the
    catalog) and the ``source`` it was read from (``nvml``, a file path, or ``none``)."""

    name: str
    device: Device | None
    source: str
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "device_id": self.device.id if self.device else None,
                "archetype": self.device.archetype if self.device else None,
                "source": self.source, "notes": list(self.notes)}


def _read_text(path: Path) -> str | None:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return None


def nvml_gpu_names(nvml: Any = None) -> tuple[list[str], str | None]:
    """Names of the NVIDIA GPUs NVML sees, and why not when it sees none.

    Args:
        nvml: a ``pynvml``-shaped module; ``None`` imports ``pynvml`` (from ``nvidia-ml-py``).
    """
    if nvml is None:
        try:
            import pynvml as nvml  # type: ignore[import-not-found,no-redef]
        except ImportError:
            return [], "nvidia-ml-py is not installed"
    try:
        nvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded...  # noqa: BLE001
        return [], f"NVML unavailable: {exc}"
    names: list[str] = []
    try:
        for i in range(int(nvml.nvmlDeviceGetCount())):
            raw = nvml.nvmlDeviceGetName(nvml.nvmlDeviceGetHandleByIndex(i))
            names.append(raw.decode() if isinstance(raw, bytes) else str(raw))
    except Exception as exc:  # noqa: BLE001
        return names, f"NVML error: {exc}"
    finally:
        try:
            nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001, S110 - shutting down is best effort
            pass
    return names, None if names else "NVML sees no GPU"


def mem_total_gb(meminfo_path: Path = MEMINFO) -> float | None:
    """``MemTotal`` of ``/proc/meminfo`` in GB (1e9 bytes), or ``None``."""
    text = _read_text(Path(meminfo_path))
    if not text:
        return None
    m = re.search(r"^MemTotal:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(m.group(1)) * 1024 / 1e9 if m else None


def match_jetson(model: str, mem_gb: float | None, catalog: Catalog | None = None
                 ) -> tuple[Device | None, tuple[str, ...]]:
    """The Jetson module for a device-tree model string and the memory the kernel reports."""
    cat = catalog or get_catalog()
    key = normalize_name(model)
    for patterns, variants in _JETSON_RULES:
        if all(p in key for p in patterns):
            if mem_gb is None:
                largest = cat.get(variants[0][1])
                return largest, (f"memory size unknown: assumed the {largest.name}",)
            for min_gb, dev_id in variants:
                if mem_gb >= min_gb:
                    return cat.get(dev_id), ()
    return cat.find(model), ()


def cpu_model_name(cpuinfo_path: Path = CPUINFO) -> str | None:
    """The first ``model name`` of ``/proc/cpuinfo`` (x86) or ``Hardware``/``Model`` (Arm)."""
    text = _read_text(Path(cpuinfo_path))
    if not text:
        return None
    for field_name in ("model name", "Model", "Hardware"):
        m = re.search(rf"^{field_name}\s*:\s*(.+)$", text, re.MULTILINE)
        if m and m.group(1).strip():
            return m.group(1).strip()
    return None


def match_cpu(model_name: str, catalog: Catalog | None = None) -> Device | None:
    """The catalog CPU for a ``/proc/cpuinfo`` model name, or ``None`` (see
    :func:`inferlca.hardware.catalog.match_cpu`)."""
    return _match_cpu(model_name, catalog or get_catalog())


def cpu_threads_and_virtual(cpuinfo_path: Path = CPUINFO) -> tuple[int | None, bool]:
    """Hardware threads this machine sees (``processor`` entries of ``/proc/cpuinfo``) and
    whether it runs under a hypervisor (the ``hypervisor`` CPU flag: a VM)."""
    text = _read_text(Path(cpuinfo_path)) or ""
    n = len(re.findall(r"^processor\s*:", text, re.MULTILINE))
    virtual = bool(re.search(r"^flags\s*:.*\bhypervisor\b", text, re.MULTILINE))
    return (n or None), virtual


def is_laptop(chassis_path: Path = CHASSIS_TYPE) -> bool:
    """Whether the SMBIOS chassis type says portable."""
    raw = (_read_text(Path(chassis_path)) or "").strip()
    return raw.isdigit() and int(raw) in LAPTOP_CHASSIS


def detect_device(*, nvml: Any = None, gpu_index: int = 0, use_nvml: bool = True,
                  device_tree_model: Path = DEVICE_TREE_MODEL, cpuinfo: Path = CPUINFO,
                  meminfo: Path = MEMINFO, catalog: Catalog | None = None,
                  chassis_type: Path = CHASSIS_TYPE) -> Detected:
    """Detect the device of this machine (see the module docstring for the order).

    Args:
        nvml: a ``pynvml``-shaped object to use instead of importing ``pynvml``.
        gpu_index: which GPU to report when NVML sees several.
        use_nvml: ``False`` skips NVML (e.g. when the user asked for the CPU).
        device_tree_model: path of the Jetson device-tree model file.
        cpuinfo: path of ``/proc/cpuinfo``.
        meminfo: path of ``/proc/meminfo`` (Jetson module variant).
        catalog: the catalog to match against (default: the shipped one).
        chassis_type: path of the SMBIOS chassis type (laptop or not).

    Returns:
        a :class:`Detected`; ``device`` is ``None`` when a GPU or board name is not in the
        catalog, and ``source`` is ``"none"`` when nothing could be read at all. An unknown CPU
        gets an archetype device (``device.archetype`` set, flagged in the notes): a server
        archetype charged by its share of hardware threads on a VM, else desktop or laptop.
    """
    cat = catalog or get_catalog()
    notes: list[str] = []
    if use_nvml:
        names, why = nvml_gpu_names(nvml)
        if names:
            idx = gpu_index if 0 <= gpu_index < len(names) else 0
            if idx != gpu_index:
                notes.append(f"GPU {gpu_index} does not exist; reporting GPU 0")
            if len(set(names)) > 1:
                notes.append(f"NVML sees different GPUs: {', '.join(names)}")
            return Detected(names[idx], cat.find(names[idx]), "nvml", tuple(notes))
        if why:
            notes.append(why)

    model = _read_text(Path(device_tree_model))
    if model:
        model = model.replace("\x00", "").strip()
        if model:
            dev, jnotes = match_jetson(model, mem_total_gb(meminfo), cat)
            return Detected(model, dev, str(device_tree_model), tuple(notes) + jnotes)

    cpu = cpu_model_name(cpuinfo)
    if cpu:
        dev = match_cpu(cpu, cat)
        known = dev
        if dev is not None and dev.die_area_mm2 is None:  # catalogued, area not published
            dev = None
        if dev is None:
            threads, virtual = cpu_threads_and_virtual(cpuinfo)
            arch, anotes = choose_archetype(cpu, virtual=virtual, laptop=is_laptop(chassis_type))
            notes.extend(anotes)
            dev = archetype_device(arch.id, cpu, visible_threads=threads if arch.cls == "server"
                                   else None, virtual=virtual, catalog=cat)
            why = ("is in the catalog but its die area is not published" if known is not None
                   else "is not in the catalog")
            notes.append(f"CPU {cpu!r} {why}: ARCHETYPE footprint {arch.id} "
                         f"({'cloud VM, ' if virtual else ''}{dev.notes}); pass --device to "
                         "choose a real device")
            if virtual:
                notes.append("virtual machine detected (hypervisor flag): datacenter PUE "
                             "ASSUMED")
        return Detected(cpu, dev, str(cpuinfo), tuple(notes))
    notes.append("no NVML GPU, no device-tree model, no readable /proc/cpuinfo")
    return Detected("unknown", None, "none", tuple(notes))
