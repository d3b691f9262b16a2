"""Shared rendering of power summaries for `inferlca measure` and `inferlca trace import`."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from inferlca.cli._common import console, err_console
from inferlca.hardware.catalog import Device
from inferlca.units import J_PER_WH


def impact_for(
    energy_j: float,
    duration_s: float,
    device: str | None,
    region: str | None,
    detected_from_trace: str | None = None,
    energy_interval_j: dict[str, float] | None = None,
    detect_local: bool = True,
) -> tuple[dict[str, Any] | None, list[str]]:
    """GWP of a measured energy through the impact core; ``(impact dict or None, notes)``.

    Without ``device``: the device named in the trace, else (``detect_local``, for a measurement
    made here) this machine's detected device; an imported log recorded elsewhere passes
    ``detect_local=False`` and stays with an unknown device rather than take this machine's.
    """
    from inferlca.hardware.catalog import get_catalog
    from inferlca.lca.impact import ImpactContext, compute_impact
    from inferlca.uncertainty import UValue

    notes: list[str] = []
    dev: Device | None
    if not (energy_j > 0 and duration_s > 0):
        return None, ["GWP not computed: the energy or the duration is zero or unknown"]
    if device is not None:
        dev = get_catalog().get(device)
    elif detected_from_trace:
        dev = get_catalog().find(detected_from_trace)
        notes.append(
            f"device from the trace: {detected_from_trace}"
            + ("" if dev else " (not in the catalog)")
        )
    elif not detect_local:
        dev = None
        notes.append(
            "no device: the log names none and --device was not given (this machine's device "
            "is not used for a log recorded elsewhere); give --device for the embodied part"
        )
    else:
        from inferlca.hardware.detect import detect_device

        det = detect_device()
        dev = det.device
        notes.append(
            f"device detected from {det.source}: {det.name}"
            + ("" if dev else " (not in the catalog)")
        )
    ctx = ImpactContext.resolve(dev, region=region)
    if (
        energy_interval_j
        and energy_interval_j["low"] > 0
        and energy_interval_j["high"] > energy_interval_j["low"]
    ):
        e = UValue(
            energy_j,
            energy_interval_j["low"],
            energy_interval_j["high"],
            "J",
            ("modelled energy; interval from the idle-share range",),
            kind="derived",
        )
        imp = compute_impact(e, duration_s, ctx)
    else:
        imp = compute_impact(energy_j, duration_s, ctx)
    d = imp.to_dict()
    d["device"] = dev.id if dev else None
    d["region"] = ctx.region
    return d, notes + list(imp.notes)


def _fmt(x: float | None, unit: str = "", digits: int = 4) -> str:
    if x is None:
        return "n/a"
    return f"{x:.{digits}g}{(' ' + unit) if unit else ''}"


def render_summary(
    title: str, s: dict[str, Any], impact: dict[str, Any] | None, notes: list[str]
) -> None:
    """Rich tables of a :func:`inferlca.meters.summary.summarize` dict (+ impact)."""
    kind = (
        "[bold yellow]ESTIMATED (model, no sensor)[/]" if s["estimated"] else "[green]measured[/]"
    )
    e = s["energy"]
    t = Table(title=title, show_header=False)
    t.add_column("quantity")
    t.add_column("value", overflow="fold")
    t.add_row("meter", f"{s['meter']}: {kind}")
    t.add_row("duration", _fmt(s["duration_s"], "s"))
    e_wh = e["energy_j"] / J_PER_WH if e["energy_j"] is not None else None
    energy_txt = f"{_fmt(e['energy_j'], 'J')}  ({_fmt(e_wh, 'Wh')})"
    if "energy_interval_j" in s:
        iv = s["energy_interval_j"]
        energy_txt += f"  [{_fmt(iv['low'])} - {_fmt(iv['high'])} J]"
    t.add_row(f"energy ({s['primary']}, {e['source']})", energy_txt)
    if e.get("counter_j") is not None:
        t.add_row(
            "power samples vs counter",
            f"{_fmt(e['trapezoid_j'], 'J')} ({_pct(e['counter_vs_trapezoid'])})",
        )
    t.add_row("coverage", f"{e['coverage']:.1%}")
    if s.get("measurement_scope"):
        parts = ", ".join(
            f"{k} {_fmt(v.get('energy_j'), 'J')}" for k, v in (s.get("scopes") or {}).items()
        )
        t.add_row("measurement scope", f"{s['measurement_scope']}" + (f" ({parts})" if parts else ""))
    if s.get("devices_measured"):
        t.add_row(
            "devices measured",
            ", ".join(f"{d.get('meter', '')} {d.get('index', '')} {d.get('name', '')}".strip()
                      for d in s["devices_measured"]),
        )
    if "baseline" in s:
        b = s["baseline"]
        t.add_row(
            "idle baseline",
            f"{_fmt(b['idle_power_w'], 'W')}: static {_fmt(b['static_j'], 'J')}, "
            f"dynamic {_fmt(b['dynamic_j'], 'J')}",
        )
    if s.get("period_achieved_s"):
        asked = s.get("period_requested_s")
        jitter = s.get("jitter_p99_s")
        t.add_row(
            "sampling",
            (f"asked {_fmt(asked * 1000, 'ms')}, " if asked else "")
            + f"achieved {_fmt(s['period_achieved_s'] * 1000, 'ms')}"
            + (f", p99 jitter {_fmt(jitter * 1000, 'ms')}" if jitter is not None else "")
            + f", {s['samples']} samples",
        )
    else:
        t.add_row("samples", str(s["samples"]))
    if s.get("phases"):
        t.add_row(
            "phases",
            ", ".join(
                f"{p['name']} {_fmt(p['duration_s'], 's')} {_fmt(p['energy_j'], 'J')}"
                for p in s["phases"]
            ),
        )
    d = s["diagnostics"]
    if d.get("update_period_s"):
        t.add_row("sensor update (estimated)", _fmt(d["update_period_s"] * 1000, "ms"))
    if impact is not None:
        tot = impact["total_gco2e"]
        t.add_row(
            "GWP total",
            f"{_fmt(tot['value'])} [{_fmt(tot['low'])} - {_fmt(tot['high'])}] gCO2e "
            f"(use {_fmt(impact['use_gco2e']['value'])}, embodied "
            f"{_fmt(impact['embodied_gco2e']['value'])}; grid {impact['region']})",
        )
    console.print(t)
    ch = Table(title="channels")
    for col in ("channel", "energy J", "mean W", "peak W", "source", "coverage"):
        ch.add_column(col)
    for name, c in s["channels"].items():
        label = f"[bold]{name}[/]" if name == s["primary"] else name
        ch.add_row(
            label,
            _fmt(c["energy_j"]),
            _fmt(c["mean_power_w"]),
            _fmt(c["peak_power_w"]),
            c["source"],
            f"{c['coverage']:.0%}",
        )
    console.print(ch)
    for w in s["warnings"]:
        err_console.print(f"warning: {escape(w)}", highlight=False, soft_wrap=True)
    for n in notes:
        err_console.print(f"note: {escape(n)}", highlight=False, soft_wrap=True)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.1%}"
