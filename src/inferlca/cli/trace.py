"""`inferlca trace import FILE`: energy and GWP of a power log you already have."""

from __future__ import annotations

from pathlib import Path

import typer

from inferlca.cli import _lca_options as lca
from inferlca.cli._common import console, print_json

app = typer.Typer(
    help="Power traces: import recorded logs (inferlca CSV/Parquet, nvidia-smi, dmon, tegrastats).",
    no_args_is_help=True,
)


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="The recorded log."),
    fmt: str = typer.Option(
        "auto",
        "--format",
        help="auto|inferlca|nvidia-smi|dmon|tegrastats|powermetrics|kwollect|wall-csv.",
    ),
    interval_ms: float | None = typer.Option(
        None,
        "--interval-ms",
        help="Logging interval for logs without sub-second times "
        "(tegrastats --interval, dmon -d, nvidia-smi -lms without a timestamp column); "
        "default inferred or 1000.",
    ),
    phase: str | None = typer.Option(
        None, "--phase", help="Only this phase (from the trace's marks)."
    ),
    time_col: str | None = typer.Option(
        None, "--time-col", help="Wall-meter CSV: the time column (ISO 8601 or numbers)."
    ),
    power_col: str | None = typer.Option(
        None, "--power-col", help="Wall-meter CSV: the power column."
    ),
    power_unit: str | None = typer.Option(
        None, "--power-unit", help="Wall-meter CSV: W, mW or kW (default: from the column name)."
    ),
    time_unit: str = typer.Option(
        "s", "--time-unit", help="Wall-meter CSV with numeric times: s, ms, us or ns."
    ),
    node: str | None = typer.Option(
        None, "--node", help="Kwollect export of several nodes: the node to import."
    ),
    device: str | None = typer.Option(None, "--device", help="Catalog device for GWP."),
    region: str | None = typer.Option(None, "--region", help="Grid region for GWP (default FR)."),
    grid_year: str | None = lca.grid_year_option(),
    grid: str | None = lca.grid_option("Custom grid intensity in gCO2e/kWh (or lo..hi)."),
    pue: str | None = lca.pue_option("PUE >= 1, or an interval 1.1..1.6 (default by category)."),
    lifetime_years: str | None = lca.lifetime_option(
        "Device lifetime in years, or an interval 4..7 (default 7)."),
    scope: str = lca.scope_option(),
    out: Path | None = typer.Option(
        None, "--out", help="Save as an inferlca trace (.csv or .parquet)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Turn a recorded power log into energy (J, Wh), power per channel, diagnostics and GWP."""
    from inferlca.cli._common import positive_float
    from inferlca.cli._power import render_summary
    from inferlca.errors import InvalidValueError
    from inferlca.hardware.resolve import resolve_device
    from inferlca.meters.measure import check_impact_options, measured_impact
    from inferlca.meters.replay import import_trace
    from inferlca.meters.summary import summarize
    from inferlca.traces.energy import window_of
    from inferlca.traces.io import write_trace

    positive_float("--interval-ms", interval_ms)
    settings = lca.impact_settings(grid, grid_year, pue, lifetime_years, scope)
    check_impact_options(region, settings)  # before reading a large log
    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InvalidValueError(f"--out must end in .csv or .parquet, got {out.name!r}")
    from inferlca.inputs import input_file, output_file

    input_file(file, "file", max_bytes=1024**3)
    if out is not None:
        output_file(out, "out")
    trace = import_trace(
        file,
        fmt,
        interval_ms / 1000.0 if interval_ms else None,
        time_col=time_col,
        power_col=power_col,
        power_unit=power_unit,
        time_unit=time_unit,
        node=node,
    )
    start_s = end_s = None
    if phase:
        start_s, end_s = window_of(trace, phase)
    summary = summarize(trace, start_s, end_s, idle_phase="idle")
    # a log recorded elsewhere: the declared device, else the one the log names, never this
    # machine's
    resolved = resolve_device(device, trace.meta.get("device_name"), detect_local=False)
    impact, notes = measured_impact(summary, resolved, region, settings)
    if interval_ms is not None and (
        trace.meta.get("format") == "inferlca"
        or (trace.meta.get("format") == "nvidia-smi" and not trace.meta.get("times_assumed"))
    ):
        notes.append(
            f"--interval-ms ignored: a {trace.meta.get('format')} trace has its own timestamps"
        )
    for key in ("times", "module_rule", "gpu_rule", "power_note"):
        if trace.meta.get(key):
            notes.append(f"{key.replace('_', ' ')}: {trace.meta[key]}")
    if out is not None:
        write_trace(trace, out)
    if as_json:
        print_json(
            {
                "file": str(file),
                "format": trace.meta.get("format"),
                **summary,
                "impact": impact,
                "notes": notes,
                "trace_file": str(out) if out else None,
            }
        )
        return
    render_summary(f"{file.name} ({trace.meta.get('format')})", summary, impact, notes)
    if out is not None:
        console.print(f"trace written to {out}", highlight=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="trace")
