"""`inferlca report`: the HTML report and its figures from the results store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inferlca.cli._common import console, print_json
from inferlca.cli._store_options import STORE_HELP


def register(app: typer.Typer) -> None:
    @app.command("report")
    def report_cmd(
        store: Annotated[str | None, typer.Option("--store", help=STORE_HELP)] = None,
        out: Annotated[Path, typer.Option("--out", help="Folder for report.html and the PNG/SVG figures.")] = Path("inferlca-report"),
        runs: Annotated[list[str] | None, typer.Option("--runs", help="Run ids (prefixes) to include.")] = None,
        device: Annotated[list[str] | None, typer.Option("--device", help="Only these devices.")] = None,
        workload: Annotated[list[str] | None, typer.Option("--workload", help="Only these workloads.")] = None,
        scenario: Annotated[list[str] | None, typer.Option("--scenario", help="Only these scenarios.")] = None,
        title: Annotated[str, typer.Option("--title", help="Page title.")] = "inferlca report",
        power_axis: Annotated[str, typer.Option(
            "--power-axis", help="Power profiles against run progress (100 points, as the study: "
            "'progress') or seconds since the start ('time').")] = "progress",
        criteria: Annotated[str | None, typer.Option(
            "--criteria", help="Add a figure per criterion: gwp,water,pe,adpe.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print what was written as JSON.")] = False,
    ) -> None:
        """Write a self-contained HTML report (figures embedded) plus PNG and SVG figures."""
        from rich.markup import escape
        from rich.progress import Progress, SpinnerColumn, TextColumn

        from inferlca.errors import UnknownNameError
        from inferlca.report.data import load_runs, open_store_for_reading, select_runs
        from inferlca.report.html import build_report, ensure_writable_dir
        from inferlca.report.plots import POWER_AXES
        from inferlca.report.tables import rich_results_table

        if power_axis not in POWER_AXES:
            raise UnknownNameError("--power-axis", power_axis, POWER_AXES,
                                   hint=f"(accepted: {', '.join(POWER_AXES)})")
        from inferlca.lca.criteria import parse_criteria

        wanted = parse_criteria(criteria) if criteria is not None else ()
        runs, device, workload, scenario = runs or [], device or [], workload or [], scenario or []
        ensure_writable_dir(out)
        with open_store_for_reading(store) as st:
            views = select_runs(load_runs(st), run_ids=runs, devices=device, workloads=workload,
                                scenarios=scenario)
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console,
                          transient=True, disable=as_json) as prog:
                task = prog.add_task("report", total=None)
                result = build_report(st, views, out, store_path=str(st.path), title=title,
                                      progress=lambda m: prog.update(task, description=m),
                                      power_axis=power_axis, criteria=wanted)
        if as_json:
            print_json(result.to_dict())
            return
        for t in result.tables:
            console.print(rich_results_table(t))
        drawn = [f for f in result.figures if f.data_uri]
        console.print(f"wrote [bold]{escape(str(result.html_path))}[/] with {len(drawn)} figures "
                      f"({len(result.runs)} runs)")
        for f in result.figures:
            if not f.data_uri:
                console.print(f"  not drawn: {escape(f.title)}: {escape(f.reason or '')}")
