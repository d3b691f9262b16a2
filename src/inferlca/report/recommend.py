"""`inferlca recommend`: the greenest device that meets a p99 latency budget.

Candidates are the latest complete run of each device in one workload and scenario, measured and
estimated alike. A device is excluded when its p99 latency exceeds the budget, when the run has no
latency or no impact, and the rest are ranked by GWP per query (nominal value). A device without a
manufacturing footprint (not in the catalog) has a GWP of its use phase only, not comparable with
full totals: it ranks after the devices with both phases (and says so), never above them. When the
winner's interval overlaps the runner-up's, the ranking is uncertain and the result says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from inferlca.errors import InvalidValueError, UsageError, named
from inferlca.report.data import EmptyStoreError, RunView, latest_per_device


@dataclass(frozen=True)
class Candidate:
    run: RunView
    gwp_per_query_g: Any  # UValue | None
    latency_p99_s: Any  # UValue | None
    excluded: str | None = None

    @property
    def use_phase_only(self) -> bool:
        """The GWP has no embodied part: the device has no manufacturing footprint."""
        emb = self.run.impact("device_embodied_kgco2e")
        return self.gwp_per_query_g is not None and (emb is None or emb.value == 0)

    def to_dict(self) -> dict[str, Any]:
        return {"device": self.run.device_name, "run_id": self.run.run_id,
                "queries": self.run.queries, "estimated": self.run.estimated,
                "use_phase_only": self.use_phase_only,
                "gwp_per_query_gco2e": self.gwp_per_query_g.to_dict() if self.gwp_per_query_g else None,
                "latency_p99_s": self.latency_p99_s.to_dict() if self.latency_p99_s else None,
                "excluded": self.excluded}


@dataclass(frozen=True)
class Recommendation:
    budget_p99_s: float
    workload: str
    scenario: str
    ranked: tuple[Candidate, ...]
    excluded: tuple[Candidate, ...]
    notes: tuple[str, ...]
    scope: str | None = None  # manufacturing scope of every run ranked

    @property
    def best(self) -> Candidate | None:
        return self.ranked[0] if self.ranked else None

    def to_dict(self) -> dict[str, Any]:
        return {"budget_p99_ms": self.budget_p99_s * 1e3, "workload": self.workload,
                "scenario": self.scenario, "scope": self.scope,
                "recommended": self.best.to_dict() if self.best else None,
                "runners_up": [c.to_dict() for c in self.ranked[1:]],
                "excluded": [c.to_dict() for c in self.excluded], "notes": list(self.notes)}


def _only(values: set[str], name: str) -> str:
    if len(values) == 1:
        return next(iter(values))
    raise UsageError(f"the store has several {name}s ({', '.join(sorted(values))}); "
                     f"choose one with {named(name)}")


def recommend(runs: Sequence[RunView], latency_p99_ms: float, *, workload: str | None = None,
              scenario: str | None = None, queries: int | None = None,
              scope: str | None = None) -> Recommendation:
    """Rank the devices that meet ``latency_p99_ms`` by GWP per query (lowest first).

    ``scope``: the manufacturing scope (``chip``, ``card``, ``server-share``) of the runs ranked;
    None: the one the selected runs share (see :mod:`inferlca.report.scope`: stored embodied
    terms are never recomputed at another scope, so other-scope runs are refused, not mixed).
    """
    if (isinstance(latency_p99_ms, bool) or not isinstance(latency_p99_ms, (int, float))
            or not math.isfinite(latency_p99_ms) or latency_p99_ms <= 0):
        raise InvalidValueError(f"{named('latency_p99_ms')} must be a positive number, "
                                f"got {latency_p99_ms!r}")
    if not runs:
        raise EmptyStoreError("the results store has no complete runs; run `inferlca run` first")
    sel = list(runs)
    if workload is not None:
        sel = [v for v in sel if v.workload == workload]
        if not sel:
            raise EmptyStoreError(f"no runs with workload {workload!r}; workloads in the store: "
                                  f"{', '.join(sorted({v.workload for v in runs}))}")
    wl = _only({v.workload for v in sel}, "workload")
    if scenario is not None:
        sel2 = [v for v in sel if v.scenario == scenario]
        if not sel2:
            raise EmptyStoreError(f"no {wl} runs with scenario {scenario!r}; scenarios: "
                                  f"{', '.join(sorted({v.scenario for v in sel}))}")
        sel = sel2
    sc = _only({v.scenario for v in sel}, "scenario")
    if queries is not None:
        sel = [v for v in sel if v.queries == queries]
        if not sel:
            raise EmptyStoreError(f"no {wl}/{sc} runs with {queries} queries")
    from inferlca.report.scope import runs_at_scope

    sel, scope = runs_at_scope(sel, scope)
    budget_s = latency_p99_ms / 1e3
    ok: list[Candidate] = []
    out: list[Candidate] = []
    for v in latest_per_device(sel).values():
        g, lat = v.gwp_per_query_g(), v.latency_p99_s()
        reason = None
        if g is None:
            reason = "no impact figures (GWP per query unknown)"
        elif lat is None:
            reason = "no p99 latency recorded"
        elif lat.value > budget_s:
            reason = (f"p99 latency {lat.value * 1e3:.3g} ms exceeds the budget "
                      f"{latency_p99_ms:g} ms")
        c = Candidate(v, g, lat, reason)
        (out if reason else ok).append(c)
    # a use-phase-only GWP is lower than any full total by construction: rank it after them
    ok.sort(key=lambda c: (c.use_phase_only, c.gwp_per_query_g.value, c.run.device_name))
    notes = []
    partial = [c.run.device_name for c in ok if c.use_phase_only]
    if partial:
        notes.append(f"{', '.join(partial)}: no manufacturing footprint (device not in the catalog), "
                     "so its GWP is the use phase only; ranked after the devices with both phases "
                     "(re-run with --device to add it)")
    if not ok:
        notes.append(f"no device meets a p99 latency of {latency_p99_ms:g} ms; the fastest "
                     "measured p99 is shown among the excluded")
    elif (len(ok) > 1 and ok[0].use_phase_only == ok[1].use_phase_only
          and ok[0].gwp_per_query_g.high >= ok[1].gwp_per_query_g.low):
        notes.append(f"the intervals of {ok[0].run.device_name} and {ok[1].run.device_name} "
                     "overlap: the order of the first two is not certain")
    for c in ok:
        if c.latency_p99_s is not None and c.latency_p99_s.high > budget_s:
            notes.append(f"{c.run.device_name}: the p99 latency interval reaches "
                         f"{c.latency_p99_s.high * 1e3:.3g} ms, above the budget")
    qs = sorted({c.run.queries or 0 for c in (*ok, *out)})
    if len(qs) > 1:
        notes.append(f"each device's latest run is used and their query counts differ "
                     f"({', '.join(map(str, qs))}); pass --queries N to compare at one count")
    if any(c.run.estimated for c in ok[:1]):
        notes.append("the recommended device's figures are estimated, not measured")
    out.sort(key=lambda c: (c.latency_p99_s.value if c.latency_p99_s else math.inf))
    return Recommendation(budget_s, wl, sc, tuple(ok), tuple(out), tuple(notes), scope)
