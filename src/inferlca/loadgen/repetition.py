"""One repetition of a run, step by step: measure, count, metrics, impact.

1. :func:`measure`: the sampler runs while the workload goes through its phases (``idle``
   baseline when asked, ``load``, ``compute`` = the LoadGen test or the interactive users,
   ``end``); the workload is unloaded whatever happens. Ctrl-C keeps the trace, marked
   incomplete.
2. :func:`counts`: latencies, samples and user queries, LoadGen's facts and the per-query series,
   from whichever test ran.
3. :func:`repetition_metrics`: energies and durations per phase from the trace
   (:mod:`inferlca.traces.energy`), throughput, energy per query, latency percentiles, plus the
   workload's own keys (``Workload.repetition_metrics``).
4. :func:`repetition_impact`: GWP of the whole repetition and of its compute phase alone
   (:func:`inferlca.lca.impact.compute_impact`), plus the workload's own entries.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from inferlca.errors import InferlcaError
from inferlca.loadgen import logs
from inferlca.loadgen.harness import LoadgenRun, run_loadgen_test
from inferlca.loadgen.scenarios import ScenarioPlan, plan_scenario
from inferlca.loadgen.thinktime import InteractiveResult
from inferlca.loadgen.traffic import TrafficResult
from inferlca.spec import RunSpec
from inferlca.traces.scope import scope_metrics
from inferlca.traces.trace import PowerTrace
from inferlca.workloads.base import Workload

if TYPE_CHECKING:
    from inferlca.lca.impact import ImpactContext
    from inferlca.meters.base import PowerMeter
    from inferlca.meters.sampler_host import SamplerProcess

#: Appended when LoadGen judged a run VALID under lifted minimums (e.g. a short Offline run).
LIFTED_NOT_VALID = ("LoadGen: VALID under the settings used, but not an MLPerf-valid result: "
                    "LoadGen's minimum duration and query count were lifted for an exact query "
                    "count (--mlperf-compliant keeps them)")


class Emit(Protocol):
    """The run's progress callback: ``emit(event, **info)`` (see ``runner.Progress``)."""

    def __call__(self, event: str, **info: Any) -> None: ...


@dataclass
class RepetitionResult:
    """One repetition: flat metrics (store contract keys), impacts, LoadGen facts, arrays."""

    index: int
    metrics: dict[str, float]
    impact: dict[str, Any] | None
    loadgen: dict[str, Any]
    latencies_s: np.ndarray
    trace: PowerTrace
    status: str = "complete"
    series: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None


@dataclass
class Measured:
    """What the measured window produced: the trace and whichever test ran (None when Ctrl-C
    came before it started)."""

    trace: PowerTrace
    interrupted: bool
    lg_run: LoadgenRun | None = None
    interactive: InteractiveResult | None = None
    traffic: TrafficResult | None = None


@dataclass
class Counts:
    """What the test answered: latencies (s), samples, user queries, LoadGen facts, series."""

    latencies_s: np.ndarray
    samples: int
    queries: int
    loadgen: dict[str, Any] = field(default_factory=dict)
    series: dict[str, Any] = field(default_factory=dict)


def per_query_count(spec: RunSpec, plan: ScenarioPlan | None, completed_samples: int,
                    completed_queries: int) -> int:
    """User queries a repetition answered: LoadGen queries, except Offline, where each sample is
    one user's query (the whole batch is one LoadGen query)."""
    if spec.scenario == "offline":
        return completed_samples
    return completed_queries


def every_request_failed(metrics: dict[str, float]) -> bool:
    """A repetition that sent requests (to a model server) and had none answered."""
    return metrics.get("requests_failed", 0.0) > 0 and not metrics.get("requests_ok", 0.0)


def expected_samples(spec: RunSpec) -> int:
    """Samples a repetition's test should answer (the progress bar's total)."""
    expected = spec.queries if spec.scenario != "offline" else (spec.offline_samples
                                                                or spec.queries)
    if spec.scenario == "multi-stream":
        expected *= spec.samples_per_query
    return expected


