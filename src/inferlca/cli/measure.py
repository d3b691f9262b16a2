"""`inferlca measure -- CMD ARGS...`: run a command while sampling power; energy, power, GWP."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import typer

from inferlca.cli import _lca_options as lca
from inferlca.cli._common import console, positive_float, print_json
from inferlca.errors import InvalidValueError, RunInterrupted, UsageError


def measure_cmd(
    command: list[str] | None = typer.Argument(None, help="The command to run, after --."),
    meter: str = typer.Option(
        "auto",
        "--meter",
        help="auto|nvml|tegrastats|ina3221|amdgpu|intel-gpu|powermetrics|rapl|ipmi|redfish|"
        "modelled|replay, or several joined by + (nvml+rapl); see `inferlca meters`.",
    ),
    meter_url: str | None = typer.Option(
        None, "--meter-url", help="Read the meter agent of another machine (`inferlca meters "
        "serve` there), e.g. http://HOST:9642; token from $INFERLCA_METER_TOKEN."
    ),
    period_ms: float = typer.Option(
        10.0, "--period-ms", help="Sampling period in ms (>= 1; default 10)."
    ),
    sampler_kind: str = typer.Option(
        "process", "--sampler", help="process (a separate nice-19 process; falls back to "
        "a thread, flagged), process:fifo (real-time priority where allowed: on time under "
        "load), process:normal, process:idle or thread."
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
    grid_year: str | None = lca.grid_year_option(),
    grid: str | None = lca.grid_option("Custom grid intensity in gCO2e/kWh (or lo..hi)."),
    pue: str | None = lca.pue_option("PUE >= 1, or an interval 1.1..1.6 (default by category)."),
    lifetime_years: str | None = lca.lifetime_option(
        "Device lifetime in years, or an interval 4..7 (default 7)."),
    scope: str = lca.scope_option(),
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
    from inferlca.cli._power import render_summary
    from inferlca.meters.measure import defer_interrupt, measure_command
    from inferlca.meters.sampler_process import check_sampler_kind

    if not command:
        raise UsageError(
            "no command to measure; usage: inferlca measure [OPTIONS] -- CMD [ARGS...]"
        )
    positive_float("--period-ms", period_ms, maximum=60_000)  # as RunSpec.MAXIMA
    positive_float("--idle-baseline-s", idle_baseline_s, allow_zero=True, maximum=86_400)
    positive_float("--cpu-tdp", cpu_tdp, maximum=10_000)  # W: no CPU package draws 10 kW
    check_sampler_kind(sampler_kind)
    settings = lca.impact_settings(grid, grid_year, pue, lifetime_years, scope)
    if dram_gb is not None:
        positive_float("--dram-gb", dram_gb, maximum=100_000)
    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InvalidValueError(f"--out must end in .csv or .parquet, got {out.name!r}")
    if out is not None:  # before measuring: nothing measured is lost to an unwritable --out
        from inferlca.inputs import output_file

        output_file(out, "out")
    if meter_url is not None:
        from inferlca.cli._common import remote_meter_name

        meter = remote_meter_name(meter, meter_url)
    if (replay is None) != (meter != "replay"):
        raise UsageError(
            "--replay FILE goes with --meter replay (and --meter replay needs --replay FILE)"
        )
    # with --json the command's stdout goes to stderr as it is written (the child inherits
    # stderr as its stdout), so stdout holds only the JSON and no output is held in memory
    with _stdout_to_stderr(as_json):
        result = measure_command(
            command, meter=meter, period_s=period_ms / 1000.0, idle_baseline_s=idle_baseline_s,
            device=device, region=region, gpus=gpus, cpu_tdp_w=cpu_tdp, replay=replay, out=out,
            sampler=sampler_kind, dram_gb=dram_gb, impact_options=settings,
        )
    with defer_interrupt() as late:  # what was measured is shown whatever comes now
        if as_json:
            print_json(result.to_dict())
        else:
            render_summary(f"inferlca measure: {' '.join(command)} ({result.status})",
                           result.summary, result.impact, result.notes)
            if out is not None:
                console.print(f"trace written to {out}", highlight=False)
    if result.interrupted or late():
        raise RunInterrupted(
            "interrupted; what was measured is shown above" + (f" and kept in {out}" if out else "")
        )
    raise typer.Exit(result.exit_code)


@contextlib.contextmanager
def _stdout_to_stderr(active: bool) -> Iterator[None]:
    """While the block runs, file descriptor 1 is a pipe whose output a thread copies to
    ``sys.stderr`` chunk by chunk: a child started inside writes its stdout to our stderr as it
    goes, and however much it writes, no more than a chunk is held in memory."""
    if not active:
        yield
        return
    import threading

    sys.stdout.flush()
    try:
        read_end, write_end = os.pipe()
        saved = os.dup(1)
        os.dup2(write_end, 1)
        os.close(write_end)
    except OSError:  # no usable descriptors (an embedding host): leave them alone
        yield
        return

    def pump() -> None:
        with os.fdopen(read_end, "rb") as src:
            while chunk := src.read1(1 << 16):
                sys.stderr.write(chunk.decode(errors="replace"))
            sys.stderr.flush()

    thread = threading.Thread(target=pump, name="inferlca-child-stdout", daemon=True)
    thread.start()
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
        os.dup2(saved, 1)  # the last copy of the pipe's write end closes: the pump sees EOF
        os.close(saved)
        thread.join(timeout=30)


def register(app: typer.Typer) -> None:
    app.command("measure", context_settings={"allow_interspersed_args": False})(measure_cmd)
