"""Statistics across the repetitions of a run: mean, spread, 95 % interval and impact means.

The run summary (``summary`` in the results store, see ``docs/CONTRACTS.md``) is built here:

* ``summary["metrics"][k] = {"mean", "std", "ci95_low", "ci95_high", "n"}`` for every metric key
  ``k`` seen in at least one repetition. ``std`` is the sample standard deviation (``n - 1`` in
  the denominator); the interval is the Student t interval of the mean,
  ``mean +/- t(0.975, n - 1) * std / sqrt(n)``. With a single repetition the spread is unknown,
  so ``std``, ``ci95_low`` and ``ci95_high`` are ``None`` (never a made-up zero).
* ``summary["impact"]``: each ``{"value", "low", "high"}`` of the per-repetition impact dicts
  is combined by :func:`combine_intervals` (the run interval rule of docs/method.md: the nominal
  is the mean of the repetitions' nominals; the interval is the hull of every repetition's
  interval and of the Student 95 % interval of the mean of the low ends and of the high ends), so
  it carries the spread of energy and time across repetitions as well as the intervals of grid,
  PUE, lifetime and footprint each repetition already has; plain numbers are averaged, lists
  (sources) are united, other values kept when all agree.
* ``summary["measured"]`` and ``summary["notes"]``.

Values that are not finite numbers (``NaN``: a channel that could not be read) are left out of a
key's statistics, so ``n`` says how many repetitions really contributed.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["combine_impacts", "combine_intervals", "consistent_totals", "describe", "loadgen_percentile", "student_t_two_sided", "summarize", "t_quantile"]


def loadgen_percentile(values: Sequence[float] | Any, p: float) -> float:
    """LoadGen's percentile rule (``results.cc``): the value at index ``min(floor(n * p), n - 1)``
    of the sorted values, ``p`` in [0, 1]; NaN for no values. Query latencies and the per-request
    token latencies of decoder LLMs use it alike, so they compare with LoadGen's summary."""
    import numpy as np

    v = np.sort(np.asarray(values, dtype=np.float64))
    if v.size == 0:
        return math.nan
    return float(v[min(math.floor(v.size * p), v.size - 1)])


