"""What a tracker measured: energy per window, channel, request and token, and the GWP.

Every energy is :func:`inferlca.traces.energy.energy` of the recorded trace over the window's
``[start, end]`` (counter first, else the trapezoid); every GWP is
:func:`inferlca.lca.impact.compute_impact` of that energy and duration. A window that occurs
several times sums its occurrences. Windows that overlap in time (nested, or from several threads)
each get the device's whole energy over their own span: energy is not split between concurrent
windows.
"""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from inferlca.uncertainty import UValue

if TYPE_CHECKING:
    from inferlca.lca.impact import Impact, ImpactContext
    from inferlca.traces.trace import PowerTrace


def _div(a: float | None, b: float | None) -> float | None:
    if a is None or not b:
        return None
    return a / b


class _PerCount:
    """Per-request and per-token figures of a window or of the whole span, from its
    ``energy_j``, ``counts`` and ``impact`` (written once for both)."""

    energy_j: float | None
    counts: dict[str, float]
    impact: Impact | None

    @property
    def requests(self) -> float:
        return self.counts.get("requests", 0.0)

    @property
    def tokens_out(self) -> float:
        return self.counts.get("tokens_out", 0.0)

    @property
    def energy_per_request_j(self) -> float | None:
        return _div(self.energy_j, self.requests)

    @property
    def energy_per_token_j(self) -> float | None:
        """Energy per output token (``tokens_out`` counted in the window or the span)."""
        return _div(self.energy_j, self.tokens_out)

    @property
    def gco2e(self) -> float | None:
        return self.impact.total_gco2e.value if self.impact is not None else None


