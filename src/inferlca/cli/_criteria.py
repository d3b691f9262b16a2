"""Shared by `project`, `recommend`, `results show`: a stored run's criteria and Monte Carlo."""

from __future__ import annotations

from typing import Any


def cell(d: dict[str, Any], scale: float = 1.0) -> str:
    """``value [low - high] unit`` of a criterion dict, ``no data`` when it has none."""
    if d.get("value") is None:
        return "no data"
    return (f"{d['value'] * scale:.3g} [{d['low'] * scale:.3g} - {d['high'] * scale:.3g}] "
            f"{d['unit']}")


def scaled(d: dict[str, Any], k: float, unit: str) -> dict[str, Any]:
    """A criterion dict with value, low and high multiplied by ``k`` (``None`` kept)."""
    out = dict(d)
    out["unit"] = unit
    for key in ("value", "low", "high"):
        out[key] = None if d.get(key) is None else d[key] * k
    return out


def monte_carlo(view: Any, samples: int, seed: int, scale: float = 1.0,
                unit: str = "gCO2e per query") -> dict[str, Any]:
    """Monte Carlo of one run's CO2e per query (``lca.montecarlo``), multiplied by ``scale``.
    :class:`InvalidValueError` when the run lacks per-repetition energy, duration or context."""
    from inferlca.errors import InvalidValueError
    from inferlca.lca.montecarlo import Draws, inputs_from_run, simulate, summarize

    inp = inputs_from_run(view)
    if inp is None:
        raise InvalidValueError(f"run {view.short_id} has no per-repetition energy, duration and "
                                "impact context: no Monte Carlo for it")
    x = simulate([inp], Draws(samples, seed))[0] * scale
    out: dict[str, Any] = {"samples": samples, "seed": seed, "unit": unit}
    out.update(summarize(x))
    out["distributions"] = ("triangular on grid, PUE, lifetime and footprint intervals; energy "
                            "and duration: mean + s/sqrt(n) x Student t(n-1), within the run "
                            "interval")
    return out


def mc_line(mc: dict[str, Any], scale: float, unit: str) -> str:
    return (f"Monte Carlo ({mc['samples']:,} draws, seed {mc['seed']}): median "
            f"{mc['median'] * scale:.3g} {unit} (p2.5 {mc['p2_5'] * scale:.3g} - p97.5 "
            f"{mc['p97_5'] * scale:.3g})")