def student_t_two_sided(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t distribution with ``df`` (integer >= 1) degrees of freedom.

    Uses the closed forms for integer degrees of freedom (Abramowitz and Stegun 26.7.3 and 26.7.4):
    with ``theta = atan(t / sqrt(df))``, odd ``df`` gives
    ``(2/pi) * (theta + sin(theta) * (cos(theta) + 2/3 cos^3(theta) + ... ))`` and even ``df``
    gives ``sin(theta) * (1 + 1/2 cos^2(theta) + 1*3/(2*4) cos^4(theta) + ...)``.
    """
    if df < 1 or int(df) != df:
        raise ValueError(f"degrees of freedom must be an integer >= 1, got {df!r}")
    t = abs(float(t))
    if math.isinf(t):
        return 1.0
    theta = math.atan(t / math.sqrt(df))
    s, c = math.sin(theta), math.cos(theta)
    c2 = c * c
    if df % 2 == 1:
        if df == 1:
            return 2.0 * theta / math.pi
        term = c
        total = c
        for k in range(3, df - 1, 2):  # terms cos^3 * 2/3, cos^5 * 2*4/(3*5), ...
            term *= c2 * (k - 1) / k
            total += term
        return min(1.0, 2.0 / math.pi * (theta + s * total))
    term = 1.0
    total = 1.0
    for k in range(2, df - 1, 2):  # terms cos^2 * 1/2, cos^4 * 1*3/(2*4), ...
        term *= c2 * (k - 1) / k
        total += term
    return min(1.0, s * total)


@functools.lru_cache(maxsize=512)  # a pure function of (p, df), asked once per run interval
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (``0.5 < p < 1``) of Student's t with ``df`` degrees of freedom.

    ``t_quantile(0.975, df)`` is the factor of a two-sided 95 % interval; found by bisection on
    :func:`student_t_two_sided` to within 1e-12 relative.
    """
    if not 0.5 < p < 1.0:
        raise ValueError(f"p must lie in (0.5, 1), got {p!r}")
    target = 2.0 * p - 1.0  # P(|T| <= t)
    lo, hi = 0.0, 1.0
    while student_t_two_sided(hi, df) < target:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if student_t_two_sided(mid, df) < target:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return 0.5 * (lo + hi)


def _finite(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        try:  # numpy scalars
            x = float(x)
        except (TypeError, ValueError):
            return None
    x = float(x)
    return x if math.isfinite(x) else None


def describe(values: Iterable[float]) -> dict[str, float | int | None]:
    """``{"mean", "std", "ci95_low", "ci95_high", "n"}`` of the finite values given.

    ``std`` and the interval are ``None`` when fewer than two values exist; ``mean`` is ``None``
    when there is none. For non-negative values the interval's low end is clipped at 0.
    """
    xs = [v for v in (_finite(x) for x in values) if v is not None]
    n = len(xs)
    if n == 0:
        return {"mean": None, "std": None, "ci95_low": None, "ci95_high": None, "n": 0}
    mean = math.fsum(xs) / n
    if n < 2:
        return {"mean": mean, "std": None, "ci95_low": None, "ci95_high": None, "n": n}
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(0.975, n - 1) * std / math.sqrt(n)
    low = mean - half
    if low < 0 <= min(xs):
        # energies, latencies and counts cannot be negative: with few repetitions (t = 12.7 at
        # n = 2) the Student interval reaches below zero, which says "unknown", not "negative"
        low = 0.0
    return {"mean": mean, "std": std, "ci95_low": low, "ci95_high": mean + half, "n": n}


def _is_interval(d: Any) -> bool:
    return isinstance(d, Mapping) and {"value", "low", "high"} <= set(d)


def combine_intervals(intervals: Sequence[Mapping[str, Any]]) -> dict[str, float] | None:
    """The run interval rule: one ``{"value", "low", "high"}`` from one per repetition.

    * ``value`` = the mean of the repetitions' nominal values;
    * ``low``  = min(every repetition's ``low``, the Student 95 % lower bound of the mean of the
      ``low`` ends);
    * ``high`` = max(every repetition's ``high``, the Student 95 % upper bound of the mean of the
      ``high`` ends).

    Each repetition's interval already carries the intervals of grid, PUE, lifetime and
    footprint at that repetition's energy and time; the hull adds the repetitions' spread, so
    every repetition's figure at nominal grid, PUE and lifetime lies inside, and the 95 % term
    makes the interval agree with the interval of the mean energy the metrics show. With one
    repetition the result is that repetition's interval. ``None`` when no finite value exists.
    """
    rows: list[tuple[float, float, float]] = []
    for d in intervals:
        if _is_interval(d):
            v, lo, hi = _finite(d.get("value")), _finite(d.get("low")), _finite(d.get("high"))
            if v is not None and lo is not None and hi is not None:
                rows.append((v, lo, hi))
    if not rows:
        return None
    value = math.fsum(r[0] for r in rows) / len(rows)
    lows = [r[1] for r in rows]
    highs = [r[2] for r in rows]
    low, high = min(lows), max(highs)
    if len(rows) >= 2:
        ci_low = describe(lows)["ci95_low"]
        ci_high = describe(highs)["ci95_high"]
        if ci_low is not None:
            low = min(low, float(ci_low))
        if ci_high is not None:
            high = max(high, float(ci_high))
    return {"value": value, "low": min(low, value), "high": max(high, value)}


def _mean_of(values: Sequence[Any]) -> Any:
    """The mean of the same impact field across repetitions (recursive over dicts)."""
    present = [v for v in values if v is not None]
    if not present:
        return None
    first = present[0]
    if _is_interval(first):
        return combine_intervals(present)
    if isinstance(first, Mapping):
        keys: dict[str, None] = {}
        for v in present:
            if isinstance(v, Mapping):
                keys.update(dict.fromkeys(v))
        return {k: _mean_of([v.get(k) for v in present if isinstance(v, Mapping)]) for k in keys}
    if isinstance(first, bool):
        return first if all(v == first for v in present) else None
    if isinstance(first, (int, float)):
        nums = [x for x in (_finite(v) for v in present) if x is not None]
        return math.fsum(nums) / len(nums) if nums else None
    if isinstance(first, (list, tuple)):
        seen: dict[Any, None] = {}
        for v in present:
            for item in v if isinstance(v, (list, tuple)) else [v]:
                key = item if isinstance(item, (str, int, float)) else repr(item)
                seen.setdefault(key, None)
        return list(seen)
    return first if all(v == first for v in present) else present


def combine_impacts(impacts_per_rep: Sequence[Mapping[str, Any] | None]) -> dict[str, Any] | None:
    """The run's impact from the repetitions' impact dicts (``summary["impact"]``): interval
    fields by :func:`combine_intervals`, numbers averaged, sources united, the totals kept
    consistent with their parts (:func:`consistent_totals`); ``None`` if none."""
    impacts = [i for i in impacts_per_rep if i]
    if not impacts:
        return None
    out = _mean_of(impacts)
    return consistent_totals(dict(out)) if isinstance(out, Mapping) else None


def consistent_totals(impact: dict[str, Any]) -> dict[str, Any]:
    """Widen a combined impact's ``total_gco2e`` to hold ``use_gco2e + embodied_gco2e`` (interval
    sum) and ``per_query_gco2e`` to hold the total divided by the queries (the ratio of the
    nominals), in place; returns ``impact``.

    Each field is combined over the repetitions on its own (:func:`combine_intervals`), and the
    Student term of one field can come out narrower than its parts' (two repetitions whose use
    and embodied move in opposite directions): a total whose high end sits below the use phase's
    would read as a contradiction. Only ever widens, so every repetition stays inside.
    """
    use, emb = _ends(impact.get("use_gco2e")), _ends(impact.get("embodied_gco2e"))
    total = _ends(impact.get("total_gco2e"))
    if use is not None and emb is not None and total is not None:
        impact["total_gco2e"] = {**impact["total_gco2e"],
                                 "low": min(total[1], use[1] + emb[1]),
                                 "high": max(total[2], use[2] + emb[2])}
        total = _ends(impact["total_gco2e"])
    per_q = _ends(impact.get("per_query_gco2e"))
    if total is not None and per_q is not None and total[0] != 0:
        r = per_q[0] / total[0]
        impact["per_query_gco2e"] = {**impact["per_query_gco2e"],
                                     "low": min(per_q[1], total[1] * r),
                                     "high": max(per_q[2], total[2] * r)}
    return impact


def _ends(d: Any) -> tuple[float, float, float] | None:
    """``(value, low, high)`` of an interval dict with finite numbers, else None."""
    if not _is_interval(d):
        return None
    v, lo, hi = _finite(d.get("value")), _finite(d.get("low")), _finite(d.get("high"))
    return None if v is None or lo is None or hi is None else (v, lo, hi)


def summarize(metrics_per_rep: Sequence[Mapping[str, Any]],
              impacts_per_rep: Sequence[Mapping[str, Any] | None] = (), *,
              measured: bool = True, notes: Iterable[str] = ()) -> dict[str, Any]:
    """The run summary of ``docs/CONTRACTS.md`` from the repetitions' metrics and impacts.

    Args:
        metrics_per_rep: one flat dict of metrics per repetition (keys such as ``energy_total_j``,
            ``latency_p99_s``; units in the names).
        impacts_per_rep: one ``Impact.to_dict()`` per repetition (``None`` where no impact was
            computed); ``{"value","low","high"}`` fields are combined by
            :func:`combine_intervals` (mean nominal; hull of the repetitions' intervals and of
            the 95 % interval of the mean).
        measured: ``False`` when the energy came from a model or estimate, not a sensor.
        notes: free-text caveats carried to reports (e.g. ``"synthetic weights: ..."``).

    Returns:
        ``{"metrics": {key: describe(...)}, "impact": {...} | None, "measured": bool,
        "notes": [...], "repetitions": n}``.
    """
    keys: dict[str, None] = {}
    for m in metrics_per_rep:
        keys.update(dict.fromkeys(m))
    metrics = {k: describe(m[k] for m in metrics_per_rep if k in m) for k in keys}
    impact = combine_impacts(impacts_per_rep)
    return {
        "metrics": metrics,
        "impact": impact,
        "measured": bool(measured),
        "notes": list(dict.fromkeys(notes)),
        "repetitions": len(metrics_per_rep),
    }
