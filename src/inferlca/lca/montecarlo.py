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
what differs between them, not noise in what they share. Draws are reproducible from the seed:
each uncertain quantity has its own random stream keyed by the seed and the quantity (its
values, or the run's id), so a run gets the same draws alone (``results show``) as in a batch of
a thousand (:func:`simulate_summary`), and the batch is one vectorised pass (no per-draw Python).

Every draw lies inside the interval arithmetic's ``[low, high]`` (all inputs are drawn within
their intervals and the model is monotonic in each), the extreme draws approach those bounds as
the number of samples grows, and for symmetric inputs the median approaches the nominal value.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from inferlca.errors import InvalidValueError, named
from inferlca.stats import t_quantile
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
        """Mean, std and the run interval of :func:`inferlca.stats.combine_intervals` for exact
        repetition values (the same numbers, computed once: hull of the values and the Student
        95 % interval of their mean, its low end clipped at 0 for non-negative values)."""
        xs = [float(x) for x in values if x is not None and math.isfinite(float(x))]
        if not xs:
            raise InvalidValueError("no finite repetition values to take the spread of")
        n = len(xs)
        mean = math.fsum(xs) / n
        std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
        low, high = min(xs), max(xs)
        if n > 1:
            half = t_quantile(0.975, n - 1) * std / math.sqrt(n)
            ci_low = mean - half
            if ci_low < 0 <= low:
                ci_low = 0.0
            low, high = min(low, ci_low), max(high, mean + half)
        return cls(mean, std, n, min(low, mean), max(high, mean))

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
    #: the run's id: its energy and duration draws come from a stream of this key (``None``:
    #: a stream of the workload's position in the :func:`simulate` call)
    key: str | None = None

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
            return _uv_of(float(d["value"]), float(d["low"]), float(d["high"]), unit)
        except (TypeError, ValueError, InvalidValueError):
            return None
    return None


@functools.lru_cache(maxsize=4096)
def _uv_of(value: float, low: float, high: float, unit: str) -> UValue:
    """One UValue per distinct stored interval (a thousand runs share a few grids)."""
    return UValue(value, low, high, unit)


def inputs_from_run(run: Any, per_query: bool = True) -> MCInputs | None:
    """The inputs of a stored run (a report ``RunView``: ``rep_metric`` and repetitions'
    impacts); ``None`` when the run lacks an energy, a duration or its impact context."""
    imp = next((r.impact for r in run.repetitions if r.impact), None)
    return inputs_of(run.run_id, run.rep_metric("energy_total_j"),
                     run.rep_metric("duration_s"), imp,
                     run.queries if per_query and run.queries else None)


def inputs_of(key: str | None, energies: Sequence[float], durations: Sequence[float],
              impact: Mapping[str, Any] | None, queries: int | None) -> MCInputs | None:
    """The inputs of one run from its repetitions' energies and durations (finite values, in
    repetition order), the impact context of its first repetition that has one and its query
    count (``None``: the total); ``None`` when any of them is missing."""
    if not energies or not durations or not impact:
        return None
    grid, pue, life = (_uv(impact.get(k)) for k in ("grid_gco2e_per_kwh", "pue",
                                                     "lifetime_years"))
    foot = _uv(impact.get("device_embodied_kgco2e")) or UValue.exact(0.0)
    if grid is None or pue is None or life is None or life.low <= 0:
        return None
    return MCInputs(Spread.of(energies), Spread.of(durations), grid, pue, life, foot,
                    queries or None, key)


