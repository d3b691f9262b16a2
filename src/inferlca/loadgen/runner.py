"""``run_benchmark``: the run protocol of the study, per repetition, with everything stored.

Per repetition (the study's protocol; docs/method.md, "Measuring a run")::

    start the meter's sampler
    [mark "idle"; wait idle_baseline_s]          optional idle baseline
    mark "load"      workload.load(): weights from disk onto the backend, one warm-up batch
    mark "compute"   the LoadGen test (or our interactive scheduler)
    mark "end"       stop the sampler; workload.unload()
    [cool-down]      optional, unmeasured

Energies come from the trace's phases (``inferlca.traces.energy``): ``energy_load_j``,
``energy_compute_j`` and their sum ``energy_total_j`` (the study counted both). Latencies come
from LoadGen's trace file; validity from its detail log. Impacts go through
``inferlca.lca.impact`` for the auto-detected or given device; a device the catalog lacks still
runs (energy and use-phase GWP) and the results say that embodied impact needs ``--device``.

What is done once per process, before the first repetition and outside the measured windows
(documented choice, reported in the notes with its duration): reading samples, generating seeded
synthetic weights (saved to disk, then loaded from disk in every repetition like real weights),
the ONNX export and ``auto``'s calibration. Each repetition's load phase is a real load from disk.

Ctrl-C: the first one stops the run at the next sample (remaining LoadGen samples are answered
without running the model), keeps the trace of the interrupted repetition, stores it, marks the run
``incomplete`` and raises :class:`~inferlca.errors.RunInterrupted`. A second Ctrl-C aborts at once.
"""

from __future__ import annotations

import contextlib
import math
import os
import platform
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from inferlca.errors import InferlcaError, RunInterrupted
from inferlca.loadgen import logs
from inferlca.loadgen.scenarios import ScenarioPlan, plan_scenario, test_settings
from inferlca.loadgen.sut import WorkloadQSL, WorkloadSUT
from inferlca.spec import RunSpec
from inferlca.traces.scope import scope_metrics
from inferlca.workloads.base import Workload
from inferlca.workloads.registry import make_workload

if TYPE_CHECKING:
    from inferlca.store.sqlite import Store

#: progress(event, info): events "prepare", "repetition" (index, total), "phase" (name),
#: "samples" (n just completed, total expected), "cooldown" (seconds), "done".
Progress = Callable[[str, dict[str, Any]], None]

MEASURED_NOTE = "measured with the {meter} meter"
ESTIMATED_NOTE = ("ESTIMATED energy: the {meter} meter models power (no sensor could be read "
                  "here); treat energy and GWP as estimates")


@dataclass
class RepetitionResult:
    """One repetition: flat metrics (store contract keys), impacts, LoadGen facts, arrays."""

    index: int
    metrics: dict[str, float]
    impact: dict[str, Any] | None
    loadgen: dict[str, Any]
    latencies_s: np.ndarray
    trace: Any
    status: str = "complete"
    series: dict[str, Any] = field(default_factory=dict)
    error: BaseException | None = None


@dataclass
class RunOutcome:
    """What ``run_benchmark`` returns.

    Attributes:
        run_id: id in the store (None without a store).
        summary: across repetitions (``inferlca.stats.summarize`` + ``validity``, ``accuracy``).
        repetitions: per-repetition results.
        store_path: the store file, when stored; logs_dir: LoadGen's logs of this run.
    """

    run_id: str | None
    summary: dict[str, Any]
    repetitions: list[RepetitionResult]
    spec: RunSpec
    device_name: str
    device_id: str | None
    meter: str
    measured: bool
    notes: list[str]
    store_path: str | None
    logs_dir: str
    facts: dict[str, Any]
    status: str = "complete"

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "spec": self.spec.to_dict(),
                "device": {"name": self.device_name, "id": self.device_id},
                "meter": self.meter, "measured": self.measured, "notes": self.notes,
                "store": self.store_path, "logs_dir": self.logs_dir, "facts": self.facts,
                "summary": self.summary,
                "repetitions": [{"index": r.index, "status": r.status, "metrics": r.metrics,
                                 "impact": r.impact, "loadgen": r.loadgen}
                                for r in self.repetitions]}


