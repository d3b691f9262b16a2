"""``run_benchmark``: the run protocol of the study, per repetition, with everything stored.

Once per run, before the first repetition's workload: the sampler process (``--sampler
process``; :func:`inferlca.meters.sampler_process.run_sampler_process`), kept to the end of the
run; each repetition is a window of its readings (a sample of its own at each edge, phase marks on
the same ``CLOCK_MONOTONIC``). A sampler process that died in one repetition (flagged gap there)
is started again for the next, or that repetition samples from a thread (flagged).

Per repetition (the study's protocol; docs/method.md, "Measuring a run")::

    open the window on the sampler (a thread of its own with ``--sampler thread``)
    [mark "idle"; wait idle_baseline_s]          optional idle baseline
    mark "load"      workload.load(): weights from disk onto the backend, one warm-up batch
    mark "compute"   the LoadGen test (or our interactive scheduler)
    mark "end"       close the window; workload.unload()
    [cool-down]      optional, unmeasured

One repetition is :func:`inferlca.loadgen.repetition.run_repetition`; one LoadGen test is
:func:`inferlca.loadgen.harness.run_loadgen_test` (the SUT chosen from what the workload declares).
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
import os
import platform
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from inferlca.errors import RequestsFailedError, RunInterrupted
from inferlca.hardware.resolve import ResolvedDevice
from inferlca.hardware.resolve import resolve_device as resolve_hardware
from inferlca.loadgen.harness import LoadgenRun, run_loadgen_test
from inferlca.loadgen.repetition import (
    LIFTED_NOT_VALID,
    RepetitionResult,
    per_query_count,
    run_repetition,
)
from inferlca.loadgen.scenarios import plan_scenario
from inferlca.spec import RunSpec
from inferlca.store.records import COUNTED_AT_END
from inferlca.traces.trace import PowerTrace
from inferlca.workloads.base import Workload
from inferlca.workloads.registry import make_workload

if TYPE_CHECKING:
    from inferlca.hardware.catalog import Device
    from inferlca.lca.impact import ImpactContext
    from inferlca.meters.base import PowerMeter

__all__ = ["LIFTED_NOT_VALID", "LoadgenRun", "Progress", "RepetitionResult", "RunOutcome",
           "RunStore", "environment", "impact_context", "per_query_count", "resolve_device",
           "run_benchmark", "run_loadgen_test"]

#: progress(event, info): events "prepare", "repetition" (index, total), "phase" (name),
#: "samples" (n just completed, total expected), "cooldown" (seconds), "done".
Progress = Callable[[str, dict[str, Any]], None]

MEASURED_NOTE = "measured with the {meter} meter"
ESTIMATED_NOTE = ("ESTIMATED energy: the {meter} meter models power (no sensor could be read "
                  "here); treat energy and GWP as estimates")


class RunStore(Protocol):
    """What the runner writes to a results store (:class:`inferlca.store.sqlite.Store`)."""

    @property
    def path(self) -> Path | None: ...

    def create_run(self, spec: Mapping[str, Any], *, kind: str, device_id: str | None,
                   device_name: str | None, meter: str | None, estimated: bool,
                   environment: Mapping[str, Any] | None, label: str | None) -> str: ...

    def add_repetition(self, run_id: str, index: int, *, metrics: Mapping[str, Any],
                       impact: Mapping[str, Any] | None, trace: PowerTrace | None,
                       latencies_s: np.ndarray | None, loadgen: Mapping[str, Any] | None,
                       extra_series: Mapping[str, Any] | None, status: str | None) -> None: ...

    def finish_run(self, run_id: str, status: str, summary: Mapping[str, Any] | None,
                   error: str | None = None, queries: int | None = None) -> None: ...


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


def resolve_device(spec: RunSpec, meter: PowerMeter | None = None) -> ResolvedDevice:
    """The device of the run (:func:`inferlca.hardware.resolve.resolve_device`): the declared
    catalog device (unknown -> UnknownNameError), cross-checked against this machine so the run
    records the hardware it really ran on; else the detected one. With a remote meter (an agent
    on the machine that serves) that machine is measured: the declared device stands unchecked,
    else the device the agent's meter names, never this machine's."""
    if meter is not None and hasattr(meter, "agent_facts"):
        return resolve_hardware(spec.device or None, meter.meta().get("device_name"),
                                detect_local=False)
    return resolve_hardware(spec.device or None, cross_check=True)


def impact_context(spec: RunSpec, device: Device | None) -> ImpactContext:
    """The impact context (grid, PUE, lifetime...) for the spec and device."""
    from inferlca.lca.impact import ImpactContext

    return ImpactContext.resolve(
        device, region=spec.region,
        grid=spec.grid_gco2e_per_kwh, pue=spec.pue, lifetime_years=spec.lifetime_years,
        memory_method=spec.memory_method, scope=spec.scope, grid_year=spec.grid_year)


class _Run:
    """The state of one ``run_benchmark`` call (kept out of module globals)."""

    def __init__(self, spec: RunSpec, store: RunStore | None, progress: Progress | None,
                 logs_root: Path | None) -> None:
        self.spec = spec
        self.store = store
        self.progress = progress or (lambda event, info: None)
        self.logs_root = logs_root
        self.run_id: str | None = None
        self.reps: list[RepetitionResult] = []
        self.notes: list[str] = []
        self.traffic: Any = None  # (plan, class prompts) of a mixed-traffic run
        self.failed: str | None = None  # why the run failed (every request of a repetition)

    def emit(self, event: str, **info: Any) -> None:
        self.progress(event, info)


def _default_logs_root(store: RunStore | None) -> Path:
    if store is not None and store.path:
        return Path(str(store.path)).resolve().parent / "inferlca-logs"
    return Path(tempfile.gettempdir()) / "inferlca-logs"


def _run(state: _Run, workload: Workload, dev: ResolvedDevice, ctx: ImpactContext,
         meter: PowerMeter) -> RunOutcome:
    """Prepare, create the stored run, run every repetition (and the accuracy pass), close it."""
    spec, store = state.spec, state.store
    measured = not meter.estimated
    _opening_notes(state, dev, meter.name, measured, ctx.notes)
    if hasattr(meter, "agent_facts"):  # a remote meter
        a = meter.agent_facts()
        state.notes.append(f"power measured on {a['host']} by its meter agent ({a['url']}, meter "
                           f"{a['meter']}), the readings mapped onto this machine's clock")
    _prepare(state, workload)
    if spec.scenario == "mixed":  # each class's prompts, once, outside the measured windows
        from inferlca.loadgen.traffic import class_prompts, prompts_note
        from inferlca.loadgen.traffic_file import traffic_plan

        t0 = time.perf_counter()
        plan = traffic_plan(spec.extra["traffic"])
        seed = plan.seed if plan.seed is not None else spec.seed
        made = class_prompts(workload, plan, seed, spec.max_new_tokens, spec.prompts)
        state.traffic = (plan, made)
        state.notes.append(
            f"mixed traffic: {len(plan.classes)} classes at once ("
            + ", ".join(f"{c.name}: {c.kind}" for c in plan.classes)
            + f"), our own scheduler on one clock; class prompts made in "
            f"{time.perf_counter() - t0:.1f} s, not measured; energy attributed to classes by "
            "token share per power-trace step (docs/method.md)")
        state.notes.append(prompts_note(plan, made, seed, spec.prompts))
        state.notes.extend(n for n in workload.notes if n not in state.notes)
    if store is not None:
        state.run_id = _create_run(store, spec, dev, meter.name, measured)
    logs_root = state.logs_root or _default_logs_root(store)
    run_logs = logs_root / (state.run_id or time.strftime("run-%Y%m%dT%H%M%S"))
    status, accuracy = _repetitions(state, workload, meter, ctx, run_logs, measured)
    summary = _summary(state, measured, accuracy)
    summary.update(_scope_facts(meter))
    if store is not None and state.run_id is not None:
        error = (None if status == "complete" else state.failed if status == "failed"
                 else "interrupted by the user (Ctrl-C)")
        store.finish_run(state.run_id, status, summary, error=error,
                         queries=_requests_sent(state))
    outcome = RunOutcome(state.run_id, summary, state.reps, spec, dev.name,
                         getattr(dev.device, "id", None), meter.name, measured, summary["notes"],
                         str(Path(store.path).resolve()) if store is not None and store.path
                         else None, str(run_logs), workload.facts().to_dict(), status)
    state.emit("done", outcome=outcome)
    if status == "failed":
        failed = RequestsFailedError(
            f"{state.failed}" + (f"; run {state.run_id} stored as failed" if state.run_id
                                 else ""))
        failed.outcome = outcome  # type: ignore[attr-defined]  # what was measured, for the CLI
        raise failed
    if status != "complete":
        interrupted = RunInterrupted(
            f"interrupted: {len(state.reps)} of {spec.repetitions} repetition(s) kept"
            + (f", run {state.run_id} stored as incomplete" if state.run_id else ""))
        interrupted.outcome = outcome  # type: ignore[attr-defined]  # what was measured, for the CLI
        raise interrupted
    return outcome


def _opening_notes(state: _Run, dev: ResolvedDevice, meter_name: str, measured: bool,
                   ctx_notes: tuple[str, ...] | list[str] = ()) -> None:
    """The notes every run starts with: measured or estimated, the device, a short run."""
    spec, notes = state.spec, state.notes
    notes.append((MEASURED_NOTE if measured else ESTIMATED_NOTE).format(meter=meter_name))
    if dev.device is None:
        notes.append(f"device {dev.name!r} ({dev.source}) is not in the catalog: energy and "
                     "use-phase GWP are reported, embodied impact needs --device NAME "
                     "(see 'inferlca hardware list')")
    # an archetype footprint or an assumed PUE is flagged in the run's notes (issue 14)
    # (and the share of the package a VM is charged)
    notes.extend(n for n in ctx_notes if ("ARCHETYPE" in n or "ASSUMED" in n
                                          or "of the package" in n) and n not in notes)
    if dev.declared_elsewhere:
        notes.append(f"--device {spec.device!r} declares {dev.name}, but this machine detects "
                     f"{dev.detected_name!r}: energy and latency are this machine's, the impact "
                     "uses the declared device's footprint and PUE; calibration skips this run")
    if spec.scenario not in ("interactive", "mixed") and not spec.mlperf_compliant:
        notes.append("short run: exact query counts with LoadGen's minimum duration and query "
                     "count lifted (use --mlperf-compliant for a MLPerf-valid run)")


def _prepare(state: _Run, workload: Workload) -> None:
    """The workload's one-off preparation (not measured), its duration in the notes."""
    notes = state.notes
    state.emit("prepare", workload=state.spec.workload)
    t0 = time.perf_counter()
    workload.prepare()
    prep_s = time.perf_counter() - t0
    notes.extend(n for n in workload.notes if n not in notes)
    details = workload.prepare_s
    notes.append(f"one-off preparation before the first repetition, not measured: {prep_s:.1f} s"
                 + (" (" + ", ".join(f"{k.removesuffix('_s').replace('_', ' ')} {v:.1f} s"
                                     for k, v in details.items()) + ")" if details else ""))


