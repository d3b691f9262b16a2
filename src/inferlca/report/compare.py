"""`inferlca compare A B`: how many times the CO2e, energy and p99 latency of A are those of B.

A ratio of two uncertain values takes its low end from A's low over B's high and its high end from
A's high over B's low (``UValue.__truediv__``), so the interval says how sure the comparison is.
Runs of different workloads or scenarios measure different things and are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from inferlca.errors import UsageError
from inferlca.report.data import IncomparableRunsError, RunView, _matches_device, find_run
from inferlca.uncertainty import UValue

#: (key, label, getter) of the figures compared, per query.
FIGURES = (
    ("gwp_per_query", "CO2e per query", lambda v: v.gwp_per_query_g()),
    ("energy_per_query", "energy per query", lambda v: v.energy_per_query_j()),
    ("latency_p99", "p99 latency", lambda v: v.latency_p99_s()),
)


@dataclass(frozen=True)
class Ratio:
    """``a / b`` for one figure: both operands and their ratio (``None`` when one is missing)."""

    key: str
    label: str
    a: UValue | None
    b: UValue | None
    ratio: UValue | None

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a.to_dict() if self.a else None, "b": self.b.to_dict() if self.b else None,
                "ratio": self.ratio.to_dict() if self.ratio else None}


@dataclass(frozen=True)
class Comparison:
    a: RunView
    b: RunView
    ratios: tuple[Ratio, ...]
    notes: tuple[str, ...]

    def sentences(self) -> list[str]:
        """Plain sentences: "A emits X times [low - high] the CO2e of B per query"..."""
        out = []
        words = {"gwp_per_query": "emits", "energy_per_query": "uses",
                 "latency_p99": "has"}
        for r in self.ratios:
            if r.ratio is None:
                out.append(f"{r.label}: not available for "
                           f"{'both runs' if r.a is None and r.b is None else 'one run'}")
                continue
            what = {"gwp_per_query": "the CO2e of B per query",
                    "energy_per_query": "the energy of B per query",
                    "latency_p99": "the p99 latency of B"}[r.key]
            out.append(f"A {words[r.key]} {r.ratio.format('', digits=3)} times {what}")
        return out

    def to_dict(self) -> dict[str, Any]:
        def run(v: RunView) -> dict[str, Any]:
            return {"run_id": v.run_id, "device": v.device_name, "workload": v.workload,
                    "scenario": v.scenario, "queries": v.queries, "estimated": v.estimated,
                    "label": v.label}
        return {"a": run(self.a), "b": run(self.b),
                "ratios": {r.key: r.to_dict() for r in self.ratios},
                "sentences": self.sentences(), "notes": list(self.notes)}


def ratio(a: UValue | None, b: UValue | None) -> UValue | None:
    """``a / b`` with interval ``[a.low / b.high, a.high / b.low]``; ``None`` if undefined."""
    if a is None or b is None or b.low <= 0:
        return None
    return (a / b).with_unit("x")


def resolve(runs: Sequence[RunView], ref: str, *, workload: str | None = None,
            scenario: str | None = None, queries: int | None = None) -> RunView:
    """A run id (prefix) or a device name (its latest run, optionally in one condition)."""
    dev_runs = [v for v in runs if _matches_device(v, ref)]
    if not dev_runs and any(v.run_id.startswith(ref) for v in runs):
        return find_run(runs, ref)
    if not dev_runs:
        known = sorted({v.device_name for v in runs})
        raise UsageError(f"{ref!r} is neither a run id nor a device with runs in the store; "
                         f"devices with runs: {', '.join(known) or 'none'}")
    sel = [v for v in dev_runs
           if (workload is None or v.workload == workload)
           and (scenario is None or v.scenario == scenario)
           and (queries is None or v.queries == queries)]
    if not sel:
        raise UsageError(f"device {ref!r} has no run with workload={workload or 'any'}, "
                         f"scenario={scenario or 'any'}, queries={queries or 'any'}")
    return max(sel, key=lambda v: (v.created, v.run_id))


def compare_runs(a: RunView, b: RunView) -> Comparison:
    """Ratios A / B per query; refuses runs of different workloads or scenarios."""
    if a.workload != b.workload or a.scenario != b.scenario:
        raise IncomparableRunsError(
            f"runs cannot be compared: {a.short_id} is {a.workload}/{a.scenario} and "
            f"{b.short_id} is {b.workload}/{b.scenario}; compare runs of the same workload and "
            "scenario (pass --workload/--scenario with device names)")
    notes = []
    if a.queries != b.queries:
        notes.append(f"query counts differ ({a.queries} vs {b.queries}); per-query figures still "
                     "compare, but the load phase weighs more in the shorter run")
    for v, name in ((a, "A"), (b, "B")):
        if v.estimated:
            notes.append(f"{name} ({v.device_name}) is an estimate, not a measurement")
    ratios = tuple(Ratio(k, label, get(a), get(b), ratio(get(a), get(b)))
                   for k, label, get in FIGURES)
    return Comparison(a, b, ratios, tuple(notes))


def compare(runs: Sequence[RunView], ref_a: str, ref_b: str, *, workload: str | None = None,
            scenario: str | None = None, queries: int | None = None) -> Comparison:
    """Resolve both references, picking for device names their latest runs of a shared condition."""
    if not runs:
        from inferlca.report.data import EmptyStoreError
        raise EmptyStoreError("the results store has no complete runs; run `inferlca run` first")
    a = resolve(runs, ref_a, workload=workload, scenario=scenario, queries=queries)
    b_is_device = any(_matches_device(v, ref_b) for v in runs)
    if workload is None and scenario is None and b_is_device:
        # B named by device: take its latest run in A's condition, so the pair is comparable.
        try:
            b = resolve(runs, ref_b, workload=a.workload, scenario=a.scenario, queries=queries)
        except UsageError:
            b = resolve(runs, ref_b, queries=queries)
    else:
        b = resolve(runs, ref_b, workload=workload, scenario=scenario, queries=queries)
    return compare_runs(a, b)
