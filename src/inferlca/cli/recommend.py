"""`inferlca recommend`: the greenest device meeting a p99 latency budget."""

from __future__ import annotations

from typing import Annotated

import typer

from inferlca.cli._common import console, print_json
from inferlca.cli._store_options import STORE_HELP


def register(app: typer.Typer) -> None:
    @app.command("recommend")
    def recommend_cmd(
        latency_p99_ms: Annotated[float, typer.Option("--latency-p99-ms", help="p99 latency budget in milliseconds (> 0).")],
        workload: Annotated[str | None, typer.Option("--workload", help="Workload (needed if several).")] = None,
        scenario: Annotated[str | None, typer.Option("--scenario", help="Scenario (needed if several).")] = None,
        queries: Annotated[int | None, typer.Option("--queries", help="Only runs of this query count.")] = None,
        scope: Annotated[str | None, typer.Option(
            "--scope", help="Manufacturing scope of the runs ranked: chip, card, server-share "
                            "(default: the one the stored runs share). Runs stored at another "
                            "scope are refused, not recomputed.")] = None,
        store: Annotated[str | None, typer.Option("--store", help=STORE_HELP)] = None,
        criteria: Annotated[str | None, typer.Option(
            "--criteria", help="Also give these criteria per query for each device: "
            "gwp,water,pe,adpe (the ranking stays by GWP).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    ) -> None:
        """Greenest device (GWP per query) within the latency budget, runners-up, exclusions."""
        from rich.markup import escape
        from rich.table import Table

        from inferlca.cli._common import positive_float
        from inferlca.report.data import load_runs, open_store_for_reading
        from inferlca.report.recommend import recommend

        positive_float("--latency-p99-ms", latency_p99_ms)
        wanted = None
        if criteria is not None:
            from inferlca.lca.criteria import parse_criteria

            wanted = parse_criteria(criteria)
        with open_store_for_reading(store) as st:
            runs = load_runs(st)
        rec = recommend(runs, latency_p99_ms, workload=workload, scenario=scenario, queries=queries,
                        scope=scope)
        crit = None
        if wanted:
            from inferlca.lca.criteria import run_criteria

            crit = {c.run.run_id: run_criteria(c.run, wanted) for c in [*rec.ranked, *rec.excluded]}
        if as_json:
            d = rec.to_dict()
            if crit is not None:
                d["criteria"] = crit
            print_json(d)
            return
        table = Table(title=f"{escape(rec.workload)}, {escape(rec.scenario)}: p99 <= "
                            f"{latency_p99_ms:g} ms, greenest first (manufacturing scope "
                            f"{rec.scope})",
                      caption="+ use phase only (no manufacturing footprint: device not in the catalog)"
                      if any(c.use_phase_only for c in rec.ranked) else None)
        for col in ("rank", "device", "GWP per query (mgCO2e)", "p99 latency (ms)", "run", "why"):
            table.add_column(col, justify="right" if col in ("rank",) else "left")
        for i, c in enumerate(rec.ranked, 1):
            table.add_row(str(i), escape(c.run.device_name) + (" (estimated)" if c.run.estimated
                                                                 else ""),
                          (c.gwp_per_query_g * 1e3).format("") + (" +" if c.use_phase_only else ""),
                          (c.latency_p99_s * 1e3).format(""),
                          c.run.short_id, "recommended" if i == 1 else "runner-up")
        for c in rec.excluded:
            est = " (estimated)" if c.run.estimated else ""
            table.add_row("-", f"[dim]{escape(c.run.device_name)}{est}[/]",
                          (c.gwp_per_query_g * 1e3).format("") if c.gwp_per_query_g else "n/a",
                          (c.latency_p99_s * 1e3).format("") if c.latency_p99_s else "n/a",
                          c.run.short_id, f"excluded: {escape(c.excluded or '')}")
        console.print(table)
        if crit is not None and wanted:
            from inferlca.cli._criteria import cell

            ct = Table(title="criteria per query (run interval rule)")
            ct.add_column("device")
            for name in wanted:
                ct.add_column(name, justify="right")
            for c in [*rec.ranked, *rec.excluded]:
                ct.add_row(escape(c.run.device_name),
                           *(escape(cell(crit[c.run.run_id][n])) for n in wanted))
            console.print(ct)
            for n in sorted({n for per in crit.values() for d in per.values() for n in d["notes"]}):
                console.print(f"[yellow]criteria:[/] {escape(n)}")
        if rec.best:
            console.print(f"recommended: [bold green]{escape(rec.best.run.device_name)}[/]")
        for n in rec.notes:
            console.print(f"[yellow]note:[/] {escape(n)}")
