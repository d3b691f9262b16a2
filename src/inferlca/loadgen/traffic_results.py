"""Per-class results of a mixed-traffic repetition: requests, errors by kind, tokens, latency
percentiles and the energy attributed to each class (:mod:`inferlca.traces.attribution`).

Per class (flat floats, units in the names, stored in the repetition's
``loadgen["traffic"]["classes"][name]["metrics"]``):

* ``requests``, ``requests_ok``, ``requests_failed``, ``errors_<kind>`` (``timeout``, ``http``,
  ``refused``, ``closed``, ``protocol``: the endpoint's kinds; ``error``: an engine failure);
* ``requests_truncated``: answered requests whose stream ended without a ``finish_reason`` (the
  server cut them short); ``finish_stop``, ``finish_length``: answers by ``finish_reason``
  (model servers; 0 for our own engines);
* ``tokens_in``, ``tokens_out``: totals over the answered requests; ``tokens_in_mean``,
  ``tokens_out_mean`` per request;
* ``ttft_*``, ``tpot_*``, ``itl_*``, ``e2e_*`` (``p50``, ``p90``, ``p99``, ``mean``; seconds):
  as the whole run's (arrival to first token; ``(last - first) / (tokens_out - 1)``; gaps
  between tokens; arrival to the end), percentiles by LoadGen's rule over answered requests;
* ``output_tokens_per_s``: the class's output tokens / (its last end - its first arrival);
* ``energy_j`` (= ``energy_compute_j + energy_load_j``), ``energy_share``,
  ``energy_per_token_j`` = ``energy_compute_j / tokens_out`` (as the whole run's, so the classes'
  ``energy_per_token_j x tokens_out`` add up to the run's compute energy), ``tokens_per_j`` (its
  inverse), ``energy_per_request_j`` = ``energy_j / requests_ok``;
* ``gwp_use_gco2e``, ``gwp_embodied_gco2e``, ``gwp_total_gco2e`` (with ``gwp_total_low_gco2e``,
  ``gwp_total_high_gco2e``), ``gwp_per_request_gco2e``, ``gwp_per_1k_tokens_gco2e``: the
  repetition's impact split by the class's energy share (:func:`add_class_impacts`), which also
  stores the intervals as the class's ``impact``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from inferlca.loadgen.traffic import RequestRecord, TrafficResult
from inferlca.stats import combine_impacts, describe, loadgen_percentile
from inferlca.traces.attribution import Work, class_energies
from inferlca.traces.trace import PowerTrace

ERROR_KINDS = ("timeout", "http", "refused", "closed", "protocol", "error")
#: the keys the report and ``results show`` put in their per-class tables
TABLE_KEYS = ("requests_ok", "requests_failed", "requests_truncated", "tokens_in", "tokens_out",
              "energy_j", "gwp_total_gco2e", "gwp_per_1k_tokens_gco2e",
              "energy_share", "tokens_per_j", "ttft_p50_s", "ttft_p99_s", "tpot_p50_s",
              "tpot_p99_s", "e2e_p99_s")


def work_of(records: Sequence[RequestRecord], offset_s: float = 0.0) -> list[Work]:
    """The token work of the answered requests, on trace time (``t + offset_s``): prompt tokens
    and the first output token over ``[sent, first token]``, the other output tokens over
    ``[first, last token]``."""
    out: list[Work] = []
    for r in records:
        if not r.ok:
            continue
        start = r.start_s if math.isfinite(r.start_s) else r.arrival_s
        first = r.token_times_s[0] if r.token_times_s else r.end_s
        last = r.token_times_s[-1] if r.token_times_s else r.end_s
        if not math.isfinite(first):
            continue
        out.append(Work(r.cls, start + offset_s, max(first, start) + offset_s,
                        float(r.tokens_in + min(1, r.tokens_out))))
        if r.tokens_out > 1:
            out.append(Work(r.cls, first + offset_s, max(last, first) + offset_s,
                            float(r.tokens_out - 1)))
    return out


def _pcts(m: dict[str, float], name: str, values: list[float]) -> None:
    if not values:
        return
    a = np.asarray(values, dtype=float)
    for q in (50, 90, 99):
        m[f"{name}_p{q}_s"] = loadgen_percentile(a, q / 100.0)
    m[f"{name}_mean_s"] = float(a.mean())


def latency_metrics(records: Sequence[RequestRecord]) -> dict[str, float]:
    """Counts, errors, tokens and latency percentiles of one class's requests."""
    ok = [r for r in records if r.ok]
    kinds = Counter(r.error_kind for r in records if not r.ok)
    m: dict[str, float] = {"requests": float(len(records)), "requests_ok": float(len(ok)),
                           "requests_failed": float(len(records) - len(ok))}
    for kind in ERROR_KINDS:
        m[f"errors_{kind}"] = float(kinds.get(kind, 0))
    m["requests_truncated"] = float(sum(r.truncated for r in ok))
    reasons = Counter(r.finish_reason for r in ok)
    m["finish_stop"], m["finish_length"] = float(reasons["stop"]), float(reasons["length"])
    m["tokens_in"] = float(sum(r.tokens_in for r in ok))
    m["tokens_out"] = float(sum(r.tokens_out for r in ok))
    if not ok:
        return m
    m["tokens_in_mean"] = m["tokens_in"] / len(ok)
    m["tokens_out_mean"] = m["tokens_out"] / len(ok)
    timed = [r for r in ok if r.token_times_s]
    _pcts(m, "ttft", [r.token_times_s[0] - r.arrival_s for r in timed])
    _pcts(m, "tpot", [(r.token_times_s[-1] - r.token_times_s[0]) / (r.tokens_out - 1)
                      for r in timed if r.tokens_out > 1 and len(r.token_times_s) > 1])
    _pcts(m, "itl", [float(g) for r in timed for g in np.diff(r.token_times_s)])
    _pcts(m, "e2e", [r.end_s - r.arrival_s for r in ok])
    first, last = min(r.arrival_s for r in ok), max(r.end_s for r in ok)
    if last > first:
        m["output_tokens_per_s"] = m["tokens_out"] / (last - first)
    return m