def run_repetition(spec: RunSpec, workload: Workload, meter: PowerMeter, ctx: ImpactContext,
                   k: int, log_dir: Path, stop: threading.Event, emit: Emit,
                   traffic: Any = None,
                   sampler_host: SamplerProcess | None = None) -> RepetitionResult:
    """Repetition ``k`` (0-based) of ``spec``: measured, counted, with metrics and impact.
    ``traffic``: the mixed-traffic plan and class prompts (scenario ``mixed``);
    ``sampler_host``: the run's sampler process (:func:`measure`)."""
    measured = measure(spec, workload, meter, k, log_dir, stop, emit, traffic, sampler_host)
    failure = _failure(measured.lg_run, k) or (measured.traffic.error
                                               if measured.traffic is not None else None)
    c = counts(spec, measured)
    metrics = repetition_metrics(spec, workload, measured, c)
    if measured.traffic is not None:  # per-class figures and energy (loadgen["traffic"])
        from inferlca.loadgen.traffic_results import class_results, traffic_loadgen

        c.loadgen = traffic_loadgen(measured.traffic,
                                    class_results(measured.traffic, measured.trace, metrics))
    grid_time = None
    if spec.grid_file is not None:  # the grid of the repetition's own hours (--grid-file)
        ctx, grid_time = _grid_in_time(spec, ctx, measured.trace)
    impact = repetition_impact(workload, metrics, ctx, c.queries)
    if measured.traffic is not None:  # the impact split among the classes (energy share)
        from inferlca.loadgen.traffic_results import add_class_impacts

        add_class_impacts(c.loadgen["traffic"]["classes"], impact)
    if impact is not None and grid_time is not None:
        from inferlca.lca.grid_time import score_hours

        impact["grid_time"] = score_hours(grid_time, impact)
    for key, values in workload.series.items():
        c.series[key] = np.asarray(values, dtype=float)
    # an error that ends the test early without a fault of the run (the model server went away:
    # ``ends_incomplete``) leaves the repetition incomplete, its measurements kept
    status = (("incomplete" if getattr(failure, "ends_incomplete", False) else "failed")
              if failure else "incomplete" if measured.interrupted
              else "failed" if every_request_failed(metrics) else "complete")
    return RepetitionResult(k, metrics, impact, c.loadgen, np.asarray(c.latencies_s),
                            measured.trace, status, c.series, failure)


# ---- 1. the measured window -------------------------------------------------------------------
def measure(spec: RunSpec, workload: Workload, meter: PowerMeter, k: int, log_dir: Path,
            stop: threading.Event, emit: Emit, traffic: Any = None,
            sampler_host: SamplerProcess | None = None) -> Measured:
    """Sample power through the idle baseline, load and compute phases (module docstring).

    ``traffic``: the mixed-traffic plan and class prompts (scenario ``mixed``).
    ``sampler_host``: the sampler process the run started once
    (:func:`~inferlca.meters.sampler_process.run_sampler_process`); this repetition is a window
    of its readings. None: a sampler of its own (``--sampler thread``, or a caller without one).
    """
    from inferlca.meters.sampler_process import open_sampler

    host: dict[str, Any] = {"host": sampler_host} if sampler_host is not None else {}
    sampler = open_sampler(meter, period_s=spec.period_ms / 1000.0, kind=spec.sampler, **host)
    lg_run: LoadgenRun | None = None
    inter: InteractiveResult | None = None
    mixed: TrafficResult | None = None
    interrupted = False
    try:
        with sampler:
            if spec.idle_baseline_s > 0:
                sampler.mark("idle")
                emit("phase", name="idle")
                stop.wait(spec.idle_baseline_s)
            sampler.mark("load")
            emit("phase", name="load")
            workload.load()
            expected_latency_s = _latency_probe(spec, workload)
            sampler.mark("compute")
            emit("phase", name="compute")
            if spec.scenario == "mixed":
                mixed = _mixed(spec, workload, k, stop, emit, traffic)
            else:
                lg_run, inter = _compute(spec, workload, k, log_dir, stop, emit,
                                         expected_latency_s)
            sampler.mark("end")
            interrupted = stop.is_set()
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
    finally:
        with contextlib.suppress(Exception):
            workload.unload()
    trace = sampler.trace
    if interrupted:
        trace.meta["incomplete"] = True
    return Measured(trace, interrupted, lg_run, inter, mixed)


def _mixed(spec: RunSpec, workload: Workload, k: int, stop: threading.Event, emit: Emit,
           traffic: Any) -> TrafficResult:
    """The compute phase of a mixed-traffic run: every class at once (:mod:`.traffic`)."""
    from inferlca.loadgen.traffic import run_traffic

    plan, prompts = traffic
    total = sum(c.requests or 0 for c in plan.classes)
    done = [0]

    def on_done(n: int) -> None:
        done[0] += n
        emit("samples", n=n, total=max(total, done[0]))

    seed = plan.seed if plan.seed is not None else spec.seed
    return run_traffic(workload, plan, prompts, seed=seed + k, stop=stop, on_done=on_done)


