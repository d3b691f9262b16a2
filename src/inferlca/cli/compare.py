"""`inferlca compare A B`: ratios of CO2e, energy and p99 latency per query, with intervals."""

from __future__ import annotations

from typing import Annotated

import typer

from inferlca.cli._common import console, print_json
from inferlca.cli._store_options import STORE_HELP


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_cmd(
        a: Annotated[str, typer.Argument(help="Run id (prefix) or device name (its latest run).")],
        b: Annotated[str, typer.Argument(help="Run id (prefix) or device name (its latest run).")],
        store: Annotated[str | None, typer.Option("--store", help=STORE_HELP)] = None,
        workload: Annotated[str | None, typer.Option("--workload", help="With device names: this workload.")] = None,
        scenario: Annotated[str | None, typer.Option("--scenario", help="With device names: this scenario.")] = None,
        queries: Annotated[int | None, typer.Option("--queries", help="With device names: this query count.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
        allow_mixed_scope: Annotated[bool, typer.Option(
            "--allow-mixed-scope",
            help="Compare runs of different measurement scope (accelerator vs accelerator+host "
                 "vs node) anyway.")] = False,
    ) -> None:
        """How many times A's CO2e, energy and p99 latency per query are B's (with intervals)."""
        from rich.markup import escape
        from rich.table import Table

        from inferlca.report.compare import compare
        from inferlca.report.data import load_runs, open_store_for_reading

        with open_store_for_reading(store) as st:
            runs = load_runs(st)
        c = compare(runs, a, b, workload=workload, scenario=scenario, queries=queries,
                    allow_mixed_scope=allow_mixed_scope)
        if as_json:
            print_json(c.to_dict())
            return
        table = Table(title=f"A = {escape(c.a.device_name)} ({c.a.short_id}), "
                            f"B = {escape(c.b.device_name)} ({c.b.short_id}): "
                            f"{escape(c.a.workload)}, {escape(c.a.scenario)}")
        for col in ("per query", "A", "B", "A / B"):
            table.add_column(col, justify="left" if col == "per query" else "right")
        units = {"gwp_per_query": (1e3, "mgCO2e"), "energy_per_query": (1.0, "J"),
                 "latency_p99": (1e3, "ms"), "gwp_per_1k_tokens": (1e3, "mgCO2e"),
                 "energy_per_token": (1e3, "mJ"), "ttft_p99": (1e3, "ms"), "tpot_p99": (1e3, "ms")}
        for r in c.ratios:
            k, u = units[r.key]
            table.add_row(r.label, (r.a * k).format(u) if r.a else "n/a",
                          (r.b * k).format(u) if r.b else "n/a",
                          r.ratio.format("x") if r.ratio else "n/a")
        console.print(table)
        for s in c.sentences():
            console.print(escape(s))
        for n in c.notes:
            console.print(f"[yellow]note:[/] {escape(n)}")
