"""Tables built from stored runs: the study's results table and the list of runs.

The results table is the study's: GWP per inference workload (one run of ``queries`` queries, load
phase included) per device x query count, here with intervals, the lowest device per condition
marked and estimated runs marked. One table per (workload, scenario, backend).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from inferlca.report.data import RunView, device_order, grid_of
from inferlca.uncertainty import UValue


@dataclass(frozen=True)
class Cell:
    """One device x query count: the mean workload GWP (gCO2e) and the runs behind it."""

    gwp_g: UValue
    estimated: bool
    runs: tuple[str, ...]
    lowest: bool = False
    embodied_missing: bool = False  # the device has no manufacturing footprint (not catalogued)


@dataclass(frozen=True)
class ResultsTable:
    workload: str
    scenario: str
    backend: str | None
    query_counts: tuple[int, ...]
    devices: tuple[str, ...]
    categories: dict[str, str | None]
    cells: dict[tuple[str, int], Cell]
    unit: str = "gCO2e"
    scale: float = 1.0  # display value = gCO2e * scale
    scope: str = "chip"  # manufacturing scope of every run in the table
    grid: str = "FR"  # grid of every run in the table (grid_of)

    @property
    def title(self) -> str:
        b = f", backend {self.backend}" if self.backend else ""
        return (f"GWP per workload ({self.unit}): {self.workload}, {self.scenario}{b}, "
                f"manufacturing scope {self.scope}, grid {self.grid}")

    def text(self, device: str, queries: int) -> str:
        """The cell as displayed: value [low - high] in :attr:`unit`, or ``-``."""
        c = self.cells.get((device, queries))
        return "-" if c is None else (c.gwp_g * self.scale).format("", digits=3)

    def to_dict(self) -> dict[str, Any]:
        return {"workload": self.workload, "scenario": self.scenario, "backend": self.backend,
                "scope": self.scope, "grid": self.grid, "query_counts": list(self.query_counts),
                "rows": [{"device": d, "category": self.categories.get(d),
                          "cells": {str(q): {**c.gwp_g.to_dict(), "estimated": c.estimated,
                                             "lowest": c.lowest, "runs": list(c.runs),
                                             "embodied_missing": c.embodied_missing}
                                    for q in self.query_counts
                                    if (c := self.cells.get((d, q))) is not None}}
                         for d in self.devices]}


_ZERO = UValue.exact(0.0)


def _mean_interval(values: Sequence[UValue]) -> UValue:
    n = len(values)
    return UValue(sum(v.value for v in values) / n, sum(v.low for v in values) / n,
                  sum(v.high for v in values) / n, "gCO2e")


def results_tables(runs: Sequence[RunView], unit: Any = None) -> list[ResultsTable]:
    """One :class:`ResultsTable` per (workload, scenario, backend) among ``runs``.

    Estimated runs have no backend: they appear in every table of their workload and scenario.

    Several runs in one cell (same device and query count) are averaged; a cell is estimated when
    any of its runs is. The lowest nominal GWP of each query count (column) is marked, among the cells with a
    manufacturing footprint when there are any (a use-phase-only total is not comparable).

    One unit for every table (``unit``, a :class:`inferlca.report.style.Unit`; by default chosen
    by :func:`inferlca.report.style.gwp_unit` from all the cells), never g in one and mg in the
    next.
    """
    from inferlca.report.style import gwp_unit

    groups: dict[tuple[str, str, str | None, str, str], list[RunView]] = defaultdict(list)
    usable = [v for v in runs if v.impact("total_gco2e") is not None and v.queries]

    def scope_of(v: RunView) -> str:  # runs of different manufacturing scopes never share a table
        return str(v.spec.get("scope") or "chip")

    for v in usable:
        if not v.estimated:
            groups[(v.workload, v.scenario, v.backend, scope_of(v), grid_of(v.spec))].append(v)
    # an estimate has no backend of its own: it joins every table of its workload and scenario
    for v in usable:
        if v.estimated:
            keys = [k for k in groups if (k[0], k[1], k[3], k[4]) == (
                v.workload, v.scenario, scope_of(v), grid_of(v.spec))]
            for k in keys or [(v.workload, v.scenario, None, scope_of(v), grid_of(v.spec))]:
                groups[k].append(v)
    tables = []
    for (wl, sc, be, scope, grid), vs in sorted(groups.items(),
                                                key=lambda kv: tuple(str(x) for x in kv[0])):
        per: dict[tuple[str, int], list[RunView]] = defaultdict(list)
        for v in vs:
            per[(v.device_name, int(v.queries or 0))].append(v)
        cells: dict[tuple[str, int], Cell] = {}
        for key, rv in per.items():
            gwp = _mean_interval([r.impact("total_gco2e", "gCO2e") for r in rv])  # type: ignore[misc]
            missing = any((r.impact("device_embodied_kgco2e") or _ZERO).value == 0 for r in rv)
            cells[key] = Cell(gwp, any(r.estimated for r in rv), tuple(r.run_id for r in rv),
                              embodied_missing=missing)
        qcounts = tuple(sorted({q for _, q in cells}))
        for q in qcounts:
            col = [(k, c) for k, c in cells.items() if k[1] == q]
            # a use-phase-only total (device not in the catalog) is not comparable with full
            # totals: the lowest is among the complete cells when there are any
            complete = [kc for kc in col if not kc[1].embodied_missing]
            if len(col) > 1:
                k_min = min(complete or col, key=lambda kc: (kc[1].gwp_g.value, kc[0][0]))[0]
                c = cells[k_min]
                cells[k_min] = Cell(c.gwp_g, c.estimated, c.runs, True, c.embodied_missing)
        devices = tuple(device_order(vs))
        cats = {v.device_name: v.category for v in vs}
        tables.append(ResultsTable(wl, sc, be, qcounts, devices, cats, cells, scope=scope,
                                   grid=grid))
    u = unit or gwp_unit([c.gwp_g.value for t in tables for c in t.cells.values()])
    return [ResultsTable(t.workload, t.scenario, t.backend, t.query_counts, t.devices,
                         t.categories, t.cells, u.name, u.scale, t.scope, t.grid)
            for t in tables]


def runs_rows(runs: Sequence[RunView], unit: Any = None) -> list[dict[str, Any]]:
    """One row per run with its headline figures (strings formatted for display); GWP per query
    in one unit for all rows (``unit``, by default chosen from the runs)."""
    from inferlca.report.style import gwp_unit

    if unit is None:
        unit = gwp_unit([g.value for v in runs if (g := v.gwp_per_query_g()) is not None])
    rows = []
    for v in runs:
        e = v.energy_per_query_j()
        g = v.gwp_per_query_g()
        p99 = v.latency_p99_s()
        rows.append({
            "run_id": v.short_id, "label": v.label or "", "device": v.device_name,
            "category": v.category or "?", "workload": v.workload, "scenario": v.scenario,
            "condition": f"{v.workload} / {v.scenario}",
            "queries": v.queries, "repetitions": len(v.repetitions), "kind": v.measured_label,
            "energy_per_query": e.format("J") if e else "n/a",
            "latency_p99": (p99 * 1e3).format("ms") if p99 else "n/a",
            "gwp_per_query": ((g * unit.scale).format(unit.name)
                              + (" (use only)" if v.embodied_missing else "")) if g else "n/a",
        })
    return rows


def rich_results_table(t: ResultsTable):  # type: ignore[no-untyped-def]
    """The results table as a :class:`rich.table.Table` (lowest marked with *, estimates with ~)."""
    from rich.markup import escape
    from rich.table import Table

    cells = t.cells.values()
    keys = [k for k, used in (("* lowest per query count", any(c.lowest for c in cells)),
                              ("~ estimated, not measured", any(c.estimated for c in cells)),
                              ("+ no manufacturing footprint (device not in the catalog)",
                               any(c.embodied_missing for c in cells))) if used]
    table = Table(title=escape(t.title), caption="   ".join(keys) or None)
    table.add_column("device")
    table.add_column("category")
    for q in t.query_counts:
        table.add_column(f"{q} queries", justify="right")
    for d in t.devices:
        row = [escape(d), t.categories.get(d) or "?"]
        for q in t.query_counts:
            c = t.cells.get((d, q))
            if c is None:
                row.append("-")
                continue
            text = ("~" if c.estimated else "") + t.text(d, q) + ("+" if c.embodied_missing
                                                                    else "")
            text += " *" if c.lowest else ""
            row.append(f"[bold green]{text}[/]" if c.lowest else text)
        table.add_row(*row)
    return table
