"""Measure a command: the protocol behind ``inferlca measure``, callable from Python.

:func:`measure_command` checks everything that can be checked before anything runs (meter,
device, region, GPUs, that the command can start), opens the meter, samples power the whole time
(phase ``idle`` for an optional idle baseline, then ``run`` while the command runs, closed by
``end``), summarises the ``run`` window (energy per channel, diagnostics, the static/dynamic split
against the idle baseline) and computes the GWP of the measured energy for the device the run is
about (:func:`inferlca.hardware.resolve.resolve_device`: the declared one, else this machine's).

    from inferlca.meters.measure import measure_command

    result = measure_command(["python", "infer.py"], meter="auto", idle_baseline_s=5)
    result.summary["energy"]["energy_j"], result.impact["total_gco2e"], result.exit_code

A Ctrl-C while the command runs stops it (terminate, then kill after 5 s) and returns what was
measured with ``interrupted=True``; a Ctrl-C during the idle baseline raises
:class:`~inferlca.errors.RunInterrupted` (the command never ran; the idle trace is written to
``out`` when given, and attached to the exception as ``.trace``).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import subprocess
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferlca.errors import InvalidValueError, RunInterrupted, UsageError
from inferlca.hardware.resolve import ResolvedDevice, resolve_device
from inferlca.meters.base import PowerMeter, stop_process
from inferlca.traces.trace import PowerTrace

#: trace file suffixes :func:`inferlca.traces.io.write_trace` writes
TRACE_SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass
class MeasureResult:
    """What :func:`measure_command` measured.

    Attributes:
        command: the command line that ran.
        returncode: the child's return code as Python reports it (``-N``: killed by signal N).
        interrupted: Ctrl-C stopped the command; the trace covers what ran.
        trace: the whole power trace (phases ``idle``, ``run``, ``end``).
        summary: :func:`inferlca.meters.summary.summarize` of the ``run`` window.
        device: the device the GWP is about.
        impact: :meth:`inferlca.lca.impact.Impact.to_dict` plus ``device`` and ``region``, or
            ``None`` when the energy or the duration is zero (see ``notes``).
        notes: what a reader should know (estimated meter, where the device came from...).
        stdout: the command's standard output when ``capture_output`` was asked, else ``None``.
        trace_file: where the trace was written, or ``None``.
    """

    command: list[str]
    returncode: int | None
    interrupted: bool
    trace: PowerTrace
    summary: dict[str, Any]
    device: ResolvedDevice
    impact: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)
    stdout: bytes | None = None
    trace_file: Path | None = None

    @property
    def exit_code(self) -> int:
        """The command's exit code as a shell reports it (see :func:`shell_exit_code`)."""
        return shell_exit_code(self.returncode)

    @property
    def killed_by_signal(self) -> int | None:
        return -self.returncode if self.returncode is not None and self.returncode < 0 else None

    @property
    def status(self) -> str:
        """``exit code 0``, or ``killed by SIGTERM, exit code 143``."""
        code = self.returncode
        if code is not None and code < 0:
            import signal

            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"killed by {name}, exit code {128 - code}"
        return f"exit code {code}"

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``inferlca measure --json``."""
        return {
            "command": list(self.command),
            "exit_code": self.exit_code if self.returncode is not None else None,
            "killed_by_signal": self.killed_by_signal,
            "interrupted": self.interrupted,
            **self.summary,
            "impact": self.impact,
            "notes": list(self.notes),
            "trace_file": str(self.trace_file) if self.trace_file else None,
        }


def measure_command(
    argv: Sequence[str],
    *,
    meter: str | PowerMeter = "auto",
    period_s: float = 0.01,
    idle_baseline_s: float = 0.0,
    device: str | None = None,
    region: str | None = None,
    gpus: str | Sequence[int] | None = None,
    cpu_tdp_w: float | None = None,
    replay: str | Path | None = None,
    out: str | Path | None = None,
    capture_output: bool = False,
    sampler: str = "process",
    dram_gb: float | None = None,
    impact_options: Mapping[str, Any] | None = None,
) -> MeasureResult:
    """Run ``argv`` while sampling power; energy, power per channel, diagnostics and GWP.

    Args:
        argv: the command and its arguments.
        meter: a meter name (``auto``, ``nvml``, ... see :func:`inferlca.meters.registry.open_meter`)
            or an open :class:`~inferlca.meters.base.PowerMeter` (left open for the caller).
        period_s: sampling period in seconds (>= 1 ms).
        idle_baseline_s: sample the idle machine this long first (0: no baseline).
        device: catalog device the run is about (default: this machine's detected device).
        region: grid region for the GWP (default FR).
        gpus: NVML GPU indices (``"0,1"`` or ``[0, 1]``); only with the nvml meter.
        cpu_tdp_w: CPU TDP in W for the modelled meter.
        replay: with ``meter="replay"``, the recorded log played back as the meter.
        out: write the trace here (``.csv`` or ``.parquet``).
        capture_output: keep the command's stdout in :attr:`MeasureResult.stdout` instead of
            letting it through.
        dram_gb: with the modelled meter, add a DRAM term for this many GB.
        impact_options: more impact settings, as :meth:`ImpactContext.resolve
            <inferlca.lca.impact.ImpactContext.resolve>` takes them (``grid``, ``grid_year``,
            ``pue``, ``lifetime_years``, ``scope``, ``memory_method``); checked before the
            command runs.
        sampler: ``process`` (a low-priority sampler process, the default; falls back to the
            thread, flagged, where it cannot start) or ``thread``
            (:func:`inferlca.meters.sampler_process.open_sampler`).

    Raises:
        UsageError: bad input, found before the command runs (unknown meter, device or region,
            command not found or not executable...).
        MeterUnavailableError: the meter cannot run here.
        RunInterrupted: Ctrl-C during the idle baseline (the command did not run).
    """
    from inferlca.meters.sampler_process import check_sampler_kind

    command = [str(a) for a in argv]
    out_path = Path(out) if out is not None else None
    check_sampler_kind(sampler)
    _check_inputs(command, meter, period_s, idle_baseline_s, device, region, gpus, cpu_tdp_w,
                  replay, out_path)
    check_impact_options(region, impact_options)
    pm = _open(meter, device, gpus, cpu_tdp_w, period_s, replay, dram_gb)
    trace, returncode, interrupted, stdout = _sample(
        pm, close_meter=not isinstance(meter, PowerMeter), command=command, period_s=period_s,
        idle_baseline_s=idle_baseline_s, capture_output=capture_output, out=out_path,
        sampler_kind=sampler)
    # what was measured is kept: a Ctrl-C from here on only marks the result interrupted
    with defer_interrupt() as late:
        result = _result(trace, command, returncode, interrupted, stdout, idle_baseline_s,
                         out_path, device, region, remote=hasattr(pm, "agent_facts"),
                         impact_options=impact_options)
    if late():  # after the command ended: the measurement is whole, the user asked to stop
        result.interrupted = True
    return result


def defer_interrupt() -> contextlib.AbstractContextManager[Callable[[], bool]]:
    """While the block runs, Ctrl-C (SIGINT) raises nothing: it is noted, and the yielded
    function tells whether it came (so that putting together what was measured is not lost to
    it). Only in the main thread; elsewhere the block runs as it is."""
    from inferlca.signals import deferred

    return deferred()


def _result(trace: PowerTrace, command: list[str], returncode: int | None, interrupted: bool,
            stdout: bytes | None, idle_baseline_s: float, out_path: Path | None,
            device: str | None, region: str | None, *, remote: bool = False,
            impact_options: Mapping[str, Any] | None = None) -> MeasureResult:
    """Summary, trace file and GWP of a measured command; ``remote``: a meter agent measured
    another machine (its device, not this one's)."""
    from inferlca.meters.summary import summarize
    from inferlca.traces.energy import window_of
    from inferlca.traces.io import write_trace

    if interrupted:
        trace.meta["incomplete"] = True
    trace.meta["command"] = list(command)
    trace.meta["exit_code"] = returncode
    start_s, end_s = window_of(trace, "run")
    summary = summarize(trace, start_s, end_s, idle_phase="idle" if idle_baseline_s > 0 else None)
    if out_path is not None:
        write_trace(trace, out_path)
    resolved = resolve_device(device, trace.meta.get("device_name") if remote else None,
                              detect_local=not remote)
    impact, notes = measured_impact(summary, resolved, region, impact_options)
    if trace.estimated:
        notes.insert(0, _estimated_note(trace.meta))
    return MeasureResult(command, returncode, interrupted, trace, summary, resolved, impact,
                         notes, stdout, out_path)


def check_impact_options(region: str | None, options: Mapping[str, Any] | None) -> None:
    """The impact settings of a measurement, checked before anything is measured (an unknown
    year, a PUE below 1...): the same errors as when the impact is computed."""
    if options:
        from inferlca.lca.impact import ImpactContext

        ImpactContext.resolve(None, region=region, **options)


def measured_impact(summary: dict[str, Any], device: ResolvedDevice, region: str | None,
                    options: Mapping[str, Any] | None = None
                    ) -> tuple[dict[str, Any] | None, list[str]]:
    """GWP of a measured energy (a :func:`~inferlca.meters.summary.summarize` dict) through the
    impact core, for ``device``; ``(impact dict or None, notes)``. ``options``: more impact
    settings (grid, grid_year, pue, lifetime_years, scope, memory_method).

    A modelled trace's energy interval (``summary["energy_interval_j"]``) is carried into the
    impact as an uncertain energy. The impact dict is :meth:`Impact.to_dict` with ``device``
    (catalog id or ``None``) and ``region``.
    """
    from inferlca.lca.impact import ImpactContext, compute_impact
    from inferlca.uncertainty import UValue

    energy_j = summary["energy"]["energy_j"] or 0.0
    duration_s = summary["duration_s"]
    if not (energy_j > 0 and duration_s and duration_s > 0):
        return None, ["GWP not computed: the energy or the duration is zero or unknown"]
    ctx = ImpactContext.resolve(device.device, region=region, **dict(options or {}))
    iv = summary.get("energy_interval_j")
    if iv and iv["low"] > 0 and iv["high"] > iv["low"]:
        e = UValue(energy_j, iv["low"], iv["high"], "J",
                   ("modelled energy; interval from the idle-share range",), kind="derived")
        imp = compute_impact(e, duration_s, ctx)
    else:
        imp = compute_impact(energy_j, duration_s, ctx)
    d = imp.to_dict()
    d["device"] = device.id
    d["region"] = ctx.region
    d["grid_year"] = (options or {}).get("grid_year")
    return d, [*device.notes, *imp.notes]


def shell_exit_code(returncode: int | None) -> int:
    """The command's exit code as a shell reports it: a child killed by signal N (Python's
    returncode -N) gives 128 + N, as ``sh`` would, not the wrapped 256 - N."""
    if not returncode:
        return 0
    return 128 - returncode if returncode < 0 else returncode


def check_command(exe: str) -> None:
    """Fail before the meter opens and the idle baseline runs if the command cannot start."""
    if os.sep in exe:
        if not os.path.exists(exe):
            raise UsageError(f"command not found: {exe!r}")
        if os.path.isdir(exe) or not os.access(exe, os.X_OK):
            raise UsageError(f"command not executable: {exe!r}")
    elif shutil.which(exe) is None:
        raise UsageError(f"command not found: {exe!r} (not on PATH)")


# --- steps -------------------------------------------------------------------------------------

def _check_inputs(command: list[str], meter: str | PowerMeter, period_s: float,
                  idle_baseline_s: float, device: str | None, region: str | None,
                  gpus: str | Sequence[int] | None, cpu_tdp_w: float | None,
                  replay: str | Path | None, out: Path | None) -> None:
    """Everything that can be checked is checked before the command runs: a long workload must
    not be lost to a typo in the device or the region found only when computing GWP."""
    if not command:
        raise UsageError("no command to measure")
    for name, value, zero_ok in (("period_s", period_s, False),
                                 ("idle_baseline_s", idle_baseline_s, True),
                                 ("cpu_tdp_w", cpu_tdp_w, False)):
        if value is None:
            continue
        ok = isinstance(value, (int, float)) and math.isfinite(value)
        if not ok or value < 0 or (value == 0 and not zero_ok):
            raise InvalidValueError(
                f"{name} must be a finite number {'>= 0' if zero_ok else '> 0'}, got {value!r}")
    if out is not None and out.suffix.lower() not in TRACE_SUFFIXES:
        raise InvalidValueError(f"the trace file must end in .csv or .parquet, got {out.name!r}")
    if isinstance(meter, str) and (replay is None) != (meter != "replay"):
        raise UsageError("a replay file goes with the replay meter (and the replay meter needs "
                         "a replay file)")
    if gpus is not None and isinstance(gpus, str):
        from inferlca.meters.nvml import parse_gpus

        parse_gpus(gpus)
    if device is not None:
        resolve_device(device)
    if region is not None:
        from inferlca.lca.grid import get_region

        get_region(region)
    check_command(command[0])


def _open(meter: str | PowerMeter, device: str | None, gpus: str | Sequence[int] | None,
          cpu_tdp_w: float | None, period_s: float, replay: str | Path | None,
          dram_gb: float | None = None) -> PowerMeter:
    if isinstance(meter, PowerMeter):
        pm = meter
    else:
        from inferlca.meters.registry import open_meter

        extra: dict[str, Any] = {"path": Path(replay)} if replay is not None else {}
        if dram_gb is not None:
            extra["dram_gb"] = dram_gb
        pm = open_meter(meter, device=device, gpus=gpus, cpu_tdp_w=cpu_tdp_w, period_s=period_s,
                        **extra)
    if gpus is not None and "nvml" not in pm.name.split("+"):
        if not isinstance(meter, PowerMeter):
            pm.close()
        raise UsageError(
            f"--gpus selects NVIDIA GPUs and goes with the nvml meter; the meter here is "
            f"{pm.name!r} (see `inferlca meters`)"
        )
    return pm


def _sample(pm: PowerMeter, *, close_meter: bool, command: list[str], period_s: float,
            idle_baseline_s: float, capture_output: bool, out: Path | None,
            sampler_kind: str = "process") -> tuple[PowerTrace, int | None, bool, bytes | None]:
    """Idle baseline, then the command, under one sampler: ``(trace, returncode, interrupted,
    captured stdout)``."""
    from inferlca.meters.sampler_process import open_sampler

    try:
        sampler = open_sampler(pm, period_s=period_s, close_meter=close_meter, kind=sampler_kind)
    except BaseException:
        if close_meter:
            pm.close()
        raise
    returncode: int | None = None
    interrupted = baseline_cut = False
    captured: bytes | None = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # failed reads are reported in the summary
        sampler.start()  # a Ctrl-C while it starts: nothing measured (it leaves nothing behind)
        ran: list[bool] = []  # the command started
        failed = True
        try:
            if idle_baseline_s > 0:
                sampler.mark("idle")
                time.sleep(idle_baseline_s)
            sampler.mark("run")
            returncode, interrupted, captured = _run_child(command, capture_output, ran)
            sampler.mark("end")
            failed = False
        except KeyboardInterrupt:  # between the steps: the child (if any) has ended
            interrupted = True
            baseline_cut = not ran
            failed = False
        finally:  # the last sample and the trace: a Ctrl-C now must not lose them
            with defer_interrupt() as late:
                trace = sampler.stop(incomplete=failed or interrupted)
            interrupted = interrupted or late()
    if baseline_cut:  # Ctrl-C before the command started: keep the trace and say so
        trace.meta["incomplete"] = True
        trace.meta["command"] = list(command)
        if out is not None:
            from inferlca.traces.io import write_trace

            write_trace(trace, out)
        when = "during the idle baseline" if idle_baseline_s > 0 else "before it started"
        exc = RunInterrupted(f"interrupted {when}: the command did not run"
                             + (f"; the trace so far is kept in {out}" if out else ""))
        exc.trace = trace  # type: ignore[attr-defined]  # what was measured, for the caller
        raise exc
    return trace, returncode, interrupted, captured if capture_output else None


def _run_child(command: list[str], capture_output: bool, ran: list[bool]
               ) -> tuple[int | None, bool, bytes]:
    """Run the command to its end (``ran`` gets True once it started); Ctrl-C terminates it
    (kill after 5 s)."""
    interrupted = False
    captured = b""
    proc: subprocess.Popen[bytes] | None = None
    try:
        try:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE if capture_output else None)
        except FileNotFoundError:
            raise UsageError(f"command not found: {command[0]!r}") from None
        except PermissionError:
            raise UsageError(f"command not executable: {command[0]!r}") from None
        ran.append(True)
        captured = proc.communicate()[0] or b""
    except KeyboardInterrupt:
        if proc is None:
            raise  # the command did not start
        interrupted = True
        stop_process(proc, timeout_s=5)
    assert proc is not None
    return proc.returncode, interrupted, captured


def _estimated_note(meta: dict[str, Any]) -> str:
    rng = meta.get("max_power_range_w")
    return (f"ESTIMATED: {meta.get('model', 'modelled meter')}; max power "
            f"{meta.get('max_power_w', float('nan')):.3g} W"
            + (" [{:.3g} - {:.3g} W]".format(*rng) if rng else "")
            + f" from {meta.get('max_power_source')}; idle share {meta.get('idle_share', 0):.3f}")
