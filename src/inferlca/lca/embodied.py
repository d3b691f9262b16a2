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

Scope (:data:`SCOPES`, default :data:`DEFAULT_SCOPE`) says what the footprint covers:

* ``chip``: the processor dies and the memory (the seed study's method; the default, because it
  reproduces the study and rests on the best-sourced factors);
* ``card``: the chip terms plus substrate and packaging per logic die and the board (PCB, VRM,
  passives, heatsink, casing) from ``lca/data/scope_components.csv``. Where the vendor publishes a
  product carbon footprint (``lca/data/published_footprints.csv``, kind ``vendor-pcf``) the
  card's nominal value is that PCF (a product-specific LCA beats a generic bottom-up sum) and the
  interval spans both; the bottom-up components stay listed with their sources;
* ``server-share``: the card plus its share of the host (CPU, DRAM, storage, chassis, PSU) by
  accelerator count (``lca/data/host_allocation.csv``), or a developer kit's carrier board.

Every intermediate is returned with its interval and its sources.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from inferlca.errors import InputFileError, InvalidValueError, UnknownNameError
from inferlca.hardware.catalog import Device
from inferlca.lca.factors import (
    KG_PER_CM2,
    NODE_BASES,
    NodeFactorRange,
    memory_type,
    node_factor,
    node_factor_good_die,
    node_factor_range,
    per_gb_factor,
)
from inferlca.lca.pirson import STUDY_SOURCE, study_node_factor
from inferlca.uncertainty import UValue
from inferlca.units import MM2_PER_CM2

MEMORY_METHODS = ("per-gb", "area")
KG = "kgCO2e"
PACKAGING_KG_PER_IC = 0.15
PACKAGING_SOURCE = ("facebookresearch/ACT CARBON_PER_IC_PACKAGE = 0.15 kgCO2e per IC "
                    "(Gupta et al. ISCA 2022)")
BITS_PER_BYTE = 8.0

#: what a footprint covers, from the narrowest
SCOPES = ("chip", "card", "server-share")
#: the default scope: the seed study's method (dies + memory), reproducible with its sources
DEFAULT_SCOPE = "chip"
SCOPE_LABELS = {"chip": "processor dies + memory only",
                "card": "whole card or module: dies, memory, packaging, board",
                "server-share": "card + its share of the host"}


def check_scope(scope: str) -> str:
    """``scope`` if it is one of :data:`SCOPES`; else an :class:`UnknownNameError` (exit 2)."""
    if scope not in SCOPES:
        raise UnknownNameError("scope", scope, SCOPES, f"(accepted: {', '.join(SCOPES)})")
    return scope


@dataclass(frozen=True)
class Component:
    """One term of a footprint: its name, value (kgCO2e, interval), source and note."""

    name: str
    kg: UValue
    source: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"component": self.name, "kgco2e": self.kg.to_dict(), "source": self.source,
                "note": self.note}


@dataclass(frozen=True)
class ScopeRow:
    scope: str
    component: str
    applies_to: str
    basis: str
    value: float
    low: float
    high: float
    source: str
    note: str


def _read(filename: str) -> str:
    return resources.files("inferlca.lca").joinpath("data").joinpath(filename).read_text("utf-8")


@lru_cache(maxsize=1)
def scope_rows() -> tuple[ScopeRow, ...]:
    """The rows of ``lca/data/scope_components.csv``."""
    out = []
    for i, r in enumerate(csv.DictReader(io.StringIO(_read("scope_components.csv"))), start=2):
        try:
            out.append(ScopeRow(r["scope"].strip(), r["component"].strip(),
                                r["applies_to"].strip(), r["basis"].strip(), float(r["value"]),
                                float(r["low"]), float(r["high"]), r["source"].strip(),
                                (r.get("note") or "").strip()))
        except ValueError as exc:
            raise InputFileError("scope_components.csv", str(exc), i) from None
    return tuple(out)


@lru_cache(maxsize=1)
def host_allocation() -> dict[str, tuple[int, str]]:
    """Device kind -> (accelerators or sockets per host, source)."""
    return {r["applies_to"].strip(): (int(r["accelerators_per_host"]), r["source"].strip())
            for r in csv.DictReader(io.StringIO(_read("host_allocation.csv")))}


@dataclass(frozen=True)
class Published:
    """A published whole-device footprint, kept beside ours (never averaged into it)."""

    device_id: str
    scope: str
    kgco2e: float
    kind: str
    source: str
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"scope": self.scope, "kgco2e": self.kgco2e, "kind": self.kind,
                "source": self.source, "note": self.note}