def _create_run(store: RunStore, spec: RunSpec, dev: ResolvedDevice, meter_name: str,
                measured: bool) -> str:
    """Record the run (status ``running``) with its environment; returns its id."""
    env = environment(spec)
    if dev.detected_name:
        env = {**env, "hardware_detected": {"name": dev.detected_name, "id": dev.detected_id,
                                            "declared_elsewhere": dev.declared_elsewhere}}
    share = getattr(dev.device, "share", None)
    if share is not None:  # the part of the package charged (a VM's hardware threads)
        env = {**env, "device_share": share}
    return store.create_run(
        spec.to_dict(), kind="measured", device_id=getattr(dev.device, "id", None),
        device_name=dev.name, meter=meter_name, estimated=not measured, environment=env,
        label=spec.label)


def _repetitions(state: _Run, workload: Workload, meter: PowerMeter, ctx: ImpactContext,
                 run_logs: Path, measured: bool) -> tuple[str, dict[str, Any] | None]:
    """Every repetition, each stored as soon as it ends, then the accuracy pass; returns the
    run's status and accuracy. A failure marks the stored run ``failed`` and is raised."""
    spec, store = state.spec, state.store
    status = "complete"
    accuracy: dict[str, Any] | None = None
    from inferlca.meters.sampler_process import run_sampler_process

    # one sampler process for the whole run (started with the first repetition, before the
    # workload); each repetition is a window of its readings
    host = run_sampler_process(meter, spec.period_ms / 1000.0, spec.sampler)
    try:
        with _StopOnSigint().installed() as stop:
            for k in range(spec.repetitions):
                if k > 0 and spec.cooldown_s > 0:
                    state.emit("cooldown", seconds=spec.cooldown_s)
                    if stop.wait(spec.cooldown_s):
                        break
                state.emit("repetition", index=k, total=spec.repetitions)
                rep = run_repetition(spec, workload, meter, ctx, k, run_logs / f"rep{k}", stop,
                                     state.emit, state.traffic, host)
                _keep(state, rep, run_logs / f"rep{k}")
                if rep.error is not None:
                    raise rep.error  # stored first: what was measured is kept
                if stop.is_set():
                    break
            if spec.accuracy and not stop.is_set():
                accuracy = _accuracy_pass(state, workload, run_logs / "accuracy", stop)
            if stop.is_set():
                status = "incomplete"
            dead = [r for r in state.reps if r.status == "failed"]  # every request failed
            if dead and status == "complete":
                state.failed, status = all_failed_text(dead, spec.repetitions), "failed"
    except KeyboardInterrupt:
        status = "incomplete"
    except BaseException as exc:
        if store is not None and state.run_id is not None:
            with contextlib.suppress(Exception):
                store.finish_run(state.run_id, "incomplete" if getattr(
                    exc, "ends_incomplete", False) else "failed", _summary(state, measured, None),
                                 error=f"{type(exc).__name__}: {exc}", queries=_requests_sent(state))
            if getattr(exc, "ends_incomplete", False) and exc.args:  # say where it went
                exc.args = (f"{exc.args[0]}; run {state.run_id} stored as incomplete",
                            *exc.args[1:])
        raise
    finally:
        if host is not None:
            host.close()
    return status, accuracy