def _latency_probe(spec: RunSpec, workload: Workload) -> float | None:
    """With ``--mlperf-compliant``, the time of one query, which sets LoadGen's expected
    latency (inside the load phase: it is part of getting ready)."""
    if not spec.mlperf_compliant or spec.scenario in ("interactive", "mixed"):
        return None
    t = time.perf_counter()
    workload.run([0] * (spec.samples_per_query if spec.scenario == "multi-stream" else 1))
    return time.perf_counter() - t


def _compute(spec: RunSpec, workload: Workload, k: int, log_dir: Path, stop: threading.Event,
             emit: Emit, expected_latency_s: float | None
             ) -> tuple[LoadgenRun | None, InteractiveResult | None]:
    """The compute phase: the interactive users or the LoadGen test (whichever ran)."""
    total = expected_samples(spec)

    def on_done(n: int) -> None:
        emit("samples", n=n, total=total)

    if spec.scenario == "interactive":
        from inferlca.loadgen.thinktime import run_interactive

        return None, run_interactive(workload, spec.users, spec.think_time_s, spec.duration_s,
                                     seed=spec.seed + k, stop=stop, on_done=on_done)
    plan = plan_scenario(spec, expected_latency_s)
    return run_loadgen_test(workload, plan, log_dir, batch_size=spec.samples_per_query, stop=stop,
                            on_done=on_done,
                            extra_settings=workload.loadgen_settings(plan.scenario)), None


def _failure(lg_run: LoadgenRun | None, k: int) -> BaseException | None:
    """The first error the workload raised during the LoadGen test, as an InferlcaError."""
    if lg_run is None or not lg_run.errors:
        return None
    err = lg_run.errors[0]
    failure = err if isinstance(err, InferlcaError) else InferlcaError(
        f"the workload failed during the LoadGen test of repetition {k + 1}: "
        f"{type(err).__name__}: {err}")
    failure.__cause__ = err
    return failure


