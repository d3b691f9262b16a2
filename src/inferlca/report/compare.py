"""`inferlca compare A B`: how many times the CO2e, energy and p99 latency of A are those of B.

A ratio of two uncertain values takes its low end from A's low over B's high and its high end from
A's high over B's low (``UValue.__truediv__``), so the interval says how sure the comparison is.
Runs of different workloads or scenarios measure different things and are refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from inferlca.errors import UsageError, named
from inferlca.report.data import (
    IncomparableRunsError,
    RunView,
    _as_uvalue,
    _matches_device,
    find_run,
    grid_of,
)
from inferlca.uncertainty import UValue

#: (key, label, getter) of the figures compared, per query.
FIGURES = (
    ("gwp_per_query", "CO2e per query", lambda v: v.gwp_per_query_g()),
    ("energy_per_query", "energy per query", lambda v: v.energy_per_query_j()),
    ("latency_p99", "p99 latency", lambda v: v.latency_p99_s()),
)



def gwp_per_1k_tokens_g(v: RunView) -> UValue | None:
    """GWP per 1,000 output tokens (gCO2e): the ``llm-generate`` impact's ``tokens`` entry, else
    (estimated runs, one request per query) GWP per query x 1000 / output tokens per request."""
    stored = ((v.summary.get("impact") or {}).get("tokens") or {}).get("per_1k_tokens") or {}
    uv = _as_uvalue(stored.get("total_gco2e"), "gCO2e")
    if uv is not None:
        return uv
    per_query, tokens = v.gwp_per_query_g(), v.metric("tokens_out")
    if per_query is None or tokens is None or tokens.value <= 0:
        return None
    return (per_query * (1000.0 / tokens.value)).with_unit("gCO2e")


#: Figures added when both runs generated tokens (decoder LLMs; metric keys of docs/CONTRACTS.md).
LLM_FIGURES = (
    ("gwp_per_1k_tokens", "CO2e per 1,000 output tokens", gwp_per_1k_tokens_g),
    ("energy_per_token", "energy per output token", lambda v: v.metric("energy_per_token_j", "J")),
    ("ttft_p99", "p99 time to first token", lambda v: v.metric("ttft_p99_s", "s")),
    ("tpot_p99", "p99 time per output token", lambda v: v.metric("tpot_p99_s", "s")),
)

#: How each figure reads in a sentence: (verb, what it is a multiple of).
WORDS = {
    "gwp_per_query": ("emits", "the CO2e of B per query"),
    "energy_per_query": ("uses", "the energy of B per query"),
    "latency_p99": ("has", "the p99 latency of B"),
    "gwp_per_1k_tokens": ("emits", "the CO2e of B per 1,000 output tokens"),
    "energy_per_token": ("uses", "the energy of B per output token"),
    "ttft_p99": ("has", "the p99 time to first token of B"),
    "tpot_p99": ("has", "the p99 time per output token of B"),
}


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


#: Per-class figures of two mixed-traffic runs: (key, label, class metric key, unit).
CLASS_FIGURES = (
    ("energy_per_token", "energy per output token", "energy_per_token_j", "J"),
    ("ttft_p99", "p99 time to first token", "ttft_p99_s", "s"),
    ("tokens_per_j", "output tokens per joule", "tokens_per_j", "tokens/J"),
    ("gwp_per_1k_tokens", "CO2e per 1,000 output tokens", "gwp_per_1k_tokens_gco2e", "gCO2e"),
)


@dataclass(frozen=True)
class ClassRatios:
    """Two mixed-traffic runs, class by class: the ratios of the classes both have (by name, in
    A's order) and a note when their classes differ."""

    ratios: dict[str, tuple[Ratio, ...]]
    kinds: dict[str, str]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Class name -> its kind and ratios (the note is among the comparison's notes)."""
        return {name: {"kind": self.kinds.get(name), **{r.key: r.to_dict() for r in rs}}
                for name, rs in self.ratios.items()}


def _class_value(c: Any, key: str, unit: str) -> UValue | None:
    """A class's metric summary (mean, 95 % interval over repetitions) as a UValue."""
    d = ((c or {}).get("metrics") or {}).get(key)
    if not isinstance(d, dict) or not isinstance(d.get("mean"), (int, float)):
        return None
    mean = float(d["mean"])
    lo_d, hi_d = d.get("ci95_low"), d.get("ci95_high")
    lo = float(lo_d) if isinstance(lo_d, (int, float)) else mean
    hi = float(hi_d) if isinstance(hi_d, (int, float)) else mean
    return UValue(mean, min(lo, mean), max(hi, mean), unit)


def _class_gwp_per_1k(c: Any, key: str, unit: str) -> UValue | None:
    """A class's CO2e per 1,000 output tokens: its impact interval (grid, PUE, lifetime and
    footprint intervals, as the run's) over its mean output tokens; else its metric."""
    total = _as_uvalue(((c or {}).get("impact") or {}).get("total_gco2e"), unit)
    tokens = ((c or {}).get("metrics") or {}).get("tokens_out") or {}
    mean = tokens.get("mean") if isinstance(tokens, dict) else None
    if total is None or not isinstance(mean, (int, float)) or mean <= 0:
        return _class_value(c, key, unit)
    return (total * (1000.0 / float(mean))).with_unit(unit)


def compare_classes(a: RunView, b: RunView) -> ClassRatios | None:
    """Per-class ratios A / B of two mixed-traffic runs (:data:`CLASS_FIGURES`); None unless
    both are. Classes are matched by name; with differing names, the shared ones are compared
    and the note says which are not."""
    from inferlca.report.classes import run_classes

    if a.scenario != "mixed" or b.scenario != "mixed":
        return None
    ca, cb = run_classes(a.summary), run_classes(b.summary)
    shared = [n for n in ca if n in cb]
    note = None
    if list(ca) != list(cb) or not ca:
        only_a, only_b = [n for n in ca if n not in cb], [n for n in cb if n not in ca]
        note = ("the runs' request classes differ (A: " + (", ".join(ca) or "none") + "; B: "
                + (", ".join(cb) or "none") + "): "
                + ("per-class figures compared for " + ", ".join(shared) + " only"
                   if shared else "no per-class figure is compared")
                + (f"; only in A: {', '.join(only_a)}" if only_a else "")
                + (f"; only in B: {', '.join(only_b)}" if only_b else ""))
        if shared and not only_a and not only_b:
            note = "the runs list their request classes in different orders (matched by name)"
    ratios: dict[str, tuple[Ratio, ...]] = {}
    kinds: dict[str, str] = {}
    for name in shared:
        rs = []
        for key, label, metric, unit in CLASS_FIGURES:
            get = _class_gwp_per_1k if key == "gwp_per_1k_tokens" else _class_value
            x, y = get(ca[name], metric, unit), get(cb[name], metric, unit)
            rs.append(Ratio(key, label, x, y, ratio(x, y)))
        ratios[name] = tuple(rs)
        kind_a, kind_b = ca[name].get("kind"), cb[name].get("kind")
        kinds[name] = str(kind_a) if kind_a == kind_b else f"{kind_a} / {kind_b}"
    return ClassRatios(ratios, kinds, note)


@dataclass(frozen=True)
class Comparison:
    a: RunView
    b: RunView
    ratios: tuple[Ratio, ...]
    notes: tuple[str, ...]
    classes: ClassRatios | None = None

    def sentences(self) -> list[str]:
        """Plain sentences: "A emits X times [low - high] the CO2e of B per query"..."""
        out = []
        for r in self.ratios:
            if r.ratio is None:
                out.append(f"{r.label}: not available for "
                           f"{'both runs' if r.a is None and r.b is None else 'one run'}")
                continue
            verb, what = WORDS[r.key]
            out.append(f"A {verb} {r.ratio.format('', digits=3)} times {what}")
        return out

    def to_dict(self) -> dict[str, Any]:
        def run(v: RunView) -> dict[str, Any]:
            return {"run_id": v.run_id, "device": v.device_name, "workload": v.workload,
                    "scenario": v.scenario, "queries": v.queries, "estimated": v.estimated,
                    "label": v.label, "scope": run_scope(v),
                    "measurement_scope": measurement_scope_of(v)}
        out = {"a": run(self.a), "b": run(self.b),
               "ratios": {r.key: r.to_dict() for r in self.ratios},
               "sentences": self.sentences(), "notes": list(self.notes)}
        if self.classes is not None:  # two mixed-traffic runs: class by class, by name
            out["classes"] = self.classes.to_dict()
        return out


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


def run_scope(v: RunView) -> str:
    """The manufacturing scope of a run (runs stored before scopes existed are ``chip``)."""
    return str(v.spec.get("scope") or "chip")


def measurement_scope_of(v: RunView) -> str | None:
    """The run's measurement scope (``accelerator``, ``accelerator+host``, ``node``...): stored in
    its summary, else (runs stored before scopes were recorded) from its meter's name."""
    from inferlca.traces.scope import label, scope_of_meter

    stored = v.summary.get("measurement_scope")
    if stored:
        return str(stored)
    if not v.meter or v.kind != "measured":
        return None
    scopes = {scope_of_meter(m) for m in v.meter.split("+")}
    return None if None in scopes else label(scopes)  # type: ignore[arg-type]


def compare_runs(a: RunView, b: RunView, *, allow_mixed_scope: bool = False) -> Comparison:
    """Ratios A / B per query; refuses runs of different workloads or scenarios, and runs of
    different manufacturing or measurement scopes unless ``allow_mixed_scope``."""
    if a.workload != b.workload or a.scenario != b.scenario:
        raise IncomparableRunsError(
            f"runs cannot be compared: {a.short_id} is {a.workload}/{a.scenario} and "
            f"{b.short_id} is {b.workload}/{b.scenario}; compare runs of the same workload and "
            f"scenario (choose them with {named('workload')} and {named('scenario')}, with "
            "device names)")
    if a.run_id == b.run_id:
        raise UsageError(f"A and B are the same run ({a.short_id}, {a.device_name}); name two "
                         "different runs or devices (`inferlca results` lists them)")
    notes = []
    if run_scope(a) != run_scope(b):
        if not allow_mixed_scope:
            raise IncomparableRunsError(
                f"runs cannot be compared: {a.short_id} counts the manufacturing footprint at "
                f"scope {run_scope(a)} and {b.short_id} at scope {run_scope(b)}; re-run one with "
                "the other's --scope, or pass --allow-mixed-scope to compare anyway")
        notes.append(f"manufacturing scopes differ (A: {run_scope(a)}, B: {run_scope(b)}): the "
                     "CO2e ratios mix what is counted")
    sa, sb = measurement_scope_of(a), measurement_scope_of(b)
    if sa and sb and sa != sb:
        if not allow_mixed_scope:
            raise IncomparableRunsError(
                f"runs measured different parts of the machine: {a.short_id} has measurement "
                f"scope {sa!r} and {b.short_id} has {sb!r}; a ratio would compare unlike totals "
                "(measure both with the same meters, or pass --allow-mixed-scope)")
        notes.append(f"measurement scopes differ (A: {sa}, B: {sb}): the energy and CO2e ratios "
                     "compare unlike totals (--allow-mixed-scope)")
    for v, name in ((a, "A"), (b, "B")):
        emb = v.impact("device_embodied_kgco2e")
        if v.impact("total_gco2e") is not None and (emb is None or emb.value == 0):
            notes.append(f"{name} ({v.device_name}) has no manufacturing footprint (device not in "
                         "the catalog): its CO2e is the use phase only, so the CO2e ratio is "
                         f"{'too low' if name == 'A' else 'too high'}")
    ga, gb = grid_of(a.spec), grid_of(b.spec)
    if ga != gb:
        ia, ib = a.impact("grid_gco2e_per_kwh"), b.impact("grid_gco2e_per_kwh")
        by = (f" (intensities {ia.value:.4g} vs {ib.value:.4g} gCO2e/kWh: x{ia.value / ib.value:.3g}"
              " of the use phase)" if ia is not None and ib is not None and ib.value > 0 else "")
        notes.append(f"grids differ (A: {ga}, B: {gb}){by}: part of the CO2e ratio is the grid's, "
                     "not the devices'")
    if a.queries != b.queries:
        notes.append(f"query counts differ ({a.queries} vs {b.queries}); per-query figures still "
                     "compare, but the load phase weighs more in the shorter run")
    for v, name in ((a, "A"), (b, "B")):
        if v.estimated:
            notes.append(f"{name} ({v.device_name}) is an estimate, not a measurement")
    figures = FIGURES + (LLM_FIGURES if a.is_llm and b.is_llm else ())
    ratios = tuple(Ratio(k, label, get(a), get(b), ratio(get(a), get(b)))
                   for k, label, get in figures)
    classes = compare_classes(a, b)
    if classes is not None and classes.note:
        notes.append(classes.note)
    return Comparison(a, b, ratios, tuple(notes), classes)


def compare(runs: Sequence[RunView], ref_a: str, ref_b: str, *, workload: str | None = None,
            scenario: str | None = None, queries: int | None = None,
            allow_mixed_scope: bool = False) -> Comparison:
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
    return compare_runs(a, b, allow_mixed_scope=allow_mixed_scope)