def _keep(state: _Run, rep: RepetitionResult, folder: Path) -> None:
    """A finished repetition: in the outcome and in the store (which keeps it in
    ``<store>.unsaved/`` when SQLite refuses the write)."""
    state.reps.append(rep)
    if state.store is not None and state.run_id is not None:
        state.store.add_repetition(state.run_id, rep.index, metrics=rep.metrics,
                                   impact=rep.impact, trace=rep.trace,
                                   latencies_s=rep.latencies_s, loadgen=rep.loadgen,
                                   extra_series=rep.series or None, status=rep.status)


def run_benchmark(spec: RunSpec, store: RunStore | None = None, progress: Progress | None = None,
                  *, logs_dir: str | os.PathLike[str] | None = None,
                  meter: PowerMeter | None = None) -> RunOutcome:
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
    if spec.scenario == "mixed":  # a bad traffic mapping fails here too
        from inferlca.loadgen.traffic_file import traffic_plan

        traffic_plan(spec.extra.get("traffic"))
        if not getattr(workload, "streams_tokens", False):
            plain: Any = workload  # BaseWorkload.traffic_prompts refuses, saying why
            plain.traffic_prompts(1, None, None, spec.seed, 1)
    from inferlca.meters.registry import open_meter, remote_url

    own_meter = meter is None
    if meter is None and remote_url(spec.meter) is not None:
        meter = open_meter(spec.meter)  # the agent's machine is measured: its device, not ours
    try:
        dev = resolve_device(spec, meter)
        ctx = impact_context(spec, dev.device)
    except BaseException:
        if own_meter and meter is not None:
            meter.close()
        raise
    if meter is None:
        meter = open_meter(spec.meter, device=dev.device, gpus=spec.gpus)
    state = _Run(spec, store, progress, Path(logs_dir) if logs_dir else None)
    try:
        return _run(state, workload, dev, ctx, meter)
    finally:
        if own_meter:
            with contextlib.suppress(Exception):
                meter.close()


