"""Manufacturing (embodied) footprint of a device: ``F = F_proc + F_mem`` in kgCO2e.

* ``F_proc = sum over dies of die_area_cm2 x I_proc(node)`` with the per-node factor of
  :mod:`inferlca.lca.factors` (interval = spread of the sources).
* ``F_mem`` by one of two methods (docs/method.md, "Manufacturing footprint"):

  - ``per-gb`` (default; the study's preferred method): ``memory_GB x I_mem(type)``;
  - ``area``: ``memory_Gbit / density_Gbit_per_mm2`` converted to cm2, times the same per-area
    factor as the processor (the study found this over-weights memory).

* An optional packaging overhead (off by default, as in the study, which counted chip + memory
  only): ACT's 0.15 kgCO2e per packaged IC (``CARBON_PER_IC_PACKAGE`` in facebookresearch/ACT),
  counted once per logic die.

Every intermediate is returned with its interval and its sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.hardware.catalog import Device
from inferlca.lca.factors import (
    KG_PER_CM2,
    NodeFactorRange,
    memory_type,
    node_factor,
    node_factor_range,
    per_gb_factor,
)
from inferlca.uncertainty import UValue
from inferlca.units import MM2_PER_CM2

MEMORY_METHODS = ("per-gb", "area")
KG = "kgCO2e"
PACKAGING_KG_PER_IC = 0.15
PACKAGING_SOURCE = ("facebookresearch/ACT CARBON_PER_IC_PACKAGE = 0.15 kgCO2e per IC "
                    "(Gupta et al. ISCA 2022)")
BITS_PER_BYTE = 8.0


class EmbodiedUnavailableError(InvalidValueError):
    """The catalog lacks what the footprint needs (e.g. an unpublished die area)."""


@dataclass(frozen=True)
class Embodied:
    """The manufacturing footprint of one device.

    Attributes:
        device_id: catalog id.
        memory_method: ``per-gb`` or ``area``.
        processor_kg: F_proc, kgCO2e.
        memory_kg: F_mem, kgCO2e (exact 0 with a note when the device has no memory of its own).
        packaging_kg: packaging overhead, kgCO2e (exact 0 unless asked for).
        total_kg: F = F_proc + F_mem (+ packaging), kgCO2e.
        die_area_cm2: total logic die area, cm2.
        node_factor: per-area factor at the main node, kgCO2e/cm2.
        memory_factor: kgCO2e/GB (per-gb) or the memory die area in cm2 (area method); ``None``
            without memory.
        node_source: ``None`` (all sources) or the single source used (sensitivity).
        sources: every citation used.
        notes: warnings (interpolated factors, mapped memory types, decisions).
    """

    device_id: str
    memory_method: str
    processor_kg: UValue
    memory_kg: UValue
    total_kg: UValue
    die_area_cm2: UValue
    node_factor: UValue
    memory_factor: UValue | None
    packaging_kg: UValue = field(default_factory=lambda: UValue.exact(0.0, KG, kind="default"))
    node_source: str | None = None
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``inferlca embodied --json``."""
        return {
            "device": self.device_id,
            "memory_method": self.memory_method,
            "embodied_kgco2e": self.total_kg.to_dict(),
            "processor_kgco2e": self.processor_kg.to_dict(),
            "memory_kgco2e": self.memory_kg.to_dict(),
            "packaging_kgco2e": self.packaging_kg.to_dict(),
            "die_area_cm2": self.die_area_cm2.to_dict(),
            "node_factor_kgco2e_per_cm2": self.node_factor.to_dict(),
            "memory_factor": None if self.memory_factor is None else {
                **self.memory_factor.to_dict(), "unit": self.memory_factor.unit},
            "node_source": self.node_source,
            "sources": list(self.sources),
            "notes": list(self.notes),
        }


def _die_areas(device: Device) -> list[tuple[int, UValue, float]]:
    """(count, area of one die in cm2 as an interval, node) for each die of ``device``."""
    dies = device.die_list
    if not dies or device.die_area_mm2 is None:
        raise EmbodiedUnavailableError(
            f"no embodied footprint for {device.name}: its die area is not in the catalog "
            f"({device.notes or 'not published'})")
    total = device.die_area_mm2
    rel_low = (device.die_area_low_mm2 or total) / total
    rel_high = (device.die_area_high_mm2 or total) / total
    out = []
    for d in dies:
        cm2 = d.area_mm2 / MM2_PER_CM2
        out.append((d.count, UValue(cm2, cm2 * rel_low, cm2 * rel_high, "cm2",
                                    tuple(filter(None, (device.sources.get("die"),))), "default"),
                    d.process_node_nm))
    return out


