"""A Monte Carlo table over every complete run of a store: from the store to one row per run
(median and percentiles of its CO2e per query), in one vectorised pass.

The store gives only the columns the model needs (:meth:`inferlca.store.sqlite.Store.
impact_inputs`: energies and durations of the repetitions, one impact context per run; no
traces); :func:`inferlca.lca.montecarlo.simulate_summary` draws the interval inputs once for all
runs and each run's measured quantities from its own stream, so a row equals the run's
``results show ID --samples N --seed S`` figures.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from inferlca.lca.montecarlo import Draws, inputs_of, simulate_summary

#: the percentiles a table row gives (gCO2e per query)
TABLE_PERCENTILES = (2.5, 50.0, 97.5)


def _queries(q: Any) -> int | None:
    try:
        return int(q) if q else None
    except (TypeError, ValueError):
        return None


def monte_carlo_table(store: Any, samples: int, seed: int,
                      ps: Sequence[float] = TABLE_PERCENTILES,
                      run_ids: Collection[str] | None = None) -> list[dict[str, Any]]:
    """One row per complete run (only those of ``run_ids`` when given), oldest first:
    ``run_id``, ``samples``, ``mean`` and ``p<p>`` (``p2_5``, ``p50``...) of the CO2e per query
    in gCO2e, ``median`` when 50 is asked; a run without per-repetition energy, duration or
    impact context gets ``None`` figures and ``no_data: True``."""
    draws = Draws(samples, seed)
    runs = store.impact_inputs()
    if run_ids is not None:
        wanted = set(run_ids)
        runs = [r for r in runs if r[0] in wanted]
    inputs = [inputs_of(rid, e, d, imp, _queries(q)) for rid, q, e, d, imp in runs]
    kept = [i for i in inputs if i is not None]
    s = simulate_summary(kept, draws, ps=ps)
    names = [k for k in s if k != "samples"]
    rows: list[dict[str, Any]] = []
    k = 0
    for (rid, *_), inp in zip(runs, inputs):
        row: dict[str, Any] = {"run_id": rid, "samples": samples}
        if inp is None:
            row.update({n: None for n in names}, no_data=True)
        else:
            row.update({n: float(s[n][k]) for n in names})
            k += 1
        rows.append(row)
    return rows