@lru_cache(maxsize=1)
def published_footprints() -> tuple[Published, ...]:
    """The rows of ``lca/data/published_footprints.csv``."""
    return tuple(Published(r["device_id"].strip(), r["scope"].strip(), float(r["kgco2e"]),
                           r["kind"].strip(), r["source"].strip(), (r.get("note") or "").strip())
                 for r in csv.DictReader(io.StringIO(_read("published_footprints.csv"))))


def _row(scope: str, component: str, applies_to: str) -> ScopeRow | None:
    for r in scope_rows():
        if r.scope == scope and r.component == component and r.applies_to in (applies_to, "any"):
            return r
    return None


def _row_value(r: ScopeRow, times: float = 1.0) -> UValue:
    return UValue(r.value * times, r.low * times, r.high * times, KG, (r.source,), "default")


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
    scope: str = DEFAULT_SCOPE
    components: tuple[Component, ...] = ()
    basis: str = "bottom-up"
    published: tuple[Published, ...] = ()
    archetype: str | None = None
    node_basis: str = "as-published"

    @property
    def scope_label(self) -> str:
        return SCOPE_LABELS[self.scope]

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``inferlca embodied --json``."""
        return {
            "device": self.device_id,
            "scope": self.scope,
            "scope_label": self.scope_label,
            "basis": self.basis,
            "node_basis": self.node_basis,
            "archetype": self.archetype,
            "components": [c.to_dict() for c in self.components],
            "published": [p.to_dict() for p in self.published],
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
                       node_source: str | None = None, packaging: bool = False,
                       scope: str = DEFAULT_SCOPE, node_basis: str = "as-published") -> Embodied:
    """The manufacturing footprint ``F = F_proc + F_mem`` of ``device``, in kgCO2e.

    Args:
        device: a catalog device.
        memory_method: ``per-gb`` (default) or ``area``.
        node_source: ``None`` for the spread of all per-node sources; ``low``/``high`` or a
            source id for one source only (sensitivity; see :func:`inferlca.lca.factors.node_factor`).
        packaging: add ACT's packaging overhead (0.15 kgCO2e per logic die); off by default
            (the ``card`` scope always counts it).
        scope: ``chip`` (default), ``card`` or ``server-share`` (see the module docstring).
        node_basis: ``as-published`` (default: the seed study's mean of the sources as they
            publish them, which reproduces its figures) or ``good-die`` (every source brought to
            kgCO2e per cm2 of good die with each die's own yield, lower bounds and sources of
            unstated basis kept out of the nominal; :func:`inferlca.lca.factors.node_factor_good_die`).

    Raises:
        EmbodiedUnavailableError: the catalog lacks the die area (exit code 2 from the CLI).
        UnknownNameError: unknown memory method or node source.
    """
    if memory_method not in MEMORY_METHODS:
        raise UnknownNameError("memory method", memory_method, MEMORY_METHODS,
                               f"(accepted: {', '.join(MEMORY_METHODS)})")
    check_scope(scope)
    if node_basis not in NODE_BASES:
        raise UnknownNameError("node basis", node_basis, NODE_BASES,
                               f"(accepted: {', '.join(NODE_BASES)})")
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
    largest: tuple[float, UValue] | None = None
    for count, area_cm2, node_nm in _die_areas(device):
        if node_source == STUDY_SOURCE:   # the seed study's matching: node, foundry and year
            factor, fnotes = study_node_factor(node_nm, device.foundry, device.release_year)
            if node_basis == "good-die":
                kept = ("good-die basis: the study basis keeps Pirson et al.'s values as "
                        "published (their yield basis is not stated)")
                fnotes += (kept,)
        elif node_basis == "good-die":
            factor, fnotes = node_factor_good_die(node_nm, area_cm2.value, node_source)
            if largest is None or area_cm2.value > largest[0]:
                largest = (area_cm2.value, factor)
        else:
            factor, fnotes = node_factor(node_nm, node_source)
        note(fnotes)
        processor = processor + area_cm2 * factor * count
        area_total = area_total + area_cm2 * count
        n_dies += count
        sources.update(dict.fromkeys(area_cm2.sources))
        sources.update(dict.fromkeys(factor.sources))
    processor = processor.with_unit(KG)
    area_total = area_total.with_unit("cm2")
    if largest is not None:
        main_factor = largest[1]   # good-die basis: the factor of the largest die
    elif node_source == STUDY_SOURCE:
        main_factor, _ = study_node_factor(
            device.process_node_nm or device.die_list[0].process_node_nm, device.foundry,
            device.release_year)
    else:
        main_factor, _ = node_factor(
            device.process_node_nm or device.die_list[0].process_node_nm, node_source)

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

    share = device.share if device.share is not None else 1.0
    if share != 1.0:
        processor = (processor * share).with_unit(KG)
        area_total = (area_total * share).with_unit("cm2")
        notes.append(f"{device.name}: charged {share:.3g} of the package (the share of its "
                     "hardware threads this machine sees)")
    if device.archetype is not None:
        notes.append(f"ARCHETYPE footprint ({device.archetype}): the CPU is not in the catalog; "
                     "die area and node are those of a typical part, with a wide interval")
    die_src = "; ".join(area_cm2_sources(device)) or "catalog die area"
    components: list[Component] = [
        Component("dies", processor, f"die area: {die_src}; per-node factor: "
                  + "; ".join(main_factor.sources)),
        Component("memory", memory, "; ".join(memory_factor.sources) if memory_factor else
                  "no memory of its own"),
    ]
    packaging_kg = UValue.exact(0.0, KG, kind="default")
    if packaging or scope != "chip":
        packaging_kg = UValue.exact(PACKAGING_KG_PER_IC * n_dies * share, KG, (PACKAGING_SOURCE,),
                                    kind="default")
        sources[PACKAGING_SOURCE] = None
        components.append(Component("package", packaging_kg, PACKAGING_SOURCE,
                                    "substrate and packaging, per logic die"))
    total = (processor + memory + packaging_kg).with_unit(KG)
    basis = "bottom-up"
    published = tuple(p for p in published_footprints() if p.device_id == device.id)
    if scope != "chip":
        kind = device.kind if device.kind in ("gpu", "soc", "cpu") else "gpu"
        board = _row("card", "board", kind)
        if board is None:  # pragma: no cover - the shipped file covers every kind
            raise EmbodiedUnavailableError(f"no card data for a {kind}")
        board_kg = _row_value(board, share)
        components.append(Component("board", board_kg, board.source, board.note))
        sources[board.source] = None
        total = (total + board_kg).with_unit(KG)
        pcf = [p for p in published if p.scope == "card" and p.kind == "vendor-pcf"]
        if pcf:
            p0 = pcf[0]
            bottom_up = total
            total = UValue(p0.kgco2e, min(bottom_up.low, p0.kgco2e),
                           max(bottom_up.high, p0.kgco2e), KG, (p0.source, *bottom_up.sources),
                           "default")
            basis = "vendor PCF"
            sources[p0.source] = None
            notes.append(f"card scope: nominal = the vendor's product carbon footprint "
                         f"{p0.kgco2e:g} kg ({p0.note}); the bottom-up sum "
                         f"{bottom_up.value:.3g} kg and its interval are kept in the interval")
    if scope == "server-share":
        if device.kind == "soc":
            row = _row("server-share", "carrier", "soc")
            assert row is not None
            host_kg = _row_value(row)
            components.append(Component("carrier", host_kg, row.source, row.note))
            sources[row.source] = None
        elif device.category == "datacenter" or device.archetype is not None:
            row = _row("server-share", "host", "datacenter")
            assert row is not None
            alloc_kind = "cpu" if device.kind == "cpu" else "gpu"
            per_host, alloc_src = host_allocation()[alloc_kind]
            host_kg = _row_value(row, share / per_host)
            components.append(Component(
                "host share", host_kg, f"{row.source}; allocation 1/{per_host}: {alloc_src}",
                f"{row.note}; 1/{per_host} of the host" + (
                    f" x {share:.3g} (thread share)" if share != 1.0 else "")))
            sources[row.source] = None
            notes.append(f"server-share: host footprint allocated 1/{per_host} per "
                         f"{'socket' if alloc_kind == 'cpu' else 'accelerator'}")
        else:
            raise EmbodiedUnavailableError(
                f"no server-share footprint for {device.name}: the host of a {device.category} "
                "device (component 'host': desktop or workstation without its GPU) has no "
                "sourced footprint in lca/data/scope_components.csv; nothing was assumed; "
                "use --scope card")
        total = (total + host_kg).with_unit(KG)
    return Embodied(
        device_id=device.id, memory_method=memory_method, processor_kg=processor,
        memory_kg=memory, total_kg=total, die_area_cm2=area_total,
        node_factor=main_factor.with_unit(KG_PER_CM2), memory_factor=memory_factor,
        packaging_kg=packaging_kg, node_source=node_source, sources=tuple(sources),
        notes=tuple(notes), scope=scope, components=tuple(components), basis=basis,
        published=published, archetype=device.archetype, node_basis=node_basis)


def area_cm2_sources(device: Device) -> list[str]:
    """The citation of the device's die area (empty when none)."""
    return [device.sources["die"]] if device.sources.get("die") else []


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
