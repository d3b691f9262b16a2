"""Manufacturing factors as data: kgCO2e per cm2 of die by process node, kept per source, and
memory factors (per GB and density) by memory type.

Per-node factor (``lca/data/node_factors.csv``): every source keeps its own values. For a node:

* a source that has the node gives its value (``exact``);
* a source whose nodes bracket it gives the linear interpolation between the two neighbouring
  nodes (``interpolated``) and its contribution to the interval is widened by
  :data:`INTERPOLATED_WIDEN` either side;
* a source whose nodes do not reach it gives the value of its nearest node (``nearest``),
  widened by :data:`NEAREST_WIDEN` either side;
* a node-independent source (``node_nm = any``) gives its value everywhere.

The interval is the spread (min..max) of those contributions; the nominal value is the **mean of
the sources' values** at the node (the seed study reported min / mean / max of its literature
dataset in the same way). Interpolated and nearest-node values come with a warning note.

Memory (``lca/data/memory_types.csv``, ``memory_family_factors.csv``): per memory type the seed
study's per-GB factor (nominal), chip family and density; the per-GB interval is the spread of
the study's value, the values for the type's chip family (ACT / SK hynix), the generic DRAM
values (LLMCarbon, Groeger 2021) and the type's own rows (BoaviztAPI's VRAM die model applied to a
card of that type: a high end). Types no source measures (HBM3/HBM3e, GDDR6X/GDDR7, LPDDR5X) are
rows of their own marked EXTRAPOLATED, with the type they are extrapolated from. Types the study lacks map to the nearest listed type, with a note.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from inferlca.errors import InputFileError, InvalidValueError, UnknownNameError
from inferlca.uncertainty import UValue

#: widening, either side, of a value interpolated between two nodes of a source
INTERPOLATED_WIDEN = 0.10
#: widening, either side, of a value taken from a source's nearest node (outside its range)
NEAREST_WIDEN = 0.25

#: sources selectable with ``node_source`` but never part of the default spread: ``pirson`` (the
#: literature and database values of Pirson et al., ``inferlca.lca.pirson``) shares its sources
#: with ACT and imec (Bardon et al. 2020), so averaging it in would count them twice
SELECT_ONLY_SOURCES = ("pirson",)
#: the seed study's matching of the Pirson et al. dataset (node + foundry + year): a node source
#: that needs the device, handled by ``inferlca.lca.embodied`` through ``inferlca.lca.pirson``
STUDY_SOURCE = "study"

KG_PER_CM2 = "kgCO2e/cm2"
KG_PER_GB = "kgCO2e/GB"


def _read(filename: str) -> str:
    return resources.files("inferlca.lca").joinpath("data").joinpath(filename).read_text("utf-8")


@dataclass(frozen=True)
class NodeFactorRow:
    """One row of ``node_factors.csv``: a source's value at one node (``node_nm`` ``None`` =
    node-independent)."""

    source_id: str
    node_nm: float | None
    kgco2e_per_cm2: float
    area_basis: str
    source: str
    note: str
    yield_basis: str = "unstated"


@dataclass(frozen=True)
class SourceFactor:
    """What one source says for a requested node.

    Attributes:
        source_id: short id (``act``, ``imec``, ``eco-chip``, ``llmcarbon``, ``uba``).
        node_nm: the node asked for.
        value: kgCO2e per cm2 at that node.
        method: ``exact``, ``interpolated``, ``nearest`` or ``node-independent``.
        widen: relative widening applied either side in the interval (0 for exact values).
        from_nodes: the source nodes the value comes from.
        citation: the source's citation.
    """

    source_id: str
    node_nm: float
    value: float
    method: str
    widen: float
    from_nodes: tuple[float, ...]
    citation: str
    yield_basis: str = "unstated"

    @property
    def low(self) -> float:
        return self.value * (1 - self.widen)

    @property
    def high(self) -> float:
        return self.value * (1 + self.widen)

    def describe(self) -> str:
        nodes = "/".join(f"{n:g}" for n in self.from_nodes)
        if self.method == "exact":
            how = "exact"
        elif self.method == "node-independent":
            how = "node-independent"
        elif self.method == "interpolated":
            how = f"interpolated between {nodes} nm, +-{self.widen:.0%}"
        else:
            how = f"nearest node {nodes} nm, +-{self.widen:.0%}"
        return f"{self.source_id}: {self.value:.3g} {KG_PER_CM2} ({how})"


@lru_cache(maxsize=1)
def node_factor_rows() -> tuple[NodeFactorRow, ...]:
    """All rows of ``lca/data/node_factors.csv``."""
    rows = []
    for i, r in enumerate(csv.DictReader(io.StringIO(_read("node_factors.csv"))), start=2):
        node = r["node_nm"].strip()
        try:
            rows.append(NodeFactorRow(
                source_id=r["source_id"].strip(),
                node_nm=None if node == "any" else float(node),
                kgco2e_per_cm2=float(r["kgco2e_per_cm2"]),
                area_basis=r["area_basis"].strip(),
                source=r["source"].strip(),
                note=(r.get("note") or "").strip(),
                yield_basis=(r.get("yield_basis") or "unstated").strip()))
        except ValueError as exc:
            raise InputFileError("node_factors.csv", str(exc), i) from None
    return tuple(rows)


def node_factor_sources() -> list[str]:
    """The ids of the per-node factor sources, in file order."""
    return list(dict.fromkeys(r.source_id for r in node_factor_rows()))


def _study_needs_a_device(source: str | None) -> None:
    if source == STUDY_SOURCE:
        raise InvalidValueError(
            f"node source {STUDY_SOURCE!r} needs the device's foundry and release year as well as "
            "its node: use it through embodied_footprint (inferlca embodied DEVICE --node-source "
            "study) or inferlca.lca.pirson.study_node_factor", param="node_source")


def accepted_node_sources() -> list[str]:
    """Every accepted ``node_source``: ``low``, ``high``, the sources of ``node_factors.csv`` and
    ``study`` (the seed study's matching of the Pirson et al. dataset)."""
    return ["low", "high", *node_factor_sources(), STUDY_SOURCE]


def _check_node(node_nm: float) -> None:
    if isinstance(node_nm, bool) or not isinstance(node_nm, (int, float)) or math.isnan(node_nm) \
            or node_nm <= 0:
        raise InvalidValueError(f"process node must be a positive number of nm, got {node_nm!r}")


def source_values(node_nm: float, include: tuple[str, ...] = ()) -> list[SourceFactor]:
    """Every source's value at ``node_nm`` (exact, interpolated, nearest or node-independent);
    the :data:`SELECT_ONLY_SOURCES` only when named in ``include``."""
    _check_node(node_nm)
    by_source: dict[str, list[NodeFactorRow]] = {}
    for row in node_factor_rows():
        if row.source_id in SELECT_ONLY_SOURCES and row.source_id not in include:
            continue
        by_source.setdefault(row.source_id, []).append(row)
    out = []
    for sid, rows in by_source.items():
        yb = rows[0].yield_basis
        generic = [r for r in rows if r.node_nm is None]
        if generic:
            out.append(SourceFactor(sid, node_nm, generic[0].kgco2e_per_cm2, "node-independent",
                                    0.0, (), generic[0].source, yb))
            continue
        pts = sorted((float(r.node_nm), r.kgco2e_per_cm2) for r in rows if r.node_nm is not None)
        # the citation of the rows actually used (rows of one source may cite different files)
        cite_at = {float(r.node_nm): r.source for r in rows if r.node_nm is not None}
        exact = [(n, v) for n, v in pts if math.isclose(n, node_nm)]
        if exact:
            out.append(SourceFactor(sid, node_nm, exact[0][1], "exact", 0.0, (node_nm,),
                                    cite_at[exact[0][0]], yb))
            continue
        lower = [(n, v) for n, v in pts if n < node_nm]
        upper = [(n, v) for n, v in pts if n > node_nm]
        if lower and upper:
            (n0, v0), (n1, v1) = lower[-1], upper[0]
            value = v0 + (v1 - v0) * (node_nm - n0) / (n1 - n0)
            both = " + ".join(dict.fromkeys((cite_at[n0], cite_at[n1])))
            out.append(SourceFactor(sid, node_nm, value, "interpolated", INTERPOLATED_WIDEN,
                                    (n0, n1), both, yb))
        else:
            n, v = (upper[0] if upper else lower[-1])
            out.append(SourceFactor(sid, node_nm, v, "nearest", NEAREST_WIDEN, (n,), cite_at[n],
                                    yb))
    return out


def node_factor(node_nm: float, source: str | None = None) -> tuple[UValue, tuple[str, ...]]:
    """The per-area manufacturing factor at ``node_nm`` in kgCO2e/cm2, and warning notes.

    Args:
        node_nm: process node in nm.
        source: ``None`` for the spread of all sources (nominal: their mean); ``"low"`` or
            ``"high"`` for the source giving the lowest / highest value at this node; or a source
            id (see :func:`node_factor_sources`) for that source alone. A single source gives an
            exact value (no interval), for sensitivity analysis.

    Returns:
        ``(factor, notes)``: ``factor`` carries the citations in ``sources``.
    """
    _study_needs_a_device(source)
    values = source_values(node_nm, (source,) if source in SELECT_ONLY_SOURCES else ())
    notes = tuple(f"per-node factor at {node_nm:g} nm: {sv.describe()}"
                  for sv in values if sv.method in ("interpolated", "nearest"))
    if source is not None:
        if source == "low":
            pick = min(values, key=lambda s: s.value)
        elif source == "high":
            pick = max(values, key=lambda s: s.value)
        else:
            match = [s for s in values if s.source_id == source]
            if not match:
                accepted = accepted_node_sources()
                raise UnknownNameError("node-factor source", source, accepted,
                                       f"(accepted: {', '.join(accepted)})")
            pick = match[0]
        note = tuple(n for n in notes if f": {pick.source_id}:" in n)
        return (UValue.exact(pick.value, KG_PER_CM2, (f"{pick.source_id}: {pick.citation}",),
                             kind="default"), note)
    nominal = sum(s.value for s in values) / len(values)
    low = min(s.low for s in values)
    high = max(s.high for s in values)
    cites = tuple(f"{s.source_id}: {s.citation}" for s in values)
    return UValue(nominal, min(low, nominal), max(high, nominal), KG_PER_CM2, cites, "default"), notes


# --- one basis: kgCO2e per cm2 of good die, yield included ------------------------------------

#: how the per-node factors are combined: ``as-published`` (the seed study's way: every source's
#: figure as published, nominal = their mean) or ``good-die`` (every figure brought to kgCO2e per
#: cm2 of good die with the die's own yield; see :func:`node_factor_good_die`)
NODE_BASES = ("as-published", "good-die")


@dataclass(frozen=True)
class DefectDensity:
    node_nm: float
    d0_per_cm2: float
    alpha: float
    source: str


@lru_cache(maxsize=1)
def defect_densities() -> tuple[DefectDensity, ...]:
    """The rows of ``lca/data/defect_density.csv`` (sorted by node)."""
    rows = [DefectDensity(float(r["node_nm"]), float(r["d0_per_cm2"]), float(r["alpha"]),
                          r["source"].strip())
            for r in csv.DictReader(io.StringIO(_read("defect_density.csv")))]
    return tuple(sorted(rows, key=lambda d: d.node_nm))


def die_yield(area_cm2: float, node_nm: float) -> tuple[float, DefectDensity, tuple[str, ...]]:
    """Negative-binomial die yield ``Y = (1 + A x D0 / alpha) ^ -alpha`` of a die of ``area_cm2``
    at ``node_nm`` (D0 and alpha from ``defect_density.csv``; the nearest listed node when the
    node is not listed, with a note)."""
    _check_node(node_nm)
    if not (area_cm2 > 0 and math.isfinite(area_cm2)):
        raise InvalidValueError(f"die area must be a positive number of cm2, got {area_cm2!r}")
    dd = min(defect_densities(), key=lambda d: (abs(d.node_nm - node_nm), d.node_nm))
    notes: tuple[str, ...] = ()
    if not math.isclose(dd.node_nm, node_nm):
        notes = ((f"defect density at {node_nm:g} nm: the {dd.node_nm:g} nm value "
                  f"{dd.d0_per_cm2:g}/cm2 (nearest listed node)"),)
    y = (1.0 + area_cm2 * dd.d0_per_cm2 / dd.alpha) ** -dd.alpha
    return y, dd, notes


def _to_good_die(sv: SourceFactor, y: float) -> float | None:
    """A source's value in kgCO2e per cm2 of good die at yield ``y``; ``None`` when its basis is
    not stated (kept apart)."""
    basis = sv.yield_basis
    if basis.startswith("fixed-yield"):
        return sv.value * float(basis.split()[1]) / y   # undo the source's fixed yield
    if basis.startswith("before-yield"):
        return sv.value / y
    return None


def node_factor_good_die(node_nm: float, die_area_cm2: float, source: str | None = None
                         ) -> tuple[UValue, tuple[str, ...]]:
    """The per-node factor in kgCO2e per cm2 of **good die** for a die of ``die_area_cm2``.

    Each source is brought to that basis with the die's own yield (:func:`die_yield`): ACT's
    fixed 0.875 yield is undone and replaced; ECO-CHIP's and imec's figures (before yield) are
    divided by the yield. Sources whose basis is not stated (LLMCarbon, Groeger/UBA) are kept
    apart: they widen the interval but never enter the nominal. imec.netzero (Scope 1+2, no
    materials) is a lower bound: shown in the interval, never averaged in. The nominal is the mean
    of the complete, known-basis sources (ACT and ECO-CHIP): it lies inside the interval because
    the interval spans every source. ``source`` picks one source (rebased when its basis is
    known), as :func:`node_factor` does.
    """
    _study_needs_a_device(source)
    y, dd, ynotes = die_yield(die_area_cm2, node_nm)
    include = (source,) if source in SELECT_ONLY_SOURCES else ()
    values = source_values(node_nm, include)
    notes = list(ynotes) + [f"per-node factor at {node_nm:g} nm: {sv.describe()}"
                            for sv in values if sv.method in ("interpolated", "nearest")]
    yield_cite = (f"die yield {y:.3f} for {die_area_cm2:.3g} cm2 (negative binomial, D0 "
                  f"{dd.d0_per_cm2:g}/cm2, alpha {dd.alpha:g}): {dd.source}")
    rebased = []
    for sv in values:
        g = _to_good_die(sv, y)
        rebased.append((sv, g if g is not None else sv.value, g is not None))
    if source is not None:
        if source == "low":
            pick = min(rebased, key=lambda t: t[1])
        elif source == "high":
            pick = max(rebased, key=lambda t: t[1])
        else:
            match = [t for t in rebased if t[0].source_id == source]
            if not match:
                accepted = accepted_node_sources()
                raise UnknownNameError("node-factor source", source, accepted,
                                       f"(accepted: {', '.join(accepted)})")
            pick = match[0]
        sv, v, known = pick
        cites = (f"{sv.source_id}: {sv.citation}",) + ((yield_cite,) if known else ())
        return UValue.exact(v, KG_PER_CM2, cites, kind="default"), tuple(
            n for n in notes if f": {sv.source_id}:" in n or n.startswith("defect"))
    core = [v for sv, v, known in rebased if known and "lower-bound" not in sv.yield_basis]
    if not core:  # pragma: no cover - ACT covers every node (nearest value at worst)
        raise InvalidValueError(f"no known-basis per-node factor at {node_nm:g} nm")
    nominal = sum(core) / len(core)
    low = min(v * (1 - sv.widen) for sv, v, _ in rebased)
    high = max(v * (1 + sv.widen) for sv, v, _ in rebased)
    apart = [sv.source_id for sv, _, known in rebased if not known]
    bound = [sv.source_id for sv, _, known in rebased if known and "lower-bound" in sv.yield_basis]
    if apart:
        notes.append(f"good-die basis: {', '.join(apart)} kept apart (area basis not stated): "
                     "interval only, not in the nominal")
    if bound:
        notes.append(f"good-die basis: {', '.join(bound)} is a lower bound (Scope 1+2, no "
                     "materials): interval only, not in the nominal")
    cites = tuple(f"{sv.source_id}: {sv.citation}" for sv, _, _ in rebased) + (yield_cite,)
    return (UValue(nominal, min(low, nominal), max(high, nominal), KG_PER_CM2, cites, "default"),
            tuple(notes))


@dataclass(frozen=True)
class NodeFactorRange:
    """The sources giving the lowest and the highest per-node factor for a device's main node
    (the "per-node factor low to high source" bar of a tornado chart)."""

    node_nm: float
    low: SourceFactor
    high: SourceFactor
    all: tuple[SourceFactor, ...]

    def to_dict(self) -> dict[str, object]:
        return {"node_nm": self.node_nm,
                "low": {"source": self.low.source_id, "kgco2e_per_cm2": self.low.value,
                        "method": self.low.method},
                "high": {"source": self.high.source_id, "kgco2e_per_cm2": self.high.value,
                         "method": self.high.method},
                "sources": [{"source": s.source_id, "kgco2e_per_cm2": s.value, "method": s.method}
                            for s in self.all]}


def node_factor_range(node_nm: float) -> NodeFactorRange:
    """Low and high per-node factor sources at ``node_nm`` (see :class:`NodeFactorRange`)."""
    values = source_values(node_nm)
    return NodeFactorRange(node_nm, min(values, key=lambda s: s.value),
                           max(values, key=lambda s: s.value), tuple(values))


# --- memory -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MemoryType:
    """A memory type of the study's table: chip family, density (Gbit/mm2), per-GB factor."""

    memory_type: str
    chip_family: str
    density_gbit_per_mm2: float
    kgco2e_per_gb: float
    source: str


@dataclass(frozen=True)
class FamilyFactor:
    chip_family: str  # "*" = any DRAM
    technology: str
    kgco2e_per_gb: float
    source: str
    note: str


@lru_cache(maxsize=1)
def _memory_tables() -> tuple[dict[str, MemoryType], dict[str, tuple[str, str]], tuple[FamilyFactor, ...]]:
    types: dict[str, MemoryType] = {}
    maps: dict[str, tuple[str, str]] = {}
    for i, r in enumerate(csv.DictReader(io.StringIO(_read("memory_types.csv"))), start=2):
        name = r["memory_type"].strip()
        if r.get("maps_to", "").strip():
            maps[name.lower()] = (r["maps_to"].strip(), r["note"].strip())
            continue
        try:
            types[name.lower()] = MemoryType(name, r["chip_family"].strip(),
                                             float(r["density_gbit_per_mm2"]),
                                             float(r["kgco2e_per_gb"]), r["source"].strip())
        except ValueError as exc:
            raise InputFileError("memory_types.csv", str(exc), i) from None
    fams = tuple(FamilyFactor(r["chip_family"].strip(), r["technology"].strip(),
                              float(r["kgco2e_per_gb"]), r["source"].strip(),
                              (r.get("note") or "").strip())
                 for r in csv.DictReader(io.StringIO(_read("memory_family_factors.csv"))))
    return types, maps, fams


def memory_type(name: str) -> tuple[MemoryType, tuple[str, ...]]:
    """The study's row for memory type ``name`` (mapped when the study lacks it) and notes."""
    types, maps, _ = _memory_tables()
    key = name.strip().lower()
    notes: tuple[str, ...] = ()
    if key in maps:
        target, why = maps[key]
        notes = (f"memory type {name}: {why}",)
        key = target.lower()
    if key not in types:
        known = [t.memory_type for t in types.values()] + [m for m in maps]
        raise UnknownNameError("memory type", name, known)
    return types[key], notes


def per_gb_factor(name: str) -> tuple[UValue, tuple[str, ...]]:
    """kgCO2e per GB for memory type ``name``: nominal = the seed study's value, interval = the
    spread with the chip family's ACT values and the generic DRAM values."""
    mt, notes = memory_type(name)
    _, _, fams = _memory_tables()
    used = [f for f in fams if f.chip_family in (mt.chip_family, "*")
            or f.chip_family.lower() == mt.memory_type.lower()]
    samples = [mt.kgco2e_per_gb] + [f.kgco2e_per_gb for f in used]
    cites = (f"{mt.memory_type} {mt.kgco2e_per_gb:g} {KG_PER_GB}: {mt.source}",) + tuple(
        f"{f.technology} {f.kgco2e_per_gb:g} {KG_PER_GB}: {f.source}" for f in used)
    fam_notes = tuple(f"memory {f.chip_family}: {f.note}" for f in used
                      if f.note and f.chip_family != "*")
    return (UValue(mt.kgco2e_per_gb, min(samples), max(samples), KG_PER_GB, cites, "default"),
            notes + fam_notes)