def _scope_facts(meter: PowerMeter) -> dict[str, Any]:
    """The run's measurement scope and the devices measured (issue 17), from the meter."""
    facts = meter.scope_meta() if hasattr(meter, "scope_meta") else {}
    out: dict[str, Any] = {k: facts[k] for k in ("measurement_scope", "devices_measured")
                           if k in facts}
    if hasattr(meter, "run_facts"):  # a remote meter: the agent and the clock offsets
        out["remote_agent"] = meter.run_facts()
    return out


def _summary(state: _Run, measured: bool, accuracy: dict[str, Any] | None) -> dict[str, Any]:
    from inferlca.stats import summarize
    from inferlca.traces.diagnostics import sampling_notes

    reps = state.reps
    notes = list(state.notes) + sampling_notes([r.trace for r in reps])  # slow/dead sampler...
    invalid = [r.loadgen.get("validity", {}).get("text") for r in reps
               if r.loadgen.get("validity") and not r.loadgen["validity"].get("valid")]
    if invalid:
        notes.append(invalid[0] if invalid[0] == LIFTED_NOT_VALID
                     else f"not MLPerf-valid: {invalid[0]}")
    notes += _truncated_note(reps)
    summary = summarize([r.metrics for r in reps], [r.impact for r in reps], measured=measured,
                        notes=notes)
    summary["validity"] = [r.loadgen.get("validity") for r in reps]
    if any("traffic" in r.loadgen for r in reps):  # mixed traffic: per-class summary
        from inferlca.loadgen.traffic_results import summarize_classes

        summary["classes"] = summarize_classes([r.loadgen for r in reps])
    if accuracy is not None:
        summary["accuracy"] = accuracy
    return summary


