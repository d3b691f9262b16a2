"""What the report layer reads: runs from the results store, flattened into :class:`RunView`.

The report layer only reads. A :class:`RunView` holds one stored run (measured or estimated) with
its repetitions' metrics and impacts (keys of ``docs/CONTRACTS.md``), and gives the uncertain
figures the views need (:meth:`RunView.impact`, :meth:`RunView.metric`) as
:class:`~inferlca.uncertainty.UValue`. Selection helpers (:func:`select_runs`,
:func:`latest_per_device`) turn user filters into runs, with clear errors when nothing matches.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferlca.errors import UsageError
from inferlca.store.records import COUNTED_AT_END
from inferlca.uncertainty import UValue

#: Device categories in the study's order (edge first, datacenter last).
CATEGORIES = ("edge", "desktop", "gaming", "datacenter")


class EmptyStoreError(UsageError):
    """The store has no runs (or none that match the filters)."""


class IncomparableRunsError(UsageError):
    """Two runs that cannot be compared (different workloads or scenarios)."""


@dataclass(frozen=True)
class Repetition:
    """One repetition of a run: flat metrics (floats) and the impact dict (or ``None``)."""

    index: int
    metrics: Mapping[str, float]
    impact: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class RunView:
    """A stored run as the report layer sees it.

    Attributes:
        run_id: the store's run id.
        device_id: catalog id of the device, or ``None`` when unknown.
        device_name: the device's display name (user text: escape it in HTML).
        category: ``edge|desktop|gaming|datacenter`` or ``None``.
        workload, scenario, backend: from the run specification.
        queries: the run's query count (the study's "user profile").
        estimated: True for roofline estimates and modelled meters (not a sensor measurement).
        kind: ``measured`` or ``estimated`` (how the run was produced).
        status: ``complete``, ``incomplete``, ``failed`` or ``running``.
        label: the user's label, if any.
        created: creation time as stored (ISO text), used to find the latest run.
        spec: the run specification dict.
        summary: the run summary dict (``metrics``, ``impact``, ``measured``, ``notes``).
        repetitions: the repetitions, in index order.
    """

    run_id: str
    device_id: str | None
    device_name: str
    category: str | None
    workload: str
    scenario: str
    backend: str | None
    queries: int | None
    estimated: bool
    kind: str
    status: str
    label: str | None
    created: str
    spec: Mapping[str, Any] = field(default_factory=dict)
    summary: Mapping[str, Any] = field(default_factory=dict)
    repetitions: tuple[Repetition, ...] = ()
    environment: Mapping[str, Any] = field(default_factory=dict)
    meter: str | None = None

    # --- figures ------------------------------------------------------------------------------

    @property
    def measured_label(self) -> str:
        return "estimated" if self.estimated else "measured"

    @property
    def short_id(self) -> str:
        return self.run_id[:8]

    @property
    def condition(self) -> tuple[str, str]:
        """(workload, scenario): runs are comparable only within one condition."""
        return (self.workload, self.scenario)

    def rep_metric(self, key: str) -> list[float]:
        """The metric ``key`` of every repetition that has it (finite values only)."""
        out = []
        for r in self.repetitions:
            v = r.metrics.get(key)
            if v is not None and isinstance(v, (int, float)) and math.isfinite(v):
                out.append(float(v))
        return out

    def rep_impact(self, key: str) -> list[float]:
        """The nominal impact value ``key`` (e.g. ``total_gco2e``) of every repetition."""
        out = []
        for r in self.repetitions:
            if not r.impact or key not in r.impact:
                continue
            v = _nominal(r.impact[key])
            if v is not None:
                out.append(v)
        return out

    def metric(self, key: str, unit: str = "") -> UValue | None:
        """Mean of a metric across repetitions, with its 95% confidence interval.

        Taken from the run summary (``mean``, ``ci95_low``, ``ci95_high``) when present, else
        computed from the repetitions (spread min..max). ``None`` when no repetition has it.
        """
        s = (self.summary.get("metrics") or {}).get(key)
        if isinstance(s, Mapping) and s.get("mean") is not None and math.isfinite(s["mean"]):
            mean = float(s["mean"])
            lo = s.get("ci95_low")
            hi = s.get("ci95_high")
            lo = mean if lo is None or not math.isfinite(lo) else float(lo)
            hi = mean if hi is None or not math.isfinite(hi) else float(hi)
            return UValue(mean, min(lo, mean), max(hi, mean), unit, ("measured",) if not
                          self.estimated else ("estimated",), "derived")
        xs = self.rep_metric(key)
        if not xs:
            return None
        return UValue.from_samples(xs, unit=unit)

    def impact(self, key: str, unit: str = "") -> UValue | None:
        """An impact figure (keys of ``Impact.to_dict()``) as a UValue, mean over repetitions.

        The repetitions' ``{"value","low","high"}`` combined by the run interval rule
        (:func:`inferlca.stats.combine_intervals`: mean nominal, interval holding every
        repetition's interval and the 95 % interval of the mean); without repetitions,
        ``summary["impact"][key]``. ``None`` when the run has no impact.
        """
        from inferlca.stats import combine_intervals, consistent_totals

        # the run interval rule (stats.combine_intervals) on the repetitions, so that runs
        # stored before the rule read the same as new ones; else the stored summary. A total
        # holds its parts (stats.consistent_totals)
        keys = (key,) if key not in ("total_gco2e", "per_query_gco2e") else (
            "use_gco2e", "embodied_gco2e", "total_gco2e", "per_query_gco2e")
        both = {k: combine_intervals([r.impact[k] for r in self.repetitions
                                      if r.impact and isinstance(r.impact.get(k), Mapping)])
                for k in keys}
        combined = consistent_totals({k: v for k, v in both.items() if v is not None}).get(key)
        if combined is not None:
            return UValue(combined["value"], combined["low"], combined["high"], unit)
        return _as_uvalue((self.summary.get("impact") or {}).get(key), unit)

    @property
    def embodied_missing(self) -> str | None:
        """Why this run has no embodied figures (no manufacturing footprint), or ``None``."""
        from inferlca.store.export import embodied_missing

        imp = self.summary.get("impact") or next((r.impact for r in self.repetitions
                                                  if r.impact), None)
        return embodied_missing(imp)

    def impact_sources(self) -> list[str]:
        """Every source named by the run's impacts (summary and repetitions), deduplicated."""
        found: dict[str, None] = {}
        blobs = [self.summary.get("impact") or {}] + [r.impact or {} for r in self.repetitions]
        for blob in blobs:
            for s in _flatten_sources(blob.get("sources")):
                found.setdefault(s, None)
        return list(found)

    def gwp_per_query_g(self) -> UValue | None:
        """GWP per query in gCO2e (use + embodied, the load phase counted as the study did)."""
        return self.impact("per_query_gco2e", "gCO2e")

    def energy_per_query_j(self) -> UValue | None:
        uv = self.metric("energy_per_query_j", "J")
        if uv is None:
            total = self.metric("energy_total_j", "J")
            if total is not None and self.queries:
                uv = (total / self.queries).with_unit("J")
        return uv

    def latency_p99_s(self) -> UValue | None:
        return self.metric("latency_p99_s", "s")

    def throughput_qps(self) -> UValue | None:
        return self.metric("throughput_qps", "queries/s")

    @property
    def is_llm(self) -> bool:
        return bool(self.rep_metric("tokens_out")) or bool(self.rep_metric("energy_per_token_j"))

    @property
    def notes(self) -> list[str]:
        return [str(n) for n in (self.summary.get("notes") or [])]


def _nominal(x: Any) -> float | None:
    if isinstance(x, Mapping):
        x = x.get("value")
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return None
    return float(x)


def _as_uvalue(x: Any, unit: str = "") -> UValue | None:
    if isinstance(x, UValue):
        return x
    if isinstance(x, Mapping) and "value" in x:
        v = _nominal(x)
        if v is None:
            return None
        lo = _nominal(x.get("low", v))
        hi = _nominal(x.get("high", v))
        lo = v if lo is None else lo
        hi = v if hi is None else hi
        return UValue(v, min(lo, v), max(hi, v), unit)
    v = _nominal(x)
    return None if v is None else UValue.exact(v, unit, kind="derived")


def _flatten_sources(x: Any) -> Iterable[str]:
    if x is None:
        return []
    if isinstance(x, str):
        return [x]
    if isinstance(x, Mapping):
        out: list[str] = []
        for k, v in x.items():
            for s in _flatten_sources(v):
                out.append(f"{k}: {s}" if not s.startswith(f"{k}:") else s)
        return out
    if isinstance(x, Iterable):
        out = []
        for v in x:
            out.extend(_flatten_sources(v))
        return out
    return [str(x)]


# --- from the store ------------------------------------------------------------------------------


def _get(obj: Any, *names: str, default: Any = None) -> Any:
    for n in names:
        if isinstance(obj, Mapping) and n in obj:
            return obj[n]
        if hasattr(obj, n):
            return getattr(obj, n)
    return default


def grid_of(spec: Any) -> str:
    """The grid a run's use phase was charged, in a few characters: ``FR``, ``DE 2023`` (a grid
    year), ``custom 50`` (a custom intensity) or ``file NAME`` (a grid file). Runs of different
    grids never share a results cell: their totals differ by the grid, not by the device."""
    if spec.get("grid_gco2e_per_kwh") is not None:
        return f"custom {spec['grid_gco2e_per_kwh']}"
    if spec.get("grid_file"):
        from pathlib import PurePath

        return f"file {PurePath(str(spec['grid_file'])).name}"
    region = str(spec.get("region") or "FR")
    return region if spec.get("grid_year") is None else f"{region} {spec['grid_year']}"


def run_device(device_id: str | None, device_name: str | None,
               environment: Mapping[str, Any] | None = None) -> Any:
    """The catalog device a run was charged (by id, else by name), or for a machine charged an
    archetype footprint (``archetype-<id>``) the archetype as a device, with the share of its
    package the run was charged (``environment["device_share"]``: a VM sees a few of its hardware
    threads); None when neither."""
    from inferlca.hardware.catalog import get_catalog

    if device_id and device_id.startswith("archetype-"):
        import dataclasses

        from inferlca.hardware.archetypes import archetype_device

        try:
            dev = archetype_device(device_id.removeprefix("archetype-"))
        except UsageError:  # an archetype this version does not have
            return None
        share = (environment or {}).get("device_share")
        if isinstance(share, (int, float)) and 0 < share <= 1:
            dev = dataclasses.replace(dev, share=float(share))
        return dev
    cat = get_catalog()
    for name in (device_id, device_name):
        found = cat.find(name) if name else None
        if found is not None:
            return found
    return None


def charged_device(run: RunView) -> Any:
    """The device as ``run`` was charged: :func:`run_device`, and for an archetype stored before
    runs recorded their share (``environment["device_share"]``), the share worked back from the
    footprint its repetitions stored (that footprint over the whole package's, at the run's
    memory method and scope)."""
    dev = run_device(run.device_id, run.device_name, run.environment)
    if dev is None or getattr(dev, "archetype", None) is None or dev.share is not None:
        return dev
    stored = next((r.impact.get("device_embodied_kgco2e") for r in run.repetitions
                   if isinstance(r.impact, Mapping)), None)
    value = stored.get("value") if isinstance(stored, Mapping) else None
    if not isinstance(value, (int, float)) or value <= 0:
        return dev
    import dataclasses

    from inferlca.lca.embodied import embodied_footprint

    try:
        whole = embodied_footprint(dev, str(run.spec.get("memory_method") or "per-gb"),
                                   scope=str(run.spec.get("scope") or "chip")).total_kg.value
    except UsageError:
        return dev
    share = value / whole if whole > 0 else 0.0
    return dataclasses.replace(dev, share=share) if 0 < share < 1 - 1e-9 else dev


def device_category(device_id: str | None, device_name: str | None) -> str | None:
    """The device's category from the hardware catalog (or, for a machine charged an archetype
    footprint, ``archetype-<id>``, the archetype's), or ``None`` when it is not listed."""
    dev = run_device(device_id, device_name)
    return None if dev is None else str(dev.category)


def run_view(record: Any) -> RunView:
    """Flatten one store ``RunRecord`` (see ``docs/CONTRACTS.md``) into a :class:`RunView`.

    Only the repetitions stored as ``complete`` enter the figures (an interrupted repetition's
    partial window would bias the means); the run keeps its other repetitions in the store.
    """
    spec = dict(_get(record, "spec", default={}) or {})
    summary = dict(_get(record, "summary", default={}) or {})
    reps: list[Repetition] = []
    for r in _get(record, "repetitions", default=()) or ():
        if str(_get(r, "status", default="complete")) != "complete":
            continue
        reps.append(Repetition(index=int(_get(r, "index", default=len(reps))),
                               metrics=dict(_get(r, "metrics", default={}) or {}),
                               impact=_get(r, "impact", default=None)))
    reps.sort(key=lambda r: r.index)
    device_id = _get(record, "device_id")
    device_name = _get(record, "device_name") or device_id or spec.get("device") or "unknown device"
    env = dict(_get(record, "environment", default={}) or {})
    category = env.get("category") or device_category(device_id, device_name)
    kind = str(_get(record, "kind", default="measured") or "measured")
    estimated = bool(_get(record, "estimated", default=False)) or kind == "estimated"
    queries = _get(record, "queries")
    # a mixed or interactive run's -n is not its count (its users or traffic decide it)
    if queries is None and spec.get("scenario") not in COUNTED_AT_END:
        queries = spec.get("queries")
    return RunView(
        run_id=str(_get(record, "run_id", "id")),
        device_id=device_id,
        device_name=str(device_name),
        category=category,
        workload=_workload_label(str(_get(record, "workload") or spec.get("workload", "unknown")),
                                 spec),
        scenario=str(_get(record, "scenario") or spec.get("scenario", "unknown")),
        backend=_get(record, "backend") or spec.get("backend"),
        queries=int(queries) if queries is not None else None,
        estimated=estimated,
        kind=kind,
        status=str(_get(record, "status", default="complete")),
        label=_get(record, "label") or spec.get("label"),
        created=str(_get(record, "created_at", "created", default="") or ""),
        spec=spec,
        summary=summary,
        repetitions=tuple(reps),
        environment=env,
        meter=_get(record, "meter"),
    )


def open_store_for_reading(path: str | Path | None):  # type: ignore[no-untyped-def]
    """Open an existing store read-only (reading never creates a store; a missing one is an
    error saying how to make one). ``None`` means ``$INFERLCA_STORE`` or ``./inferlca.db``."""
    from inferlca.store.sqlite import Store

    return Store.open_readonly(path)


def load_runs(store: Any, *, statuses: Sequence[str] = ("complete",)) -> list[RunView]:
    """All runs of ``store`` with one of ``statuses``, as :class:`RunView`, oldest first."""
    views = []
    for rec in store.list_runs():
        st = str(_get(rec, "status", default="complete"))
        if statuses and st not in statuses:
            continue
        views.append(run_view(rec))
    views.sort(key=lambda v: (v.created, v.run_id))
    return views


def _matches_device(v: RunView, name: str) -> bool:
    n = name.strip().lower()
    if n in {(v.device_id or "").lower(), v.device_name.lower()}:
        return True
    try:
        from inferlca.hardware.catalog import get_catalog
    except ImportError:
        return False
    dev = get_catalog().find(name)
    return dev is not None and dev.id == v.device_id


def select_runs(runs: Sequence[RunView], *, run_ids: Sequence[str] = (), devices: Sequence[str] = (),
                workloads: Sequence[str] = (), scenarios: Sequence[str] = ()) -> list[RunView]:
    """Filter ``runs``; raise a clear :class:`UsageError` when a filter matches nothing."""
    if not runs:
        raise EmptyStoreError("the results store has no complete runs; run `inferlca run` first")
    out = list(runs)
    if run_ids:
        picked = []
        for rid in run_ids:
            picked.append(find_run(runs, rid))
        out = picked
    for d in devices:
        if not any(_matches_device(v, d) for v in runs):
            known = sorted({v.device_name for v in runs})
            raise EmptyStoreError(f"device {d!r} has no runs in the store; devices with runs: "
                                  f"{', '.join(known)}")
    if devices:
        out = [v for v in out if any(_matches_device(v, d) for d in devices)]
    for key, wanted in (("workload", workloads), ("scenario", scenarios)):
        if not wanted:
            continue
        present = sorted({getattr(v, key) for v in runs})
        for w in wanted:
            if w not in present:
                raise EmptyStoreError(f"no runs with {key} {w!r}; {key}s in the store: "
                                      f"{', '.join(present)}")
        out = [v for v in out if getattr(v, key) in wanted]
    if not out:
        raise EmptyStoreError("no runs match these filters together")
    return out


def _workload_label(workload: str, spec: Mapping[str, Any]) -> str:
    """A model size preset is part of what was measured: ``bert-base-squad`` with ``--preset
    tiny`` is a different model from the full one, so it is its own workload in every view
    (select it with ``--workload "bert-base-squad (tiny)"``)."""
    preset = spec.get("preset")
    return f"{workload} ({preset})" if preset else workload


def find_run(runs: Sequence[RunView], run_id: str) -> RunView:
    """The run whose id starts with ``run_id`` (a unique prefix)."""
    hits = [v for v in runs if v.run_id.startswith(run_id)]
    if len(hits) == 1:
        return hits[0]
    if not hits:
        raise UsageError(f"no complete run with id {run_id!r} in the store")
    raise UsageError(f"run id prefix {run_id!r} is ambiguous ({len(hits)} runs); give more characters")


def latest_per_device(runs: Sequence[RunView]) -> dict[str, RunView]:
    """The most recent run of each device (by creation time), keyed by device name."""
    out: dict[str, RunView] = {}
    for v in sorted(runs, key=lambda v: (v.created, v.run_id)):
        out[v.device_name] = v
    return out


def device_order(runs: Iterable[RunView]) -> list[str]:
    """Device names ordered by category (edge -> datacenter), then name."""
    cats: dict[str, str | None] = {}
    for v in runs:
        cats.setdefault(v.device_name, v.category)

    def key(name: str) -> tuple[int, str]:
        c = cats[name]
        return (CATEGORIES.index(c) if c in CATEGORIES else len(CATEGORIES), name.lower())

    return sorted(cats, key=key)