class Draws:
    """Draws of uncertain inputs, ``n`` each, for one seed.

    Every uncertain quantity has its own random stream, seeded by the seed and the quantity's
    key: an interval input by its name and ``(value, low, high)`` (identical inputs share their
    draws), a run's measured quantities by the run's key (its id). A quantity therefore gets the
    same draws whichever other runs are simulated with it: ``simulate([a, b, c])[1]`` equals
    ``simulate([b])[0]`` for the same seed, and ``results show B`` agrees with a table of all
    runs. Interval inputs are drawn once per :class:`Draws` (cached).
    """

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = check_samples_seed(n, seed)
        self._cache: dict[tuple[str, float, float, float], np.ndarray] = {}

    def stream(self, *key: Any) -> np.random.Generator:
        """The generator of the quantity ``key`` (a tuple of strings and floats)."""
        digest = hashlib.blake2b(repr(key).encode("utf-8"), digest_size=16).digest()
        words = [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]
        return np.random.Generator(np.random.PCG64(np.random.SeedSequence([self.seed, *words])))

    def shared(self, name: str, uvs: Sequence[UValue]) -> tuple[np.ndarray, np.ndarray]:
        """Triangular draws of interval inputs: a ``(K, n)`` table of the ``K`` distinct inputs
        (inverse CDF on one uniform matrix) and, per input, the index of its row."""
        keys = [(name, float(u.value), float(u.low), float(u.high)) for u in uvs]
        uniq = list(dict.fromkeys(keys))
        todo = [k for k in uniq if k not in self._cache]
        if todo:
            u = np.zeros((len(todo), self.n))  # a constant's row stays 0 (width 0)
            for row, k in zip(u, todo):
                if k[2] < k[3]:
                    self.stream(*k).random(out=row)
            lo, mode, hi = (np.array([k[i] for k in todo])[:, None] for i in (2, 1, 3))
            for k, row in zip(todo, triangular_draws(u, lo, mode, hi)):
                self._cache[k] = row
        index = {k: i for i, k in enumerate(uniq)}
        return (np.stack([self._cache[k] for k in uniq]),
                np.array([index[k] for k in keys], dtype=np.intp))

    def own(self, keys: Sequence[Any], energies: Sequence[Spread | UValue],
            durations: Sequence[Spread]) -> tuple[np.ndarray, np.ndarray]:
        """``(R, n)`` draws of each run's energy and duration from the run's own stream (the
        uniforms of the energy first, then those of the duration); the transforms run in place
        on the whole ``(R, n)`` arrays."""
        e, t = np.zeros((len(keys), self.n)), np.zeros((len(keys), self.n))
        # per row: 1, 2 = uniforms to turn into Student t; 3 = t drawn; 0 = constant; -1 = final
        kinds = (np.zeros(len(keys)), np.zeros(len(keys)))
        for i, key in enumerate(keys):
            g = None
            for arr, kind, q in ((e, kinds[0], energies[i]), (t, kinds[1], durations[i])):
                if isinstance(q, UValue):  # a given energy interval: triangular
                    kind[i] = -1.0
                    if q.high > q.low:
                        g = g or self.stream("run", key)
                        arr[i] = triangular_draws(g.random(self.n), q.low, q.value, q.high)
                    else:
                        arr[i] = q.value
                elif q.n > 1 and q.std > 0:
                    g = g or self.stream("run", key)
                    kind[i] = float(min(q.n - 1, 3))
                    if q.n - 1 <= 2:  # uniforms now, closed-form inverse CDF below
                        g.random(out=arr[i])
                    else:
                        arr[i] = g.standard_t(q.n - 1, self.n)
        for arr, kind, qs in ((e, kinds[0], energies), (t, kinds[1], durations)):
            for df in (1.0, 2.0):
                rows = kind == df
                if rows.all():
                    _t_in_place(arr, df)
                elif rows.any():
                    part = arr[rows]
                    _t_in_place(part, df)
                    arr[rows] = part
            spread = kind >= 0
            if not spread.any():
                continue
            cols = [(q.mean, q.std / math.sqrt(q.n) if q.n > 1 else 0.0, q.low, q.high)
                    if isinstance(q, Spread) else (0.0, 1.0, -math.inf, math.inf) for q in qs]
            mean, scale, lo, hi = (np.array(c)[:, None] for c in zip(*cols))
            arr *= scale
            arr += mean
            np.clip(arr, lo, hi, out=arr)
        return e, t


