"""Monte Carlo uncertainty beside the interval arithmetic: medians, percentiles, P(A < B).

The impact model is the one of :mod:`inferlca.lca.use`, evaluated on draws instead of bounds::

    use      = energy_j / 3.6e6 x grid x PUE                       [gCO2e]
    embodied = duration_s / (lifetime x 365.25 x 86400) x F x 1000  [gCO2e]
    total    = use + embodied;  per query = total / queries

Input distributions:

* an interval input (grid, PUE, lifetime, footprint F) is **triangular** on ``[low, high]`` with
  its mode at the nominal value (an exact input is a constant);
* a measured quantity (energy, duration) is the mean of its repetitions: ``mean + s / sqrt(n) x
  T(n - 1)`` (Student's t, the distribution behind the 95 % interval of the mean), kept inside the
  run interval of :func:`inferlca.stats.combine_intervals` (clipped); one repetition is a
  constant.

Identical inputs share their draws (the same grid, PUE, lifetime or device footprint in two runs
is one uncertain quantity, not two): so ``P(A < B)`` between two runs on the same grid reflects
what differs between them, not noise in what they share. Draws are reproducible from the seed.

Every draw lies inside the interval arithmetic's ``[low, high]`` (all inputs are drawn within
their intervals and the model is monotonic in each), the extreme draws approach those bounds as
the number of samples grows, and for symmetric inputs the median approaches the nominal value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inferlca.errors import InvalidValueError, named
from inferlca.stats import combine_intervals
from inferlca.uncertainty import UValue
from inferlca.units import G_PER_KG, J_PER_KWH, S_PER_YEAR

#: the percentiles every summary gives
PERCENTILES = (2.5, 5.0, 25.0, 50.0, 75.0, 95.0, 97.5)
MAX_SAMPLES = 10_000_000


def check_samples_seed(samples: Any, seed: Any) -> tuple[int, int]:
    """``samples`` a whole number >= 1 (at most 1e7), ``seed`` a whole number >= 0."""
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= MAX_SAMPLES:
        raise InvalidValueError(f"{named('samples')} must be a whole number from 1 to "
                                f"{MAX_SAMPLES:,}, got {samples!r}", param="samples")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidValueError(f"{named('seed')} must be a whole number >= 0, got {seed!r}",
                                param="seed")
    return samples, seed


@dataclass(frozen=True)
class Spread:
    """A measured quantity across repetitions: mean, sample std, count and its run interval."""

    mean: float
    std: float
    n: int
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        xs = [float(x) for x in values if x is not None and math.isfinite(float(x))]
        if not xs:
            raise InvalidValueError("no finite repetition values to take the spread of")
        n = len(xs)
        mean = math.fsum(xs) / n
        std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
        rule = combine_intervals([{"value": x, "low": x, "high": x} for x in xs])
        assert rule is not None
        return cls(mean, std, n, rule["low"], rule["high"])

    @classmethod
    def exact(cls, value: float) -> Spread:
        return cls(float(value), 0.0, 1, float(value), float(value))

    def uvalue(self, unit: str = "") -> UValue:
        return UValue(self.mean, self.low, self.high, unit)


@dataclass(frozen=True)
class MCInputs:
    """The inputs of one workload's impact (see the module docstring)."""

    energy_j: Spread | UValue  # a given interval (no repetitions) is triangular
    duration_s: Spread
    grid_gco2e_per_kwh: UValue
    pue: UValue
    lifetime_years: UValue
    footprint_kg: UValue
    queries: int | None = None

    def interval_total_g(self) -> UValue:
        """The interval arithmetic's ``total`` (or per query) on the same inputs."""
        e = self.energy_j.uvalue("J") if isinstance(self.energy_j, Spread) else self.energy_j
        t = self.duration_s.uvalue("s")
        use = (e.value * self.grid_gco2e_per_kwh.value * self.pue.value / J_PER_KWH,
               e.low * self.grid_gco2e_per_kwh.low * self.pue.low / J_PER_KWH,
               e.high * self.grid_gco2e_per_kwh.high * self.pue.high / J_PER_KWH)
        emb = (t.value / (self.lifetime_years.value * S_PER_YEAR) * self.footprint_kg.value,
               t.low / (self.lifetime_years.high * S_PER_YEAR) * self.footprint_kg.low,
               t.high / (self.lifetime_years.low * S_PER_YEAR) * self.footprint_kg.high)
        q = float(self.queries or 1)
        v, lo, hi = ((u + b * G_PER_KG) / q for u, b in zip(use, emb))
        return UValue(v, lo, hi, "gCO2e")