def class_results(result: TrafficResult, trace: PowerTrace | None,
                  metrics: dict[str, float]) -> dict[str, Any]:
    """Per-class results of one repetition (module docstring), energy attributed on ``trace``
    (``metrics``: the runner's ``energy_compute_j`` and ``energy_load_j``)."""
    names = [c.name for c in result.plan.classes]
    by_class: list[list[RequestRecord]] = [[] for _ in names]
    for r in result.records:
        by_class[r.cls].append(r)
    out: dict[str, Any] = {}
    for k, c in enumerate(result.plan.classes):
        m = latency_metrics(by_class[k])
        sources = sorted({r.tokens_in_source for r in by_class[k] if r.ok})
        out[c.name] = {"kind": c.kind, "metrics": m, "tokens_in_source": ",".join(sources)}
    energies = _energies(result, trace, metrics, len(names))
    if energies is not None:
        total = float(energies["total_j"].sum())
        for k, name in enumerate(names):
            m = out[name]["metrics"]
            m["energy_j"] = float(energies["total_j"][k])
            m["energy_compute_j"] = float(energies["compute_j"][k])
            m["energy_load_j"] = float(energies["load_j"][k])
            m["energy_share"] = m["energy_j"] / total if total > 0 else math.nan
            if m["tokens_out"] > 0:
                m["energy_per_token_j"] = m["energy_compute_j"] / m["tokens_out"]
                if m["energy_compute_j"] > 0:
                    m["tokens_per_j"] = m["tokens_out"] / m["energy_compute_j"]
            if m["requests_ok"] > 0:
                m["energy_per_request_j"] = m["energy_j"] / m["requests_ok"]
    return out


def _energies(result: TrafficResult, trace: PowerTrace | None, metrics: dict[str, float],
              n: int) -> dict[str, np.ndarray] | None:
    from inferlca.errors import InferlcaError
    from inferlca.traces.energy import window_of

    compute_j = metrics.get("energy_compute_j")
    if trace is None or compute_j is None or not math.isfinite(compute_j):
        return None
    try:
        a, b = window_of(trace, "compute")
    except InferlcaError:
        return None
    offset = -float(trace.meta.get("t0_monotonic_s", 0.0))
    return class_energies(trace, a, b, work_of(result.records, offset), n, compute_j=compute_j,
                          load_j=float(metrics.get("energy_load_j", 0.0)))