@dataclass
class WindowResult(_PerCount):
    """All occurrences of one window (by path: ``parent/name``).

    Attributes:
        name, path, parent: the window's name, its key, its enclosing window's path.
        occurrences: how many times it was opened.
        duration_s: summed duration of the occurrences.
        energy_j: summed energy of the primary channel (``None`` without a meter).
        channels: summed energy per channel of the trace (the measurement scopes: ``gpu0``,
            ``cpu``...), when the trace has several.
        counts: requests/tokens counted while it was open.
        impact: GWP of its energy over its duration (``None`` without energy).
        spans: ``(start_s, end_s)`` of each occurrence on the trace's clock.
    """

    name: str
    path: str
    parent: str | None
    occurrences: int
    duration_s: float
    energy_j: float | None
    channels: dict[str, float | None]
    counts: dict[str, float]
    impact: Impact | None
    spans: list[tuple[float, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "path": self.path, "parent": self.parent,
            "occurrences": self.occurrences, "duration_s": self.duration_s,
            "energy_j": self.energy_j, "channels": dict(self.channels),
            "counts": dict(self.counts), "energy_per_request_j": self.energy_per_request_j,
            "energy_per_token_j": self.energy_per_token_j,
            "impact": self.impact.to_dict() if self.impact is not None else None,
            "spans": [list(s) for s in self.spans],
        }


@dataclass
class TrackResult(_PerCount):
    """The result of one tracker (``t.result``).

    Attributes:
        name: the tracker's name.
        measured: a sensor measured the energy; ``False``: ESTIMATED (modelled meter) or no meter.
        meter: the meter used (``None``: none worked).
        duration_s: from start to stop.
        energy_j: energy of the whole tracked span (primary channel), or ``None``.
        channels: energy of the whole span per channel.
        counts: totals of :meth:`Tracker.count`.
        impact: GWP of the whole span (queries = requests when counted).
        windows: per window path, in order of first opening.
        trace: the recorded power trace (``None`` without a meter); its ``meta["windows"]`` lists
            every window occurrence.
        notes: what a reader should know (estimated, fallback, windows left open...).
        run_id: the stored run when saved.
    """

    name: str
    measured: bool
    meter: str | None
    device: str | None
    device_name: str
    region: str
    duration_s: float
    energy_j: float | None
    channels: dict[str, float | None]
    counts: dict[str, float]
    impact: Impact | None
    windows: dict[str, WindowResult]
    trace: PowerTrace | None
    notes: list[str]
    coverage: float | None = None
    run_id: str | None = None

    @property
    def status(self) -> str:
        """``measured``, ``ESTIMATED`` (modelled meter) or ``not measured`` (no meter)."""
        if self.meter is None:
            return "not measured"
        return "measured" if self.measured else "ESTIMATED"

    @property
    def gco2e_per_request(self) -> float | None:
        return _div(self.gco2e, self.requests)

    def window(self, key: str) -> WindowResult:
        """A window by path (``generate/decode``) or by name when that is unique."""
        if key in self.windows:
            return self.windows[key]
        hits = [w for w in self.windows.values() if w.name == key]
        if len(hits) == 1:
            return hits[0]
        from inferlca.errors import UnknownNameError

        raise UnknownNameError("window", key, list(self.windows),
                               hint="(several windows have that name: use its path)" if hits
                               else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "status": self.status, "measured": self.measured,
            "meter": self.meter, "device": self.device, "device_name": self.device_name,
            "region": self.region, "duration_s": self.duration_s, "energy_j": self.energy_j,
            "channels": dict(self.channels), "counts": dict(self.counts),
            "energy_per_request_j": self.energy_per_request_j,
            "energy_per_token_j": self.energy_per_token_j,
            "impact": self.impact.to_dict() if self.impact is not None else None,
            "windows": [w.to_dict() for w in self.windows.values()],
            "coverage": self.coverage, "notes": list(self.notes), "run_id": self.run_id,
        }

    # ---- display ------------------------------------------------------------------------------
    def _rows(self) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = [
            ("window", "n", "time s", "energy J", "J/request", "J/token", "gCO2e")]

        def line(label: str, n: int | str, dur: float, e: float | None, per_r: float | None,
                 per_t: float | None, g: float | None) -> tuple[str, ...]:
            return (label, str(n), f"{dur:.4g}", _fmt(e), _fmt(per_r), _fmt(per_t), _fmt(g))

        rows.append(line(f"{self.name} (all)", 1, self.duration_s, self.energy_j,
                         self.energy_per_request_j, self.energy_per_token_j, self.gco2e))
        for w in self.windows.values():
            depth = w.path.count("/") + 1
            rows.append(line("  " * depth + w.name, w.occurrences, w.duration_s, w.energy_j,
                             w.energy_per_request_j, w.energy_per_token_j, w.gco2e))
        return rows

    def __str__(self) -> str:
        head = (f"inferlca track {self.name!r}: {self.status} "
                f"({'meter ' + self.meter if self.meter else 'no meter'}), device "
                f"{self.device_name}, region {self.region}")
        rows = self._rows()
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        body = ["  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                          for i, c in enumerate(r)) for r in rows]
        counts = ", ".join(f"{k} {v:g}" for k, v in self.counts.items()) or "nothing counted"
        out = [head, *body, f"counts: {counts}"]
        if self.impact is not None:
            out.append(f"GWP: {self.impact.total_gco2e.format()} (use "
                       f"{self.impact.use_gco2e.format()}, embodied "
                       f"{self.impact.embodied_gco2e.format()})")
        out += [f"note: {n}" for n in self.notes[:3]]
        if len(self.notes) > 3:
            out.append(f"({len(self.notes) - 3} more notes in .notes)")
        return "\n".join(out)

    def __repr__(self) -> str:
        return self.__str__()

    def _repr_html_(self) -> str:
        rows = self._rows()
        th = "".join(f"<th>{html.escape(c)}</th>" for c in rows[0])
        trs = "".join("<tr>" + "".join(
            f"<td style='text-align:{'left' if i == 0 else 'right'}'>"
            f"{html.escape(c).replace('  ', '&nbsp;&nbsp;')}</td>"
            for i, c in enumerate(r)) + "</tr>" for r in rows[1:])
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.notes)
        status = html.escape(self.status)
        gwp = (f"<p>GWP: {html.escape(self.impact.total_gco2e.format())}</p>"
               if self.impact is not None else "")
        return (f"<div class='inferlca-track'><p><b>inferlca track {html.escape(self.name)}</b>: "
                f"<b>{status}</b> ({html.escape(self.meter or 'no meter')}), device "
                f"{html.escape(self.device_name)}, region {html.escape(self.region)}</p>"
                f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>{gwp}"
                + (f"<ul>{notes}</ul>" if notes else "") + "</div>")


def _fmt(x: float | None) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.4g}"


