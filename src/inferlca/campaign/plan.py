"""A campaign's plan: its cells with an estimated duration each, and the total.

The duration of a cell comes, in order of preference, from:

1. ``history``: earlier complete measured runs in the store of the same workload, scenario and
   device (and backend when the cell names one): the mean model-load time per repetition plus the
   mean compute time per query scaled to the cell's query count;
2. ``roofline``: the estimator's time per query on the cell's device (a lower bound: perfect
   efficiency, model loading not counted);
3. nothing (``unknown``), said plainly.

Cool-downs are added: ``cooldown_s`` between the cell's repetitions and after the cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inferlca.campaign.spec import Campaign, Cell

HISTORY, ROOFLINE, UNKNOWN = "history", "roofline", "unknown"


@dataclass
class CellEstimate:
    """The estimated duration of one cell.

    Attributes:
        cell: the cell.
        duration_s: estimated wall time including cool-downs, or None when unknown.
        source: ``history``, ``roofline`` or ``unknown``.
        note: how it was obtained (runs used, or why none).
    """

    cell: Cell
    duration_s: float | None
    source: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"cell_id": self.cell.cell_id, "label": self.cell.describe(),
                "duration_s": self.duration_s, "source": self.source, "note": self.note}


@dataclass
class Plan:
    """Cells with their estimates; totals over those that have one."""

    campaign: Campaign
    estimates: list[CellEstimate] = field(default_factory=list)

    @property
    def total_s(self) -> float:
        """Sum of the known estimates, in seconds (unknown cells excluded; see ``unknown``)."""
        return sum(e.duration_s for e in self.estimates if e.duration_s is not None)

    @property
    def unknown(self) -> int:
        return sum(1 for e in self.estimates if e.duration_s is None)

    def to_dict(self) -> dict[str, Any]:
        by_device: dict[str, float] = {}
        for e in self.estimates:
            if e.duration_s is not None:
                key = e.cell.device or "local"
                by_device[key] = by_device.get(key, 0.0) + e.duration_s
        return {"campaign": self.campaign.name, "cells": len(self.estimates),
                "repetitions": sum(e.cell.spec.repetitions for e in self.estimates),
                "estimated_total_s": self.total_s, "cells_without_estimate": self.unknown,
                "estimated_s_by_device": by_device, "order": self.campaign.order,
                "seed": self.campaign.seed, "cooldown_s": self.campaign.cooldown_s,
                "plan": [e.to_dict() for e in self.estimates]}


def _with_cooldowns(cell: Cell, per_repetition_s: float) -> float:
    reps = cell.spec.repetitions
    return reps * per_repetition_s + (reps - 1) * cell.spec.cooldown_s + cell.spec.idle_baseline_s \
        * reps + cell.spec.cooldown_s


def from_history(cell: Cell, runs: list[Any], local_device: str | None = None
                 ) -> CellEstimate | None:
    """Estimate from earlier complete measured runs (RunRecord-like) of the same kind of cell.

    A ``device: local`` cell uses runs on ``local_device`` (this machine) when it is known, else
    runs on any device.
    """
    s = cell.spec
    device = cell.device or local_device
    matching = [r for r in runs
                if r.workload == s.workload and r.scenario == s.scenario
                and (device is None or r.device_id == device)
                and (s.backend == "auto" or r.backend == s.backend)
                and r.status == "complete" and r.kind == "measured"]
    per_query_s: list[float] = []
    load_s: list[float] = []
    for r in matching:
        q = r.metric("queries")
        compute = r.metric("compute_duration_s")
        total = r.metric("duration_s")
        if not q or compute is None:
            continue
        per_query_s.append(compute / q)
        load = r.metric("load_duration_s")
        if load is None and total is not None:
            load = max(total - compute, 0.0)
        load_s.append(load or 0.0)
    if not per_query_s:
        return None
    pq = sum(per_query_s) / len(per_query_s)
    ld = sum(load_s) / len(load_s)
    compute_s = pq * s.queries
    paced = ""
    # arrivals set the pace of a rate sweep: Server queries come at target_qps, interactive
    # users for duration_s, whatever the earlier runs' rate was
    if s.scenario == "server" and s.target_qps > 0 and s.queries / s.target_qps > compute_s:
        compute_s, paced = s.queries / s.target_qps, f", paced by {s.target_qps:g} queries/s"
    elif s.scenario == "interactive" and s.duration_s > compute_s:
        compute_s, paced = s.duration_s, f", paced by {s.duration_s:g} s of users"
    per_rep = ld + compute_s
    where = "" if device is not None else " on any device"
    return CellEstimate(cell, _with_cooldowns(cell, per_rep), HISTORY,
                        f"{len(per_query_s)} earlier run(s){where}: load {ld:.3g} s + "
                        f"{pq:.3g} s/query{paced}")


def _model_of(spec: Any) -> tuple[Any, dict[str, int]]:
    """The estimator model (and sequence lengths) a cell's run would measure.

    The estimator's own mapping of run specs (:func:`inferlca.estimate.calibration.model_for_run`)
    knows the workloads' presets (``preset: tiny`` is a 2-layer BERT, not BERT-base), weights
    folders and ``llm-generate``; other workload names are tried as model names.
    """
    from inferlca.errors import InferlcaError
    from inferlca.estimate.calibration import model_for_run
    from inferlca.estimate.models import load_model

    try:
        found = model_for_run(spec.to_dict())
    except InferlcaError:
        found = None
    if found is not None:
        return found
    for name in (spec.workload, spec.workload.removesuffix("-squad")):
        try:
            return load_model(name), {}
        except InferlcaError:
            continue
    return None, {}


def from_roofline(cell: Cell) -> CellEstimate | None:
    """Estimate from the roofline model (a lower bound), when the workload and device allow it."""
    if cell.device is None:
        return None
    from inferlca.errors import InferlcaError
    from inferlca.estimate.api import estimate
    from inferlca.hardware.catalog import get_catalog

    s = cell.spec
    facts, lengths = _model_of(s)
    if facts is None:
        return None
    try:
        device = get_catalog().get(cell.device)
        result = estimate(facts, [device], precision=s.precision, queries=s.queries,
                          with_impact=False, seq_len=lengths.get("seq_len"),
                          tokens_in=lengths.get("tokens_in"), tokens_out=lengths.get("tokens_out"))
    except InferlcaError:
        return None
    dev = result.devices[0]
    per_query_s = float(dev.time_per_query_s.value)
    return CellEstimate(cell, _with_cooldowns(cell, per_query_s * s.queries), ROOFLINE,
                        f"roofline lower bound {per_query_s:.3g} s/query of {facts.name} (model "
                        "loading not counted)")


def make_plan(campaign: Campaign, store: Any = None, *, use_estimator: bool = True,
              local_device: str | None = None) -> Plan:
    """Estimate every cell's duration (see the module docstring for the sources).

    Args:
        campaign: the expanded campaign.
        store: an open store for the history, or None.
        use_estimator: fall back to the roofline estimate.
        local_device: this machine's catalog id, for ``device: local`` cells.
    """
    runs = store.list_runs(status="complete", kind="measured") if store is not None else []
    plan = Plan(campaign)
    for cell in campaign.cells:
        est = from_history(cell, runs, local_device) if runs else None
        if est is None and use_estimator:
            est = from_roofline(cell)
        if est is None:
            est = CellEstimate(cell, None, UNKNOWN,
                               "no earlier run of this workload/scenario/device in the store, "
                               "and no roofline estimate for it")
        plan.estimates.append(est)
    return plan


def format_duration(seconds: float | None) -> str:
    """``3 h 05 min``, ``4 min 10 s``, ``12.3 s``; ``?`` for unknown."""
    if seconds is None:
        return "?"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
