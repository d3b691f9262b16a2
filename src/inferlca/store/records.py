"""What the results store gives back: a run with its repetitions, ready for tables and reports.

Plain dataclasses, no database handle: a :class:`RunRecord` can be kept, compared, turned into
JSON (:meth:`RunRecord.to_dict`) after the store is closed. Traces, latencies and extra series are
not loaded with the record (they can be large); ask the store for them with
``store.load_trace(run_id, index)`` and friends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

RUN_STATUSES = ("running", "complete", "incomplete", "failed")
REPETITION_STATUSES = ("complete", "incomplete", "failed")
KINDS = ("measured", "estimated")
#: scenarios whose users or traffic decide the query count (known at the run's end), so a run's
#: spec ``queries`` (the unused ``-n``) is never its count
COUNTED_AT_END = ("interactive", "mixed")


@dataclass
class RepetitionRecord:
    """One repetition of a run.

    Attributes:
        index: the repetition number (0-based, as the runner gave it).
        status: ``complete``, ``incomplete`` (interrupted while measuring) or ``failed``.
        created_at: ISO 8601 UTC time it was stored.
        metrics: flat metrics, units in the key names (``energy_total_j``, ``latency_p99_s``...).
        impact: ``Impact.to_dict()`` of the repetition (may hold ``impact_compute``), or ``None``.
        loadgen: LoadGen settings, validity and log excerpts, or ``None``.
        has_trace: a power trace is stored (``store.load_trace``).
        n_latencies: how many per-query latencies are stored (``store.load_latencies``).
        series: names of the extra per-query series stored (``store.load_series``).
    """

    index: int
    status: str
    created_at: str
    metrics: dict[str, float]
    impact: dict[str, Any] | None = None
    loadgen: dict[str, Any] | None = None
    has_trace: bool = False
    trace_samples: int = 0
    n_latencies: int = 0
    series: list[str] = field(default_factory=list)

    @property
    def impact_compute(self) -> dict[str, Any] | None:
        """The impact of the compute phase alone, when the runner stored it."""
        if not self.impact:
            return None
        value = self.impact.get("impact_compute")
        return value if isinstance(value, dict) else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status,
            "created_at": self.created_at,
            "metrics": _clean(self.metrics),
            "impact": _clean(self.impact),
            "loadgen": _clean(self.loadgen),
            "has_trace": self.has_trace,
            "trace_samples": self.trace_samples,
            "n_latencies": self.n_latencies,
            "series": list(self.series),
        }


@dataclass
class RunRecord:
    """A stored run: its specification, device, status, summary and repetitions.

    ``status`` is what a reader should believe: a run whose row still says ``running`` but whose
    writing process is gone (same host, process no longer alive) reads as ``incomplete``, with a
    note saying so; ``stored_status`` keeps what the row says.
    """

    run_id: str
    created_at: str
    finished_at: str | None
    status: str
    stored_status: str
    kind: str
    estimated: bool
    workload: str | None
    scenario: str | None
    backend: str | None
    queries: int | None
    device_id: str | None
    device_name: str | None
    meter: str | None
    label: str | None
    spec: dict[str, Any]
    environment: dict[str, Any]
    summary: dict[str, Any] | None
    error: str | None = None
    pid: int | None = None
    hostname: str | None = None
    repetitions: list[RepetitionRecord] = field(default_factory=list)
    status_note: str | None = None

    # --- conveniences for tables and reports ------------------------------------------------

    @property
    def short_id(self) -> str:
        """The first 8 characters of the run id (what tables show; a prefix is accepted back)."""
        return self.run_id[:8]

    @property
    def measured(self) -> bool:
        return self.kind == "measured" and not self.estimated

    @property
    def repetitions_planned(self) -> int | None:
        v = self.spec.get("repetitions")
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    @property
    def device(self) -> str:
        """A display name: the catalog name, else the detected name, else the id."""
        return self.device_name or self.device_id or "unknown device"

    @property
    def notes(self) -> list[str]:
        notes = list((self.summary or {}).get("notes", []))
        if self.status_note:
            notes.append(self.status_note)
        return notes

    def metric(self, key: str, stat: str = "mean") -> float | None:
        """A summary statistic of a metric (``mean``, ``std``, ``ci95_low``, ``ci95_high``, ``n``).

        Falls back to the stored repetitions' values when the run has no summary yet (a run
        still running, or left running by a dead process).
        """
        metrics = (self.summary or {}).get("metrics") or {}
        if key in metrics:
            v = metrics[key].get(stat)
            return None if v is None else float(v)
        from inferlca.stats import describe

        values = [r.metrics[key] for r in self.repetitions if key in r.metrics]
        if not values:
            return None
        v = describe(values).get(stat)
        return None if v is None else float(v)

    def impact(self, key: str, bound: str = "value") -> float | None:
        """A summary impact figure, e.g. ``impact("per_query_gco2e", "high")``."""
        from inferlca.stats import combine_intervals

        # the run interval rule on the stored repetitions (runs stored before the rule read the
        # same as new ones); else the summary
        reps = [r.impact[key] for r in self.repetitions
                if r.impact and isinstance(r.impact.get(key), dict)]
        combined = combine_intervals(reps) if reps else None
        impact = (self.summary or {}).get("impact") or {}
        v = combined if combined is not None else impact.get(key)
        if isinstance(v, dict):
            v = v.get(bound)
        if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
            return None
        return float(v)

    def to_dict(self, repetitions: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "run_id": self.run_id,
            "created_at": self.created_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "stored_status": self.stored_status,
            "kind": self.kind,
            "estimated": self.estimated,
            "measured": self.measured,
            "workload": self.workload,
            "scenario": self.scenario,
            "backend": self.backend,
            "queries": self.queries,
            "repetitions_planned": self.repetitions_planned,
            "repetitions_stored": len(self.repetitions),
            "device_id": self.device_id,
            "device_name": self.device_name,
            "meter": self.meter,
            "label": self.label,
            "spec": _clean(self.spec),
            "environment": _clean(self.environment),
            "summary": _clean(self.summary),
            "error": self.error,
            "pid": self.pid,
            "hostname": self.hostname,
            "notes": self.notes,
        }
        if repetitions:
            d["repetitions"] = [r.to_dict() for r in self.repetitions]
        return d


def _json_number(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _clean(obj: Any) -> Any:
    """Replace non-finite floats by ``None`` so the result is strict JSON."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return _json_number(obj)
