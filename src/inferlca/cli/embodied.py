"""`inferlca embodied DEVICE`: the manufacturing footprint of a device, with its interval."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from inferlca.cli import _lca_options as lca
from inferlca.cli._common import console, err_console, print_json
from inferlca.errors import InvalidValueError
from inferlca.hardware.catalog import Device, get_catalog
from inferlca.lca.embodied import SCOPE_LABELS, Embodied, check_scope, embodied_footprint
from inferlca.lca.factors import node_factor_range


def _all_devices(category: str | None, node_source: str | None, packaging: bool,
                 as_json: bool, scope: str = "chip", node_basis: str = "as-published") -> None:
    """Both memory methods for every device of the catalog (or of one category)."""
    from inferlca.lca.embodied import EmbodiedUnavailableError

    rows: list[tuple[Device, Embodied | None, Embodied | None, str]] = []
    for dev in get_catalog().devices(category=category):
        try:
            per_gb = embodied_footprint(dev, "per-gb", node_source=node_source, packaging=packaging,
                                        scope=scope, node_basis=node_basis)
            area = embodied_footprint(dev, "area", node_source=node_source, packaging=packaging,
                                      scope=scope, node_basis=node_basis)
        except EmbodiedUnavailableError as exc:
            rows.append((dev, None, None, str(exc)))
            continue
        rows.append((dev, per_gb, area, ""))
    if as_json:
        print_json([{"device": dev.id, "scope": scope, "per_gb": pg.to_dict() if pg else None,
                     "area": ar.to_dict() if ar else None, "unavailable": why or None}
                    for dev, pg, ar, why in rows])
        return
    table = Table(title=f"Embodied footprint F (kgCO2e) of the catalog devices, scope {scope} "
                        f"({SCOPE_LABELS[scope]})")
    for col in ("device", "category", "F_proc", "F (per-gb)", "F (area)"):
        table.add_column(col, overflow="fold")
    for dev, pg, ar, _why in rows:
        if pg is None or ar is None:
            table.add_row(dev.id, dev.category, "unavailable", "-", "-")
        else:
            table.add_row(dev.id, dev.category, pg.processor_kg.format(""),
                          pg.total_kg.format(""), ar.total_kg.format(""))
    console.print(table)


def embodied_cmd(
    device: str | None = typer.Argument(None, help="Device id, name or alias."),
    all_devices: bool = typer.Option(False, "--all",
                                     help="Every device of the catalog, both memory methods."),
    category: str | None = typer.Option(None, "--category", help="With --all: one category."),
    memory_method: str = lca.memory_method_option("Memory term: per-gb (default) or area."),
    node_source: str | None = typer.Option(
        None, "--node-source",
        help="Use one per-node factor source only: low, high, or a source id "
             "(act, imec, eco-chip, llmcarbon, uba, pirson: Pirson et al.'s literature and "
             "database values at the node), or study (the seed study's matching of the Pirson "
             "et al. dataset: node, foundry and year). Default: the spread of all but pirson."),
    packaging: bool = typer.Option(False, "--packaging",
                                   help="Add ACT's packaging overhead (0.15 kgCO2e per die)."),
    scope: str = lca.scope_option(
        help="What the footprint covers: chip (default: dies + memory, the study's method), "
             "card (adds packaging and board; a vendor PCF where published) or server-share "
             "(adds the device's share of its host)."),
    node_basis: str = typer.Option(
        "as-published", "--node-basis",
        help="Per-node factors: as-published (default: the study's mean of the sources) or "
             "good-die (every source per cm2 of good die, the die's own yield included; lower "
             "bounds and unstated bases kept out of the nominal)."),
    archetype: str | None = typer.Option(
        None, "--archetype", help="Footprint of an archetype (see `inferlca hardware archetypes`) "
        "instead of a catalog DEVICE, e.g. for a CPU the catalog lacks."),
    cpu_name: str | None = typer.Option(
        None, "--cpu", help="With --archetype: the CPU's model name (refused when the catalog "
        "has a real entry for it)."),
    threads: int | None = typer.Option(
        None, "--threads", help="With --archetype: hardware threads this machine sees (a VM is "
        "charged that share of the package)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Manufacturing footprint F = F_proc + F_mem of a device, in kgCO2e [low - high]."""
    check_scope(scope)
    if all_devices:
        if device is not None:
            raise InvalidValueError("give either a DEVICE or --all, not both")
        _all_devices(category, node_source, packaging, as_json, scope, node_basis)
        return
    if archetype is not None:
        from inferlca.hardware.archetypes import archetype_device

        if device is not None:
            raise InvalidValueError("give either a DEVICE or --archetype, not both")
        if threads is not None and threads < 1:
            raise InvalidValueError(f"--threads must be a whole number >= 1, got {threads}")
        dev = archetype_device(archetype, cpu_name, visible_threads=threads)
    elif cpu_name is not None or threads is not None:
        raise InvalidValueError("--cpu and --threads go with --archetype")
    elif device is None:
        raise InvalidValueError("give a DEVICE (see `inferlca hardware list`) or --all")
    else:
        dev = get_catalog().get(device)
    emb = embodied_footprint(dev, memory_method, node_source=node_source, packaging=packaging,
                             scope=scope, node_basis=node_basis)
    if as_json:
        print_json(emb.to_dict())
        return
    table = Table(title=f"Embodied footprint of {dev.name}, scope {scope}: {emb.scope_label} "
                        f"(memory method: {memory_method}, node basis: {node_basis})")
    for col in ("term", "formula", "value [low - high]"):
        table.add_column(col, overflow="fold")
    table.add_row("die area", "sum of dies", emb.die_area_cm2.format("cm2"))
    table.add_row("per-node factor", f"I_proc({dev.process_node_nm:g} nm)",
                  emb.node_factor.format("kgCO2e/cm2"))
    if node_source is None and dev.process_node_nm is not None and node_basis == "as-published":
        rng = node_factor_range(dev.process_node_nm)
        table.add_row("  by source", "mean of sources; spread", ", ".join(
            f"{s.source_id} {s.value:.3g}" + ("" if s.method in ("exact", "node-independent")
                                              else f" ({s.method})") for s in rng.all))
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
    if packaging or scope != "chip":
        table.add_row("packaging", "0.15 kg x dies", emb.packaging_kg.format("kgCO2e"))
    for comp in emb.components:
        if comp.name not in ("dies", "memory", "package"):
            table.add_row(comp.name, f"scope {scope}", comp.kg.format("kgCO2e"))
    table.add_row("[bold]total[/bold]", f"F ({emb.basis})",
                  f"[bold]{emb.total_kg.format('kgCO2e')}[/bold]")
    console.print(table)
    for p in emb.published:
        console.print(f"published ({p.scope}, {p.kind}): {p.kgco2e:g} kgCO2e - {p.source}",
                      highlight=False, soft_wrap=True)
    for s in emb.sources:
        console.print(f"source: {s}", highlight=False, soft_wrap=True)
    for n in emb.notes:
        err_console.print(f"warning: {escape(n)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command("embodied")(embodied_cmd)
