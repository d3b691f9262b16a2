"""`inferlca project`: a run's per-query footprint scaled to a service, per day and per year."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from inferlca.cli._common import console, print_json
from inferlca.cli._store_options import STORE_HELP


def _fmt(u: Any) -> str:
    """``value [low - high]`` with thousands separators (``45,446``), ``n/a`` for no value."""
    if u is None:
        return "n/a"
    big = max(abs(u.value), abs(u.low), abs(u.high)) >= 1000

    def one(x: float) -> str:
        return f"{x:,.0f}" if big else f"{x:.3g}"
    if u.low == u.value == u.high:
        return one(u.value)
    return f"{one(u.value)} [{one(u.low)} - {one(u.high)}]"


class _Triple:
    def __init__(self, d: dict[str, Any]) -> None:
        self.value, self.low, self.high = d["value"], d["low"], d["high"]


def _extras(view: Any, wanted: tuple[str, ...] | None, samples: int | None, seed: int,
            q_day: float) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The run's criteria per day (per-query criteria x queries per day; GWP in kgCO2e) and the
    Monte Carlo of its CO2e per day (kgCO2e)."""
    crit = mc = None
    if wanted:
        from inferlca.cli._criteria import scaled
        from inferlca.lca.criteria import run_criteria

        crit = {}
        for name, d in run_criteria(view, wanted).items():
            if d["value"] is not None and d.get("per") != "query":  # no query count: no per day
                d = dict(d, value=None, low=None, high=None,
                         notes=[*d["notes"], "the run has no query count: no figure per query"])
            if name == "gwp":
                crit[name] = scaled(d, q_day / 1000.0, "kgCO2e/day")
            else:
                crit[name] = scaled(d, q_day, d["unit"] + "/day")
            crit[name]["per"] = "day"
    if samples is not None:
        from inferlca.cli._criteria import monte_carlo

        mc = monte_carlo(view, samples, seed, q_day / 1000.0, "kgCO2e per day")
    return crit, mc


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
        scope: Annotated[str | None, typer.Option(
            "--scope", help="Manufacturing scope of the runs projected: chip, card, server-share "
                            "(default: the one the stored runs share). Runs stored at another "
                            "scope are refused, not recomputed.")] = None,
        store: Annotated[str | None, typer.Option("--store", help=STORE_HELP)] = None,
        criteria: Annotated[str | None, typer.Option(
            "--criteria", help="Also project these criteria per day: gwp,water,pe,adpe.")] = None,
        samples: Annotated[int | None, typer.Option(
            "--samples", help="Monte Carlo draws (e.g. 10000): median and percentiles of the "
            "CO2e per day.")] = None,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the Monte Carlo draws (>= 0).")] = 0,
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
        wanted = None
        if criteria is not None:
            from inferlca.lca.criteria import parse_criteria

            wanted = parse_criteria(criteria)
        if samples is not None:
            from inferlca.lca.montecarlo import check_samples_seed

            check_samples_seed(samples, seed)
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
        from inferlca.report.scope import runs_at_scope

        sel, scope = runs_at_scope(sel, scope)
        if not run:
            sel = list(latest_per_device(sel).values())
        projections = [project(v, users, queries_per_user, days) for v in sel
                       if v.gwp_per_query_g() is not None]
        if not projections:
            from inferlca.errors import UsageError
            raise UsageError("none of the selected runs has impact figures to project")
        q_day = users * queries_per_user
        extra = [_extras(p.run, wanted, samples, seed, q_day) for p in projections]
        if as_json:
            out = []
            for p, (crit, mc) in zip(projections, extra):
                d = p.to_dict()
                if crit is not None:
                    d["criteria_per_day"] = crit
                if mc is not None:
                    d["monte_carlo"] = mc
                out.append(d)
            print_json({"scope": scope, "projections": out})
            return
        # one block per run (figure | value [interval]): fits 80 columns whatever the device
        # names and interval widths; the unit once in the title
        console.print(f"{users:,.0f} users x {queries_per_user:g} queries/day = "
                      f"{users * queries_per_user:,.0f} queries/day; CO2e in kgCO2e; "
                      f"manufacturing scope {scope}",
                      markup=False, highlight=False)
        for p, (crit, mc) in zip(projections, extra):
            name = escape(p.run.device_name) + (" (estimated)" if p.run.estimated else "")
            table = Table(title=f"{name}  (run {p.run.short_id})", title_justify="left",
                          box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True,
                          show_edge=False, show_header=False)
            table.add_column("figure", no_wrap=True)
            table.add_column("value [95 % interval]", justify="right", overflow="fold")
            emb = (_fmt(p.embodied_per_day_kg) if p.embodied_per_day_kg is not None
                   else "n/a (no footprint, see note)")
            use_only = " (use only)" if p.embodied_per_day_kg is None else ""
            rows = [("use / day", _fmt(p.use_per_day_kg)), ("embodied / day", emb),
                    (f"total / day{use_only}", _fmt(p.total_per_day_kg)),
                    (f"total / year{use_only}", _fmt(p.total_per_year_kg))]
            if days != 1:
                rows.append((f"total / {days:g} days{use_only}", _fmt(p.total_over_days_kg)))
            rows.append(("per user / day (gCO2e)", _fmt(p.per_user_day_g)))
            if p.per_1k_tokens_g is not None:
                rows.append(("per 1,000 output tokens (gCO2e)", _fmt(p.per_1k_tokens_g)))
            if p.tokens_per_day is not None:
                rows.append(("output tokens / day", f"{p.tokens_per_day:,.0f}"))
            rows += [("energy / day (kWh)", _fmt(p.energy_per_day_kwh)),
                     ("devices needed", f"{p.devices_needed:,}" if p.devices_needed is not None
                      else "n/a (throughput unknown)")]
            if mc is not None:
                rows.append(("total / day, Monte Carlo median",
                             (f"{mc['median']:.3g} [p2.5 {mc['p2_5']:.3g} - p97.5 "
                              f"{mc['p97_5']:.3g}]")))
            for name_, d in (crit or {}).items():
                rows.append((f"{name_} / day ({d['unit'].removesuffix('/day')})",
                             "no data (see note)" if d["value"] is None else _fmt(_Triple(d))))
            for label, value in rows:
                table.add_row(escape(label), escape(value))
            console.print(table)
            for n in dict.fromkeys(n for d in (crit or {}).values() for n in d["notes"]):
                console.print(f"[yellow]criteria ({escape(p.run.short_id)}):[/] {escape(n)}")
            if mc is not None:
                console.print(f"[dim]Monte Carlo: {mc['samples']:,} draws, seed {mc['seed']}; "
                              f"{escape(mc['distributions'])}[/]")
        for n in sorted({n for p in projections for n in p.notes}):
            console.print(f"[yellow]note:[/] {escape(n)}")
