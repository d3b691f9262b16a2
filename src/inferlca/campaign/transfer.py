"""Move one stored run from one store to another (a Ray worker's store -> the driver's store).

A Ray worker runs its cell into a private temporary store, :func:`export_run` turns that run
(spec, summary, every repetition with its trace and latencies) into a plain picklable dict, Ray
carries it back, and :func:`import_run` writes it into the driver's store through the same public
write calls a local run uses, so nothing measured is lost on the way.
"""

from __future__ import annotations

from typing import Any

from inferlca.campaign.state import _get, run_spec_of, run_status_of


def export_run(store: Any, run_id: str) -> dict[str, Any]:
    """A stored run as a plain dict (numpy arrays and PowerTrace objects inside)."""
    rec = store.get_run(run_id)
    reps: list[dict[str, Any]] = []
    for rep in _get(rec, "repetitions", default=[]) or []:
        index = int(_get(rep, "index", "repetition", default=len(reps)))
        reps.append({
            "index": index,
            "status": _get(rep, "status", default="complete"),
            "metrics": dict(_get(rep, "metrics", default={}) or {}),
            "impact": _get(rep, "impact", default=None),
            "loadgen": _get(rep, "loadgen", default=None),
            "extra_series": _load_extra_series(store, run_id, index, rep),
            "trace": store.load_trace(run_id, index),
            "latencies_s": _load_latencies(store, run_id, index),
        })
    return {
        "source_run_id": str(_get(rec, "run_id", "id")),
        "spec": run_spec_of(rec),
        "kind": _get(rec, "kind", default="measured"),
        "device_id": _get(rec, "device_id", default=None),
        "device_name": _get(rec, "device_name", default=None),
        "meter": _get(rec, "meter", default=None),
        "estimated": bool(_get(rec, "estimated", default=False)),
        "environment": dict(_get(rec, "environment", default={}) or {}),
        "label": _get(rec, "label", default=None),
        "status": run_status_of(rec),
        "summary": _get(rec, "summary", default={}) or {},
        "error": _get(rec, "error", default=None),
        "repetitions": reps,
    }


def _load_latencies(store: Any, run_id: str, index: int) -> Any:
    lat = store.load_latencies(run_id, index)
    if lat is None or len(lat) == 0:
        return None
    return lat


def _load_extra_series(store: Any, run_id: str, index: int, rep: Any) -> Any:
    if not _get(rep, "series", default=None):
        return None
    got = store.load_series(run_id, index)
    return dict(got) if got else None


def import_run(store: Any, payload: dict[str, Any], *, environment: dict[str, Any] | None = None
               ) -> str:
    """Write an exported run into ``store``; returns the new run id.

    Args:
        store: the destination store.
        payload: a dict from :func:`export_run`.
        environment: entries merged into the run's environment (e.g. the Ray node it ran on).
    """
    env = dict(payload.get("environment") or {})
    env.update(environment or {})
    run_id = store.create_run(payload["spec"], kind=payload.get("kind") or "measured",
                              device_id=payload.get("device_id"),
                              device_name=payload.get("device_name"), meter=payload.get("meter"),
                              estimated=bool(payload.get("estimated")), environment=env,
                              label=payload.get("label"))
    for rep in payload.get("repetitions", []):
        store.add_repetition(run_id, rep["index"], metrics=rep.get("metrics") or {},
                             impact=rep.get("impact"), trace=rep.get("trace"),
                             latencies_s=rep.get("latencies_s"), loadgen=rep.get("loadgen"),
                             extra_series=rep.get("extra_series"),
                             status=rep.get("status") or "complete")
    status = payload.get("status") or "complete"
    if status == "running":  # the worker died mid-run: what it measured is kept, as incomplete
        status = "incomplete"
    queries = payload.get("queries")
    store.finish_run(run_id, status=status, summary=payload.get("summary") or {},
                     error=payload.get("error"),
                     queries=queries if (payload.get("spec") or {}).get("scenario") == "mixed"
                     and isinstance(queries, int) else None)
    return str(run_id)
