"""One-at-a-time sensitivity of GWP per query (the tornado chart).

The impact of a run is ``I = C * EGM * PUE + (t / lifetime) * F`` (METHOD.md section 2, computed
once by :func:`inferlca.lca.impact.compute_impact` and stored with every repetition). Each term
is linear in the parameter varied here, so moving one parameter from ``x`` to ``x'`` while the
others keep their nominal values rescales one stored term:

* grid intensity ``EGM``:   use part * EGM' / EGM
* PUE:                       use part * PUE' / PUE
* lifetime:                  embodied part * lifetime / lifetime'
* per-node factor (``F``):   embodied part * F' / F, with F' the low and high end of the
                             device's footprint interval (the spread of the per-node sources)

The default ranges are the issue's: grid France -> world average (both from
:func:`inferlca.lca.grid.grid_intensity`, with their sources), PUE 1.0 -> 1.6, lifetime 3 -> 7 years.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from inferlca.errors import InvalidValueError
from inferlca.report.data import RunView

DEFAULT_PUE = (1.0, 1.6)
DEFAULT_LIFETIME_Y = (3.0, 7.0)
DEFAULT_GRID_REGIONS = ("FR", "world")
_WORLD_NAMES = ("world", "WORLD", "World", "WLD", "OWID_WRL")


@dataclass(frozen=True)
class Bar:
    """One parameter of the tornado: GWP per query (gCO2e) at its two ends."""

    parameter: str
    low_label: str
    high_label: str
    at_low_g: float
    at_high_g: float

    @property
    def swing_g(self) -> float:
        return abs(self.at_high_g - self.at_low_g)

    def to_dict(self) -> dict[str, Any]:
        return {"parameter": self.parameter, "low": self.low_label, "high": self.high_label,
                "gwp_per_query_at_low_gco2e": self.at_low_g,
                "gwp_per_query_at_high_gco2e": self.at_high_g}


@dataclass(frozen=True)
class Tornado:
    run: RunView
    base_g: float
    bars: tuple[Bar, ...]
    sources: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run.run_id, "device": self.run.device_name,
                "base_gwp_per_query_gco2e": self.base_g,
                "bars": [b.to_dict() for b in self.bars], "sources": list(self.sources)}


def grid_ends(regions: Sequence[str] = DEFAULT_GRID_REGIONS) -> tuple[list[tuple[str, float]], list[str]]:
    """The grid intensities (gCO2e/kWh) of ``regions`` and their sources, via the lca layer."""
    from inferlca.lca.grid import grid_intensity

    from inferlca.errors import UnknownNameError

    ends, sources = [], []
    for r in regions:
        names = _WORLD_NAMES if r.lower() == "world" else (r,)
        uv = None
        for name in names:
            try:
                uv = grid_intensity(name)
                break
            except UnknownNameError:
                if name == names[-1]:
                    raise
        assert uv is not None
        ends.append((r, float(uv.value)))
        sources.extend(f"grid {r}: {s}" for s in uv.sources)
    return ends, sources


def tornado(run: RunView, *, grid: Sequence[tuple[str, float]] | None = None,
            pue: tuple[float, float] = DEFAULT_PUE,
            lifetime_years: tuple[float, float] = DEFAULT_LIFETIME_Y,
            grid_sources: Sequence[str] = ()) -> Tornado:
    """The tornado of GWP per query for one run.

    Args:
        run: a run with impact figures (``use_gco2e``, ``embodied_gco2e``,
            ``grid_gco2e_per_kwh``, ``pue``, ``lifetime_years``, ``device_embodied_kgco2e``).
        grid: ``[(label, gCO2e/kWh), (label, gCO2e/kWh)]`` ends; default France -> world average
            from :func:`inferlca.lca.grid.grid_intensity`.
        pue: the PUE ends (dimensionless).
        lifetime_years: the lifetime ends, in years.
    """
    if grid is None:
        grid, srcs = grid_ends()
        grid_sources = list(grid_sources) + srcs
    n = run.queries or 0
    use = run.impact("use_gco2e")
    emb = run.impact("embodied_gco2e")
    g0 = run.impact("grid_gco2e_per_kwh")
    p0 = run.impact("pue")
    l0 = run.impact("lifetime_years")
    f0 = run.impact("device_embodied_kgco2e")
    if n <= 0 or use is None or emb is None or g0 is None or p0 is None or l0 is None:
        raise InvalidValueError(f"run {run.short_id} lacks the impact terms a sensitivity needs")
    use_q, emb_q = use.value / n, emb.value / n
    base = use_q + emb_q
    bars = []
    if g0.value > 0:
        (gl_name, gl), (gh_name, gh) = grid[0], grid[1]
        bars.append(Bar(f"grid intensity ({gl_name} -> {gh_name})", f"{gl_name} {gl:g} g/kWh",
                        f"{gh_name} {gh:g} g/kWh",
                        use_q * gl / g0.value + emb_q, use_q * gh / g0.value + emb_q))
    if p0.value > 0:
        bars.append(Bar(f"PUE ({pue[0]:g} -> {pue[1]:g})", f"PUE {pue[0]:g}", f"PUE {pue[1]:g}",
                        use_q * pue[0] / p0.value + emb_q, use_q * pue[1] / p0.value + emb_q))
    if l0.value > 0 and emb_q > 0:
        bars.append(Bar(f"lifetime ({lifetime_years[0]:g} -> {lifetime_years[1]:g} y)",
                        f"{lifetime_years[0]:g} y", f"{lifetime_years[1]:g} y",
                        use_q + emb_q * l0.value / lifetime_years[0],
                        use_q + emb_q * l0.value / lifetime_years[1]))
    if f0 is not None and f0.value > 0 and emb_q > 0:
        bars.append(Bar("per-node factor (low -> high source)", f"F {f0.low:.3g} kg",
                        f"F {f0.high:.3g} kg", use_q + emb_q * f0.low / f0.value,
                        use_q + emb_q * f0.high / f0.value))
    bars.sort(key=lambda b: b.swing_g, reverse=True)
    return Tornado(run, base, tuple(bars), tuple(dict.fromkeys(grid_sources)))
