"""Shared rendering of power summaries for `inferlca measure` and `inferlca trace import`
(the measuring and the GWP are :mod:`inferlca.meters.measure`'s)."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from inferlca.cli._common import console, err_console
from inferlca.units import J_PER_WH


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
    t = Table(title=title, show_header=False)
    t.add_column("quantity")
    t.add_column("value", overflow="fold")
    t.add_row("meter", f"{s['meter']}: {kind}")
    t.add_row("duration", _fmt(s["duration_s"], "s"))
    _add_energy_rows(t, s)
    _add_sampling_rows(t, s)
    if impact is not None:
        _add_impact_row(t, impact)
    console.print(t)
    console.print(_channels_table(s))
    for w in s["warnings"]:
        err_console.print(f"warning: {escape(w)}", highlight=False, soft_wrap=True)
    for n in notes:
        err_console.print(f"note: {escape(n)}", highlight=False, soft_wrap=True)


def _add_energy_rows(t: Table, s: dict[str, Any]) -> None:
    """The energy rows: total, counter check, coverage, scope, devices, idle baseline."""
    e = s["energy"]
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
    meta = s.get("meta") or {}
    if meta.get("remote_agent"):
        t.add_row("meter agent", agent_line({**meta["remote_agent"], **meta}))
    if "baseline" in s:
        b = s["baseline"]
        t.add_row(
            "idle baseline",
            f"{_fmt(b['idle_power_w'], 'W')}: static {_fmt(b['static_j'], 'J')}, "
            f"dynamic {_fmt(b['dynamic_j'], 'J')}",
        )


def _add_sampling_rows(t: Table, s: dict[str, Any]) -> None:
    """The sampling rows: achieved period and jitter (or sample count), phases, sensor update."""
    if s.get("period_achieved_s"):
        asked = s.get("period_requested_s")
        jitter = s.get("jitter_p99_s")
        t.add_row(
            "sampling",
            (f"asked {_fmt(asked * 1000, 'ms')}, " if asked else "")
            + f"achieved {_fmt(s['period_achieved_s'] * 1000, 'ms')}"
            + (f", p99 jitter {_fmt(jitter * 1000, 'ms')}" if jitter is not None else "")
            + f", {s['samples']} samples"
            + (f" ({s['sampler']} sampler)" if s.get("sampler") else ""),
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


def _add_impact_row(t: Table, impact: dict[str, Any]) -> None:
    tot = impact["total_gco2e"]
    t.add_row(
        "GWP total",
        f"{_fmt(tot['value'])} [{_fmt(tot['low'])} - {_fmt(tot['high'])}] gCO2e "
        f"(use {_fmt(impact['use_gco2e']['value'])}, embodied "
        f"{_fmt(impact['embodied_gco2e']['value'])}; grid {impact['region']}"
        + (f" {impact['grid_year']}" if impact.get("grid_year") else "") + " "
        f"{_fmt(impact['grid_gco2e_per_kwh']['value'])} gCO2e/kWh, PUE "
        f"{_fmt(impact['pue']['value'])})",
    )


def _channels_table(s: dict[str, Any]) -> Table:
    """The per-channel table (the primary channel in bold)."""
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
    return ch


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.1%}"


def agent_line(facts: dict[str, Any]) -> str:
    """One line on a remote meter: the agent (host, meter, URL), the clock offset with its
    uncertainty, the drift, the delivery latency, an outage."""
    off, unc = facts.get("clock_offset_s"), facts.get("clock_offset_uncertainty_s")
    text = f"{facts.get('meter')} on {facts.get('host')} ({facts.get('url')})"
    if off is not None and unc is not None:
        text += f"; clock offset {off:+.6f} s ± {unc * 1000:.3g} ms"
    if facts.get("clock_drift_ppm") is not None:
        text += f", drift {facts['clock_drift_ppm']:+.3g} ppm"
    if facts.get("delivery_latency_p99_s") is not None:
        text += f"; readings delivered in {facts['delivery_latency_p99_s'] * 1000:.3g} ms (p99)"
    if facts.get("agent_lost"):
        text += "; LOST during the window (a gap, never zeros)"
    elif facts.get("outages"):
        text += f"; {facts['outages']} outage(s)"
    return text