def _uv(d: Any, unit: str = "") -> UValue | None:
    if isinstance(d, UValue):
        return d
    if isinstance(d, Mapping) and {"value", "low", "high"} <= set(d):
        try:
            return UValue(float(d["value"]), float(d["low"]), float(d["high"]), unit)
        except (TypeError, ValueError, InvalidValueError):
            return None
    return None


def inputs_from_run(run: Any, per_query: bool = True) -> MCInputs | None:
    """The inputs of a stored run (a report ``RunView``: ``rep_metric`` and repetitions'
    impacts); ``None`` when the run lacks an energy, a duration or its impact context."""
    energies = run.rep_metric("energy_total_j")
    durations = run.rep_metric("duration_s")
    imp = next((r.impact for r in run.repetitions if r.impact), None)
    if not energies or not durations or imp is None:
        return None
    grid, pue, life = (_uv(imp.get(k)) for k in ("grid_gco2e_per_kwh", "pue", "lifetime_years"))
    foot = _uv(imp.get("device_embodied_kgco2e")) or UValue.exact(0.0)
    if grid is None or pue is None or life is None or life.low <= 0:
        return None
    q = run.queries if per_query and run.queries else None
    return MCInputs(Spread.of(energies), Spread.of(durations), grid, pue, life, foot, q)


class Draws:
    """Draws of uncertain inputs, ``n`` each, from one seeded generator; identical inputs share
    their draws (a cache keyed by the input's ``(value, low, high)`` and a name)."""

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = check_samples_seed(n, seed)
        self.rng = np.random.default_rng(seed)
        self._cache: dict[tuple[str, float, float, float], np.ndarray] = {}

    def triangular(self, name: str, uv: UValue) -> np.ndarray:
        """``n`` draws of a triangular(low, value, high) (a constant for an exact value)."""
        key = (name, uv.value, uv.low, uv.high)
        got = self._cache.get(key)
        if got is None:
            got = triangular_draws(self.rng.random(self.n), uv.low, uv.value, uv.high)
            self._cache[key] = got
        return got

    def triangular_many(self, name: str, uvs: Sequence[UValue]) -> np.ndarray:
        """``(len(uvs), n)`` draws; identical inputs (and inputs already drawn) share rows."""
        keys = [(name, u.value, u.low, u.high) for u in uvs]
        todo = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if todo:
            lo = np.array([k[2] for k in todo])[:, None]
            mode = np.array([k[1] for k in todo])[:, None]
            hi = np.array([k[3] for k in todo])[:, None]
            rows = triangular_draws(self.rng.random((len(todo), self.n)), lo, mode, hi)
            for k, row in zip(todo, rows):
                self._cache[k] = row
        uniq = list(dict.fromkeys(keys))
        if len(uniq) == 1:
            return np.broadcast_to(self._cache[uniq[0]], (len(keys), self.n))
        table = np.stack([self._cache[k] for k in uniq])
        index = {k: i for i, k in enumerate(uniq)}
        return table[[index[k] for k in keys]]

    def spread_many(self, spreads: Sequence[Spread]) -> np.ndarray:
        """``(len(spreads), n)`` draws of means: ``mean + s/sqrt(n) x T(n-1)``, clipped to the
        run interval (each run's own draws: measured quantities are not shared)."""
        mean = np.array([s.mean for s in spreads])[:, None]
        scale = np.array([s.std / math.sqrt(s.n) if s.n > 1 else 0.0 for s in spreads])[:, None]
        df = np.array([max(s.n - 1, 1) for s in spreads], dtype=float)[:, None]
        lo = np.array([s.low for s in spreads])[:, None]
        hi = np.array([s.high for s in spreads])[:, None]
        if not np.any(scale):
            return np.broadcast_to(mean, (len(spreads), self.n))
        out = np.zeros((len(spreads), self.n))
        varying = scale[:, 0] > 0
        for d in np.unique(df[varying, 0]):  # one scalar-df call per repetition count: faster
            rows = np.nonzero(varying & (df[:, 0] == d))[0]
            out[rows] = student_t_draws(self.rng, float(d), (rows.size, self.n))
        out *= scale
        out += mean
        np.clip(out, lo, hi, out=out)
        return out