# ---- Ctrl-C ------------------------------------------------------------------------------------
class _StopOnSigint:
    """First SIGINT sets ``event`` (graceful stop); a second one raises KeyboardInterrupt."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._old: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()

    @contextlib.contextmanager
    def installed(self) -> Iterator[threading.Event]:
        main = threading.current_thread() is threading.main_thread()
        if main:
            self._old = signal.signal(signal.SIGINT, self._handler)
        try:
            yield self.event
        finally:
            if main:
                signal.signal(signal.SIGINT, self._old)


# ---- helpers -----------------------------------------------------------------------------------
def environment(spec: RunSpec) -> dict[str, Any]:
    """Host, versions and threads, stored with the run."""
    import importlib.metadata as md

    env: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                           "machine": platform.machine(), "hostname": socket.gethostname(),
                           "cpus": os.cpu_count(), "threads": spec.threads}
    for pkg in ("inferlca", "mlcommons-loadgen", "torch", "transformers", "onnxruntime",
                "numpy", "nvidia-ml-py"):
        try:
            env[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return env


@dataclass
class _Device:
    name: str
    device: Any  # catalog Device or None
    source: str
    #: what detection finds on this machine, when ``--device`` declared something else
    detected_name: str | None = None
    detected_id: str | None = None
    detected_source: str | None = None

    @property
    def declared_elsewhere(self) -> bool:
        """``--device`` names hardware other than what this machine detects (e.g. ``--device t4``
        on a CPU-only machine): the run measured this machine, not the declared device.

        Detection that finds a catalog device settles it by id. When it finds only an unknown CPU
        (a VM's generic model name), declaring a catalog CPU is taken at its word, but declaring
        a GPU or a Jetson module is not: no accelerator was seen.
        """
        if self.source != "--device" or self.detected_name is None:
            return False
        if self.detected_id is not None:
            return getattr(self.device, "id", None) != self.detected_id
        return getattr(self.device, "kind", None) != "cpu" and self.detected_source not in (
            "nvml", "device-tree")


def resolve_device(spec: RunSpec) -> _Device:
    """The catalog device given with ``--device`` (unknown -> UnknownNameError), else detected.

    With ``--device``, detection still runs so the run records the hardware it really ran on.
    """
    from inferlca.hardware.detect import detect_device

    if spec.device:
        from inferlca.hardware.catalog import get_catalog

        dev = get_catalog().get(spec.device)
        try:
            det = detect_device()
        except Exception:  # detection is informative here; the declared device stands
            return _Device(dev.name, dev, "--device")
        kind = "nvml" if det.source == "nvml" else (
            "device-tree" if "device-tree" in str(det.source) else "cpuinfo")
        return _Device(dev.name, dev, "--device", det.name, getattr(det.device, "id", None), kind)
    det = detect_device()
    return _Device(det.name, det.device, det.source)


def impact_context(spec: RunSpec, device: Any) -> Any:
    """The impact context (grid, PUE, lifetime...) for the spec and device."""
    from inferlca.lca.impact import ImpactContext

    return ImpactContext.resolve(
        device, region=spec.region,
        grid=spec.grid_gco2e_per_kwh, pue=spec.pue, lifetime_years=spec.lifetime_years,
        memory_method=spec.memory_method)


def per_query_count(spec: RunSpec, plan: ScenarioPlan | None, completed_samples: int,
                    completed_queries: int) -> int:
    """User queries a repetition answered: LoadGen queries, except Offline, where each sample is
    one user's query (the whole batch is one LoadGen query)."""
    if spec.scenario == "offline":
        return completed_samples
    return completed_queries


# ---- LoadGen test ------------------------------------------------------------------------------
@dataclass
class LoadgenRun:
    """One LoadGen test: its plan, logs, latencies and the SUT's counts."""

    plan: ScenarioPlan
    log_dir: Path
    detail: dict[str, Any]
    validity: logs.Validity
    trace: logs.TraceLatencies
    latencies_s: np.ndarray
    samples_done: int
    samples_skipped: int
    outputs: dict[int, Any]
    tokens_out: list[float]
    errors: list[BaseException]

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan.to_dict(), "validity": self.validity.to_dict(),
                "log_dir": str(self.log_dir), "samples_done": self.samples_done,
                "samples_skipped": self.samples_skipped, "trace_events": self.trace.events,
                "trace_lines_skipped": self.trace.skipped,
                "loadgen_version": self.detail.get("loadgen_version")}


