"""`inferlca project`: scale a per-query result up to a service (users x queries per user).

The study projected its per-workload results to a public service: 122.5 million daily users who
each send 16 queries (one workload of 16 queries per user and day). Per day the service answers
``users * queries_per_user`` queries, so::

    GWP per day  = GWP per query * users * queries_per_user     (use and embodied apart)
    GWP per year = GWP per day * 365.25                            (units.S_PER_YEAR / S_PER_DAY)
    GWP over D days = GWP per day * D

The embodied part is allocated by time, as in each run (``a(t) = t / lifetime``), so it scales with
the device time the queries use. Where the run's throughput is known, the number of devices that
carry the mean load is ``ceil(queries per second / throughput per device)``.

Per user: ``GWP per user and day = GWP per day / users`` (= GWP per query x queries per user).
Per token, for runs that generate tokens (``openai-endpoint``, ``llm-generate``): the GWP per
1,000 output tokens is the one each repetition stored (``impact["tokens"]["per_1k_tokens"]``:
the repetition's GWP over its answered requests' output tokens), combined over repetitions by the
run interval rule; output tokens per query are ``tokens_out`` (mean per request) x requests per
query (``samples / queries``), and tokens per day ``queries per day x tokens per query``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from inferlca.errors import InvalidValueError, named
from inferlca.report.data import RunView
from inferlca.uncertainty import UValue
from inferlca.units import G_PER_KG, S_PER_DAY, S_PER_YEAR

DAYS_PER_YEAR = S_PER_YEAR / S_PER_DAY  # 365.25


@dataclass(frozen=True)
class Projection:
    """A service projection for one run; masses in kgCO2e, energy in kWh."""

    run: RunView
    users: float
    queries_per_user: float
    days: float
    queries_per_day: float
    per_query_g: UValue
    use_per_day_kg: UValue | None
    embodied_per_day_kg: UValue | None
    total_per_day_kg: UValue
    total_per_year_kg: UValue
    total_over_days_kg: UValue
    energy_per_day_kwh: UValue | None
    devices_needed: int | None
    throughput_qps: float | None
    notes: tuple[str, ...] = ()
    per_user_day_g: UValue | None = None
    tokens_per_query: float | None = None
    per_1k_tokens_g: UValue | None = None

    @property
    def tokens_per_day(self) -> float | None:
        return None if self.tokens_per_query is None else self.queries_per_day * self.tokens_per_query

    def to_dict(self) -> dict[str, Any]:
        def d(u: UValue | None) -> dict[str, float] | None:
            return u.to_dict() if u is not None else None
        return {"run_id": self.run.run_id, "device": self.run.device_name,
                "workload": self.run.workload, "scenario": self.run.scenario,
                "queries_in_run": self.run.queries, "estimated": self.run.estimated,
                "users": self.users, "queries_per_user": self.queries_per_user, "days": self.days,
                "queries_per_day": self.queries_per_day,
                "per_query_gco2e": d(self.per_query_g),
                "use_per_day_kgco2e": d(self.use_per_day_kg),
                "embodied_per_day_kgco2e": d(self.embodied_per_day_kg),
                "total_per_day_kgco2e": d(self.total_per_day_kg),
                "total_per_year_kgco2e": d(self.total_per_year_kg),
                "total_over_days_kgco2e": d(self.total_over_days_kg),
                "energy_per_day_kwh": d(self.energy_per_day_kwh),
                "throughput_qps": self.throughput_qps, "devices_needed": self.devices_needed,
                "embodied_na_reason": self.run.embodied_missing,
                "per_user_day_gco2e": d(self.per_user_day_g),
                "tokens_per_query": self.tokens_per_query, "tokens_per_day": self.tokens_per_day,
                "per_1k_tokens_gco2e": d(self.per_1k_tokens_g),
                "notes": list(self.notes)}


def _per_1k_tokens(run: RunView) -> UValue | None:
    """GWP per 1,000 output tokens (gCO2e) stored by the repetitions, by the run interval rule."""
    from inferlca.stats import combine_intervals

    parts = []
    for r in run.repetitions:
        tok = (r.impact or {}).get("tokens")
        v = ((tok or {}).get("per_1k_tokens") or {}).get("total_gco2e") \
            if isinstance(tok, dict) else None
        if isinstance(v, dict):
            parts.append(v)
    combined = combine_intervals(parts)
    if combined is None:
        return None
    return UValue(combined["value"], combined["low"], combined["high"], "gCO2e")


def _tokens_per_query(run: RunView) -> float | None:
    """Output tokens per query: mean tokens per request x requests per query."""
    tok = run.metric("tokens_out")
    if tok is None or tok.value <= 0:
        return None
    samples, queries = run.metric("samples"), run.metric("queries")
    per_query = (samples.value / queries.value if samples is not None and queries is not None
                 and queries.value > 0 else 1.0)
    return float(tok.value * per_query)


def _check_positive(name: str, x: float) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x <= 0:
        raise InvalidValueError(f"{named(name)} must be a positive number, got {x!r}")
    return float(x)


def project(run: RunView, users: float, queries_per_user: float, days: float = 1.0) -> Projection:
    """Project ``run``'s per-query figures to ``users`` x ``queries_per_user`` queries per day.

    Args:
        run: a run with an impact (``per_query_gco2e``).
        users: daily users (> 0).
        queries_per_user: queries each user sends per day (> 0).
        days: the period to total over, in days (> 0); per-day and per-year totals are always given.
    """
    users = _check_positive("users", users)
    queries_per_user = _check_positive("queries_per_user", queries_per_user)
    days = _check_positive("days", days)
    per_query = run.gwp_per_query_g()
    if per_query is None:
        raise InvalidValueError(f"run {run.short_id} ({run.device_name}) has no impact figures to "
                                "project; re-run it with an impact context")
    q_day = users * queries_per_user
    notes: list[str] = []
    n = run.queries or 0
    use_q = embodied_q = None
    use = run.impact("use_gco2e", "gCO2e")
    emb = run.impact("embodied_gco2e", "gCO2e")
    if n > 0 and use is not None:
        use_q = use / n
    missing = run.embodied_missing
    if n > 0 and emb is not None and not missing:
        embodied_q = emb / n
    if missing:
        notes.append(f"embodied n/a for {run.device_name}: {missing}; its totals are the use "
                     "phase only")
    to_kg = q_day / G_PER_KG
    total_day = per_query.scaled(to_kg, "kgCO2e")
    energy_day = None
    # energy per day from the impact's energy_kwh (whole run, load phase included) under the same
    # run interval rule as use/day, so the two agree; the metric mean only when there is no impact
    e_q = run.metric("energy_per_query_j", "J")
    e_kwh = run.impact("energy_kwh", "kWh")
    if e_kwh is not None and n > 0:
        energy_day = (e_kwh * (q_day / n)).with_unit("kWh")
    elif e_q is not None and e_q.value > 0:
        energy_day = e_q.scaled(q_day / 3.6e6, "kWh")
    thr = run.throughput_qps()
    devices = None
    if thr is not None and thr.value > 0:
        devices = max(1, math.ceil(q_day / S_PER_DAY / thr.value))
        notes.append("devices needed carry the mean load; peaks need more")
    else:
        notes.append("throughput unknown: devices needed not computed")
    if run.estimated:
        notes.append("from an estimated run, not a measurement")
    per_1k = _per_1k_tokens(run)
    tokens_q = _tokens_per_query(run)
    if per_1k is None and tokens_q:
        per_1k = per_query.scaled(1000.0 / tokens_q, "gCO2e")
    return Projection(
        run=run, users=users, queries_per_user=queries_per_user, days=days, queries_per_day=q_day,
        per_query_g=per_query,
        use_per_day_kg=use_q.scaled(to_kg, "kgCO2e") if use_q is not None else None,
        embodied_per_day_kg=embodied_q.scaled(to_kg, "kgCO2e") if embodied_q is not None else None,
        total_per_day_kg=total_day,
        total_per_year_kg=total_day.scaled(DAYS_PER_YEAR, "kgCO2e"),
        total_over_days_kg=total_day.scaled(days, "kgCO2e"),
        energy_per_day_kwh=energy_day, devices_needed=devices,
        throughput_qps=thr.value if thr is not None else None, notes=tuple(notes),
        per_user_day_g=per_query.scaled(queries_per_user, "gCO2e"), tokens_per_query=tokens_q,
        per_1k_tokens_g=per_1k)
