"""`inferlca recommend`: the greenest device meeting p99 latency, TTFT or TPOT budgets."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from inferlca.cli._common import console, print_json
from inferlca.cli._store_options import STORE_HELP


def register(app: typer.Typer) -> None:
    @app.command("recommend")
    def recommend_cmd(
        latency_p99_ms: Annotated[float | None, typer.Option(
            "--latency-p99-ms", help="p99 latency budget in milliseconds (> 0).")] = None,
        ttft_p99_ms: Annotated[float | None, typer.Option(
            "--ttft-p99-ms", help="p99 time-to-first-token budget in milliseconds (> 0; "
                                  "streamed-token runs).")] = None,
        tpot_p99_ms: Annotated[float | None, typer.Option(
            "--tpot-p99-ms", help="p99 time-per-output-token budget in milliseconds (> 0; "
                                  "streamed-token runs).")] = None,
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
        """Greenest device (GWP per query) within the latency budgets, runners-up, exclusions."""
        from rich.markup import escape
        from rich.table import Table

        from inferlca.cli._common import positive_float
        from inferlca.report.data import load_runs, open_store_for_reading
        from inferlca.report.recommend import recommend

        for flag, value in (("--latency-p99-ms", latency_p99_ms), ("--ttft-p99-ms", ttft_p99_ms),
                            ("--tpot-p99-ms", tpot_p99_ms)):
            if value is not None:
                positive_float(flag, value)
        if latency_p99_ms is None and ttft_p99_ms is None and tpot_p99_ms is None:
            from inferlca.errors import UsageError

            raise UsageError("give a budget: --latency-p99-ms, --ttft-p99-ms or --tpot-p99-ms "
                             "(milliseconds)")
        wanted = None
        if criteria is not None:
            from inferlca.lca.criteria import parse_criteria

            wanted = parse_criteria(criteria)
        with open_store_for_reading(store) as st:
            runs = load_runs(st)
        rec = recommend(runs, latency_p99_ms, ttft_p99_ms=ttft_p99_ms, tpot_p99_ms=tpot_p99_ms,
                        workload=workload, scenario=scenario, queries=queries, scope=scope)
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
        table = Table(title=f"{escape(rec.workload)}, {escape(rec.scenario)}: "
                            f"{rec.describe_budgets()}, greenest first (manufacturing scope "
                            f"{rec.scope})",
                      caption="+ use phase only (no manufacturing footprint: device not in the catalog)"
                      if any(c.use_phase_only for c in rec.ranked) else None)
        # the figures that have a budget
        metrics = [m for m, _ in rec.budgets_s]
        heads = {"latency_p99_s": "p99 latency (ms)", "ttft_p99_s": "TTFT p99 ms",
                 "tpot_p99_s": "TPOT p99 ms"}
        for col in ("rank", "device", "GWP per query (mgCO2e)", *(heads[m] for m in metrics),
                    "run", "why"):
            table.add_column(col, justify="right" if col in ("rank",) else "left",
                             no_wrap=col in ("TTFT p99 ms", "TPOT p99 ms"))

        def ms(c: Any, m: str) -> str:
            x = c.figure(m)
            return (x * 1e3).format("") if x is not None else "n/a"

        for i, c in enumerate(rec.ranked, 1):
            table.add_row(str(i), escape(c.run.device_name) + (" (estimated)" if c.run.estimated
                                                                 else ""),
                          (c.gwp_per_query_g * 1e3).format("") + (" +" if c.use_phase_only else ""),
                          *(ms(c, m) for m in metrics),
                          c.run.short_id, "recommended" if i == 1 else "runner-up")
        for c in rec.excluded:
            est = " (estimated)" if c.run.estimated else ""
            table.add_row("-", f"[dim]{escape(c.run.device_name)}{est}[/]",
                          (c.gwp_per_query_g * 1e3).format("") if c.gwp_per_query_g else "n/a",
                          *(ms(c, m) for m in metrics),
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
