"""Archetype footprints for CPUs the catalog does not hold: never a silent zero.

An archetype (``hardware/data/archetypes.csv``) stands for a class of CPU (a server CPU per
vendor, a desktop, a laptop) and takes its die area, process node and thread count from a sourced
catalog part of that class, widened by a stated factor either side (the part is unknown). A
machine that sees only some hardware threads (a cloud VM) is charged its share of the package
(``visible threads / package threads``). The device it returns carries ``archetype`` so every
output flags it. It carries no TDP or peak throughput: those stay unknown (the modelled meter
keeps its per-vCPU default for an unknown CPU).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources

from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.hardware.catalog import Catalog, Device, Die, get_catalog, match_cpu

CLASSES = ("server", "desktop", "laptop")


@dataclass(frozen=True)
class Archetype:
    id: str
    name: str
    vendor: str
    cls: str
    category: str
    base_device: str
    widen: float
    source: str
    note: str


@lru_cache(maxsize=1)
def archetypes() -> dict[str, Archetype]:
    """Archetype id -> :class:`Archetype`."""
    text = resources.files("inferlca.hardware").joinpath("data").joinpath(
        "archetypes.csv").read_text("utf-8")
    return {r["id"]: Archetype(r["id"], r["name"], r["vendor"], r["class"], r["category"],
                               r["base_device"], float(r["widen"]), r["source"], r["note"])
            for r in csv.DictReader(io.StringIO(text))}


def vendor_of(cpu_name: str) -> str | None:
    """``Intel`` or ``AMD`` from a CPU model name, else ``None``."""
    low = cpu_name.lower()
    # AMD first: AMD names say "128-Core Processor", which holds Intel's "core"
    if "amd" in low or "epyc" in low or "ryzen" in low:
        return "AMD"
    if "intel" in low or "xeon" in low or "core" in low:
        return "Intel"
    return None


def choose_archetype(cpu_name: str, *, virtual: bool, laptop: bool) -> tuple[Archetype, list[str]]:
    """The archetype for an unknown CPU: server class for a VM or a server part name
    (Xeon/EPYC), laptop when the chassis says so, desktop otherwise."""
    notes = []
    vendor = vendor_of(cpu_name)
    if vendor is None:
        vendor = "Intel"
        notes.append(f"CPU vendor of {cpu_name!r} unknown: the Intel archetype is used")
    low = cpu_name.lower()
    if virtual or re.search(r"xeon|epyc", low):
        cls = "server"
    elif laptop:
        cls = "laptop"
    else:
        cls = "desktop"
    arch = next(a for a in archetypes().values() if a.vendor == vendor and a.cls == cls)
    return arch, notes


def archetype_device(archetype_id: str, cpu_name: str | None = None, *,
                     visible_threads: int | None = None, virtual: bool = False,
                     catalog: Catalog | None = None) -> Device:
    """The archetype ``archetype_id`` as a device for ``cpu_name``.

    Raises:
        UnknownNameError: unknown archetype id.
        InvalidValueError: ``cpu_name`` has a real catalog entry with a die area (use it, not an
            archetype). An entry whose die area is not published (EPYC 9755...) may take one.
    """
    cat = catalog or get_catalog()
    table = archetypes()
    if archetype_id not in table:
        raise UnknownNameError("archetype", archetype_id, list(table),
                               f"(accepted: {', '.join(table)})")
    if cpu_name is not None:
        real = match_cpu(cpu_name, cat)
        if real is not None and real.die_area_mm2 is not None:  # a footprint of its own
            raise InvalidValueError(
                f"{cpu_name!r} has a real catalog entry ({real.id}); use --device {real.id} "
                "instead of an archetype")
    arch = table[archetype_id]
    base = cat.get(arch.base_device)
    assert base.die_area_mm2 is not None
    lo, hi = 1.0 - arch.widen, 1.0 + arch.widen
    share = None
    notes = [f"ARCHETYPE {arch.id}: {arch.note}"]
    if visible_threads is not None and base.threads:
        share = min(1.0, visible_threads / base.threads)
        notes.append(f"{visible_threads} of the archetype's {base.threads} hardware threads "
                     f"visible: charged {share:.3g} of the package")
    category = "datacenter" if virtual else arch.category
    return replace(
        base, id=f"archetype-{arch.id}", name=f"{cpu_name or arch.name} [archetype {arch.id}]",
        aliases=(), category=category, tdp_w=None, peak_flops={},
        die_area_low_mm2=base.die_area_mm2 * lo, die_area_high_mm2=base.die_area_mm2 * hi,
        dies=tuple(Die(d.count, d.area_mm2, d.process_node_nm) for d in base.dies),
        sources={**base.sources, "archetype": arch.source}, notes="; ".join(notes),
        archetype=arch.id, share=share)
