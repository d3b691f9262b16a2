"""`inferlca project`: a run's per-query footprint scaled to a service, per day and per year."""

from __future__ import annotations

from typing import Annotated

import typer

from inferlca.cli._common import console, print_json
from inferlca.cli._store_options import STORE_HELP


def register(app: typer.Typer) -> None:
    @app.command("project")
    def project_cmd(
        users: Annotated[float, typer.Option("--users", help="Daily users (> 0), e.g. 122.5e6.")],
        queries_per_user: Annotated[float, typer.Option("--queries-per-user", help="Queries per user and day (> 0).")],
        days: Annotated[float, typer.Option("--days", help="Also total over this many days (> 0).")] = 1.0,
        device: Annotated[list[str] | None, typer.Option("--device", help="Devices (their latest runs).")] = None,
        run: Annotated[list[str] | None, typer.Option("--run", help="Run ids (prefixes).")] = None,
        workload: Annotated[str | None, typer.Option("--workload", help="Only this workload.")] = None,
        scenario: Annotated[str | None, typer.Option("--scenario", help="Only this scenario.")] = None,
        store: Annotated[str | None, typer.Option("--store", help=STORE_HELP)] = None,
        as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    ) -> None:
        """Project GWP (use and embodied) and energy to users x queries per day, with intervals."""
        from rich import box
        from rich.markup import escape
        from rich.table import Table

        from inferlca.cli._common import positive_float
        from inferlca.report.data import (
            latest_per_device,
            load_runs,
            open_store_for_reading,
            select_runs,
        )
        from inferlca.report.project import project

        device, run = device or [], run or []
        positive_float("--users", users, maximum=1e11)  # > 10x the world population
        positive_float("--queries-per-user", queries_per_user, maximum=1e6)
        positive_float("--days", days, maximum=36_525)  # a century
        with open_store_for_reading(store) as st:
            runs = load_runs(st)
        sel = select_runs(runs, run_ids=run, devices=device,
                          workloads=[workload] if workload else [],
                          scenarios=[scenario] if scenario else [])
        if not run:
            for key, flag in (("workload", "--workload"), ("scenario", "--scenario")):
                values = sorted({getattr(v, key) for v in sel})
                if len(values) > 1:
                    from inferlca.errors import UsageError
                    raise UsageError(f"the selected runs have several {key}s "
                                     f"({', '.join(values)}); choose one with {flag}")
            sel = list(latest_per_device(sel).values())
        projections = [project(v, users, queries_per_user, days) for v in sel
                       if v.gwp_per_query_g() is not None]
        if not projections:
            from inferlca.errors import UsageError
            raise UsageError("none of the selected runs has impact figures to project")
        if as_json:
            print_json({"projections": [p.to_dict() for p in projections]})
            return
        # short headers, the unit once in the title: the table stays readable on 80 columns
        table = Table(title=f"{users:,.0f} users x {queries_per_user:g} queries/day "
                            f"= {users * queries_per_user:,.0f} queries/day; CO2e in kgCO2e",
                      caption="emb.: embodied footprint allocated to the queries; devices: "
                              "needed to carry the mean load",
                      box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True, show_edge=False)
        cols = ["device", "run", "use/day", "emb./day", "total/day", "total/yr",
                *([f"total/{days:g} d"] if days != 1 else []), "kWh/day", "devices"]
        for col in cols:
            table.add_column(col, justify="left" if col in ("device", "run") else "right",
                             min_width=len(col) if col in ("run", "devices", "use/day") else None,
                             no_wrap=col == "run")
        for p in projections:
            def f(u):  # type: ignore[no-untyped-def]
                return u.format("") if u is not None else "n/a"
            name = escape(p.run.device_name) + (" (estimated)" if p.run.estimated else "")
            over = [f(p.total_over_days_kg)] if days != 1 else []
            table.add_row(name, p.run.short_id[:8], f(p.use_per_day_kg), f(p.embodied_per_day_kg),
                          f(p.total_per_day_kg), f(p.total_per_year_kg), *over,
                          f(p.energy_per_day_kwh),
                          str(p.devices_needed) if p.devices_needed is not None else "unknown")
        console.print(table)
        for n in sorted({n for p in projections for n in p.notes}):
            console.print(f"[yellow]note:[/] {escape(n)}")