#: the run's impact entries split among the classes (``{"value", "low", "high"}`` in gCO2e)
IMPACT_PARTS = ("use_gco2e", "embodied_gco2e", "total_gco2e")


def add_class_impacts(classes: dict[str, Any], impact: dict[str, Any] | None) -> None:
    """Split the repetition's impact among the classes by their share of its energy
    (docs/method.md, "Impact by request class"), in place.

    Each class gets ``impact`` = ``{"share", "use_gco2e", "embodied_gco2e", "total_gco2e"}``
    (the run's ``value``, ``low`` and ``high`` times its share: the factors are the same for every
    class, so its interval is the run's scaled) and the flat metrics ``gwp_use_gco2e``,
    ``gwp_embodied_gco2e``, ``gwp_total_gco2e``, ``gwp_total_low_gco2e``,
    ``gwp_total_high_gco2e``, ``gwp_per_request_gco2e`` (per answered request) and
    ``gwp_per_1k_tokens_gco2e`` (per 1,000 output tokens). The classes' figures add up to the
    run's. Nothing is added without an impact or without attributed energies."""
    if not impact or not classes:
        return
    energies = [(c.get("metrics") or {}).get("energy_j") for c in classes.values()]
    if any(not isinstance(e, (int, float)) or not math.isfinite(e) for e in energies):
        return
    total = math.fsum(float(e) for e in energies)  # type: ignore[arg-type]
    n = len(classes)
    for c, e in zip(classes.values(), energies):
        share = float(e) / total if total > 0 else 1.0 / n  # type: ignore[arg-type]
        part: dict[str, Any] = {"share": share}
        for key in IMPACT_PARTS:
            d = impact.get(key)
            if isinstance(d, dict) and all(isinstance(d.get(x), (int, float))
                                           for x in ("value", "low", "high")):
                part[key] = {x: float(d[x]) * share for x in ("value", "low", "high")}
                part[key]["unit"] = "gCO2e"
        c["impact"] = part
        m = c.setdefault("metrics", {})
        for key in IMPACT_PARTS:
            if key in part:
                m[f"gwp_{key}"] = part[key]["value"]
        if "total_gco2e" in part:
            m["gwp_total_low_gco2e"] = part["total_gco2e"]["low"]
            m["gwp_total_high_gco2e"] = part["total_gco2e"]["high"]
            if m.get("requests_ok", 0) > 0:
                m["gwp_per_request_gco2e"] = part["total_gco2e"]["value"] / m["requests_ok"]
            if m.get("tokens_out", 0) > 0:
                m["gwp_per_1k_tokens_gco2e"] = (part["total_gco2e"]["value"] * 1000.0
                                                / m["tokens_out"])


def traffic_loadgen(result: TrafficResult, classes: dict[str, Any]) -> dict[str, Any]:
    """The repetition's ``loadgen`` dict of a mixed-traffic run (the store keeps it as JSON)."""
    return {"traffic": {**result.to_dict(), "plan": result.plan.to_dict(), "classes": classes,
                        "attribution": "token share per power-trace step (docs/method.md)"},
            "validity": {"valid": False, "text": "mixed traffic: our own scheduler, not a "
                         "LoadGen scenario (no MLPerf validity)"}}


def summarize_classes(loadgens: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """Per-class summary across repetitions: ``{name: {"kind", "metrics": {key: describe},
    "impact"}}`` (mean, std, 95 % interval, n, as the run summary's metrics; ``impact``: the
    class's impact intervals combined as the run's, when the repetitions have one)."""
    per: dict[str, dict[str, Any]] = {}
    for lg in loadgens:
        classes = ((lg or {}).get("traffic") or {}).get("classes") or {}
        for name, c in classes.items():
            slot = per.setdefault(name, {"kind": c.get("kind"), "reps": [], "impacts": []})
            slot["reps"].append(c.get("metrics") or {})
            slot["impacts"].append(c.get("impact"))
    out: dict[str, Any] = {}
    for name, slot in per.items():
        keys: dict[str, None] = {}
        for m in slot["reps"]:
            keys.update(dict.fromkeys(m))
        out[name] = {"kind": slot["kind"],
                     "metrics": {k: describe(m[k] for m in slot["reps"] if k in m)
                                 for k in keys}}
        impact = combine_impacts(slot["impacts"])  # the run interval rule, as the run's
        if impact is not None:
            out[name]["impact"] = impact
    return out