# ---- 2. what the test answered ----------------------------------------------------------------
def counts(spec: RunSpec, measured: Measured) -> Counts:
    """Latencies, samples, user queries, LoadGen facts and series of the test that ran."""
    lg_run, inter = measured.lg_run, measured.interactive
    if lg_run is not None:
        samples = lg_run.samples_done
        queries = per_query_count(spec, lg_run.plan, samples,
                                  samples // max(1, lg_run.plan.samples_per_query))
        loadgen = lg_run.to_dict()
        mlperf_validity(loadgen["validity"], lg_run.plan.mlperf_compliant)
        series = {"tokens_out": np.asarray(lg_run.tokens_out)} if lg_run.tokens_out else {}
        return Counts(lg_run.latencies_s, samples, queries, loadgen, series)
    if inter is not None:
        loadgen = {"interactive": inter.to_dict(),
                   "validity": {"valid": False, "text": "interactive users: our own scheduler, "
                                "not a LoadGen scenario (no MLPerf validity)"}}
        return Counts(inter.latency_s, inter.queries, inter.queries, loadgen,
                      {"wait_s": inter.wait_s, "user": inter.user.astype(float)})
    if measured.traffic is not None:
        ok = [r for r in measured.traffic.records if r.ok]
        return Counts(np.asarray([r.end_s - r.arrival_s for r in ok]), len(ok), len(ok), {},
                      {"traffic_class": np.asarray([r.cls for r in ok], dtype=float)})
    return Counts(np.zeros(0), 0, 0)  # interrupted before the test started


def mlperf_validity(v: dict[str, Any], mlperf_compliant: bool) -> None:
    """``valid`` says whether the repetition is an MLPerf-valid result: LoadGen's verdict
    (kept as ``loadgen_valid``) *and* LoadGen's own minimums kept. A short run with lifted
    minimums can get LoadGen's VALID (Offline often does); it is still not MLPerf-valid."""
    v["loadgen_valid"] = bool(v.get("valid"))
    v["mlperf_minimums_kept"] = bool(mlperf_compliant)
    if v["loadgen_valid"] and not mlperf_compliant:
        v["valid"] = False
        v["text"] = LIFTED_NOT_VALID


# ---- 3. metrics -------------------------------------------------------------------------------
def repetition_metrics(spec: RunSpec, workload: Workload, measured: Measured,
                       c: Counts) -> dict[str, float]:
    """The repetition's metric keys (store contract), the workload's own included."""
    metrics = _rep_metrics(spec, measured.trace, c.queries, c.samples, c.latencies_s)
    metrics.update(workload.repetition_metrics(measured.trace, metrics))  # e.g. tokens, TTFT
    inter = measured.interactive
    if inter is not None and inter.window_s > 0:
        metrics["utilisation"] = inter.busy_s / inter.window_s
    return metrics


def _phase_metrics(trace: PowerTrace) -> dict[str, float]:
    from inferlca.traces import energy as en

    out: dict[str, float] = {}
    parts: dict[str, en.Energy] = {}
    for name in ("idle", "load", "compute"):
        try:
            a, b = en.window_of(trace, name)
        except InferlcaError:
            continue
        parts[name] = en.energy(trace, a, b)
        out[f"{name}_duration_s"] = b - a
        out[f"energy_{name}_j"] = parts[name].energy_j
    if "load" in parts and "compute" in parts:
        a, b = parts["load"].start_s, parts["compute"].end_s
        total = en.energy(trace, a, b)
        out["energy_total_j"] = parts["load"].energy_j + parts["compute"].energy_j
        out["duration_s"] = b - a
        out["coverage"] = total.coverage
        c = parts["compute"]
        stats = en.power_stats(trace, trace.primary, c.start_s, c.end_s) \
            if trace.primary in trace.channels else {}
        if c.duration_s > 0:
            out["mean_power_w"] = c.energy_j / c.duration_s
        if stats.get("peak_power_w") is not None:
            out["peak_power_w"] = float(stats["peak_power_w"])  # type: ignore[arg-type]
    if "idle" in parts and parts["idle"].duration_s > 0:
        out["idle_power_w"] = parts["idle"].energy_j / parts["idle"].duration_s
    return out


def _rep_metrics(spec: RunSpec, trace: PowerTrace, queries: int, samples: int,
                 latencies_s: np.ndarray) -> dict[str, float]:
    m = _phase_metrics(trace)
    m["queries"] = float(queries)
    m["samples"] = float(samples)
    if "compute_duration_s" in m and m["compute_duration_s"] > 0:
        m["throughput_qps"] = samples / m["compute_duration_s"]
    if queries > 0 and "energy_total_j" in m:
        m["energy_per_query_j"] = m["energy_total_j"] / queries
        m["energy_per_query_compute_j"] = m["energy_compute_j"] / queries
    m.update(scope_metrics(trace, queries))
    m.update(logs.latency_stats(latencies_s))
    return {k: float(v) for k, v in m.items() if v is not None and not
            (isinstance(v, float) and math.isnan(v) and k.startswith("latency"))}


def _grid_in_time(spec: RunSpec, ctx: ImpactContext, trace: Any,
                  ) -> tuple[ImpactContext, dict[str, Any]]:
    """The context with the intensity the repetition met in ``spec.grid_file`` (integrated over
    its power trace) and what it met (:func:`inferlca.lca.grid_time.trace_grid`)."""
    import dataclasses

    from inferlca.errors import InvalidValueError
    from inferlca.lca import grid_time
    from inferlca.uncertainty import UValue

    if trace is None:
        raise InvalidValueError("grid_file needs a power trace to place the run on the grid "
                                "file's hours; this meter records none", param="grid_file")
    series = grid_time.read_grid_file(str(spec.grid_file), unit=spec.grid_unit, tz=spec.grid_tz,
                                      signal=spec.grid_signal)
    met = grid_time.trace_grid(series, trace)
    g = UValue.exact(met["gco2e_per_kwh"], "gCO2e/kWh", (met["source"],), kind="input")
    return dataclasses.replace(ctx, grid_gco2e_per_kwh=g), met


# ---- 4. impact --------------------------------------------------------------------------------
def repetition_impact(workload: Workload, metrics: dict[str, float], ctx: ImpactContext,
                      queries: int) -> dict[str, Any] | None:
    """GWP of the repetition and of its compute phase, the workload's own entries added; None
    without queries or without a finite energy."""
    if queries <= 0:
        return None
    impact = _impacts(metrics, ctx, queries)
    if impact is not None:
        impact.update(workload.repetition_impact(impact, metrics))  # e.g. GWP per 1,000 tokens
    return impact


def _impacts(metrics: dict[str, float], ctx: ImpactContext, queries: int) -> dict[str, Any] | None:
    from inferlca.lca.impact import compute_impact

    if "energy_total_j" not in metrics or not math.isfinite(metrics["energy_total_j"]):
        return None
    q = queries if queries > 0 else None
    impact = compute_impact(metrics["energy_total_j"], metrics["duration_s"], ctx, q).to_dict()
    impact["impact_compute"] = compute_impact(metrics["energy_compute_j"],
                                              metrics["compute_duration_s"], ctx, q).to_dict()
    return dict(impact)
