"""`inferlca hardware list`: the catalog as a table, laid out once for rich and for plain text.

:func:`device_table` is the one layout; ``cli/hardware.py`` prints it with rich, and
:func:`fast_list` answers the plain command line (``hardware list [--json] [--category C]
[--kind K]``) before typer and rich are imported, with exactly the
text the typer command writes (``tests/test_cli_fast.py`` compares them byte for byte). Anything
else (help, an unknown option, a bad value, a table rich would wrap) is left to the typer
command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inferlca.cli._plain_table import PlainTable

if TYPE_CHECKING:
    from inferlca.hardware.catalog import Device

#: at this console width and wider the table has the name and year columns and a box
WIDE = 120


def _num(v: float | None, unit: str = "", digits: int = 4) -> str:
    if v is None:
        return "-"
    return f"{v:.{digits}g}{(' ' + unit) if unit else ''}"


def _tflops(dev: Device, precision: str) -> str:
    v = dev.peak_flops.get(precision)
    return "-" if not v else f"{v / 1e12:.4g}"


def device_table(devices: list[Device], wide: bool) -> PlainTable:
    """The device list: narrow terminals drop the name and year columns (the id names the
    device well enough)."""
    headers = ["id"] + (["name"] if wide else [])
    # memory size and type in two columns: sizes right-aligned, types left-aligned
    cols = ["category", "nm", "die mm2", "GB", "memory", "TDP W", "fp32", "fp16"]
    if wide:
        cols.append("year")
    headers += cols
    justify = ["left"] * (2 if wide else 1) + [
        "left" if c in ("category", "memory") else "right" for c in cols]
    rows = []
    for d in devices:
        cells = [d.id]
        if wide:
            cells.append(d.name if d.kind == "gpu" else f"{d.name} ({d.kind})")
        cells += [d.category, _num(d.process_node_nm), _num(d.die_area_mm2, digits=5),
                  f"{d.memory_gb:g}" if d.memory_gb else "-",
                  str(d.memory_type) if d.memory_gb else "-",
                  _num(d.tdp_w), _tflops(d, "fp32"), _tflops(d, "fp16")]
        if wide:
            cells.append(str(d.release_year or "-"))
        rows.append(cells)
    title = (f"{len(devices)} devices (peak: dense TFLOP/s; die: nominal, see "
             "`inferlca hardware show ID` for intervals and sources)")
    return PlainTable(title, headers, justify, rows, boxed=wide)


def rich_table(spec: PlainTable) -> Any:
    """The rich ``Table`` of a :func:`device_table` layout."""
    from rich import box
    from rich.table import Table

    wide = spec.boxed
    table = Table(title=spec.title, box=box.SIMPLE_HEAD if wide else None, pad_edge=False,
                  collapse_padding=not wide, show_edge=wide)
    for header, just in zip(spec.headers, spec.justify, strict=True):
        if header == "name":
            table.add_column(header, overflow="fold", ratio=1)
        else:
            table.add_column(header, justify="right" if just == "right" else "left",
                             no_wrap=True)
    for row in spec.rows:
        table.add_row(*row)
    return table


def _parse(args: list[str]) -> tuple[str | None, str | None, bool] | None:
    """``(category, kind, as_json)`` of ``hardware list ...``, or None for anything else."""
    if args[:2] != ["hardware", "list"]:
        return None
    category = kind = None
    as_json = False
    rest = args[2:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--json":
            as_json = True
            i += 1
            continue
        name, eq, value = a.partition("=")
        if name not in ("--category", "--kind"):
            return None
        if not eq:
            if i + 1 >= len(rest):
                return None
            value = rest[i + 1]
            i += 1
        if not value or value.startswith("-"):
            return None
        if name == "--category":
            category = value
        else:
            kind = value
        i += 1
    return category, kind, as_json


def fast_list(args: list[str]) -> str | None:
    """The output of ``inferlca hardware list ...`` when it can be written without typer and
    rich (see the module); None to leave the command line to typer."""
    parsed = _parse(args)
    if parsed is None:
        return None
    category, kind, as_json = parsed
    try:
        from inferlca import settings
        from inferlca.cli._plain_table import console_width, render, stream_kind
        from inferlca.hardware.catalog import get_catalog

        settings.resolve(config=None)  # a bad config file or variable: typer says so
        devices = get_catalog().devices(category=category, kind=kind)
        if as_json:
            from inferlca.cli._json import dumps

            return dumps([d.to_dict() for d in devices]) + "\n"
        kind = stream_kind()
        if kind is None:
            return None
        width = console_width()
        return render(device_table(devices, width >= WIDE), width, styled=kind == "styled")
    except Exception:  # noqa: BLE001 - typer gives the same error its own way
        return None
