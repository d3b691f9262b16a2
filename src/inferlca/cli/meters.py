"""`inferlca meters`: every power meter, whether it works here, and why not."""

from __future__ import annotations

import typer
from rich.table import Table

from inferlca.cli._common import console, print_json


def meters_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """List the power meters (auto picks the first available one, top to bottom)."""
    from inferlca.meters.registry import AUTO_ORDER, list_meters

    infos = list_meters()
    auto = next((i.name for i in infos if i.available and i.name in AUTO_ORDER), None)
    if as_json:
        print_json({"auto": auto, "meters": [i.to_dict() for i in infos]})
        return
    t = Table(title="power meters (auto = first available in this order)")
    for col in ("meter", "available", "kind", "why / what it reads"):
        t.add_column(col, overflow="fold")
    for i in infos:
        mark = "[green]yes[/]" if i.available else "[red]no[/]"
        if i.name == auto:
            mark += " (auto)"
        t.add_row(i.name, mark, "estimated" if i.estimated else "measured", i.reason)
    console.print(t)


def register(app: typer.Typer) -> None:
    app.command("meters")(meters_cmd)
