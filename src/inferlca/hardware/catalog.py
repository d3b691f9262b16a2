"""The hardware catalog: devices with the specs the impact model and the estimator need.

The data ships in the package (``hardware/data/devices.csv``, citations in
``hardware/data/sources.csv``) and is read lazily on first use. Every group of fields carries a
source; a value that no source gives stays empty (``None``) with a note, never invented.

Lookup (:meth:`Catalog.get`) accepts the id, the name or any alias (the names NVML and
``/proc/cpuinfo`` report are aliases), compared without case, punctuation or trademark marks:
``"NVIDIA A100-SXM4-40GB"``, ``"a100 sxm4 40gb"`` and ``"a100-sxm4-40gb"`` are the same device.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from inferlca.errors import InputFileError, UnknownNameError

CATEGORIES = ("edge", "desktop", "gaming", "datacenter")
KINDS = ("gpu", "cpu", "soc", "npu")  # npu: an edge AI accelerator (Edge TPU, Hailo)
PRECISIONS = ("fp32", "fp16", "bf16", "int8")

# source groups, in the order they are shown
SOURCE_GROUPS = ("specs", "die", "memory", "performance")

#: how far a source is from the maker of the device, best first (``sources.csv`` ``quality``):
#: ``primary`` = the vendor's own datasheet, product page, documentation or benchmark submission,
#: a peer-reviewed paper or conference slides; ``secondary`` = a curated database or research
#: dataset compiling such figures (TechPowerUp, Epoch AI, the seed study...); ``press`` = news
#: sites, blogs, forums and wikis (and figures derived from them). A row's ``source_quality`` is
#: the weakest quality among the sources it cites.
SOURCE_QUALITIES = ("primary", "secondary", "press")


def weakest_quality(qualities: Iterable[str]) -> str:
    """The weakest of ``qualities`` (``press`` < ``secondary`` < ``primary``); ``press`` when
    there is none (an unsourced value counts as the weakest)."""
    ranks = [SOURCE_QUALITIES.index(q) for q in qualities]
    return SOURCE_QUALITIES[max(ranks)] if ranks else SOURCE_QUALITIES[-1]


@dataclass(frozen=True)
class Die:
    """One silicon die of a device: ``count`` dies of ``area_mm2`` each at ``process_node_nm``."""

    count: int
    area_mm2: float
    process_node_nm: float

    def to_dict(self) -> dict[str, float]:
        return {"count": self.count, "area_mm2": self.area_mm2, "process_node_nm": self.process_node_nm}


@dataclass(frozen=True)
class Device:
    """A device of the catalog. Missing values are ``None``.

    Attributes:
        id: slug, e.g. ``"h100-sxm5-80gb"``.
        name: display name.
        aliases: other names, including what NVML, ``/proc/device-tree/model`` or
            ``/proc/cpuinfo`` report.
        vendor: ``NVIDIA``, ``Intel``, ``AMD``.
        category: ``edge``, ``desktop``, ``gaming`` or ``datacenter`` (drives the default PUE).
        kind: ``gpu``, ``cpu`` or ``soc``.
        architecture: micro-architecture name.
        process_node_nm: main process node in nm (TSMC 4N counts as 5 nm, Intel 7 as 10 nm).
        foundry: ``TSMC``, ``Samsung``, ``Intel``.
        die_area_mm2: total logic die area in mm2 (nominal).
        die_area_low_mm2: lower end of the die-area interval when the area is uncertain.
        die_area_high_mm2: upper end of the die-area interval.
        dies: the individual dies when a package mixes dies or nodes (chiplet CPUs); empty for
            a single die of ``die_area_mm2`` at ``process_node_nm``.
        memory_type: ``HBM3``, ``GDDR6``, ``LPDDR5``...; ``None`` for CPUs (host DRAM not counted).
        memory_gb: on-package or on-board memory in GB.
        bandwidth_gbs: memory bandwidth in GB/s.
        tdp_w: thermal design power in W (the maximum power mode for Jetson modules).
        peak_flops: dense peak throughput in FLOP/s (or OP/s for ``int8``) per precision, keys
            among ``fp32``, ``fp16``, ``bf16``, ``int8``; absent when no source gives it.
        release_year: year of release.
        sources: citation per group of fields (``specs``, ``die``, ``memory``, ``performance``).
        source_quality: the weakest quality of the row's sources (:data:`SOURCE_QUALITIES`).
        source_qualities: the weakest quality of each group's sources, per group.
        notes: caveats, conflicts between sources and decisions.
        threads: hardware threads of a CPU package (cores x SMT), used to give a VM that sees
            only some of them its share of the TDP.
        archetype: the archetype id when this device stands for an unknown part (a flagged,
            wide-interval footprint; see :mod:`inferlca.hardware.archetypes`), else ``None``.
        share: the fraction of the package this machine is charged for (a VM seeing some of
            the hardware threads); ``None`` for the whole device.
    """

    id: str
    name: str
    aliases: tuple[str, ...]
    vendor: str
    category: str
    kind: str
    architecture: str | None
    process_node_nm: float | None
    foundry: str | None
    die_area_mm2: float | None
    memory_type: str | None
    memory_gb: float | None
    bandwidth_gbs: float | None
    tdp_w: float | None
    peak_flops: dict[str, float]
    release_year: int | None
    sources: dict[str, str]
    notes: str = ""
    source_quality: str = "press"
    source_qualities: dict[str, str] = field(default_factory=dict)
    die_area_low_mm2: float | None = None
    die_area_high_mm2: float | None = None
    dies: tuple[Die, ...] = field(default=())
    threads: int | None = None
    archetype: str | None = None
    share: float | None = None

    @property
    def die_list(self) -> tuple[Die, ...]:
        """The dies to count: :attr:`dies`, or one die of :attr:`die_area_mm2` at the main node."""
        if self.dies:
            return self.dies
        if self.die_area_mm2 is None or self.process_node_nm is None:
            return ()
        return (Die(1, self.die_area_mm2, self.process_node_nm),)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "aliases": list(self.aliases),
            "vendor": self.vendor,
            "category": self.category,
            "kind": self.kind,
            "architecture": self.architecture,
            "process_node_nm": self.process_node_nm,
            "foundry": self.foundry,
            "die_area_mm2": self.die_area_mm2,
            "die_area_low_mm2": self.die_area_low_mm2,
            "die_area_high_mm2": self.die_area_high_mm2,
            "threads": self.threads,
            "dies": [d.to_dict() for d in self.dies],
            "memory_type": self.memory_type,
            "memory_gb": self.memory_gb,
            "bandwidth_gbs": self.bandwidth_gbs,
            "tdp_w": self.tdp_w,
            "peak_flops": dict(self.peak_flops),
            "release_year": self.release_year,
            "sources": dict(self.sources),
            "source_quality": self.source_quality,
            "source_qualities": dict(self.source_qualities),
            "notes": self.notes,
            "archetype": self.archetype,
            "share": self.share,
        }


_MARKS = re.compile(r"\((r|tm|c)\)", re.IGNORECASE)
_NON_ALNUM = re.compile(r"[^a-z0-9+]")


def normalize_name(name: str) -> str:
    """A lookup key: lower case, without trademark marks, spaces or punctuation (``+`` kept,
    it distinguishes e.g. the Xeon 8480+)."""
    return _NON_ALNUM.sub("", _MARKS.sub("", name.lower()))


def _keys(name: str) -> set[str]:
    key = normalize_name(name)
    keys = {key}
    for prefix in ("nvidia", "amd", "intel"):
        if key.startswith(prefix) and len(key) > len(prefix):
            keys.add(key[len(prefix):])
    return keys


class Catalog:
    """The devices, with lookup by id, name or alias."""

    def __init__(self, devices: list[Device]) -> None:
        self._devices = list(devices)
        self._index: dict[str, Device] = {}
        for dev in self._devices:
            for label in (dev.id, dev.name, *dev.aliases):
                for key in _keys(label):
                    other = self._index.get(key)
                    if other is not None and other.id != dev.id:
                        raise InputFileError("devices.csv", f"name {label!r} is used by both "
                                             f"{other.id!r} and {dev.id!r}")
                    self._index[key] = dev

    def __len__(self) -> int:
        return len(self._devices)

    def __iter__(self) -> Iterator[Device]:
        return iter(self._devices)

    def devices(self, category: str | None = None, kind: str | None = None) -> list[Device]:
        """All devices, or those of one category (``edge|desktop|gaming|datacenter``) / kind."""
        if category is not None and category not in CATEGORIES:
            raise UnknownNameError("category", category, CATEGORIES,
                                   f"(accepted: {', '.join(CATEGORIES)})")
        if kind is not None and kind not in KINDS:
            raise UnknownNameError("kind", kind, KINDS, f"(accepted: {', '.join(KINDS)})")
        return [d for d in self._devices
                if (category is None or d.category == category) and (kind is None or d.kind == kind)]

    def find(self, name: str) -> Device | None:
        """The device called ``name`` (id, name or alias), or ``None``."""
        for key in _keys(name):
            dev = self._index.get(key)
            if dev is not None:
                return dev
        return None

    def get(self, name: str) -> Device:
        """The device called ``name``; raises :class:`UnknownNameError` with suggestions."""
        dev = self.find(name)
        if dev is not None:
            return dev
        known = [d.id for d in self._devices] + [a for d in self._devices for a in d.aliases]
        raise UnknownNameError("device", name, known,
                               "(see `inferlca hardware list` for the known devices)")

    def ids(self) -> list[str]:
        return [d.id for d in self._devices]


# --- loading ------------------------------------------------------------------------------------

def _read_data(filename: str) -> str:
    return resources.files("inferlca.hardware").joinpath("data").joinpath(filename).read_text("utf-8")


def _opt_float(row: dict[str, str], key: str, line: int) -> float | None:
    raw = (row.get(key) or "").strip()
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        raise InputFileError("devices.csv", f"column {key!r}: {raw!r} is not a number",
                             line) from None


def _parse_dies(raw: str, line: int) -> tuple[Die, ...]:
    dies = []
    for part in filter(None, (p.strip() for p in raw.split(";"))):
        m = re.fullmatch(r"(\d+)x([\d.]+)@([\d.]+)", part)
        if not m:
            raise InputFileError("devices.csv", f"dies entry {part!r}: expected COUNTxAREA@NODE, "
                                 "e.g. 12x71@5", line)
        dies.append(Die(int(m.group(1)), float(m.group(2)), float(m.group(3))))
    return tuple(dies)


@lru_cache(maxsize=1)
def source_citations() -> dict[str, str]:
    """Source key -> full citation (``hardware/data/sources.csv``)."""
    rows = csv.DictReader(io.StringIO(_read_data("sources.csv")))
    return {r["key"]: r["citation"] for r in rows}


@lru_cache(maxsize=1)
def source_quality_of() -> dict[str, str]:
    """Source key -> its quality (``sources.csv`` ``quality``: one of :data:`SOURCE_QUALITIES`)."""
    out = {}
    for i, r in enumerate(csv.DictReader(io.StringIO(_read_data("sources.csv"))), start=2):
        q = (r.get("quality") or "").strip()
        if q not in SOURCE_QUALITIES:
            raise InputFileError("sources.csv", f"quality must be one of {', '.join(SOURCE_QUALITIES)}"
                                 f", got {q!r} for {r['key']!r}", i)
        out[r["key"]] = q
    return out


def parse_devices(text: str, citations: dict[str, str] | None = None,
                  qualities: dict[str, str] | None = None) -> list[Device]:
    """Parse the devices CSV (the format of ``hardware/data/devices.csv``)."""
    cites = source_citations() if citations is None else citations
    quals = source_quality_of() if qualities is None else qualities
    devices = []
    for i, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        sources: dict[str, str] = {}
        group_quality: dict[str, str] = {}
        for group, col in zip(SOURCE_GROUPS, ("src_specs", "src_die", "src_memory", "src_perf")):
            keys = [k.strip() for k in (row.get(col) or "").split(";") if k.strip()]
            missing = [k for k in keys if k not in cites]
            if missing:
                raise InputFileError("devices.csv", f"unknown source key(s) {missing}", i)
            if keys:
                sources[group] = "; ".join(cites[k] for k in keys)
                group_quality[group] = weakest_quality([quals.get(k, "press") for k in keys])
        row_quality = (row.get("source_quality") or "").strip() or weakest_quality(
            list(group_quality.values()))
        if row_quality not in SOURCE_QUALITIES:
            raise InputFileError("devices.csv", f"source_quality must be one of "
                                 f"{', '.join(SOURCE_QUALITIES)}, got {row_quality!r}", i)
        peak = {}
        for prec, col in zip(PRECISIONS, ("fp32_tflops", "fp16_tflops", "bf16_tflops", "int8_tops")):
            v = _opt_float(row, col, i)
            if v is not None:
                peak[prec] = v * 1e12
        year = _opt_float(row, "release_year", i)
        devices.append(Device(
            id=row["id"].strip(),
            name=row["name"].strip(),
            aliases=tuple(a.strip() for a in (row.get("aliases") or "").split(";") if a.strip()),
            vendor=row["vendor"].strip(),
            category=row["category"].strip(),
            kind=row["kind"].strip(),
            architecture=(row.get("architecture") or "").strip() or None,
            process_node_nm=_opt_float(row, "process_node_nm", i),
            foundry=(row.get("foundry") or "").strip() or None,
            die_area_mm2=_opt_float(row, "die_area_mm2", i),
            die_area_low_mm2=_opt_float(row, "die_area_low_mm2", i),
            die_area_high_mm2=_opt_float(row, "die_area_high_mm2", i),
            dies=_parse_dies(row.get("dies") or "", i),
            memory_type=(row.get("memory_type") or "").strip() or None,
            memory_gb=_opt_float(row, "memory_gb", i),
            bandwidth_gbs=_opt_float(row, "bandwidth_gbs", i),
            tdp_w=_opt_float(row, "tdp_w", i),
            peak_flops=peak,
            release_year=int(year) if year is not None else None,
            sources=sources,
            notes=(row.get("notes") or "").strip(),
            source_quality=row_quality,
            source_qualities=group_quality,
            threads=int(t) if (t := _opt_float(row, "threads", i)) is not None else None,
        ))
    return devices


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    """The catalog shipped with inferlca (read once, on first use)."""
    return Catalog(parse_devices(_read_data("devices.csv")))


def match_cpu(model_name: str, catalog: Catalog) -> Device | None:
    """The catalog CPU for a ``/proc/cpuinfo`` model name, or ``None``.

    Exact alias match first; then an alias contained in the name (``"AMD EPYC 9654 96-Core
    Processor"`` contains ``"EPYC 9654"``). A generic name such as ``"Intel(R) Xeon(R)
    Processor"`` (what many virtual machines report) matches nothing: there is no part to source.
    """
    cat = catalog
    dev = cat.find(model_name)
    if dev is not None:
        return dev
    key = normalize_name(model_name)
    best: tuple[int, Device] | None = None
    for d in cat.devices(kind="cpu"):
        for alias in (d.name, *d.aliases):
            a = normalize_name(alias)
            # a short alias such as "genoa" must not match by accident: require a model number
            plausible = len(a) >= 6 and any(ch.isdigit() for ch in a) and a in key
            if plausible and (best is None or len(a) > best[0]):
                best = (len(a), d)
    return best[1] if best else None
