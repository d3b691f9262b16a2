"""`inferlca embodied DEVICE`: the manufacturing footprint of a device, with its interval."""

from __future__ import annotations

import typer
from rich.table import Table

from inferlca.cli._common import console, err_console, print_json
from inferlca.hardware.catalog import get_catalog
from inferlca.lca.embodied import embodied_footprint


def embodied_cmd(
    device: str = typer.Argument(..., help="Device id, name or alias."),
    memory_method: str = typer.Option("per-gb", "--memory-method",
                                      help="Memory term: per-gb (default) or area."),
    node_source: str | None = typer.Option(
        None, "--node-source",
        help="Use one per-node factor source only: low, high, or a source id "
             "(act, imec, eco-chip, llmcarbon, uba). Default: the spread of all."),
    packaging: bool = typer.Option(False, "--packaging",
                                   help="Add ACT's packaging overhead (0.15 kgCO2e per die)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Manufacturing footprint F = F_proc + F_mem of a device, in kgCO2e [low - high]."""
    dev = get_catalog().get(device)
    emb = embodied_footprint(dev, memory_method, node_source=node_source, packaging=packaging)
    if as_json:
        print_json(emb.to_dict())
        return
    table = Table(title=f"Embodied footprint of {dev.name} (memory method: {memory_method})")
    for col in ("term", "formula", "value [low - high]"):
        table.add_column(col, overflow="fold")
    table.add_row("die area", "sum of dies", emb.die_area_cm2.format("cm2"))
    table.add_row("per-node factor", f"I_proc({dev.process_node_nm:g} nm)",
                  emb.node_factor.format("kgCO2e/cm2"))
    table.add_row("processor", "F_proc = area x I_proc", emb.processor_kg.format("kgCO2e"))
    if emb.memory_factor is not None:
        if memory_method == "per-gb":
            table.add_row("memory factor", f"I_mem({dev.memory_type})",
                          emb.memory_factor.format("kgCO2e/GB"))
            table.add_row("memory", f"F_mem = {dev.memory_gb:g} GB x I_mem",
                          emb.memory_kg.format("kgCO2e"))
        else:
            table.add_row("memory die area", f"{dev.memory_gb:g} GB x 8 / density",
                          emb.memory_factor.format("cm2"))
            table.add_row("memory", "F_mem = memory area x I_proc", emb.memory_kg.format("kgCO2e"))
    else:
        table.add_row("memory", "none of its own", emb.memory_kg.format("kgCO2e"))
    if packaging:
        table.add_row("packaging", "0.15 kg x dies", emb.packaging_kg.format("kgCO2e"))
    table.add_row("[bold]total[/bold]", "F", f"[bold]{emb.total_kg.format('kgCO2e')}[/bold]")
    console.print(table)
    for s in emb.sources:
        console.print(f"source: {s}", highlight=False, soft_wrap=True)
    for n in emb.notes:
        err_console.print(f"warning: {n}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("embodied")(embodied_cmd)