def _t_in_place(u: np.ndarray, df: float) -> None:
    """Student's t at uniforms ``u`` (overwritten) for 1 or 2 degrees of freedom, by the
    closed-form inverse CDF: ``tan(pi (u - 1/2))``; ``(2u - 1) / sqrt(2 u (1 - u))`` computed as
    ``v sqrt(2) / sqrt(1 - v^2)`` with ``v = 2u - 1``."""
    if df == 1.0:
        u -= 0.5
        u *= math.pi
        np.tan(u, out=u)
        return
    u *= 2.0
    u -= 1.0
    w = np.multiply(u, u)
    np.subtract(1.0, w, out=w)
    np.sqrt(w, out=w)
    w *= 1.0 / math.sqrt(2.0)
    with np.errstate(divide="ignore"):
        u /= w


def _t_of_uniform(u: np.ndarray, df: float) -> np.ndarray:
    """Student's t at uniforms ``u`` for 1 or 2 degrees of freedom (a new array)."""
    out = np.array(u, dtype=float)
    _t_in_place(out, df)
    return out


def student_t_draws(rng: np.random.Generator, df: float, size: tuple[int, int]) -> np.ndarray:
    """Student's t draws; for 1 and 2 degrees of freedom (2 and 3 repetitions, the usual counts)
    by their closed-form inverse CDF, ``tan(pi (u - 1/2))`` and ``(2u - 1) / sqrt(2 u (1 - u))``,
    several times faster than the general sampler."""
    if df in (1.0, 2.0):
        return _t_of_uniform(rng.random(size), df)
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


class _Plan:
    """What :func:`simulate` needs of a batch of workloads, computed once: the use factor
    ``grid x PUE / 3.6e6`` and the embodied factor ``F / lifetime x 1000 / year`` of each
    distinct (grid, PUE) and (lifetime, footprint) pair, as draws, and each workload's rows."""

    def __init__(self, inputs: Sequence[MCInputs], draws: Draws) -> None:
        grid, gi = draws.shared("grid", [i.grid_gco2e_per_kwh for i in inputs])
        pue, pi_ = draws.shared("pue", [i.pue for i in inputs])
        life, li = draws.shared("lifetime", [i.lifetime_years for i in inputs])
        foot, fi = draws.shared("footprint", [i.footprint_kg for i in inputs])
        use_pairs = list(dict.fromkeys(zip(gi.tolist(), pi_.tolist())))
        emb_pairs = list(dict.fromkeys(zip(li.tolist(), fi.tolist())))
        self.use = np.stack([grid[g] * pue[p] * (1.0 / J_PER_KWH) for g, p in use_pairs])
        self.emb = np.stack([foot[f] / life[lf] * (G_PER_KG / S_PER_YEAR)
                             for lf, f in emb_pairs])
        ui = {k: n for n, k in enumerate(use_pairs)}
        ei = {k: n for n, k in enumerate(emb_pairs)}
        self.use_row = np.array([ui[k] for k in zip(gi.tolist(), pi_.tolist())], dtype=np.intp)
        self.emb_row = np.array([ei[k] for k in zip(li.tolist(), fi.tolist())], dtype=np.intp)
        self.keys = [i.key if i.key is not None else f"#{n}" for n, i in enumerate(inputs)]
        self.queries = np.array([float(i.queries or 1) for i in inputs])[:, None]

    def run(self, inputs: Sequence[MCInputs], draws: Draws, rows: slice) -> np.ndarray:
        """``(rows, n)`` totals (per query) of ``inputs[rows]``."""
        part = inputs[rows]
        e, t = draws.own(self.keys[rows], [i.energy_j for i in part],
                         [i.duration_s for i in part])
        e *= np.take(self.use, self.use_row[rows], axis=0)
        t *= np.take(self.emb, self.emb_row[rows], axis=0)
        e += t
        e /= self.queries[rows]
        return e


