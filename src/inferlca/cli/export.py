"""`inferlca export`: the results store as CSV, JSON or Parquet tables."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inferlca.cli._common import console, print_json
from inferlca.cli._store_options import STORE_HELP
from inferlca.errors import UnknownNameError


def export(
    fmt: str = typer.Option(..., "--format", "-f", help="csv, json or parquet."),
    out: str | None = typer.Option(None, "--out", "-o", help="csv/parquet: a folder (one file per "
                                   "table, default ./inferlca-export/); json: a file (default "
                                   "./inferlca-export.json, '-' for stdout).", show_default=False),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP, show_default=False),
    run: Annotated[list[str] | None, typer.Option(
        "--run", help="Only this run (id or prefix); repeatable.")] = None,
    workload: str | None = typer.Option(None, "--workload", help="Only runs of this workload."),
    device: str | None = typer.Option(None, "--device", help="Only runs on this device."),
    scenario: str | None = typer.Option(None, "--scenario", help="Only runs of this scenario."),
    kind: str | None = typer.Option(None, "--kind", help="measured or estimated."),
    status: str | None = typer.Option(None, "--status", help="complete, incomplete, failed or running."),
    tables: str | None = typer.Option(None, "--tables", show_default=False,
                                      help="Comma-separated tables to write (default: all of "
                                      "runs, repetitions, traces, latencies, series, and classes "
                                      "when a run has request classes)."),
    no_traces: bool = typer.Option(False, "--no-traces", help="Leave the (large) traces table out."),
    json_out: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
) -> None:
    """Export runs (one row each) and their repetitions, traces, latencies and series."""
    # the store (numpy, sqlite) is imported here, not when the command line starts
    from inferlca.store.export import FORMATS, default_out, default_tables, export_store
    from inferlca.store.sqlite import Store

    fmt = fmt.lower()
    if fmt not in FORMATS:
        raise UnknownNameError("export format", fmt, FORMATS, hint=f"(accepted: {', '.join(FORMATS)})")
    with Store.open_readonly(store) as s:
        runs = s.list_runs(workload=workload, device=device, scenario=scenario, kind=kind,
                           status=status, run_ids=run or None)
        wanted = ([t.strip() for t in tables.split(",") if t.strip()] if tables
                  else list(default_tables(runs)))
        if no_traces:
            wanted = [t for t in wanted if t != "traces"]
        with console.status(f"exporting {len(runs)} run(s) as {fmt}..."):
            written = export_store(s, fmt, out, runs=runs, tables=wanted)
    if fmt == "json" and out == "-":
        return
    sizes = [(str(p), p.stat().st_size) for p in written]
    if json_out:
        print_json({"format": fmt, "runs": len(runs), "files": [{"path": p, "bytes": b} for p, b in sizes]})
        return
    table = Table(title=escape(f"exported {len(runs)} run(s) as {fmt} to "
                               f"{out if out is not None else default_out(fmt)}"), title_justify="left")
    table.add_column("file")
    table.add_column("bytes", justify="right")
    for p, b in sizes:
        table.add_row(escape(p), f"{b:,}")
    console.print(table)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