def student_t_draws(rng: np.random.Generator, df: float, size: tuple[int, int]) -> np.ndarray:
    """Student's t draws; for 1 and 2 degrees of freedom (2 and 3 repetitions, the usual counts)
    by their closed-form inverse CDF, ``tan(pi (u - 1/2))`` and ``(2u - 1) / sqrt(2 u (1 - u))``,
    several times faster than the general sampler."""
    if df == 1.0:
        return np.tan(np.pi * (rng.random(size) - 0.5))
    if df == 2.0:
        u = rng.random(size)
        return (2.0 * u - 1.0) / np.sqrt(2.0 * u * (1.0 - u))
    return rng.standard_t(df, size=size)


def triangular_draws(u: np.ndarray, low: Any, mode: Any, high: Any) -> np.ndarray:
    """Inverse CDF of triangular(low, mode, high) at uniforms ``u`` (broadcasting; a zero-width
    interval gives the constant)."""
    low, mode, high = (np.asarray(x, dtype=float) for x in (low, mode, high))
    width = high - low
    safe = np.where(width > 0, width, 1.0)
    c = np.where(width > 0, (mode - low) / safe, 0.5)
    left = low + np.sqrt(u * width * (mode - low))
    right = high - np.sqrt((1.0 - u) * width * (high - mode))
    return np.where(u < c, left, right)


def simulate(inputs: Sequence[MCInputs], draws: Draws) -> np.ndarray:
    """``(len(inputs), n)`` draws of each workload's total gCO2e (per query when it has
    ``queries``)."""
    if not inputs:
        return np.zeros((0, draws.n))
    if all(isinstance(i.energy_j, Spread) for i in inputs):
        e = draws.spread_many([i.energy_j for i in inputs])  # type: ignore[misc]
    else:  # a given energy interval (``impact --energy-wh 10..12``): triangular, own draws
        e = np.stack([draws.spread_many([i.energy_j])[0] if isinstance(i.energy_j, Spread)
                      else triangular_draws(draws.rng.random(draws.n), i.energy_j.low,
                                            i.energy_j.value, i.energy_j.high)
                      for i in inputs])
    t = draws.spread_many([i.duration_s for i in inputs])
    grid = draws.triangular_many("grid", [i.grid_gco2e_per_kwh for i in inputs])
    pue = draws.triangular_many("pue", [i.pue for i in inputs])
    life = draws.triangular_many("lifetime", [i.lifetime_years for i in inputs])
    foot = draws.triangular_many("footprint", [i.footprint_kg for i in inputs])
    q = np.array([float(i.queries or 1) for i in inputs])[:, None]
    # in place on the two per-run arrays (fewer temporaries of R x n floats)
    use = e.copy() if not e.flags.writeable else e
    use *= grid
    use *= pue
    emb = t.copy() if not t.flags.writeable else t
    emb /= life
    emb *= foot
    emb *= G_PER_KG / S_PER_YEAR
    use *= 1.0 / J_PER_KWH
    use += emb
    use /= q
    return use


def summarize(samples: np.ndarray) -> dict[str, Any]:
    """Median, mean and :data:`PERCENTILES` of the last axis (a dict of floats for one row,
    of arrays for several)."""
    qs = np.percentile(samples, PERCENTILES, axis=-1)
    out: dict[str, Any] = {"samples": int(samples.shape[-1]), "mean": samples.mean(axis=-1)}
    for p, v in zip(PERCENTILES, qs):
        out[f"p{p:g}".replace(".", "_")] = v
    out["median"] = out["p50"]
    if samples.ndim == 1:
        return {k: (float(v) if not isinstance(v, int) else v) for k, v in out.items()}
    return out


def prob_less(a: np.ndarray, b: np.ndarray) -> float:
    """P(A < B) from paired draws (ties count half)."""
    return float(np.mean(a < b) + 0.5 * np.mean(a == b))


def simulate_summary(inputs: Sequence[MCInputs], draws: Draws, chunk: int = 32,
                     ) -> dict[str, Any]:
    """:func:`summarize` of :func:`simulate` for many workloads, ``chunk`` workloads at a time
    (arrays that stay in the CPU cache instead of one ``len(inputs) x n`` block: several times
    faster for a thousand runs); shared inputs are still drawn once for all."""
    parts = [summarize(simulate(inputs[i:i + chunk], draws))
             for i in range(0, len(inputs), chunk)]
    if not parts:
        return {"samples": draws.n}
    return {k: (parts[0][k] if k == "samples" else np.concatenate([p[k] for p in parts]))
            for k in parts[0]}