def simulate(inputs: Sequence[MCInputs], draws: Draws) -> np.ndarray:
    """``(len(inputs), n)`` draws of each workload's total gCO2e (per query when it has
    ``queries``): ``energy x (grid x PUE / 3.6e6) + duration x (F / lifetime x 1000 / year)``."""
    if not inputs:
        return np.zeros((0, draws.n))
    return _Plan(inputs, draws).run(inputs, draws, slice(0, len(inputs)))


def percentiles(x: np.ndarray, ps: Sequence[float] = PERCENTILES,
                overwrite: bool = False) -> np.ndarray:
    """``np.percentile(x, ps, axis=-1)`` (linear interpolation, the same numbers) from one
    ``np.partition`` at the upper index of each percentile: the lower one is the largest
    element between it and the previous partition point. ``overwrite``: partition ``x`` itself
    (no copy)."""
    n = x.shape[-1]
    virtual = np.true_divide(np.asarray(ps, dtype=float), 100) * (n - 1)
    lower = np.floor(virtual).astype(np.intp)
    upper = np.minimum(lower + 1, n - 1)
    kth = sorted(set(upper.tolist()))
    if overwrite:
        x.partition(kth, axis=-1)
        part = x
    else:
        part = np.partition(x, kth, axis=-1)

    def order_stat(k: int) -> np.ndarray:
        if k in kth:
            return part[..., k]
        prev = max((j for j in kth if j < k), default=-1)
        return part[..., prev + 1:k + 1].max(axis=-1)

    a = np.stack([order_stat(k) for k in lower.tolist()])
    b = np.stack([part[..., k] for k in upper.tolist()])
    gamma = (virtual - lower).reshape((-1,) + (1,) * (x.ndim - 1))
    diff = b - a  # numpy's lerp: from the nearer end (exact at both ends)
    out = a + diff * gamma
    np.subtract(b, diff * (1 - gamma), out=out, where=np.broadcast_to(gamma >= 0.5, out.shape))
    return out


def summarize(samples: np.ndarray, ps: Sequence[float] = PERCENTILES,
              overwrite: bool = False) -> dict[str, Any]:
    """Median, mean and the percentiles ``ps`` (default :data:`PERCENTILES`) of the last axis
    (a dict of floats for one row, of arrays for several); ``overwrite``: ``samples`` may be
    reordered (no copy)."""
    out: dict[str, Any] = {"samples": int(samples.shape[-1]), "mean": samples.mean(axis=-1)}
    qs = percentiles(samples, ps, overwrite)
    for p, v in zip(ps, qs):
        out[f"p{p:g}".replace(".", "_")] = v
    if "p50" in out:
        out["median"] = out["p50"]
    if samples.ndim == 1:
        return {k: (float(v) if not isinstance(v, int) else v) for k, v in out.items()}
    return out


def prob_less(a: np.ndarray, b: np.ndarray) -> float:
    """P(A < B) from paired draws (ties count half)."""
    return float(np.mean(a < b) + 0.5 * np.mean(a == b))


def simulate_summary(inputs: Sequence[MCInputs], draws: Draws, chunk: int = 16,
                     ps: Sequence[float] = PERCENTILES) -> dict[str, Any]:
    """:func:`summarize` of :func:`simulate` for many workloads, ``chunk`` workloads at a time
    (arrays that stay in the CPU cache instead of one ``len(inputs) x n`` block); interval
    inputs are drawn once for all. Each row equals the summary of the workload simulated alone
    (same seed, keyed inputs)."""
    if not inputs:
        return {"samples": draws.n}
    plan = _Plan(inputs, draws)
    parts = [summarize(plan.run(inputs, draws, slice(i, i + chunk)), ps, overwrite=True)
             for i in range(0, len(inputs), chunk)]
    return {k: (parts[0][k] if k == "samples" else np.concatenate([p[k] for p in parts]))
            for k in parts[0]}