def all_failed_text(dead: list[RepetitionResult], planned: int) -> str:
    """The run's error when every request of the repetitions ``dead`` failed: how many, by
    kind."""
    n, kinds = 0, dict[str, int]()
    for r in dead:
        n += int(r.metrics.get("requests_failed", 0))
        for k, v in r.metrics.items():
            if k.startswith("errors_") and v:
                kinds[k.removeprefix("errors_")] = kinds.get(k.removeprefix("errors_"), 0) + int(v)
    which = ", ".join(str(r.index + 1) for r in dead)
    return (f"every request of repetition{'s' if len(dead) > 1 else ''} {which} (of {planned}) "
            f"failed ({n} request{'s' if n != 1 else ''}"
            + (": " + ", ".join(f"{k} {v}" for k, v in kinds.items()) if kinds else "")
            + "): nothing was answered there, so no latency, token or per-request figure "
            "describes the server")


def _requests_sent(state: _Run) -> int | None:
    """The query count of a run whose users or traffic decide it: the requests a mixed-traffic
    repetition sent (answered or failed), the queries an interactive one's users sent; the mean
    over its repetitions, rounded, stored as the run's ``queries`` in place of the unused
    ``-n``. None for other runs (their count is the spec's)."""
    if state.spec.scenario not in COUNTED_AT_END:
        return None
    key, field = (("traffic", "requests") if state.spec.scenario == "mixed"
                  else ("interactive", "queries"))
    sent = [(r.loadgen.get(key) or {}).get(field) for r in state.reps]
    counts = [int(n) for n in sent if isinstance(n, (int, float))]
    return round(sum(counts) / len(counts)) if counts else None


def _truncated_note(reps: list[RepetitionResult]) -> list[str]:
    """A note when a model server cut answers short (streams ended without a finish_reason)."""
    cut = sum(int(r.metrics.get("requests_truncated", 0) or 0) for r in reps)
    if not cut:
        return []
    ok = sum(int(r.metrics.get("requests_ok", 0) or 0) for r in reps)
    return [(f"{cut} of {ok} answers were cut short by the server (the stream ended without a "
             "finish_reason; counted in requests_truncated, per class too): their token counts "
             "and latencies are those of the shortened answers. llama-cpp-python's server does "
             "this to a streaming request whenever another one waits (start it with "
             "--interrupt_requests False to serve them in turn)")]


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
