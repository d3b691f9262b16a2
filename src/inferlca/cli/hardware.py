"""`inferlca hardware list|show|detect`: the device catalog."""

from __future__ import annotations

import typer
from rich.markup import escape
from rich.table import Table

from inferlca.cli._common import console, print_json
from inferlca.cli._hardware_list import WIDE, _num, device_table, rich_table
from inferlca.hardware.catalog import CATEGORIES, Device, get_catalog

hardware_app = typer.Typer(help="The device catalog: specs and embodied inputs, with sources.",
                           no_args_is_help=True)


def _peak(dev: Device) -> str:
    parts = [f"{k} {v / 1e12:.4g}" for k, v in dev.peak_flops.items()]
    return ", ".join(parts) if parts else "-"


@hardware_app.command("list")
def list_cmd(
    category: str | None = typer.Option(None, "--category",
                                           help=f"Only one category: {', '.join(CATEGORIES)}."),
    kind: str | None = typer.Option(None, "--kind", help="Only one kind: gpu, cpu, soc."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """List the known devices."""
    devices = get_catalog().devices(category=category, kind=kind)
    if as_json:
        print_json([d.to_dict() for d in devices])
        return
    console.print(rich_table(device_table(devices, console.width >= WIDE)))


@hardware_app.command("show")
def show_cmd(
    device: str = typer.Argument(..., help="Device id, name or alias (e.g. h100, 'Tesla T4')."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Show one device with the source of each group of fields."""
    from inferlca.lca.factors import node_factor_range

    dev = get_catalog().get(device)
    node_range = node_factor_range(dev.process_node_nm) if dev.process_node_nm else None
    if as_json:
        d = dev.to_dict()
        d["node_factor_sources"] = node_range.to_dict() if node_range else None
        print_json(d)
        return
    table = Table(title=dev.name, show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    rows = [
        ("id", dev.id), ("aliases", "; ".join(dev.aliases)), ("vendor", dev.vendor),
        ("category", dev.category), ("kind", dev.kind), ("architecture", dev.architecture or "-"),
        ("process node", _num(dev.process_node_nm, "nm")), ("foundry", dev.foundry or "-"),
        ("die area", _num(dev.die_area_mm2, "mm2", 5) + (
            f" [{dev.die_area_low_mm2:g} - {dev.die_area_high_mm2:g}]"
            if dev.die_area_low_mm2 is not None else "")),
        ("dies", ", ".join(f"{x.count} x {x.area_mm2:g} mm2 @ {x.process_node_nm:g} nm"
                           for x in dev.dies) or "-"),
        ("memory", f"{dev.memory_gb:g} GB {dev.memory_type}" if dev.memory_gb else "-"),
        ("bandwidth", _num(dev.bandwidth_gbs, "GB/s")), ("TDP", _num(dev.tdp_w, "W")),
        ("peak (dense, TFLOP/s)", _peak(dev)), ("release year", str(dev.release_year or "-")),
    ]
    if node_range:
        rows.append(("per-node factor sources", ", ".join(
            f"{s.source_id} {s.value:.3g}" + ("" if s.method in ("exact", "node-independent")
                                              else f" ({s.method})")
            for s in node_range.all) + " kgCO2e/cm2"))
    quality_help = ("the weakest of its sources: primary = vendor or paper, secondary = "
                    "curated database, press = news, blog, forum or wiki")
    rows.append(("source quality", f"{dev.source_quality} ({quality_help})"))
    for group, cite in dev.sources.items():
        rows.append((f"source: {group} ({dev.source_qualities.get(group, 'press')})", cite))
    if dev.notes:
        rows.append(("notes", dev.notes))
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)


@hardware_app.command("archetypes")
def archetypes_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """The archetypes an unknown CPU is charged as (flagged, wide interval)."""
    from inferlca.hardware.archetypes import archetypes

    rows = list(archetypes().values())
    if as_json:
        print_json([{"id": a.id, "name": a.name, "vendor": a.vendor, "class": a.cls,
                     "category": a.category, "base_device": a.base_device,
                     "die_area_factor": [1 - a.widen, 1 + a.widen], "source": a.source,
                     "note": a.note} for a in rows])
        return
    table = Table(title=f"{len(rows)} archetypes for CPUs not in the catalog (a VM is charged "
                        "its share of the hardware threads of a server archetype)")
    # ids are typed back (`embodied --archetype ID`): never cut; below 120 columns the notes
    # go under the table, one line each, rather than into a column a few letters wide
    wide = console.width >= 120
    for col in ("id", "class", "category", "based on", "die area x", *(("note",) if wide else ())):
        table.add_column(col, overflow="fold", no_wrap=col != "note")
    for a in rows:
        table.add_row(a.id, a.cls, a.category, a.base_device,
                      f"{1 - a.widen:g} - {1 + a.widen:g}", *((a.note,) if wide else ()))
    console.print(table)
    if not wide:
        for a in rows:
            console.print(f"[bold]{escape(a.id)}[/]: {escape(a.note)}", highlight=False)


@hardware_app.command("detect")
def detect_cmd(
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Detect this machine's device (NVML, Jetson device tree, /proc/cpuinfo)."""
    from inferlca.hardware.detect import detect_device

    det = detect_device()
    if as_json:
        print_json(det.to_dict())
        return
    console.print(f"detected: [bold]{det.name}[/bold] (from {det.source})")
    console.print(f"catalog device: {det.device.id if det.device else 'none'}"
                  + (f" (ARCHETYPE {det.device.archetype})" if det.device is not None
                     and det.device.archetype else ""))
    for n in det.notes:
        console.print(f"note: {escape(n)}", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(hardware_app, name="hardware")
