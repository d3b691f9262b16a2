"""`inferlca measure -- CMD ARGS...`: run a command while sampling power; energy, power, GWP."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from pathlib import Path

import typer

from inferlca.cli._common import positive_float, print_json
from inferlca.errors import InvalidValueError, RunInterrupted, UsageError


def measure_cmd(
    command: list[str] | None = typer.Argument(None, help="The command to run, after --."),
    meter: str = typer.Option(
        "auto",
        "--meter",
        help="auto|nvml|tegrastats|ina3221|amdgpu|intel-gpu|powermetrics|rapl|ipmi|redfish|"
        "modelled|replay, or several joined by + (nvml+rapl); see `inferlca meters`.",
    ),
    period_ms: float = typer.Option(
        10.0, "--period-ms", help="Sampling period in ms (>= 1; default 10)."
    ),
    idle_baseline_s: float = typer.Option(
        0.0,
        "--idle-baseline-s",
        help="Measure the idle power for S seconds first (static vs dynamic).",
    ),
    device: str | None = typer.Option(
        None, "--device", help="Catalog device for GWP (default: detect)."
    ),
    region: str | None = typer.Option(None, "--region", help="Grid region for GWP (default FR)."),
    gpus: str | None = typer.Option(
        None,
        "--gpus",
        help="NVML GPU indices, e.g. 0,1 (default: those CUDA_VISIBLE_DEVICES names, else all).",
    ),
    cpu_tdp: float | None = typer.Option(
        None, "--cpu-tdp", help="CPU TDP in W for the modelled meter."
    ),
    dram_gb: float | None = typer.Option(
        None, "--dram-gb", help="Modelled meter: add a DRAM term for this many GB (0.392 W/GB)."
    ),
    replay: Path | None = typer.Option(
        None, "--replay", help="With --meter replay: a recorded log played back as the meter."
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the trace (.csv or .parquet)."),
    as_json: bool = typer.Option(
        False, "--json", help="Print JSON for scripts (the command's stdout goes to stderr)."
    ),
) -> None:
    """Run CMD, sample power the whole time, print energy (J, Wh), power per channel, diagnostics
    and GWP; the command's exit code is passed through."""
    from inferlca.cli._power import impact_for, render_summary
    from inferlca.meters.registry import open_meter
    from inferlca.meters.sampler import Sampler
    from inferlca.traces.energy import window_of
    from inferlca.traces.io import write_trace
    from inferlca.meters.summary import summarize

    if not command:
        raise UsageError(
            "no command to measure; usage: inferlca measure [OPTIONS] -- CMD [ARGS...]"
        )
    positive_float("--period-ms", period_ms)
    positive_float("--idle-baseline-s", idle_baseline_s, allow_zero=True)
    positive_float("--cpu-tdp", cpu_tdp)
    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InvalidValueError(f"--out must end in .csv or .parquet, got {out.name!r}")
    if (replay is None) != (meter != "replay"):
        raise UsageError(
            "--replay FILE goes with --meter replay (and --meter replay needs --replay FILE)"
        )
    # Everything that can be checked is checked before the command runs: a long workload must
    # not be lost to a typo in --device or --region found only when computing GWP.
    if gpus is not None:
        from inferlca.meters.nvml import parse_gpus

        parse_gpus(gpus)
    if device is not None:
        from inferlca.hardware.catalog import get_catalog

        get_catalog().get(device)
    if region is not None:
        from inferlca.lca.grid import get_region

        get_region(region)
    _check_command(command[0])
    extra: dict[str, object] = {"path": replay} if replay is not None else {}
    if dram_gb is not None:
        positive_float("--dram-gb", dram_gb)
        extra["dram_gb"] = dram_gb
    pm = open_meter(
        meter, device=device, gpus=gpus, cpu_tdp_w=cpu_tdp, period_s=period_ms / 1000.0, **extra
    )
    if gpus is not None and "nvml" not in pm.name.split("+"):
        pm.close()
        raise UsageError(
            f"--gpus selects NVIDIA GPUs and goes with the nvml meter; the meter here is "
            f"{pm.name!r} (see `inferlca meters`)"
        )
    sampler = Sampler(pm, period_s=period_ms / 1000.0, close_meter=True)
    code: int | None = None
    interrupted = baseline_cut = False
    captured = b""
    with warnings.catch_warnings(), sampler:
        warnings.simplefilter("ignore", RuntimeWarning)  # failed reads are reported in the summary
        if idle_baseline_s > 0:
            sampler.mark("idle")
            try:
                time.sleep(idle_baseline_s)
            except KeyboardInterrupt:
                baseline_cut = True
        if not baseline_cut:
            sampler.mark("run")
            try:
                proc = subprocess.Popen(list(command), stdout=subprocess.PIPE if as_json else None)
            except FileNotFoundError:
                raise UsageError(f"command not found: {command[0]!r}") from None
            except PermissionError:
                raise UsageError(f"command not executable: {command[0]!r}") from None
            try:
                captured = proc.communicate()[0] or b""
            except KeyboardInterrupt:
                interrupted = True
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            code = proc.returncode
            sampler.mark("end")
    trace = sampler.trace
    if baseline_cut:  # Ctrl-C before the command started: keep the idle trace and say so
        trace.meta["incomplete"] = True
        trace.meta["command"] = list(command)
        if out is not None:
            write_trace(trace, out)
        raise RunInterrupted(
            "interrupted during the idle baseline: the command did not run"
            + (f"; the idle trace is kept in {out}" if out else "")
        )
    if interrupted:
        trace.meta["incomplete"] = True
    if captured:
        sys.stderr.write(captured.decode(errors="replace"))
        sys.stderr.flush()
    trace.meta["command"] = list(command)
    trace.meta["exit_code"] = code
    start_s, end_s = window_of(trace, "run")
    summary = summarize(trace, start_s, end_s, idle_phase="idle" if idle_baseline_s > 0 else None)
    if out is not None:
        write_trace(trace, out)
    e = summary["energy"]["energy_j"] or 0.0
    impact, notes = impact_for(
        e, summary["duration_s"], device, region, energy_interval_j=summary.get("energy_interval_j")
    )
    if trace.estimated:
        notes.insert(
            0,
            f"ESTIMATED: {trace.meta.get('model', 'modelled meter')}; max power "
            f"{trace.meta.get('max_power_w', float('nan')):.3g} W"
            + (
                " [{:.3g} - {:.3g} W]".format(*trace.meta["max_power_range_w"])
                if trace.meta.get("max_power_range_w")
                else ""
            )
            + f" from {trace.meta.get('max_power_source')}; idle share "
            f"{trace.meta.get('idle_share', 0):.3f}",
        )
    if as_json:
        print_json(
            {
                "command": list(command),
                "exit_code": shell_exit_code(code) if code is not None else None,
                "killed_by_signal": -code if code is not None and code < 0 else None,
                "interrupted": interrupted,
                **summary,
                "impact": impact,
                "notes": notes,
                "trace_file": str(out) if out else None,
            }
        )
    else:
        render_summary(
            f"inferlca measure: {' '.join(command)} ({_status(code)})", summary, impact, notes
        )
        if out is not None:
            from inferlca.cli._common import console

            console.print(f"trace written to {out}", highlight=False)
    if interrupted:
        raise RunInterrupted(
            "interrupted; what was measured is shown above" + (f" and kept in {out}" if out else "")
        )
    raise typer.Exit(shell_exit_code(code))


def _check_command(exe: str) -> None:
    """Fail before the meter opens and the idle baseline runs if the command cannot start."""
    import os
    import shutil

    if os.sep in exe:
        if not os.path.exists(exe):
            raise UsageError(f"command not found: {exe!r}")
        if os.path.isdir(exe) or not os.access(exe, os.X_OK):
            raise UsageError(f"command not executable: {exe!r}")
    elif shutil.which(exe) is None:
        raise UsageError(f"command not found: {exe!r} (not on PATH)")


def shell_exit_code(returncode: int | None) -> int:
    """The command's exit code as a shell reports it: a child killed by signal N (Python's
    returncode -N) gives 128 + N, as ``sh`` would, not the wrapped 256 - N."""
    if not returncode:
        return 0
    return 128 - returncode if returncode < 0 else returncode


def _status(code: int | None) -> str:
    if code is not None and code < 0:
        import signal

        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}, exit code {128 - code}"
    return f"exit code {code}"


def register(app: typer.Typer) -> None:
    app.command("measure", context_settings={"allow_interspersed_args": False})(measure_cmd)