# ---- analysis ---------------------------------------------------------------------------------
def _impact(ctx: ImpactContext, trace: PowerTrace | None, energy_j: float | None,
            duration_s: float, queries: int | None) -> Impact | None:
    """GWP through the impact core; a modelled trace's energy carries its interval."""
    from inferlca.lca.impact import compute_impact

    if energy_j is None or not math.isfinite(energy_j) or duration_s <= 0:
        return None
    e: float | UValue = max(energy_j, 0.0)
    if trace is not None and trace.estimated and "idle_share_range" in trace.meta \
            and "max_power_w" in trace.meta:
        from inferlca.meters.modelled import energy_interval_j

        lo, hi = energy_interval_j(trace.meta, energy_j, duration_s)
        if 0 <= lo < hi:
            e = UValue(energy_j, lo, hi, "J",
                       ("modelled energy; interval from the idle-share range",), kind="derived")
    return compute_impact(e, duration_s, ctx, queries=queries)


def _finite_or_none(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def _queries(counts: dict[str, float]) -> int | None:
    r = counts.get("requests")
    return int(r) if r and r >= 1 and float(r).is_integer() else None


def analyse(tracker: Any, trace: PowerTrace | None) -> TrackResult:
    """The result of a stopped tracker (a :class:`~inferlca.tracker.core.Tracker`, which imports
    this module) from its trace and its windows."""
    from inferlca.traces.energy import energy, window_energies_j

    assert tracker._start_mono is not None and tracker._end_mono is not None
    notes = list(tracker.notes)
    sampler = tracker._sampler
    origin = sampler._t0 if sampler is not None and sampler._t0 is not None \
        else tracker._start_mono

    def to_trace(mono: float) -> float:
        return mono - origin
    a, b = to_trace(tracker._start_mono), to_trace(tracker._end_mono)
    many = trace is not None and len(trace.channels) > 1

    def energies(s: float, e: float) -> tuple[float | None, dict[str, float | None], float | None]:
        if trace is None:
            return None, {}, None
        main = energy(trace, s, e)
        chans: dict[str, float | None] = {}
        if many:
            for ch in trace.channels:
                v = energy(trace, s, e, ch).energy_j
                chans[ch] = v if math.isfinite(v) else None
        val = main.energy_j if math.isfinite(main.energy_j) else None
        return val, chans, main.coverage

    total_j, total_ch, coverage = energies(a, b)
    ctx = tracker.context
    wins = list(tracker.windows)
    starts = [to_trace(w.start_mono) for w in wins]
    ends = [to_trace(w.end_mono if w.end_mono is not None else tracker._end_mono) for w in wins]
    # every occurrence at once (one pass over the trace), by the rules of traces.energy
    per_occ: np.ndarray | None = None
    per_ch: dict[str, np.ndarray] = {}
    if trace is not None and wins:
        per_occ = window_energies_j(trace, starts, ends)
        if many:
            per_ch = {ch: window_energies_j(trace, starts, ends, ch) for ch in trace.channels}
    windows: dict[str, WindowResult] = {}
    occurrences = []
    for k, w in enumerate(wins):
        s, e = starts[k], ends[k]
        occurrences.append({"name": w.name, "path": w.path, "parent": w.parent, "start_s": s,
                            "end_s": e, **{c: v for c, v in w.counts.items()}})
        ej = _finite_or_none(per_occ[k]) if per_occ is not None else None
        chans = {ch: _finite_or_none(v[k]) for ch, v in per_ch.items()}
        r = windows.get(w.path)
        if r is None:
            windows[w.path] = WindowResult(w.name, w.path, w.parent, 1, e - s, ej, chans,
                                           dict(w.counts), None, [(s, e)])
            continue
        r.occurrences += 1
        r.duration_s += e - s
        r.energy_j = None if r.energy_j is None or ej is None else r.energy_j + ej
        for ch, v in chans.items():
            old = r.channels.get(ch)
            r.channels[ch] = None if old is None or v is None else old + v
        for c, v in w.counts.items():
            r.counts[c] = r.counts.get(c, 0.0) + v
        r.spans.append((s, e))
    for r in windows.values():
        r.impact = _impact(ctx, trace, r.energy_j, r.duration_s, _queries(r.counts))
    impact = _impact(ctx, trace, total_j, b - a, _queries(tracker.totals))
    if impact is not None:
        notes += [n for n in impact.notes if n not in notes]
    measured = trace is not None and not trace.estimated
    if trace is not None:
        trace.meta["windows"] = occurrences
        trace.meta["tracker"] = tracker.name
        if trace.estimated:
            notes.insert(0, f"ESTIMATED: the {trace.meter} meter models power (no sensor); "
                            "energy and CO2e are estimates")
    if coverage is not None and coverage < 0.99:
        notes.append(f"only {coverage:.0%} of the tracked time is covered by good samples")
    if any(len(r.spans) and r.duration_s < 2 * tracker.period_s for r in windows.values()):
        notes.append(f"some windows are shorter than two sampling periods "
                     f"({tracker.period_s * 1000:g} ms): their energy is interpolated between "
                     "samples")
    dev = tracker.device
    return TrackResult(
        name=tracker.name, measured=measured, meter=trace.meter if trace is not None else None,
        device=dev.id, device_name=dev.name, region=ctx.region, duration_s=b - a,
        energy_j=total_j, channels=total_ch, counts=dict(tracker.totals), impact=impact,
        windows=windows, trace=trace, notes=list(dict.fromkeys(notes)), coverage=coverage)


# ---- store ------------------------------------------------------------------------------------
def _slug(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_").lower()


def run_metrics(result: TrackResult) -> dict[str, float | None]:
    """The repetition metrics of a saved result (the store's keys, docs/CONTRACTS.md), plus
    ``window_<path>_energy_j`` / ``_duration_s`` per window."""
    req = result.requests or None
    tokens_out = result.counts.get("tokens_out")
    tokens_in = result.counts.get("tokens_in")
    m: dict[str, float | None] = {
        "duration_s": result.duration_s,
        "compute_duration_s": result.duration_s,
        "energy_total_j": result.energy_j,
        "energy_compute_j": result.energy_j,
        "mean_power_w": _div(result.energy_j, result.duration_s),
        "coverage": result.coverage,
        "queries": req,
        "samples": req,
        "energy_per_query_j": result.energy_per_request_j,
        "energy_per_request_j": result.energy_per_request_j,
        "throughput_qps": _div(req, result.duration_s),
        # per request, as the store's token keys are
        "tokens_in": _div(tokens_in, req) if req else None,
        "tokens_out": _div(tokens_out, req) if req else None,
        "energy_per_token_j": result.energy_per_token_j,
    }
    for w in result.windows.values():
        m[f"window_{_slug(w.path)}_energy_j"] = w.energy_j
        m[f"window_{_slug(w.path)}_duration_s"] = w.duration_s
    return m


def save_result(result: TrackResult, store: Any, label: str | None = None) -> str:
    """Store the result as a run (one repetition, with its trace); return its id."""
    from inferlca.stats import summarize
    from inferlca.store.sqlite import Store

    own = not isinstance(store, Store)
    st = Store.open(store) if own else store
    try:
        ctx_spec = {
            "workload": f"track:{result.name}", "scenario": "tracked", "backend": None,
            "queries": int(result.requests) if result.requests else None, "repetitions": 1,
            "device": result.device, "meter": result.meter or "none",
            "region": result.region, "label": label,
            "extra": {"tracker": {"name": result.name,
                                  "windows": [w.path for w in result.windows.values()]}},
        }
        if result.impact is not None:
            ctx_spec["scope"] = result.impact.scope
        estimated = not result.measured
        rid = st.create_run(ctx_spec, kind="measured" if result.meter else "estimated",
                            device_id=result.device, device_name=result.device_name,
                            meter=result.meter, estimated=estimated,
                            environment={"tracker": "inferlca.track"}, label=label)
        metrics = run_metrics(result)
        impact = result.impact.to_dict() if result.impact is not None else None
        incomplete = result.trace is not None and bool(result.trace.meta.get("incomplete"))
        st.add_repetition(rid, 0, metrics=metrics, impact=impact, trace=result.trace,
                          status="incomplete" if incomplete else "complete")
        notes = list(result.notes)
        summary = summarize([{k: v for k, v in metrics.items() if v is not None}],
                            [impact] if impact is not None else [], measured=not estimated,
                            notes=notes)
        from inferlca.meters.summary import json_safe

        summary["tracker"] = json_safe(result.to_dict())
        st.finish_run(rid, "incomplete" if incomplete else "complete", summary)
        return rid
    finally:
        if own:
            st.close()
