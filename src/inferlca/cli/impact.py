"""`inferlca impact`: life-cycle impact of a workload from its energy and duration."""

from __future__ import annotations

from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from inferlca.cli import _lca_options as lca
from inferlca.cli._common import console, err_console, parse_uncertain, print_json
from inferlca.errors import InvalidValueError
from inferlca.units import J_PER_WH


def impact_cmd(
    device: str | None = typer.Option(
        None, "--device", help="Device id, name or alias (default: detect this machine's)."),
    energy_wh: str = typer.Option(..., "--energy-wh",
                                  help="Energy of the workload in Wh (> 0; or an interval 10..12)."),
    duration_s: float = typer.Option(..., "--duration-s", help="Duration of the workload, s (> 0)."),
    queries: int | None = typer.Option(None, "--queries", help="Number of queries (> 0)."),
    region: str | None = lca.region_option(None, "Grid region: ISO code or name (default FR)."),
    grid: str | None = lca.grid_option("Custom grid intensity in gCO2e/kWh (or lo..hi)."),
    pue: str | None = lca.pue_option("PUE >= 1, or an interval 1.1..1.6 (default by category)."),
    lifetime_years: str | None = lca.lifetime_option(
        "Device lifetime in years, or an interval 4..7 (default 7)."),
    memory_method: str = lca.memory_method_option("per-gb (default) or area."),
    scope: str = lca.scope_option(),
    criteria: str | None = typer.Option(
        None, "--criteria", help="Criteria to give, comma-separated: gwp,water,pe,adpe "
        "(default: gwp only, as before)."),
    grid_year: str | None = lca.grid_year_option(),
    grid_file: str | None = lca.grid_file_option(
        "Time-varying grid intensity: a timestamped CSV, hourly or finer (see docs/lca.md); "
        "needs --start."),
    start: str | None = typer.Option(
        None, "--start", help="Wall-clock start of the workload, ISO 8601 with offset "
        "(e.g. 2026-03-01T10:59:50Z), for --grid-file."),
    grid_unit: str | None = lca.grid_unit_option(),
    grid_tz: str | None = lca.grid_tz_option(),
    grid_signal: str = lca.grid_signal_option("average (default) or marginal intensity of the file."),
    samples: int | None = typer.Option(
        None, "--samples", help="Monte Carlo draws: median and percentiles of the total "
        "(and per query) beside the interval."),
    seed: int = typer.Option(0, "--seed", help="Seed of the Monte Carlo draws (>= 0)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Impact I = C x EGM x PUE + (t / lifetime) x F, per workload and per query."""
    from inferlca.cli._common import positive_float
    from inferlca.hardware.resolve import resolve_device
    from inferlca.lca.criteria import compute_criteria, parse_criteria
    from inferlca.lca.impact import ImpactContext, compute_impact

    _check_grid_options(region, grid, grid_file, start)
    _check_file_options(grid_file, start, grid_unit, grid_tz, grid_signal)
    wanted = parse_criteria(criteria) if criteria is not None else None
    if samples is not None:
        from inferlca.lca.montecarlo import check_samples_seed

        check_samples_seed(samples, seed)
    energy = parse_uncertain("--energy-wh", energy_wh, "Wh")
    assert energy is not None
    positive_float("--duration-s", duration_s)
    if queries is not None and queries <= 0:
        raise InvalidValueError(f"--queries must be a whole number > 0, got {queries}")
    resolved = resolve_device(device)  # the declared device, else this machine's
    dev, notes = resolved.device, list(resolved.notes)
    year = _grid_year(grid_year, grid_file)
    ctx = ImpactContext.resolve(dev, region=region, grid=grid, pue=pue,
                                lifetime_years=lifetime_years, memory_method=memory_method,
                                scope=scope, grid_year=year)
    timed = None
    if grid_file is not None and start is not None:
        ctx, timed = _grid_in_time(ctx, grid_file, start, duration_s, grid_unit, grid_tz,
                                   grid_signal, notes)
    energy_j = energy.scaled(J_PER_WH, "J")
    if energy.is_exact:
        imp = compute_impact(energy_j.value, duration_s, ctx, queries)
    else:
        imp = compute_impact(energy_j, duration_s, ctx, queries)
    crit = compute_criteria(imp, ctx, wanted) if wanted else None
    mc = _monte_carlo(imp, ctx, duration_s, queries, samples, seed) if samples else None
    if as_json:
        _print_json(imp, crit, timed, mc, notes, {"region": ctx.region, "grid_year": year})
        return
    how = ("--grid-file" if grid_file is not None else
           f"region, {grid_year}" if grid_year is not None else
           "region" if ctx.region != "custom" else "--grid")
    _print_tables(imp, ctx, dev, energy, duration_s, queries, memory_method, crit, notes, how)
    if mc is not None:
        m = mc["total"]
        console.print(f"Monte Carlo ({samples:,} draws, seed {seed}): total median "
                      f"{m['median']:.4g} gCO2e (p2.5 {m['p2_5']:.4g} - p97.5 {m['p97_5']:.4g})",
                      highlight=False, soft_wrap=True)
    for n in [*notes, *imp.notes]:
        err_console.print(f"note: {escape(n)}", highlight=False, soft_wrap=True)
    console.print(f"{len(imp.sources)} sources (see --json for the list)", highlight=False)


def _check_grid_options(region: str | None, grid: str | None, grid_file: str | None,
                        start: str | None) -> None:
    """Refuse grid options that do not go together."""
    if region is not None and grid is not None:
        raise InvalidValueError("give either --region or --grid, not both")
    if grid_file is not None and grid is not None:
        raise InvalidValueError("give either --grid or --grid-file, not both")
    if grid_file is not None and start is None:
        raise InvalidValueError("--grid-file needs --start (the wall-clock start of the "
                                "workload, ISO 8601 with offset, e.g. 2026-03-01T10:59:50Z)")


def _check_file_options(grid_file: str | None, start: str | None, grid_unit: str | None,
                        grid_tz: str | None, grid_signal: str) -> None:
    """Options of --grid-file given without it: refused, never silently ignored."""
    if grid_file is not None:
        return
    given = [flag for flag, v in (("--start", start), ("--grid-unit", grid_unit),
                                  ("--grid-tz", grid_tz)) if v is not None]
    if grid_signal != "average":
        given.append("--grid-signal")
    if given:
        verb, them = ("goes", "it") if len(given) == 1 else ("go", "them")
        raise InvalidValueError(f"{', '.join(given)} only {verb} with --grid-file (the "
                                f"time-varying grid intensity); give --grid-file PATH or leave "
                                f"{them} out")


def _grid_year(grid_year: str | None, grid_file: str | None) -> int | None:
    """``--grid-year`` as a year (checked), refused beside ``--grid-file``."""
    if grid_year is None:
        return None
    from inferlca.lca.grid import parse_year

    year = parse_year(grid_year)
    if grid_file is not None:
        raise InvalidValueError("--grid-year picks a year of the region's intensity; not with "
                                "--grid-file")
    return year


def _grid_in_time(ctx: Any, grid_file: str, start: str, duration_s: float, grid_unit: str | None,
                  grid_tz: str | None, grid_signal: str, notes: list[str]) -> tuple[Any, Any]:
    """``ctx`` with the grid intensity of ``--grid-file`` over the workload (constant power from
    ``start`` for ``duration_s``), and the time integration; its notes are added to ``notes``."""
    import dataclasses

    from inferlca.lca import grid_time
    from inferlca.uncertainty import UValue

    series = grid_time.read_grid_file(grid_file, unit=grid_unit, tz=grid_tz,
                                      signal=grid_signal)
    t0 = _parse_start(start)
    t, p = grid_time.constant_power_timeline(duration_s)
    timed = grid_time.integrate(series, t0, t, p)
    notes.append("grid file: constant power assumed over --duration-s (no trace given)")
    notes.extend(timed.notes)
    ctx = dataclasses.replace(ctx, grid_gco2e_per_kwh=UValue.exact(
        timed.gco2e_per_kwh, "gCO2e/kWh", (timed.source,), kind="input"))
    return ctx, timed


def _print_json(imp: Any, crit: dict[str, Any] | None, timed: Any, mc: dict[str, Any] | None,
                notes: list[str], grid: dict[str, Any]) -> None:
    out = {**imp.to_dict(), **grid}  # the region (or custom) and the grid year asked for
    if crit is not None:
        out["criteria"] = {k: c.to_dict() for k, c in crit.items()}
    if timed is not None:
        out["grid_in_time"] = timed.to_dict()
    if mc is not None:
        out["monte_carlo"] = mc
    print_json(out)
    for n in [*notes, *imp.notes]:
        err_console.print(f"note: {escape(n)}", highlight=False, soft_wrap=True)


def _print_tables(imp: Any, ctx: Any, dev: Any, energy: Any, duration_s: float,
                  queries: int | None, memory_method: str, crit: dict[str, Any] | None,
                  notes: list[str], how: str = "region") -> None:
    """The impact table and, when asked, the criteria table (their notes go to ``notes``);
    ``how``: where the grid intensity comes from (the formula of the grid row)."""
    where = ctx.region_name if ctx.region == "custom" else f"{ctx.region_name} ({ctx.region})"
    if how == "--grid-file":
        where = f"{where}, intensity from --grid-file"
    table = Table(title=f"Impact on {dev.name if dev else 'an unknown device'}, grid: {where}, "
                        f"manufacturing scope: {ctx.scope}")
    for col in ("quantity", "formula", "value [low - high]", "kind"):
        table.add_column(col, overflow="fold")
    rows = [
        ("energy C", f"{energy.format('Wh')} / 1000", imp.energy_kwh, "kWh", imp.energy_j.kind),
        ("grid EGM", how, imp.grid_gco2e_per_kwh,
         "gCO2e/kWh", imp.grid_gco2e_per_kwh.kind),
        ("PUE", "by category" if imp.pue.kind == "default" else "--pue", imp.pue, "",
         imp.pue.kind),
        ("use phase", "C x EGM x PUE", imp.use_gco2e, "gCO2e", "derived"),
        ("lifetime", "", imp.lifetime_years, "years", imp.lifetime_years.kind),
        ("allocation a(t)", f"{duration_s:g} s / lifetime", imp.allocation, "", "derived"),
        ("device footprint F", f"scope {ctx.scope}, memory method {memory_method}", imp.device_embodied_kgco2e,
         "kgCO2e", "derived" if imp.embodied_available else "unavailable"),
        ("embodied", "a(t) x F", imp.embodied_gco2e, "gCO2e", "derived"),
        ("[bold]total[/bold]", "use + embodied", imp.total_gco2e, "gCO2e", "derived"),
    ]
    if imp.per_query_gco2e is not None:
        rows.append(("per query", f"total / {queries}", imp.per_query_gco2e, "gCO2e", "derived"))
    for name, formula, value, unit, kind in rows:
        table.add_row(name, formula, value.format(unit), kind)
    console.print(table)
    if crit is not None:
        ct = Table(title="Criteria (use phase + manufacturing share)")
        for col in ("criterion", "use", "manufacturing", "total [low - high]", "scope"):
            ct.add_column(col, overflow="fold")
        for c in crit.values():
            tot = c.total
            ct.add_row(f"{c.name} ({c.unit})", c.use.format(c.unit) if c.use else "no data",
                       c.manufacturing.format(c.unit) if c.manufacturing else "no data",
                       tot.format(c.unit) if tot else "no data", c.scope or "-")
            notes.extend(f"{c.name}: {n}" for n in c.notes)
        console.print(ct)


def _monte_carlo(imp: Any, ctx: Any, duration_s: float, queries: int | None, samples: int,
                 seed: int) -> dict[str, Any]:
    from inferlca.lca.montecarlo import Draws, MCInputs, Spread, simulate, summarize
    from inferlca.uncertainty import UValue

    foot = imp.device_embodied_kgco2e if imp.embodied_available else UValue.exact(0.0)
    inp = MCInputs(imp.energy_j, Spread.exact(duration_s), ctx.grid_gco2e_per_kwh, ctx.pue,
                   ctx.lifetime_years, foot, None)
    x = simulate([inp], Draws(samples, seed))[0]
    out: dict[str, Any] = {"samples": samples, "seed": seed, "unit": "gCO2e",
                           "total": summarize(x)}
    if queries:
        out["per_query"] = summarize(x / queries)
    return out


def _parse_start(text: str) -> float:
    from datetime import datetime

    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValueError(f"--start must be an ISO 8601 time, got {text!r}") from None
    if dt.tzinfo is None:
        raise InvalidValueError(f"--start {text!r} has no time zone offset; add Z or +01:00")
    return dt.timestamp()


def register(app: typer.Typer) -> None:
    app.command("impact")(impact_cmd)
