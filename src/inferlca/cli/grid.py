"""`inferlca grid list|show`: carbon intensity of electricity by region."""

from __future__ import annotations

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from inferlca.cli._common import console, print_json
from inferlca.lca.grid import DEFAULT_REGION, get_region, list_regions

grid_app = typer.Typer(help="Carbon intensity of electricity (gCO2e/kWh) by country.",
                       no_args_is_help=True)


@grid_app.command("list")
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts.")) -> None:
    """List the regions with their intensity (nominal [spread of sources])."""
    regions = list_regions()
    if as_json:
        print_json([r.to_dict() for r in regions])
        return
    table = Table(title=f"{len(regions)} regions (gCO2e/kWh; `inferlca grid show CODE` for every "
                        "source in full)", box=box.SIMPLE_HEAD)
    # one line per region: the source is cut to the terminal's width
    for col, width in (("code", 5), ("iso3", 4), ("name", 14), ("gCO2e/kWh [spread]", 18),
                       ("year", 4)):
        table.add_column(col, no_wrap=True, min_width=width)
    table.add_column("nominal source", no_wrap=True, overflow="ellipsis", min_width=10,
                     max_width=max(10, console.width - 64))
    for r in regions:
        nom = r.nominal_row
        table.add_row(r.iso2, r.iso3, r.name, r.intensity.format(""), nom.year or "-",
                      nom.source)
    console.print(table)
    console.print(escape(get_region(DEFAULT_REGION).statement()), highlight=False)


@grid_app.command("show")
def show_cmd(
    region: str = typer.Argument(..., help="ISO code (FR, FRA), country name, or WORLD."),
    year: str | None = typer.Option(None, "--year", help="Only the rows of this year."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Show one region: every source's value, and which one is nominal."""
    reg = get_region(region)
    if year is not None:
        reg = reg.for_year(year)
    if as_json:
        print_json(reg.to_dict())
        return
    console.print(f"[bold]{escape(reg.name)}[/bold] ({reg.iso2} / {reg.iso3}): "
                  f"{escape(reg.intensity.format())}", highlight=False)
    console.print(escape(reg.statement()), highlight=False)
    table = Table()
    for col in ("gCO2e/kWh", "year", "basis", "nominal", "source", "note"):
        table.add_column(col, overflow="fold")
    for r in reg.rows:
        table.add_row(f"{r.value_gco2e_per_kwh:g}", r.year or "-", r.basis,
                      "yes" if r.nominal else "", r.source, r.note)
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(grid_app, name="grid")
