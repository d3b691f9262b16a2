"""What a run summary says besides its numbers: the assumptions behind the impact and outliers.

Used by ``inferlca run`` (its results table) and ``inferlca results show``:

* :func:`context_rows`: which grid (region, year), which PUE (the deployment class it is the
  default for, or "your value") and which lifetime the impact used;
* :func:`outlier_repetitions`: the documented outlier rule below, with what to do.

Outlier rule (docs/report.md, "Outlier repetitions"): with at least 3 repetitions, a repetition
whose duration is more than :data:`OUTLIER_FACTOR` times the median duration of the repetitions
(or less than the median divided by that factor) is flagged. A slow first repetition is named a
warm-up (first-run caches, allocator and kernel selection). Flagged repetitions stay in the
figures: the note says what they do to the intervals and what to do about them.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

#: a repetition this many times slower (or faster) than the median is flagged
OUTLIER_FACTOR = 2.0
MIN_REPETITIONS = 3


def _num(x: Any) -> float | None:
    if isinstance(x, Mapping):
        x = x.get("value")
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    return float(x)


def _interval(d: Any, unit: str = "") -> str:
    v = _num(d)
    if v is None:
        return "n/a"
    u = f" {unit}" if unit else ""
    if isinstance(d, Mapping) and d.get("low") is not None and d.get("high") is not None \
            and (d["low"] != v or d["high"] != v):
        return f"{v:g}{u} [{d['low']:g} - {d['high']:g}]"
    return f"{v:g}{u}"


def grid_text(spec: Mapping[str, Any], impact: Mapping[str, Any] | None = None) -> str:
    """``France (FR), 2022: 79.1 gCO2e/kWh`` or ``your value: 50 gCO2e/kWh``."""
    g = (impact or {}).get("grid_gco2e_per_kwh")
    if spec.get("grid_file"):
        return grid_file_text(spec, impact)
    if spec.get("grid_gco2e_per_kwh"):
        return f"your value: {_interval(g, 'gCO2e/kWh') if g else spec['grid_gco2e_per_kwh']}"
    region = str(spec.get("region") or "FR")
    try:
        from inferlca.lca.grid import get_region

        r = get_region(region)
        if spec.get("grid_year") is not None:  # run --grid-year: that year's rows
            r = r.for_year(spec["grid_year"])
        year = r.nominal_row.year
        where = f"{r.name} ({r.iso2}), " + (year if year else "year not given by the source")
    except Exception:  # noqa: BLE001 - an old store's unknown region: name it as stored
        where = region
    return f"{where}: {_interval(g, 'gCO2e/kWh')}" if g else where


def _hour(h: Any) -> str:
    start = h.get("start")
    start = start[0] if isinstance(start, list) and start else start
    return str(start)[11:16] + " UTC" if isinstance(start, str) else "?"


def grid_file_text(spec: Mapping[str, Any], impact: Mapping[str, Any] | None) -> str:
    """``grid file F (average): 140 gCO2e/kWh over the run's own hours; at the best hour of
    that day (00:00 UTC, 100 gCO2e/kWh) the run would emit 9.4e-06 gCO2e, at the worst (23:00
    UTC, 330) 2.6e-05, instead of 1.1e-05``."""
    from pathlib import PurePath

    imp = impact or {}
    gt = imp.get("grid_time") if isinstance(imp.get("grid_time"), Mapping) else None
    name = PurePath(str(spec["grid_file"])).name
    signal = str(spec.get("grid_signal") or "average")
    g = imp.get("grid_gco2e_per_kwh")
    text = f"grid file {name} ({signal}): {_interval(g, 'gCO2e/kWh')} over the run's own hours"
    best, worst = (gt or {}).get("best_hour"), (gt or {}).get("worst_hour")
    total = _num(imp.get("total_gco2e"))
    if isinstance(best, Mapping) and isinstance(worst, Mapping) and "total_gco2e" in best \
            and "total_gco2e" in worst and total is not None:
        text += (f"; started at the best hour of that day ({_hour(best)}, "
                 f"{best['gco2e_per_kwh']:.3g} gCO2e/kWh) a repetition would emit "
                 f"{best['total_gco2e']:.3g} gCO2e, at the worst ({_hour(worst)}, "
                 f"{worst['gco2e_per_kwh']:.3g}) {worst['total_gco2e']:.3g} gCO2e, instead of "
                 f"{total:.3g} gCO2e")
    return text


def pue_text(spec: Mapping[str, Any], impact: Mapping[str, Any] | None,
             category: str | None) -> str:
    """``1 (default for edge devices)`` or ``1.2 (your value)``."""
    p = (impact or {}).get("pue")
    value = _interval(p) if p else "n/a"
    if spec.get("pue"):
        return f"{value} (your value)"
    cls = category or "unknown"
    kind = "devices of unknown category" if cls == "unknown" else f"{cls} devices"
    return f"{value} (default for {kind})"


def lifetime_text(spec: Mapping[str, Any], impact: Mapping[str, Any] | None) -> str:
    lt = (impact or {}).get("lifetime_years")
    value = _interval(lt, "years") if lt else "n/a"
    return f"{value} ({'your value' if spec.get('lifetime_years') else 'default'})"


def context_rows(spec: Mapping[str, Any], impact: Mapping[str, Any] | None,
                 category: str | None) -> list[tuple[str, str]]:
    """(label, text) rows naming the assumptions of the impact: grid, PUE, lifetime."""
    if not impact:
        return []
    return [("grid", grid_text(spec, impact)), ("PUE", pue_text(spec, impact, category)),
            ("lifetime", lifetime_text(spec, impact))]


def outlier_repetitions(durations: Sequence[tuple[int, float | None]]) -> list[str]:
    """Notes on the repetitions the outlier rule flags (module docstring), given
    ``(index, duration_s)`` of the complete repetitions in order; ``[]`` when none is flagged."""
    vals = [(i, float(d)) for i, d in durations if d is not None and d > 0]
    if len(vals) < MIN_REPETITIONS:
        return []
    med = statistics.median(d for _, d in vals)
    first = min(i for i, _ in vals)
    notes = []
    for i, d in vals:
        ratio = d / med
        if ratio > OUTLIER_FACTOR:
            why = ("likely a warm-up (first-run caches, allocator, kernel selection)"
                   if i == first else "likely other load on the machine or throttling")
            notes.append(
                f"repetition {i} took {d:.3g} s, {ratio:.1f}x the median {med:.3g} s: {why}; it "
                "widens every interval. Re-run with one more repetition (-r) and compare, or "
                "check the power profile in `inferlca report`")
        elif ratio < 1.0 / OUTLIER_FACTOR:
            notes.append(
                f"repetition {i} took {d:.3g} s, {1 / ratio:.1f}x shorter than the median "
                f"{med:.3g} s: check it answered every query (`inferlca results show`)")
    return notes
