"""`inferlca recommend`: the greenest device that meets latency budgets.

Candidates are the latest complete run of each device in one workload and scenario, measured and
estimated alike. The budgets (at least one): p99 latency (end to end), and for streamed-token
runs (``openai-endpoint``, ``llm-generate``, estimated decoders) TTFT p99 and TPOT p99. A device
is excluded when one of its figures exceeds its budget, when the run lacks a figure that has a
budget, or has no impact; the rest are ranked by GWP per query (nominal value). A device without a
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

#: the budgets ``recommend`` takes: (parameter, metric of the run, words)
BUDGETS = (("latency_p99_ms", "latency_p99_s", "p99 latency"),
           ("ttft_p99_ms", "ttft_p99_s", "TTFT p99"),
           ("tpot_p99_ms", "tpot_p99_s", "TPOT p99"))


@dataclass(frozen=True)
class Candidate:
    run: RunView
    gwp_per_query_g: Any  # UValue | None
    latency_p99_s: Any  # UValue | None
    excluded: str | None = None
    ttft_p99_s: Any = None  # UValue | None: time to first token (streamed-token runs)
    tpot_p99_s: Any = None  # UValue | None: time per output token

    @property
    def use_phase_only(self) -> bool:
        """The GWP has no embodied part: the device has no manufacturing footprint."""
        emb = self.run.impact("device_embodied_kgco2e")
        return self.gwp_per_query_g is not None and (emb is None or emb.value == 0)

    def figure(self, metric: str) -> Any:
        """``latency_p99_s``, ``ttft_p99_s`` or ``tpot_p99_s`` (UValue | None)."""
        return getattr(self, metric)

    def to_dict(self) -> dict[str, Any]:
        def d(u: Any) -> Any:
            return u.to_dict() if u else None

        return {"device": self.run.device_name, "run_id": self.run.run_id,
                "queries": self.run.queries, "estimated": self.run.estimated,
                "use_phase_only": self.use_phase_only,
                "gwp_per_query_gco2e": d(self.gwp_per_query_g),
                "latency_p99_s": d(self.latency_p99_s), "ttft_p99_s": d(self.ttft_p99_s),
                "tpot_p99_s": d(self.tpot_p99_s), "excluded": self.excluded}


@dataclass(frozen=True)
class Recommendation:
    budget_p99_s: float | None
    workload: str
    scenario: str
    ranked: tuple[Candidate, ...]
    excluded: tuple[Candidate, ...]
    notes: tuple[str, ...]
    scope: str | None = None  # manufacturing scope of every run ranked
    #: every budget given, by metric (``latency_p99_s``, ``ttft_p99_s``, ``tpot_p99_s``), in s
    budgets_s: tuple[tuple[str, float], ...] = ()

    @property
    def best(self) -> Candidate | None:
        return self.ranked[0] if self.ranked else None

    def describe_budgets(self) -> str:
        """``p99 latency <= 10 ms, TTFT p99 <= 200 ms``."""
        words = {m: w for _, m, w in BUDGETS}
        return ", ".join(f"{words[m]} <= {b * 1e3:g} ms" for m, b in self.budgets_s)

    def to_dict(self) -> dict[str, Any]:
        return {"budget_p99_ms": None if self.budget_p99_s is None else self.budget_p99_s * 1e3,
                "budgets_ms": {m.replace("_s", "_ms"): b * 1e3 for m, b in self.budgets_s},
                "workload": self.workload,
                "scenario": self.scenario, "scope": self.scope,
                "recommended": self.best.to_dict() if self.best else None,
                "runners_up": [c.to_dict() for c in self.ranked[1:]],
                "excluded": [c.to_dict() for c in self.excluded], "notes": list(self.notes)}


def _only(values: set[str], name: str) -> str:
    if len(values) == 1:
        return next(iter(values))
    raise UsageError(f"the store has several {name}s ({', '.join(sorted(values))}); "
                     f"choose one with {named(name)}")


def _budgets(given: dict[str, float | None]) -> list[tuple[str, float]]:
    """The budgets given, checked, as ``(metric, seconds)``."""
    out = []
    for param, metric, _ in BUDGETS:
        v = given.get(param)
        if v is None:
            continue
        if (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)
                or v <= 0):
            raise InvalidValueError(f"{named(param)} must be a positive number, got {v!r}")
        out.append((metric, float(v) / 1e3))
    if not out:
        raise InvalidValueError("give a budget: " + ", ".join(named(p) for p, _, _ in BUDGETS)
                                + " (milliseconds)", param="latency_p99_ms")
    return out


def recommend(runs: Sequence[RunView], latency_p99_ms: float | None = None, *,
              ttft_p99_ms: float | None = None, tpot_p99_ms: float | None = None,
              workload: str | None = None, scenario: str | None = None,
              queries: int | None = None, scope: str | None = None) -> Recommendation:
    """Rank the devices that meet every budget given by GWP per query (lowest first).

    Budgets (milliseconds, at least one): ``latency_p99_ms`` (the run's ``latency_p99_s``: end to
    end), ``ttft_p99_ms`` (``ttft_p99_s``, time to first token) and ``tpot_p99_ms``
    (``tpot_p99_s``, time per output token). Token figures are measured by streamed-token
    workloads (``openai-endpoint``, ``llm-generate``) and estimated for decoders; a token budget
    over runs none of which has the figure is refused (``UsageError``).

    ``scope``: the manufacturing scope (``chip``, ``card``, ``server-share``) of the runs ranked;
    None: the one the selected runs share (see :mod:`inferlca.report.scope`: stored embodied
    terms are never recomputed at another scope, so other-scope runs are refused, not mixed).
    """
    budgets = _budgets({"latency_p99_ms": latency_p99_ms, "ttft_p99_ms": ttft_p99_ms,
                        "tpot_p99_ms": tpot_p99_ms})
    words = {m: w for _, m, w in BUDGETS}
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
    latest = list(latest_per_device(sel).values())
    for metric, _b in budgets:
        if metric != "latency_p99_s" and not any(v.metric(metric) for v in latest):
            param = metric.replace("_s", "_ms")
            raise UsageError(
                f"no {wl}/{sc} run has a {words[metric]} ({metric}) to hold to "
                f"{named(param)}: token latencies are measured by streamed-token workloads "
                "(openai-endpoint, llm-generate) and estimated for decoder models; measure or "
                f"estimate one, or give {named('latency_p99_ms')}", param=param)
    ok: list[Candidate] = []
    out: list[Candidate] = []
    for v in latest:
        g = v.gwp_per_query_g()
        figs = {m: v.metric(m, "s") for m in ("latency_p99_s", "ttft_p99_s", "tpot_p99_s")}
        reason = None
        if g is None:
            reason = "no impact figures (GWP per query unknown)"
        for metric, b in budgets:
            if reason is not None:
                break
            x = figs[metric]
            if x is None:
                reason = f"no {words[metric]} recorded"
            elif x.value > b:
                reason = (f"{words[metric]} {x.value * 1e3:.3g} ms exceeds the budget "
                          f"{b * 1e3:g} ms")
        c = Candidate(v, g, figs["latency_p99_s"], reason, figs["ttft_p99_s"], figs["tpot_p99_s"])
        (out if reason else ok).append(c)
    # a use-phase-only GWP is lower than any full total by construction: rank it after them
    ok.sort(key=lambda c: (c.use_phase_only, c.gwp_per_query_g.value, c.run.device_name))
    notes = []
    partial = [c.run.device_name for c in ok if c.use_phase_only]
    if partial:
        notes.append(f"{', '.join(partial)}: no manufacturing footprint (device not in the catalog), "
                     "so its GWP is the use phase only; ranked after the devices with both phases "
                     "(re-run with --device to add it)")
    shown = ", ".join(f"{words[m]} of {b * 1e3:g} ms" for m, b in budgets)
    if not ok:
        notes.append(f"no device meets a {shown}; the fastest measured "
                     f"{words[budgets[0][0]]} is shown among the excluded")
    elif (len(ok) > 1 and ok[0].use_phase_only == ok[1].use_phase_only
          and ok[0].gwp_per_query_g.high >= ok[1].gwp_per_query_g.low):
        notes.append(f"the intervals of {ok[0].run.device_name} and {ok[1].run.device_name} "
                     "overlap: the order of the first two is not certain")
    for c in ok:
        for metric, b in budgets:
            x = c.figure(metric)
            if x is not None and x.high > b:
                notes.append(f"{c.run.device_name}: the {words[metric]} interval reaches "
                             f"{x.high * 1e3:.3g} ms, above the budget")
    qs = sorted({c.run.queries or 0 for c in (*ok, *out)})
    if len(qs) > 1:
        notes.append(f"each device's latest run is used and their query counts differ "
                     f"({', '.join(map(str, qs))}); pass --queries N to compare at one count")
    if any(c.run.estimated for c in ok[:1]):
        notes.append("the recommended device's figures are estimated, not measured")
    first = budgets[0][0]
    out.sort(key=lambda c: (c.figure(first).value if c.figure(first) else math.inf))
    lat_budget = next((b for m, b in budgets if m == "latency_p99_s"), None)
    return Recommendation(lat_budget, wl, sc, tuple(ok), tuple(out), tuple(notes), scope,
                          tuple(budgets))