def run_loadgen_test(workload: Workload, plan: ScenarioPlan, log_dir: Path, *,
                     mode: str = "performance", batch_size: int = 1,
                     stop: threading.Event | None = None,
                     on_done: Callable[[int], None] | None = None,
                     extra_settings: dict[str, Any] | None = None) -> LoadgenRun:
    """Run one LoadGen test of ``workload`` under ``plan``; logs go to ``log_dir``."""
    from inferlca.errors import require

    lg = require("mlperf_loadgen", "core", "running LoadGen")
    log_dir.mkdir(parents=True, exist_ok=True)
    settings = test_settings(plan, mode)
    for k, v in (extra_settings or {}).items():
        setattr(settings, k, v)
    log_settings = lg.LogSettings()
    log_settings.enable_trace = True
    log_settings.log_output.outdir = str(log_dir)
    log_settings.log_output.copy_summary_to_stdout = False
    make_sut = getattr(workload, "make_sut", None)  # a workload's own SUT (llm-generate batching)
    sut = (make_sut(plan.scenario, keep_outputs=(mode == "accuracy"), stop=stop, on_done=on_done)
           if callable(make_sut) else
           WorkloadSUT(workload, plan.scenario, batch_size=batch_size,
                       keep_outputs=(mode == "accuracy"), stop=stop, on_done=on_done))
    qsl = WorkloadQSL(workload, getattr(workload, "performance_sample_count", None))
    try:
        lg.StartTestWithLogSettings(sut.handle, qsl.handle, settings, log_settings)
    finally:
        sut.close()
        qsl.close()
    detail = logs.read_detail(log_dir / logs.DETAIL)
    trace = logs.read_trace_latencies(log_dir / logs.TRACE)
    lat = trace.sample_latency_s if plan.scenario == "offline" else trace.query_latency_s
    if sut.samples_skipped:
        # only the samples that really ran before Ctrl-C (issued in order in these scenarios)
        done_q = sut.samples_done // max(1, plan.samples_per_query)
        lat = (trace.sample_latency_s[: sut.samples_done] if plan.scenario == "offline"
               else trace.query_latency_s[:done_q])
    return LoadgenRun(plan, log_dir, detail, logs.validity(detail), trace, np.asarray(lat),
                      sut.samples_done, sut.samples_skipped, sut.outputs, sut.tokens_out,
                      sut.errors)


# ---- one repetition ----------------------------------------------------------------------------
def _phase_metrics(trace: Any) -> dict[str, float]:
    from inferlca.traces import energy as en

    out: dict[str, float] = {}
    parts: dict[str, Any] = {}
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
        if "compute" in parts:
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