def embodied_footprint(device: Device, memory_method: str = "per-gb", *,
                       node_source: str | None = None, packaging: bool = False) -> Embodied:
    """The manufacturing footprint ``F = F_proc + F_mem`` of ``device``, in kgCO2e.

    Args:
        device: a catalog device.
        memory_method: ``per-gb`` (default) or ``area``.
        node_source: ``None`` for the spread of all per-node sources; ``low``/``high`` or a
            source id for one source only (sensitivity; see :func:`inferlca.lca.factors.node_factor`).
        packaging: add ACT's packaging overhead (0.15 kgCO2e per logic die); off by default.

    Raises:
        EmbodiedUnavailableError: the catalog lacks the die area (exit code 2 from the CLI).
        UnknownNameError: unknown memory method or node source.
    """
    if memory_method not in MEMORY_METHODS:
        raise UnknownNameError("memory method", memory_method, MEMORY_METHODS,
                               f"(accepted: {', '.join(MEMORY_METHODS)})")
    notes: list[str] = []
    sources: dict[str, None] = {}

    def note(items: tuple[str, ...]) -> None:
        for n in items:
            if n not in notes:
                notes.append(n)

    if device.die_area_low_mm2 is not None or device.die_area_high_mm2 is not None:
        notes.append(f"die area uncertain: {device.die_area_mm2:g} mm2 "
                     f"[{device.die_area_low_mm2 or device.die_area_mm2:g} - "
                     f"{device.die_area_high_mm2 or device.die_area_mm2:g}]")
    processor = UValue.exact(0.0, KG, kind="derived")
    area_total = UValue.exact(0.0, "cm2", kind="derived")
    n_dies = 0
    for count, area_cm2, node_nm in _die_areas(device):
        factor, fnotes = node_factor(node_nm, node_source)
        note(fnotes)
        processor = processor + area_cm2 * factor * count
        area_total = area_total + area_cm2 * count
        n_dies += count
        sources.update(dict.fromkeys(area_cm2.sources))
        sources.update(dict.fromkeys(factor.sources))
    processor = processor.with_unit(KG)
    area_total = area_total.with_unit("cm2")
    main_factor, _ = node_factor(device.process_node_nm or device.die_list[0].process_node_nm,
                                 node_source)

    memory_factor: UValue | None = None
    if device.memory_gb is None or device.memory_type is None:
        memory = UValue.exact(0.0, KG, kind="default")
        notes.append(f"{device.name}: no memory of its own in the catalog; F_mem = 0 "
                     "(host memory is not part of the device)")
    elif memory_method == "per-gb":
        memory_factor, mnotes = per_gb_factor(device.memory_type)
        note(mnotes)
        memory = (memory_factor * device.memory_gb).with_unit(KG)
        sources.update(dict.fromkeys(memory_factor.sources))
    else:
        mt, mnotes = memory_type(device.memory_type)
        note(mnotes)
        mem_area_cm2 = device.memory_gb * BITS_PER_BYTE / mt.density_gbit_per_mm2 / MM2_PER_CM2
        memory_factor = UValue.exact(mem_area_cm2, "cm2 of memory die",
                                     (f"density {mt.density_gbit_per_mm2:g} Gbit/mm2: {mt.source}",),
                                     kind="derived")
        memory = (main_factor * mem_area_cm2).with_unit(KG)
        sources.update(dict.fromkeys(memory_factor.sources))
        sources.update(dict.fromkeys(main_factor.sources))

    packaging_kg = UValue.exact(0.0, KG, kind="default")
    if packaging:
        packaging_kg = UValue.exact(PACKAGING_KG_PER_IC * n_dies, KG, (PACKAGING_SOURCE,),
                                    kind="default")
        sources[PACKAGING_SOURCE] = None
    total = (processor + memory + packaging_kg).with_unit(KG)
    return Embodied(
        device_id=device.id, memory_method=memory_method, processor_kg=processor,
        memory_kg=memory, total_kg=total, die_area_cm2=area_total,
        node_factor=main_factor.with_unit(KG_PER_CM2), memory_factor=memory_factor,
        packaging_kg=packaging_kg, node_source=node_source, sources=tuple(sources),
        notes=tuple(notes))


def node_factor_range_for(device: Device) -> NodeFactorRange:
    """The per-node factor sources giving the lowest and highest value at the device's main node:
    the "per-node factor, low to high source" bar of a sensitivity (tornado) chart. Pass
    ``node_source="low"`` / ``"high"`` to :func:`embodied_footprint` or
    :meth:`inferlca.lca.impact.ImpactContext.resolve` to compute either end."""
    node = device.process_node_nm
    if node is None:
        if not device.die_list:
            raise EmbodiedUnavailableError(f"{device.name} has no process node in the catalog")
        node = device.die_list[0].process_node_nm
    return node_factor_range(node)
