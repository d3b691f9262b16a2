"""The local executor: run every cell this machine can run, resumably.

A cell runs here when it needs no particular device (``device: local``) or when its device is the
one this machine is (detected through the hardware catalog, or declared with ``--device``). Cells
already complete in the store are skipped, so running the campaign again after a crash or Ctrl-C
resumes where it stopped and no complete cell runs twice. A failing cell is recorded in the
store as a failed run with its reason and the others go on. Ctrl-C stops the campaign after the
current run has been stored as incomplete.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from inferlca.campaign.spec import Campaign, Cell
from inferlca.campaign.state import (
    DONE,
    RUN_FAILED,
    RUN_RUNNING,
    CampaignLock,
    cell_states,
    run_id_of,
    run_status_of,
    runs_by_cell,
)
from inferlca.errors import RunInterrupted
from inferlca.spec import RunSpec

#: ``runner(spec, store, progress) -> outcome`` runs one cell into the store (default:
#: :func:`inferlca.loadgen.runner.run_benchmark`). Any exception is a failure of that cell.
CellRunner = Callable[[RunSpec, Any, Any], Any]

# Outcomes of one cell in one executor pass.
RAN, SKIPPED_DONE, OTHER_DEVICE, FAILED, INTERRUPTED, UNSCHEDULABLE = (
    "ran", "skipped-done", "other-device", "failed", "interrupted", "unschedulable")


@dataclass
class CellResult:
    """What happened to one cell during one executor pass."""

    cell_id: str
    label: str
    outcome: str
    run_id: str | None = None
    error: str | None = None
    duration_s: float | None = None
    device: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"cell_id": self.cell_id, "label": self.label, "outcome": self.outcome,
                "run_id": self.run_id, "error": self.error, "duration_s": self.duration_s,
                "device": self.device}


@dataclass
class CampaignResult:
    """The report of one executor pass over a campaign."""

    campaign: str
    results: list[CellResult] = field(default_factory=list)
    interrupted: bool = False

    def sort_as(self, campaign: Campaign) -> CampaignResult:
        """Put the results in the campaign's cell order (executors report as cells finish)."""
        order = {c.cell_id: c.index for c in campaign.cells}
        self.results.sort(key=lambda r: order.get(r.cell_id, len(order)))
        return self

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def ok(self) -> bool:
        return not self.interrupted and not any(
            r.outcome in (FAILED, UNSCHEDULABLE, INTERRUPTED) for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for r in self.results:
            counts[r.outcome] = counts.get(r.outcome, 0) + 1
        return {"campaign": self.campaign, "interrupted": self.interrupted, "counts": counts,
                "cells": [r.to_dict() for r in self.results]}


def default_runner() -> CellRunner:
    """The real cell runner: :func:`inferlca.loadgen.runner.run_benchmark`."""
    from inferlca.loadgen.runner import run_benchmark

    return run_benchmark


def detect_local_device() -> str | None:
    """Catalog id of this machine's device, or None when detection finds no catalog device."""
    from inferlca.hardware.resolve import resolve_device

    return resolve_device().id


def failure_reason(exc: BaseException) -> str:
    """One line naming the exception and its message (the stored reason of a failed cell)."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def record_failure(store: Any, cell: Cell, reason: str, known_run_ids: set[str],
                   *, environment: dict[str, Any] | None = None) -> str:
    """Store a cell's failure as a failed run, keeping what the runner already stored.

    If the runner created a run for this attempt and left it ``running``, that run is finished
    as failed (its repetitions stay); if it already finished it, it is left alone; if it never
    reached the store, a failed run with the cell's spec and the reason is created.

    Returns:
        the run id holding the failure.
    """
    recs = runs_by_cell(store, [cell.cell_id]).get(cell.cell_id, [])
    new = [r for r in recs if run_id_of(r) not in known_run_ids]
    summary = {"metrics": {}, "impact": {}, "measured": False, "notes": [f"failed: {reason}"]}
    for rec in reversed(new):
        if run_status_of(rec) == RUN_RUNNING:
            store.finish_run(run_id_of(rec), status=RUN_FAILED, summary=summary, error=reason)
            return run_id_of(rec)
        if run_status_of(rec) == RUN_FAILED:
            return run_id_of(rec)
    spec = cell.spec
    run_id = store.create_run(spec.to_dict(), kind="measured", device_id=spec.device,
                              device_name=spec.device or "", meter=spec.meter, estimated=False,
                              environment=environment or {}, label=spec.label)
    store.finish_run(run_id, status=RUN_FAILED, summary=summary, error=reason)
    return str(run_id)


def run_local(campaign: Campaign, store: Any, *, store_path: str | None = None,
              runner: CellRunner | None = None, local_device: str | None = None,
              detect: bool = True, progress: Any = None,
              sleep: Callable[[float], None] = time.sleep) -> CampaignResult:
    """Run the cells of ``campaign`` that this machine can run, skipping those already done.

    Args:
        campaign: the expanded campaign.
        store: an open results store (see docs/CONTRACTS.md).
        store_path: the store's file, for the executor lock; None = no lock (tests, memory).
        runner: runs one cell (default: the real LoadGen runner).
        local_device: catalog id of this machine; None with ``detect`` = detect it.
        detect: detect this machine's device when ``local_device`` is None.
        progress: a :class:`~inferlca.campaign.progress.CampaignProgress` (or None).
        sleep: the cool-down wait between cells (injectable).

    Returns:
        a :class:`CampaignResult`; ``interrupted`` when Ctrl-C stopped it.
    """
    from inferlca.campaign.progress import NullProgress

    progress = progress or NullProgress()
    if local_device is None and detect:
        local_device = detect_local_device()
    if store_path is not None:
        with CampaignLock(store_path, campaign.name) as lock:
            return _run_cells(campaign, store, runner, local_device, progress, sleep, lock)
    return _run_cells(campaign, store, runner, local_device, progress, sleep, None)


def _run_cells(campaign: Campaign, store: Any, runner: CellRunner | None, local_device: str | None,
               progress: Any, sleep: Callable[[float], None],
               lock: CampaignLock | None) -> CampaignResult:
    result = CampaignResult(campaign.name)
    states = {s.cell.cell_id: s for s in cell_states(campaign, store)}
    todo: list[Cell] = []
    for cell in campaign.cells:
        st = states[cell.cell_id]
        if st.state == DONE:
            result.results.append(CellResult(cell.cell_id, cell.describe(), SKIPPED_DONE,
                                             run_id=st.run_id, device=cell.device))
        elif cell.device is not None and cell.device != local_device:
            result.results.append(CellResult(
                cell.cell_id, cell.describe(), OTHER_DEVICE, device=cell.device,
                error=f"needs {cell.device}; this machine is {local_device or 'not a catalog device'}"))
        else:
            todo.append(cell)
    if todo and runner is None:
        runner = default_runner()
    progress.start(total_cells=len(todo))
    try:
        for i, cell in enumerate(todo):
            known = {run_id_of(r) for r in runs_by_cell(store, [cell.cell_id]).get(cell.cell_id, [])}
            if lock is not None:
                lock.set_running([cell.cell_id])
            t0 = time.monotonic()
            hook = progress.cell_started(cell)
            try:
                outcome = runner(cell.spec, store, hook)  # type: ignore[misc]
            except (RunInterrupted, KeyboardInterrupt) as exc:
                run_id = _latest_new_run(store, cell, known)
                result.results.append(CellResult(cell.cell_id, cell.describe(), INTERRUPTED,
                                                 run_id=run_id, error=failure_reason(exc),
                                                 duration_s=time.monotonic() - t0,
                                                 device=cell.device))
                result.interrupted = True
                progress.cell_finished(cell, INTERRUPTED)
                break
            except Exception as exc:  # noqa: BLE001 - a failing cell must not stop the others
                reason = failure_reason(exc)
                run_id = record_failure(store, cell, reason, known,
                                        environment={"traceback": traceback.format_exc(limit=8)})
                result.results.append(CellResult(cell.cell_id, cell.describe(), FAILED,
                                                 run_id=run_id, error=reason,
                                                 duration_s=time.monotonic() - t0,
                                                 device=cell.device))
                progress.cell_finished(cell, FAILED, reason)
            else:
                run_id = getattr(outcome, "run_id", None) or _latest_new_run(store, cell, known)
                result.results.append(CellResult(cell.cell_id, cell.describe(), RAN,
                                                 run_id=run_id, duration_s=time.monotonic() - t0,
                                                 device=cell.device))
                progress.cell_finished(cell, RAN)
            finally:
                if lock is not None:
                    lock.set_running([])
            if i < len(todo) - 1 and campaign.cooldown_s > 0:
                try:
                    sleep(campaign.cooldown_s)
                except KeyboardInterrupt:
                    result.interrupted = True
                    break
    finally:
        progress.stop()
    return result.sort_as(campaign)


def _latest_new_run(store: Any, cell: Cell, known: set[str]) -> str | None:
    recs = runs_by_cell(store, [cell.cell_id]).get(cell.cell_id, [])
    new = [run_id_of(r) for r in recs if run_id_of(r) not in known]
    return new[-1] if new else None