def _rep_metrics(spec: RunSpec, trace: Any, queries: int, samples: int,
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


def _impacts(metrics: dict[str, float], ctx: Any, queries: int) -> dict[str, Any] | None:
    from inferlca.lca.impact import compute_impact

    if "energy_total_j" not in metrics or not math.isfinite(metrics["energy_total_j"]):
        return None
    q = queries if queries > 0 else None
    impact = compute_impact(metrics["energy_total_j"], metrics["duration_s"], ctx, q).to_dict()
    impact["impact_compute"] = compute_impact(metrics["energy_compute_j"],
                                              metrics["compute_duration_s"], ctx, q).to_dict()
    return dict(impact)


class _Run:
    """The state of one ``run_benchmark`` call (kept out of module globals)."""

    def __init__(self, spec: RunSpec, store: Store | None, progress: Progress | None,
                 logs_root: Path | None) -> None:
        self.spec = spec
        self.store = store
        self.progress = progress or (lambda event, info: None)
        self.logs_root = logs_root
        self.run_id: str | None = None
        self.reps: list[RepetitionResult] = []
        self.notes: list[str] = []

    def emit(self, event: str, **info: Any) -> None:
        self.progress(event, info)


def _default_logs_root(store: Store | None) -> Path:
    if store is not None and getattr(store, "path", None):
        return Path(str(store.path)).resolve().parent / "inferlca-logs"
    return Path(tempfile.gettempdir()) / "inferlca-logs"


def run_benchmark(spec: RunSpec, store: Store | None = None, progress: Progress | None = None,
                  *, logs_dir: str | os.PathLike[str] | None = None,
                  meter: Any = None) -> RunOutcome:
    """Run ``spec`` (every repetition), store everything, return the outcome.

    Args:
        spec: what to run (validated here).
        store: the results store (None: nothing stored, e.g. benchmarks).
        progress: ``progress(event, info)`` callback (see :data:`Progress`).
        logs_dir: where LoadGen's logs go (default: ``inferlca-logs/`` next to the store).
        meter: an open :class:`~inferlca.meters.base.PowerMeter` to use instead of
            ``open_meter(spec.meter)`` (tests inject replay or fake-vendor meters here).

    Raises:
        UsageError: bad input (unknown workload, device, region; weights missing...).
        MeterUnavailableError: the requested meter cannot run here.
        RunInterrupted: Ctrl-C; the run is stored as ``incomplete`` with its trace.
    """
    spec.validate()
    workload = make_workload(spec)  # bad options fail here, before anything is measured
    dev = resolve_device(spec)
    ctx = impact_context(spec, dev.device)
    own_meter = meter is None
    if meter is None:
        from inferlca.meters.registry import open_meter

        meter = open_meter(spec.meter, device=dev.device, gpus=spec.gpus)
    state = _Run(spec, store, progress, Path(logs_dir) if logs_dir else None)
    try:
        return _run(state, workload, dev, ctx, meter)
    finally:
        if own_meter:
            with contextlib.suppress(Exception):
                meter.close()


def _run(state: _Run, workload: Workload, dev: _Device, ctx: Any, meter: Any) -> RunOutcome:
    spec, store = state.spec, state.store
    measured = not bool(getattr(meter, "estimated", False))
    notes = state.notes
    notes.append((MEASURED_NOTE if measured else ESTIMATED_NOTE).format(meter=meter.name))
    if dev.device is None:
        notes.append(f"device {dev.name!r} ({dev.source}) is not in the catalog: energy and "
                     "use-phase GWP are reported, embodied impact needs --device NAME "
                     "(see 'inferlca hardware list')")
    if dev.declared_elsewhere:
        notes.append(f"--device {spec.device!r} declares {dev.name}, but this machine detects "
                     f"{dev.detected_name!r}: energy and latency are this machine's, the impact "
                     "uses the declared device's footprint and PUE; calibration skips this run")
    if spec.scenario != "interactive" and not spec.mlperf_compliant:
        notes.append("short run: exact query counts with LoadGen's minimum duration and query "
                     "count lifted (use --mlperf-compliant for a MLPerf-valid run)")
    state.emit("prepare", workload=spec.workload)
    t0 = time.perf_counter()
    workload.prepare()
    prep_s = time.perf_counter() - t0
    notes.extend(n for n in workload.notes if n not in notes)
    details = getattr(workload, "prepare_s", {}) or {}
    notes.append(f"one-off preparation before the first repetition, not measured: {prep_s:.1f} s"
                 + (" (" + ", ".join(f"{k.removesuffix('_s').replace('_', ' ')} {v:.1f} s"
                                     for k, v in details.items()) + ")" if details else ""))
    if store is not None:
        state.run_id = store.create_run(
            spec.to_dict(), kind="measured", device_id=getattr(dev.device, "id", None),
            device_name=dev.name, meter=meter.name, estimated=not measured,
            environment={**environment(spec), "hardware_detected": {
                "name": dev.detected_name, "id": dev.detected_id,
                "declared_elsewhere": dev.declared_elsewhere}} if dev.detected_name
            else environment(spec), label=spec.label)
    logs_root = state.logs_root or _default_logs_root(store)
    run_logs = logs_root / (state.run_id or time.strftime("run-%Y%m%dT%H%M%S"))
    sig = _StopOnSigint()
    status = "complete"
    accuracy: dict[str, Any] | None = None
    try:
        with sig.installed() as stop:
            for k in range(spec.repetitions):
                if k > 0 and spec.cooldown_s > 0:
                    state.emit("cooldown", seconds=spec.cooldown_s)
                    if stop.wait(spec.cooldown_s):
                        break
                state.emit("repetition", index=k, total=spec.repetitions)
                rep = _repetition(state, workload, meter, ctx, k, run_logs / f"rep{k}", stop)
                state.reps.append(rep)
                if store is not None and state.run_id is not None:
                    store.add_repetition(state.run_id, k, metrics=rep.metrics, impact=rep.impact,
                                         trace=rep.trace, latencies_s=rep.latencies_s,
                                         loadgen=rep.loadgen, extra_series=rep.series or None,
                                         status=rep.status)
                if rep.error is not None:
                    raise rep.error  # stored first: what was measured is kept
                if stop.is_set():
                    break
            if spec.accuracy and not stop.is_set():
                accuracy = _accuracy_pass(state, workload, run_logs / "accuracy", stop)
            if stop.is_set():
                status = "incomplete"
    except KeyboardInterrupt:
        status = "incomplete"
    except BaseException as exc:
        if store is not None and state.run_id is not None:
            with contextlib.suppress(Exception):
                store.finish_run(state.run_id, "failed", _summary(state, measured, None),
                                 error=f"{type(exc).__name__}: {exc}")
        raise
    summary = _summary(state, measured, accuracy)
    summary.update(_scope_facts(meter))
    if store is not None and state.run_id is not None:
        store.finish_run(state.run_id, status, summary,
                         error="interrupted by the user (Ctrl-C)" if status != "complete" else None)
    outcome = RunOutcome(state.run_id, summary, state.reps, spec, dev.name,
                         getattr(dev.device, "id", None), meter.name, measured, summary["notes"],
                         str(Path(store.path).resolve()) if store is not None and store.path
                         else None, str(run_logs), workload.facts().to_dict(), status)
    state.emit("done", outcome=outcome)
    if status != "complete":
        exc = RunInterrupted(
            f"interrupted: {len(state.reps)} of {spec.repetitions} repetition(s) kept"
            + (f", run {state.run_id} stored as incomplete" if state.run_id else ""))
        exc.outcome = outcome  # type: ignore[attr-defined]  # what was measured, for the CLI
        raise exc
    return outcome


def _scope_facts(meter: Any) -> dict[str, Any]:
    """The run's measurement scope and the devices measured (issue 17), from the meter."""
    facts = meter.scope_meta() if hasattr(meter, "scope_meta") else {}
    return {k: facts[k] for k in ("measurement_scope", "devices_measured") if k in facts}


def _summary(state: _Run, measured: bool, accuracy: dict[str, Any] | None) -> dict[str, Any]:
    from inferlca.stats import summarize

    reps = state.reps
    notes = list(state.notes)
    invalid = [r.loadgen.get("validity", {}).get("text") for r in reps
               if r.loadgen.get("validity") and not r.loadgen["validity"].get("valid")]
    if invalid:
        notes.append(invalid[0] if invalid[0] == LIFTED_NOT_VALID
                     else f"not MLPerf-valid: {invalid[0]}")
    summary = summarize([r.metrics for r in reps], [r.impact for r in reps], measured=measured,
                        notes=notes)
    summary["validity"] = [r.loadgen.get("validity") for r in reps]
    if accuracy is not None:
        summary["accuracy"] = accuracy
    return summary


def _repetition(state: _Run, workload: Workload, meter: Any, ctx: Any, k: int, log_dir: Path,
                stop: threading.Event) -> RepetitionResult:
    from inferlca.meters.sampler import Sampler

    spec = state.spec
    lg_run: LoadgenRun | None = None
    inter: Any = None
    plan: ScenarioPlan | None = None
    expected = spec.queries if spec.scenario != "offline" else (spec.offline_samples
                                                                 or spec.queries)
    if spec.scenario == "multi-stream":
        expected *= spec.samples_per_query

    def on_done(n: int) -> None:
        state.emit("samples", n=n, total=expected)

    sampler = Sampler(meter, period_s=spec.period_ms / 1000.0)
    interrupted = False
    try:
        with sampler:
            if spec.idle_baseline_s > 0:
                sampler.mark("idle")
                state.emit("phase", name="idle")
                stop.wait(spec.idle_baseline_s)
            sampler.mark("load")
            state.emit("phase", name="load")
            workload.load()
            expected_latency_s = None
            if spec.mlperf_compliant and spec.scenario != "interactive":
                t = time.perf_counter()
                workload.run([0] * (spec.samples_per_query
                                    if spec.scenario == "multi-stream" else 1))
                expected_latency_s = time.perf_counter() - t
            sampler.mark("compute")
            state.emit("phase", name="compute")
            if spec.scenario == "interactive":
                from inferlca.loadgen.thinktime import run_interactive

                inter = run_interactive(workload, spec.users, spec.think_time_s, spec.duration_s,
                                        seed=spec.seed + k, stop=stop, on_done=on_done)
            else:
                plan = plan_scenario(spec, expected_latency_s)
                hook = getattr(workload, "loadgen_settings", None)
                lg_run = run_loadgen_test(
                    workload, plan, log_dir, batch_size=spec.samples_per_query, stop=stop,
                    on_done=on_done, extra_settings=hook(plan) if callable(hook) else None)
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
    failure: BaseException | None = None
    if lg_run is not None and lg_run.errors:
        err = lg_run.errors[0]
        failure = err if isinstance(err, InferlcaError) else InferlcaError(
            f"the workload failed during the LoadGen test of repetition {k + 1}: "
            f"{type(err).__name__}: {err}")
        failure.__cause__ = err
    loadgen: dict[str, Any] = {}
    series: dict[str, Any] = {}
    if lg_run is not None:
        latencies = lg_run.latencies_s
        samples = lg_run.samples_done
        queries = per_query_count(spec, plan, samples, samples // max(1, lg_run.plan.samples_per_query))
        loadgen = lg_run.to_dict()
        _mlperf_validity(loadgen["validity"], lg_run.plan.mlperf_compliant)
        if lg_run.tokens_out:
            series["tokens_out"] = np.asarray(lg_run.tokens_out)
    elif inter is not None:
        latencies = inter.latency_s
        samples = queries = inter.queries
        loadgen = {"interactive": inter.to_dict(),
                   "validity": {"valid": False, "text": "interactive users: our own scheduler, "
                                "not a LoadGen scenario (no MLPerf validity)"}}
        series = {"wait_s": inter.wait_s, "user": inter.user.astype(float)}
    else:  # interrupted before the test started
        latencies, samples, queries = np.zeros(0), 0, 0
    metrics = _rep_metrics(spec, trace, queries, samples, latencies)
    extra_metrics = getattr(workload, "repetition_metrics", None)  # e.g. tokens, TTFT, TPOT
    if callable(extra_metrics):
        metrics.update(extra_metrics(trace, metrics))
    if inter is not None and inter.window_s > 0:
        metrics["utilisation"] = inter.busy_s / inter.window_s
    for key, values in (getattr(workload, "series", None) or {}).items():
        series[key] = np.asarray(values, dtype=float)
    impact = _impacts(metrics, ctx, queries) if queries > 0 else None
    extra_impact = getattr(workload, "repetition_impact", None)  # e.g. GWP per 1,000 tokens
    if impact is not None and callable(extra_impact):
        impact.update(extra_impact(impact, metrics))
    status = "failed" if failure else "incomplete" if interrupted else "complete"
    return RepetitionResult(k, metrics, impact, loadgen, np.asarray(latencies), trace, status,
                            series, failure)


#: Appended when LoadGen judged a run VALID under lifted minimums (e.g. a short Offline run).
LIFTED_NOT_VALID = ("LoadGen: VALID under the settings used, but not an MLPerf-valid result: "
                    "LoadGen's minimum duration and query count were lifted for an exact query "
                    "count (--mlperf-compliant keeps them)")


def _mlperf_validity(v: dict[str, Any], mlperf_compliant: bool) -> None:
    """``valid`` says whether the repetition is an MLPerf-valid result: LoadGen's verdict
    (kept as ``loadgen_valid``) *and* LoadGen's own minimums kept. A short run with lifted
    minimums can get LoadGen's VALID (Offline often does); it is still not MLPerf-valid."""
    v["loadgen_valid"] = bool(v.get("valid"))
    v["mlperf_minimums_kept"] = bool(mlperf_compliant)
    if v["loadgen_valid"] and not mlperf_compliant:
        v["valid"] = False
        v["text"] = LIFTED_NOT_VALID


def _accuracy_pass(state: _Run, workload: Workload, log_dir: Path,
                   stop: threading.Event) -> dict[str, Any] | None:
    """LoadGen AccuracyOnly: every sample once, outputs scored (SQuAD EM/F1 for BERT)."""
    spec = state.spec
    state.emit("phase", name="accuracy")
    workload.load()
    try:
        plan = plan_scenario(RunSpec(**{**spec.to_dict(), "scenario": "offline",
                                        "offline_samples": workload.sample_count}))
        lg_run = run_loadgen_test(workload, plan, log_dir, mode="accuracy",
                                  batch_size=spec.samples_per_query, stop=stop,
                                  on_done=lambda n: state.emit("samples", n=n,
                                                               total=workload.sample_count))
    finally:
        workload.unload()
    if stop.is_set() or lg_run.samples_skipped:
        return None  # interrupted: scores over part of the set would mislead
    scores = workload.check(lg_run.outputs)
    if scores is None:
        return None
    return {**scores, "samples": lg_run.samples_done, "log_dir": str(log_dir)}
