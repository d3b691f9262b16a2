"""The Pirson et al. (2022/2023) dataset of IC-production footprints, and the seed study's use of it.

``lca/data/pirson_ic_gwp.csv`` holds the GWP per cm2 of silicon that Pirson et al. ("The
Environmental Footprint of IC Production: Review, Analysis and Lessons From Historical Trends",
IEEE Trans. Semicond. Manuf. 36(1), doi:10.1109/TSM.2022.3228311) plot for each source: the
scientific-literature and LCA-database values by technology node (nodes of 45 nm and below), the
foundries' CSR values by year (Scope 1+2) and the ITRS roadmap (F-GHG only). The values are read
off the paper's figures (the dataset's spreadsheet itself was not retrievable), each row citing
the panel and the reading precision.

Two uses:

* node source ``pirson`` (rows of ``node_factors.csv``): the mean of the literature and database
  values at a node, a per-node source like the others (select-only: it shares sources with ACT
  and imec);
* node source ``study`` (:func:`study_node_factor`): the seed study's own matching, which needs
  the device's foundry and release year as well as its node. Its per-area factor is the set of
  literature and database values **at the device's node** plus the **CSR value of the device's
  foundry for its release year**; the ITRS rows are not matched. The nominal is their mean and
  the interval their min..max (the study reported min / mean / max). This reproduces the study's
  F from Pirson's values, not from the study's own result: Jetson AGX Xavier 32 GB (12 nm, TSMC,
  2018): (3.48 + 1.02) / 2 = 2.25 kg/cm2, F = 3.50 x 2.25 + 32 x 0.29 = 17.2 kg (study: about 17);
  A100 40 GB (7 nm, TSMC, 2020): (4.07 + 2.00 + 1.12) / 3 = 2.397 kg/cm2, F = 8.26 x 2.397 +
  40 x 0.28 = 31.0 kg (study: about 31).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from inferlca.errors import InputFileError
from inferlca.uncertainty import UValue

#: the node source that applies the seed study's matching of the Pirson et al. dataset
STUDY_SOURCE = "study"
KG_PER_CM2 = "kgCO2e/cm2"
#: catalog foundry names -> the foundry names of the dataset
_FOUNDRY_ALIASES = {"tsmc": "TSMC", "umc": "UMC", "smic": "SMIC", "gf": "GlobalFoundries",
                    "globalfoundries": "GlobalFoundries", "stmicro": "STMicroelectronics",
                    "stmicroelectronics": "STMicroelectronics"}


@dataclass(frozen=True)
class PirsonValue:
    """One value of the dataset: a source's GWP per cm2 at a node, or a foundry's / the
    roadmap's for a year."""

    category: str            # literature | database | foundry | roadmap
    dataset_source: str      # e.g. "EIME (2019)", "TSMC CSR report"
    node_nm: float | None
    foundry: str | None
    year: int | None
    kgco2e_per_cm2: float
    source: str
    note: str

    def label(self) -> str:
        where = f"{self.node_nm:g} nm" if self.node_nm is not None else f"{self.year}"
        return f"{self.dataset_source} {where} {self.kgco2e_per_cm2:g}"


@lru_cache(maxsize=1)
def pirson_values() -> tuple[PirsonValue, ...]:
    """All rows of ``lca/data/pirson_ic_gwp.csv``."""
    text = resources.files("inferlca.lca").joinpath("data").joinpath("pirson_ic_gwp.csv").read_text(
        "utf-8")
    out = []
    for i, r in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            out.append(PirsonValue(
                category=r["category"].strip(), dataset_source=r["dataset_source"].strip(),
                node_nm=float(r["node_nm"]) if r["node_nm"].strip() else None,
                foundry=r["foundry"].strip() or None,
                year=int(r["year"]) if r["year"].strip() else None,
                kgco2e_per_cm2=float(r["kgco2e_per_cm2"]), source=r["source"].strip(),
                note=(r.get("note") or "").strip()))
        except ValueError as exc:
            raise InputFileError("pirson_ic_gwp.csv", str(exc), i) from None
    return tuple(out)


def node_values(node_nm: float) -> tuple[list[PirsonValue], str]:
    """The literature and database values at ``node_nm``; when the dataset has none there, those
    of the nearest node(s) it has, with a note saying so."""
    per_node = [v for v in pirson_values() if v.category in ("literature", "database")]
    exact = [v for v in per_node if v.node_nm is not None and abs(v.node_nm - node_nm) < 1e-9]
    if exact:
        return exact, ""
    nodes = sorted({v.node_nm for v in per_node if v.node_nm is not None})
    best = min(abs(n - node_nm) for n in nodes)
    near = [n for n in nodes if abs(abs(n - node_nm) - best) < 1e-9]
    picked = [v for v in per_node if v.node_nm in near]
    return picked, (f"study basis: Pirson et al. give no literature or database value at "
                    f"{node_nm:g} nm; the values of the nearest node ({'/'.join(f'{n:g}' for n in near)}"
                    " nm) are used (an inferlca choice; the study matched exact nodes only)")


def foundry_value(foundry: str | None, year: int | None) -> PirsonValue | None:
    """The CSR value of ``foundry`` for ``year``, if the dataset has one."""
    if not foundry or year is None:
        return None
    name = _FOUNDRY_ALIASES.get(foundry.strip().lower())
    for v in pirson_values():
        if v.category == "foundry" and v.foundry == name and v.year == year:
            return v
    return None


def study_node_factor(node_nm: float, foundry: str | None, year: int | None
                      ) -> tuple[UValue, tuple[str, ...]]:
    """The seed study's per-area factor for a die at ``node_nm`` made by ``foundry`` in ``year``:
    mean [min - max] of the Pirson et al. literature/database values at the node and the
    foundry's CSR value for the year (see the module docstring), with notes naming the values."""
    values, near_note = node_values(node_nm)
    fv = foundry_value(foundry, year)
    used = values + ([fv] if fv is not None else [])
    nums = [v.kgco2e_per_cm2 for v in used]
    mean = sum(nums) / len(nums)
    where = f"{node_nm:g} nm ({foundry or 'foundry unknown'}, {year or 'year unknown'})"
    listing = ", ".join(v.label() for v in used)
    spread = f"[{min(nums):.3g} - {max(nums):.3g}]"
    first = (f"study basis at {where}: mean of {listing} = {mean:.3g} kgCO2e/cm2 {spread}, "
             "values read off Pirson et al.'s figures")
    notes = [first]
    if fv is None:
        notes.append(f"study basis: no foundry CSR value for {foundry or 'an unknown foundry'} in "
                     f"{year or 'an unknown year'} (the dataset has TSMC, UMC, SMIC, "
                     "GlobalFoundries and STMicroelectronics, 2010-2020): node values only")
    if near_note:
        notes.append(near_note)
    cites = tuple(dict.fromkeys(f"{STUDY_SOURCE}: {v.source}" for v in used))
    return UValue(mean, min(nums), max(nums), KG_PER_CM2, cites, "default"), tuple(notes)
