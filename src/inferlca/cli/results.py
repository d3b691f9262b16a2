"""`inferlca results`: list the runs of the results store, show one, delete one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from inferlca.cli._common import console, print_json
from inferlca.cli._store_options import STATUS_STYLE, STORE_HELP, fmt_interval, fmt_number

if TYPE_CHECKING:  # the store (numpy, sqlite) is imported inside the commands
    from inferlca.store.records import RunRecord

results_app = typer.Typer(
    help="List the runs of the results store (`inferlca results`), show one (`results show ID`), "
    "delete one (`results delete ID`).",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _per_query_g(run: RunRecord) -> Any:
    return ((run.summary or {}).get("impact") or {}).get("per_query_gco2e")


def _per_query(run: RunRecord, scale: float, interval: bool) -> str:
    """GWP per query in the listing's unit: with its interval on a wide terminal, the nominal
    value on a narrow one; ``(use)`` marks a use-phase-only total (no footprint)."""
    from inferlca.store.export import embodied_missing

    v = _per_query_g(run)
    if not isinstance(v, dict) or v.get("value") is None:
        return "n/a"
    text = fmt_interval(v, scale=scale) if interval else fmt_number(v["value"] * scale)
    return text + (" (use)" if embodied_missing((run.summary or {}).get("impact")) else "")


def _status(run: RunRecord) -> str:
    style = STATUS_STYLE.get(run.status, "")
    return f"[{style}]{run.status}[/]" if style else run.status


def _reps(run: RunRecord) -> str:
    planned = run.repetitions_planned
    return f"{len(run.repetitions)}/{planned}" if planned else str(len(run.repetitions))


def _ms(x: float | None) -> str:
    return fmt_number(None if x is None else x * 1000.0)


def runs_table(runs: list[RunRecord], title: str, width: int | None = None,
               mc: dict[str, dict[str, Any]] | None = None) -> Table:
    """The run listing; on a narrow terminal (< 120 columns, < 150 with ``mc``) the secondary
    columns are left out; ``mc``: Monte Carlo rows by run id (:mod:`inferlca.report.mc_table`),
    one more column (then J/query and p99 are left out too on a narrow terminal)."""
    # the MC column takes about 22 more columns: the wide layout needs 150 with it
    wide = (console.width if width is None else width) >= (120 if mc is None else 150)
    show_labels = wide and any(r.label for r in runs)
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1),
                  collapse_padding=True, show_edge=False)
    columns: list[tuple[str, dict[str, Any]]] = [("run", {"style": "bold", "no_wrap": True})]
    if wide:
        columns.append(("created UTC", {"no_wrap": True}))
    columns += [("device", {"overflow": "fold"}), ("workload", {"overflow": "fold"})]
    if wide:
        columns.append(("scenario", {"overflow": "fold"}))
    # numbers and the status are never cut (no_wrap with their own width): the device and workload
    # names fold instead, so a narrow terminal (e.g. 80 columns with the MC column) stays readable
    num: dict[str, Any] = {"justify": "right", "no_wrap": True}
    columns += [("q", dict(num))]
    if wide:
        columns.append(("reps", {"justify": "right"}))
    from inferlca.report.style import gwp_unit

    unit = gwp_unit([v["value"] for r in runs if isinstance(v := _per_query_g(r), dict)
                     and isinstance(v.get("value"), (int, float))])
    # with the MC column on a narrow terminal, J/query and p99 make room (in --json and >= 120 cols)
    lean = mc is not None and not wide
    columns += [("status", {})]
    if not lean:
        columns += [("J/query", dict(num)), ("p99 ms", dict(num))]
    columns += [(f"{unit.name}/q", {"justify": "right", "no_wrap": not wide})]
    if mc is not None:
        columns.append((f"MC {unit.name}/q", {"justify": "right", "no_wrap": True}))
    if show_labels:
        columns.append(("label", {"overflow": "fold"}))
    for name, kw in columns:
        table.add_column(name, **kw)
    for r in runs:
        # narrow: "est." under the status, so the column is no wider than "complete" and the
        # workload (openai-endpoint) is not folded mid-word
        status = _status(r) + ("" if r.measured else ("  " if wide else "\n") + "[magenta]est.[/]")
        row = [r.short_id]
        if wide:
            row.append(r.created_at[:16].replace("T", " "))
        row += [escape(r.device), escape(r.workload or "-")]
        if wide:
            row.append(escape(r.scenario or "-"))
        row.append("-" if r.queries is None else str(r.queries))
        if wide:
            row.append(_reps(r))
        row.append(status)
        if not lean:
            row += [fmt_number(r.metric("energy_per_query_j")), _ms(r.metric("latency_p99_s"))]
        row.append(_per_query(r, unit.scale, wide))
        if mc is not None:
            row.append(_mc_cell(mc.get(r.run_id), unit.scale))
        if show_labels:
            row.append(escape(r.label or ""))
        table.add_row(*row)
    return table


def _mc_cell(row: dict[str, Any] | None, scale: float) -> str:
    if not row or row.get("median") is None:
        return "-"
    return escape(f"{fmt_number(row['median'] * scale)} [{fmt_number(row['p2_5'] * scale)} - "
                  f"{fmt_number(row['p97_5'] * scale)}]")


@results_app.callback()
def results_list(
    ctx: typer.Context,
    json_out: bool = typer.Option(False, "--json", help="JSON for scripts."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP, show_default=False),
    workload: str | None = typer.Option(None, "--workload", help="Only runs of this workload."),
    device: str | None = typer.Option(None, "--device", help="Only runs on this device (catalog id or name)."),
    scenario: str | None = typer.Option(None, "--scenario", help="Only runs of this scenario."),
    kind: str | None = typer.Option(None, "--kind", help="measured or estimated."),
    status: str | None = typer.Option(None, "--status", help="complete, incomplete, failed or running."),
    label: str | None = typer.Option(None, "--label", help="Only runs with this label."),
    limit: int | None = typer.Option(None, "--limit", help="Only the N most recent runs."),
    samples: int | None = typer.Option(
        None, "--samples", help="Monte Carlo draws per complete run (e.g. 10000): median and "
        "p2.5-p97.5 of CO2e per query."),
    seed: int = typer.Option(0, "--seed", help="Seed of the Monte Carlo draws (>= 0)."),
) -> None:
    """List the runs in the results store (oldest first)."""
    ctx.obj = {"store": store}
    if ctx.invoked_subcommand is not None:
        return
    from inferlca.store.sqlite import Store

    if samples is not None:
        from inferlca.lca.montecarlo import check_samples_seed

        check_samples_seed(samples, seed)
    mc: dict[str, dict[str, Any]] = {}
    with Store.open_readonly(store) as s:
        runs = s.list_runs(workload=workload, device=device, scenario=scenario, kind=kind,
                           status=status, label=label, limit=limit)
        path = s.path
        if samples is not None:
            from inferlca.report.mc_table import monte_carlo_table

            mc = {row["run_id"]: row for row in monte_carlo_table(
                s, samples, seed, run_ids=[r.run_id for r in runs])}
    if json_out:
        out = [r.to_dict(repetitions=False) for r in runs]
        if samples is not None:
            for d, r in zip(out, runs):
                d["monte_carlo"] = mc.get(r.run_id)
        print_json({"store": str(path), "runs": out})
        return
    if not runs:
        console.print(f"no runs in {path} match" if any(
            v is not None for v in (workload, device, scenario, kind, status, label))
            else f"no runs yet in {path}; start one with `inferlca run`", markup=False)
        return
    console.print(runs_table(runs, escape(f"{len(runs)} run(s) in {path}"), mc=mc or None))
    if samples is not None:
        console.print("[dim]" + escape(f"MC: Monte Carlo median [p2.5 - p97.5] of CO2e per query, "
                                       f"{samples:,} draws, seed {seed}; complete runs only")
                      + "[/]")
    console.print("[dim]/q: GWP per query (use: use phase only, the device has no manufacturing "
                  "footprint)[/]")
    console.print("[dim]details: inferlca results show RUN_ID (a prefix of the id is enough)[/]")


def _store_of(ctx: typer.Context, store: str | None) -> str | None:
    if store is not None:
        return store
    return (ctx.obj or {}).get("store") if ctx.obj else None


def _metrics_table(run: RunRecord) -> Table:
    table = Table(title="metrics across repetitions (95 % interval: Student t)",
                  title_justify="left")
    for col in ("metric", "mean", "std", "95 % interval", "n"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    metrics = (run.summary or {}).get("metrics") or {}
    if not metrics and run.repetitions:
        from inferlca.stats import summarize

        metrics = summarize([r.metrics for r in run.repetitions])["metrics"]
    from inferlca.store.export import _metric_keys

    for key in _metric_keys(metrics):
        m = metrics[key]
        lo, hi = m.get("ci95_low"), m.get("ci95_high")
        interval = "-" if lo is None or hi is None else f"{fmt_number(lo)} - {fmt_number(hi)}"
        table.add_row(escape(key), fmt_number(m.get("mean")), fmt_number(m.get("std")), interval,
                      str(m.get("n", "")))
    return table


def _impact_table(impact: dict[str, Any]) -> Table:
    """The impact figures; embodied figures of a device without a footprint read ``n/a`` (the
    reason in a note below the table), and totals then say they are the use phase only."""
    from inferlca.store.export import EMBODIED_KEYS, embodied_missing

    missing = embodied_missing(impact)
    table = Table(title="impact (mean over repetitions of value, low and high)", title_justify="left",
                  caption=f"n/a: {missing}; totals are the use phase only" if missing else None,
                  caption_justify="left")
    table.add_column("figure")
    table.add_column(escape("value [low - high]"), justify="right")
    for key, v in impact.items():
        if key == "sources":
            continue
        if missing and key in EMBODIED_KEYS:
            table.add_row(escape(key), "n/a")
            continue
        if missing and key in ("total_gco2e", "per_query_gco2e") and isinstance(v, dict):
            table.add_row(escape(f"{key} (use only)"), escape(fmt_interval(v)))
            continue
        if isinstance(v, dict) and {"value", "low", "high"} <= set(v):
            table.add_row(escape(key), escape(fmt_interval(v)))
        elif isinstance(v, dict):
            for sub, sv in v.items():
                if missing and sub in EMBODIED_KEYS:
                    table.add_row(escape(f"{key}.{sub}"), "n/a")
                elif isinstance(sv, dict) and {"value", "low", "high"} <= set(sv):
                    table.add_row(escape(f"{key}.{sub}"), escape(fmt_interval(sv)))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            table.add_row(escape(key), fmt_number(float(v)))
        elif v is not None:
            table.add_row(escape(key), escape(str(v)))
    return table


def _repetitions_table(run: RunRecord) -> Table:
    from inferlca.store.export import loadgen_valid

    # compact (like the run listing) so that it stays readable on an 80-column terminal
    table = Table(title="repetitions (trace: power samples; lat. n: query latencies; valid: LoadGen)",
                  title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1), collapse_padding=True,
                  show_edge=False)
    for col in ("#", "status", "time s", "energy J", "J/query", "p99 ms", "max ms", "trace",
                "lat. n", "valid"):
        table.add_column(col, justify="right" if col not in ("status",) else "left", no_wrap=True)
    for rep in run.repetitions:
        m = rep.metrics
        valid = loadgen_valid(rep.loadgen)
        table.add_row(str(rep.index), f"[{STATUS_STYLE.get(rep.status, '')}]{rep.status}[/]",
                      fmt_number(m.get("duration_s")), fmt_number(m.get("energy_total_j")),
                      fmt_number(m.get("energy_per_query_j")), _ms(m.get("latency_p99_s")),
                      _ms(m.get("latency_max_s")), str(rep.trace_samples) if rep.has_trace else "-",
                      str(rep.n_latencies) if rep.n_latencies else "-",
                      "-" if valid is None else ("yes" if valid else "no"))
    return table


@results_app.command("show")
def results_show(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="A run id, or the start of one (as listed)."),
    json_out: bool = typer.Option(False, "--json", help="JSON for scripts."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP, show_default=False),
    criteria: str | None = typer.Option(
        None, "--criteria", help="Also give these criteria per query: gwp,water,pe,adpe."),
    samples: int | None = typer.Option(
        None, "--samples", help="Monte Carlo draws (e.g. 10000): median and percentiles of CO2e "
        "per query."),
    seed: int = typer.Option(0, "--seed", help="Seed of the Monte Carlo draws (>= 0)."),
) -> None:
    """Show one run: specification, device, summary with intervals, impact, repetitions."""
    from inferlca.store.sqlite import Store

    wanted = None
    if criteria is not None:
        from inferlca.lca.criteria import parse_criteria

        wanted = parse_criteria(criteria)
    if samples is not None:
        from inferlca.lca.montecarlo import check_samples_seed

        check_samples_seed(samples, seed)
    with Store.open_readonly(_store_of(ctx, store)) as s:
        run = s.get_run(run_id)
    crit = mc = None
    if wanted or samples is not None:
        from inferlca.cli._criteria import monte_carlo
        from inferlca.lca.criteria import run_criteria
        from inferlca.report.data import run_view

        view = run_view(run)
        crit = run_criteria(view, wanted) if wanted else None
        mc = monte_carlo(view, samples, seed) if samples is not None else None
    from inferlca.report.classes import class_table, run_classes

    classes = run_classes(run.summary, [r.loadgen for r in run.repetitions])
    if json_out:
        d = run.to_dict()
        if classes:
            d["classes"] = classes  # mixed traffic: per-class figures over repetitions
        if crit is not None:
            d["criteria"] = crit
        if mc is not None:
            d["monte_carlo"] = mc
        print_json(d)
        return
    kind = "measured" if run.measured else "[magenta]estimated[/]"
    console.print(f"[bold]run {run.run_id}[/]  {_status(run)}  {kind}")
    lines = [
        ("workload", run.workload), ("scenario", run.scenario), ("backend", run.backend),
        ("queries", run.queries), ("repetitions", _reps(run)),
        ("device", f"{run.device}" + (f" ({run.device_id})" if run.device_id and run.device_name else "")),
        ("meter", run.meter), ("label", run.label), ("created", run.created_at),
        ("finished", run.finished_at), ("host", run.hostname),
    ]
    for name, value in lines:
        if value is not None and value != "":
            console.print(f"  {name:<12} {value}", highlight=False, markup=False)
    agent = (run.summary or {}).get("remote_agent")
    if agent:
        from inferlca.cli._power import agent_line

        console.print(f"  {'meter agent':<12} {agent_line(agent)}", highlight=False,
                      markup=False)
    if run.error:
        console.print(f"  [red]{'error':<12} {escape(run.error)}[/]", highlight=False)
    console.print(_metrics_table(run))
    from inferlca.cli._requests import failure_line

    if failed := failure_line(run.summary or {}):
        console.print(f"[red]failed requests:[/] {escape(failed)}", highlight=False)
    impact = (run.summary or {}).get("impact")
    if impact:
        console.print(_impact_table(impact))
        from inferlca.report.data import device_category
        from inferlca.report.summary import context_rows

        for label, text in context_rows(run.spec or {}, impact,
                                        device_category(run.device_id, run.device_name)):
            console.print(f"  {label + ':':<10} {escape(text)}", highlight=False)
    if classes:
        console.print(class_table(classes))
    if run.repetitions:
        console.print(_repetitions_table(run))
        from inferlca.report.summary import outlier_repetitions

        for note in outlier_repetitions([(r.index, r.metrics.get("duration_s"))
                                         for r in run.repetitions if r.status == "complete"]):
            console.print(f"[yellow]outlier:[/] {escape(note)}", highlight=False)
    if crit is not None:
        from inferlca.cli._criteria import cell

        ct = Table(title="criteria per query (run interval rule)", title_justify="left")
        ct.add_column("criterion")
        ct.add_column(escape("value [low - high]"), justify="right")
        ct.add_column("scope")
        for name, d in crit.items():
            ct.add_row(name, escape(cell(d)), d["scope"] or "-")
        console.print(ct)
        for n in dict.fromkeys(n for d in crit.values() for n in d["notes"]):
            console.print(f"[yellow]criteria:[/] {escape(n)}", highlight=False)
    if mc is not None:
        from inferlca.cli._criteria import mc_line

        console.print(escape(mc_line(mc, 1e3, "mgCO2e per query")), highlight=False,
                      soft_wrap=True)
    for note in run.notes:
        console.print(f"[yellow]note:[/] {escape(str(note))}", highlight=False)
    sources = (impact or {}).get("sources") if impact else None
    if sources:
        console.print("[dim]sources: " + escape("; ".join(map(str, sources))) + "[/]", highlight=False)


@results_app.command("delete")
def results_delete(
    ctx: typer.Context,
    run_id: str = typer.Argument(..., help="A run id, or the start of one."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    store: str | None = typer.Option(None, "--store", help=STORE_HELP, show_default=False),
) -> None:
    """Delete a run with its repetitions, traces and latencies."""
    from inferlca.store.sqlite import Store

    with Store.open(_store_of(ctx, store)) as s:
        run = s.get_run(run_id)
        if not yes:
            typer.confirm(f"delete run {run.run_id} ({run.workload} on {run.device}, "
                          f"{len(run.repetitions)} repetition(s))?", abort=True)
        s.delete_run(run.run_id)
    console.print(f"deleted run {run.run_id}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(results_app, name="results")
