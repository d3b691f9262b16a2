"""Where a campaign stands: each cell's state, read from the results store.

The store is the single source of truth: a cell is *done* when the store holds a complete run
whose spec carries the cell id (``spec.extra["campaign_cell"]``), *failed* when its latest run
failed, *running* while an executor holds the campaign lock and says it is working on it (or the
store shows its run as running: the store itself reads a run left ``running`` by a dead process as
``incomplete``), and *pending* otherwise (never started, interrupted, or left by a crashed
executor).

One executor at a time works on a store: :class:`CampaignLock` is an exclusive ``flock`` on
``<store>.campaign.lock``; the lock file also lists the cells in progress, so ``campaign status``
from another terminal can show them as running.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferlca.campaign.spec import Campaign, Cell, cell_id_from_spec_dict
from inferlca.errors import StoreError, UsageError, named

DONE, RUNNING, FAILED, PENDING = "done", "running", "failed", "pending"
STATES = (DONE, RUNNING, FAILED, PENDING)
#: Store run statuses (see docs/CONTRACTS.md, store.finish_run).
RUN_COMPLETE, RUN_RUNNING, RUN_FAILED, RUN_INCOMPLETE = "complete", "running", "failed", "incomplete"


class CampaignBusyError(UsageError):
    """Another executor holds the campaign lock of this store."""


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    """First present attribute (or key) of a store record, whatever its exact shape."""
    for n in names:
        if isinstance(obj, dict):
            if n in obj:
                return obj[n]
        elif hasattr(obj, n):
            return getattr(obj, n)
    return default


def run_id_of(rec: Any) -> str:
    return str(_get(rec, "run_id", "id"))


def run_status_of(rec: Any) -> str:
    return str(_get(rec, "status", default=""))


def run_spec_of(rec: Any) -> dict[str, Any]:
    spec = _get(rec, "spec", default={})
    if isinstance(spec, str):
        try:
            spec = json.loads(spec)
        except ValueError:
            spec = {}
    return spec if isinstance(spec, dict) else {}


def run_error_of(rec: Any) -> str | None:
    err = _get(rec, "error", default=None)
    return str(err) if err else None


def run_started_of(rec: Any) -> str:
    return str(_get(rec, "created_at", "started_at", "created", "started", default=""))


@dataclass
class CellState:
    """The state of one cell and the store runs behind it."""

    cell: Cell
    state: str
    run_id: str | None = None
    error: str | None = None
    attempts: int = 0
    run_ids: list[str] = field(default_factory=list)
    #: figures of the done run (:data:`CELL_FIGURES`), where it has them
    figures: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"cell_id": self.cell.cell_id, "label": self.cell.describe(), "state": self.state,
                "run_id": self.run_id, "error": self.error, "attempts": self.attempts,
                "device": self.cell.device, **self.figures}


#: What ``campaign status`` shows of a done cell (a serving sweep's figures, where measured):
#: mean over the run's repetitions of ``tokens_per_j`` (1 / ``energy_per_token_j``, compute
#: phase), ``ttft_p99_s``, ``tpot_p99_s``, ``output_tokens_per_s`` and ``requests_failed``.
CELL_FIGURES = ("tokens_per_j", "ttft_p99_s", "tpot_p99_s", "output_tokens_per_s",
                "requests_failed")


def run_figures(rec: Any) -> dict[str, float]:
    """:data:`CELL_FIGURES` of a stored run, from its summary (absent ones left out)."""
    summary = _get(rec, "summary", default=None)
    metrics = summary.get("metrics") if isinstance(summary, dict) else None
    if not isinstance(metrics, dict):
        return {}

    def mean(name: str) -> float | None:
        m = metrics.get(name)
        v = m.get("mean") if isinstance(m, dict) else m
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    out: dict[str, float] = {}
    ept = mean("energy_per_token_j")
    if ept is not None and ept > 0:
        out["tokens_per_j"] = 1.0 / ept
    for name in CELL_FIGURES[1:]:
        v = mean(name)
        if v is not None:
            out[name] = v
    return out


def runs_by_cell(store: Any, cell_ids: Iterable[str] | None = None) -> dict[str, list[Any]]:
    """Store runs grouped by the campaign cell id their spec carries, oldest first."""
    wanted = set(cell_ids) if cell_ids is not None else None
    out: dict[str, list[Any]] = {}
    for rec in store.list_runs():
        cid = cell_id_from_spec_dict(run_spec_of(rec))
        if cid is None or (wanted is not None and cid not in wanted):
            continue
        out.setdefault(cid, []).append(rec)
    for recs in out.values():
        recs.sort(key=run_started_of)
    return out


def cell_states(campaign: Campaign, store: Any, running: Iterable[str] = ()) -> list[CellState]:
    """Each cell's state, in campaign order.

    Args:
        campaign: the expanded campaign.
        store: an open results store.
        running: ids of cells an executor is working on now (from :func:`read_lock`).
    """
    now_running = set(running)
    grouped = runs_by_cell(store, [c.cell_id for c in campaign.cells])
    states: list[CellState] = []
    for cell in campaign.cells:
        recs = grouped.get(cell.cell_id, [])
        ids = [run_id_of(r) for r in recs]
        complete = [r for r in recs if run_status_of(r) == RUN_COMPLETE]
        if complete:
            st = CellState(cell, DONE, run_id_of(complete[-1]), None, len(recs), ids,
                           run_figures(complete[-1]))
        elif cell.cell_id in now_running or (recs and run_status_of(recs[-1]) == RUN_RUNNING):
            st = CellState(cell, RUNNING, ids[-1] if ids else None, None, len(recs), ids)
        elif recs and run_status_of(recs[-1]) == RUN_FAILED:
            st = CellState(cell, FAILED, ids[-1], run_error_of(recs[-1]), len(recs), ids)
        else:
            last = recs[-1] if recs else None
            note = None
            if last is not None:
                note = run_error_of(last) or f"last run {run_status_of(last)}"
            st = CellState(cell, PENDING, ids[-1] if ids else None, note, len(recs), ids)
        states.append(st)
    return states


def count_states(states: Iterable[CellState]) -> dict[str, int]:
    counts = dict.fromkeys(STATES, 0)
    for s in states:
        counts[s.state] += 1
    return counts


# ---------------------------------------------------------------------------------------------
# The executor lock


def lock_path_for(store_path: str | Path) -> Path:
    p = Path(store_path)
    return p.with_name(p.name + ".campaign.lock")


class CampaignLock:
    """An exclusive lock on a store for one campaign executor (``flock``, released on exit).

    The lock file holds JSON ``{"pid", "host", "campaign", "running": [cell ids]}``; the
    executor updates ``running`` as it starts and finishes cells.
    """

    def __init__(self, store_path: str | Path, campaign: str) -> None:
        self.path = lock_path_for(store_path)
        self.campaign = campaign
        self._fd: int | None = None
        self.running: list[str] = []

    def __enter__(self) -> CampaignLock:  # noqa: PYI034
        import fcntl

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot create the campaign lock {self.path}: {exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            holder = read_lock(self.path)
            who = f" (pid {holder.get('pid')} on {holder.get('host')}, campaign " \
                  f"{holder.get('campaign')!r})" if holder else ""
            raise CampaignBusyError(
                f"another campaign executor is using this store{who}; wait for it to finish "
                f"or use another {named('store')}") from None
        self._fd = fd
        self._write()
        return self

    def set_running(self, cell_ids: Iterable[str]) -> None:
        self.running = list(cell_ids)
        self._write()

    def _write(self) -> None:
        if self._fd is None:
            return
        data = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "campaign": self.campaign, "running": self.running,
                           "updated": time.time()}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)

    def __exit__(self, *exc: object) -> None:
        import fcntl

        if self._fd is None:
            return
        self.running = []
        self._write()
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def read_lock(path: str | Path) -> dict[str, Any]:
    """The lock file's content if an executor holds it now, else ``{}``."""
    import fcntl

    p = Path(path)
    if not p.exists():
        return {}
    try:
        fd = os.open(p, os.O_RDONLY)
    except OSError:
        return {}
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:  # held exclusively: an executor is alive
            raw = os.pread(fd, 1 << 20, 0)
            try:
                data = json.loads(raw.decode() or "{}")
            except ValueError:
                data = {}
            return data if isinstance(data, dict) else {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return {}
    finally:
        os.close(fd)
