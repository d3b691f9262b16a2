"""The report's figures, drawn with matplotlib's object API on the Agg canvas (no pyplot state).

Each function takes runs (and what it needs from the store) and returns a
:class:`matplotlib.figure.Figure`, or ``None`` when the runs hold nothing for that view (the report
then says why). :func:`save` writes a figure as PNG and SVG. Estimated runs are drawn hollow or
hatched and labelled "(estimated)" in every view.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inferlca.report import style
from inferlca.report.data import CATEGORIES, RunView, device_order

GRID_POINTS = 100  # the study interpolated each repetition onto 100 points
TIME_GRID_POINTS = 200  # absolute-time axis: points over the longest repetition
POWER_AXES = ("progress", "time")
FIXED_LAYOUT_PANELS = 16  # power-profile grids larger than this get a fixed layout (speed)
MAX_LABEL = 48  # characters of a device or workload name in a figure (the tables hold it whole)  # run progress (100 points, as the study) or seconds from start


def _figure(width_in: float, height_in: float):  # type: ignore[no-untyped-def]
    """A figure of the report's style (every figure has the style's width; ``width_in`` is
    ignored and kept for callers)."""
    del width_in
    return style.figure(height_in)


def device_colors(names: Sequence[str]) -> dict[str, str]:
    return style.device_colors(names)


def save(fig: Any, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """Apply the report's style (:func:`style.finish`: fonts, titles that fit) and write
    ``stem.png`` and ``stem.svg`` into ``out_dir``; return both paths."""
    style.finish(fig)  # solves the layout (with the fitted titles)
    png, svg = out_dir / f"{stem}.png", out_dir / f"{stem}.svg"
    # keep that layout rather than solving it again for the PNG and the SVG
    fig.set_layout_engine("none")
    fig.savefig(png, format="png")
    fig.savefig(svg, format="svg")
    return png, svg


def _label(v: RunView | str, estimated: bool = False) -> str:
    """A device's legend label; ``$`` escaped so that user text never turns into mathtext."""
    name = v.device_name if isinstance(v, RunView) else v
    est = v.estimated if isinstance(v, RunView) else estimated
    if len(name) > MAX_LABEL:  # a 500-character name would take the whole figure
        name = name[:MAX_LABEL - 1] + "…"
    name = name.replace("$", r"\$")
    return f"{name} (estimated)" if est else name


def _plain_log_axis(axis: Any) -> None:
    """Log-scale tick labels as plain numbers (0.5, 2, 10) rather than powers of ten."""
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda y, _pos: f"{y:g}")
    axis.set_major_formatter(fmt)
    axis.set_minor_formatter(FuncFormatter(
        lambda y, _pos: f"{y:g}" if f"{y:.0e}"[0] in "25" else ""))


# --- power profiles ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """Mean and standard deviation of power (W) across repetitions on a common grid."""

    device: str
    queries: int | None
    estimated: bool
    x: np.ndarray           # fraction of the run, 0..1 (GRID_POINTS points); seconds when axis="time"
    mean_w: np.ndarray
    std_w: np.ndarray
    n: int
    phases: dict[str, tuple[float, float]]  # phase -> (start, end): mean fractions (or seconds)
    axis: str = "progress"


def _phase_spans(trace: Any, fractions: bool) -> dict[str, tuple[float, float]]:
    """The load and compute phases of a trace (:func:`inferlca.traces.energy.phases`), as seconds
    from its first sample or, with ``fractions``, as fractions of its duration."""
    from inferlca.traces.energy import phases

    t = np.asarray(trace.t_s, dtype=float)
    if len(t) < 2 or t[-1] <= t[0]:
        return {}
    span = float(t[-1] - t[0])
    scale = span if fractions else 1.0
    out = {}
    for name, start, end in phases(trace):
        if name in ("load", "compute"):
            out[name] = (max(0.0, start - t[0]) / scale, min(span, end - t[0]) / scale)
    return out


def _time_profile(traces: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std of the primary channel on one grid of seconds from each trace's first sample,
    over the longest repetition; past the end of a shorter repetition it has no value (NaN), so
    the tail is the mean of the repetitions still running."""
    import warnings

    from inferlca.traces.energy import resample

    span = max(float(tr.t_s[-1] - tr.t_s[0]) for tr in traces)
    rows = []
    for tr in traces:
        t0 = float(tr.t_s[0])
        rows.append(resample(tr, TIME_GRID_POINTS, t0, t0 + span).channels[tr.primary])
    m = np.vstack(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean, std = np.nanmean(m, axis=0), np.nanstd(m, axis=0)
    return np.linspace(0.0, span, TIME_GRID_POINTS), mean, std


def power_profiles(runs: Sequence[RunView],
                   load_trace: Callable[[str, int], Any], axis: str = "progress") -> list[Profile]:
    """One :class:`Profile` per device and query count, from the primary channel of each trace.

    ``axis="progress"`` (the study's): each repetition's trace is resampled onto 100 points over
    its own duration and the profiles are averaged point by point
    (:func:`inferlca.traces.energy.mean_profile`, gaps stay gaps). ``axis="time"``: the traces
    are resampled onto one grid of seconds since their start (``TIME_GRID_POINTS`` points over the
    longest repetition) and averaged where they have samples.
    """
    from inferlca.errors import UnknownNameError
    from inferlca.traces.energy import mean_profile

    if axis not in POWER_AXES:
        raise UnknownNameError("power axis", axis, POWER_AXES,
                               hint=f"(accepted: {', '.join(POWER_AXES)})")

    groups: dict[tuple[str, int | None, bool], list[Any]] = defaultdict(list)
    for v in runs:
        for r in v.repetitions:
            tr = load_trace(v.run_id, r.index)
            if tr is None or tr.primary not in tr.channels or len(tr.t_s) < 2:
                continue
            if not np.isfinite(np.asarray(tr.channels[tr.primary], dtype=float)).any():
                continue
            groups[(v.device_name, v.queries, v.estimated)].append(tr)
    out = []
    for (dev, q, est), traces in groups.items():
        if axis == "time":
            x, mean, std = _time_profile(traces)
            fractions = [_phase_spans(tr, fractions=False) for tr in traces]
        else:
            x, mean, std = mean_profile(traces, n=GRID_POINTS)
            fractions = [_phase_spans(tr, fractions=True) for tr in traces]
        phases: dict[str, tuple[float, float]] = {}
        for name in ("load", "compute"):
            spans = [ph[name] for ph in fractions if name in ph]
            if spans:
                phases[name] = (float(np.mean([s[0] for s in spans])),
                                float(np.mean([s[1] for s in spans])))
        out.append(Profile(dev, q, est, x, mean, std, len(traces), phases, axis))
    return out


def power_profiles_figure(profiles: Sequence[Profile], order: Sequence[str]):  # type: ignore[no-untyped-def]
    """Grid of panels: one row per device (named on the left), one column per query count
    (named on top); mean +/- std, phases shaded, the number of repetitions in each panel.

    Grids of more than :data:`FIXED_LAYOUT_PANELS` panels get a fixed layout (margins from the
    figure size) instead of the constrained layout, whose cost grows with the panel count."""
    import textwrap

    if not profiles:
        return None
    devices = [d for d in order if any(p.device == d for p in profiles)]
    qs = sorted({p.queries or 0 for p in profiles})
    timed = any(p.axis == "time" for p in profiles)
    scale = 1.0 if timed else 100.0  # seconds, or percent of the run
    height = 1.55 * len(devices) + 1.1
    fig = style.figure(height)
    fixed = len(devices) * len(qs) > FIXED_LAYOUT_PANELS
    grid: dict[str, float] = {}
    if fixed:
        fig.set_layout_engine("none")
        grid = {"left": 0.13, "right": 0.99, "top": 1 - 0.75 / height, "bottom": 0.6 / height,
                "hspace": 0.35, "wspace": 0.25}
    # on the time axis runs differ in length by device and query count: each panel its own x
    axes = fig.subplots(len(devices), len(qs), squeeze=False, sharex=not timed,
                        gridspec_kw=grid or None)
    colors = device_colors(devices)
    by = {(p.device, p.queries or 0): p for p in profiles}
    for i, d in enumerate(devices):
        est = any(p.estimated for p in profiles if p.device == d)
        for j, q in enumerate(qs):
            ax = axes[i][j]
            p = by.get((d, q))
            if i == 0:
                ax.set_title(f"{q} queries")
            if j == 0:  # the row's device, left of the power axis label
                name = "\n".join(textwrap.wrap(_label(d, est), 22)[:3])
                ax.set_ylabel("power (W)")
                ax.annotate(name, xy=(0, 0.5), xycoords="axes fraction", xytext=(-40, 0),
                            textcoords="offset points", rotation=90, ha="right", va="center",
                            fontsize=style.LABEL_PT, fontweight="bold")
            if p is None:
                ax.set_xticks([])
                ax.set_yticks([])
                ax.text(0.5, 0.5, "no run", transform=ax.transAxes, ha="center", va="center",
                        color="#777777", fontsize=style.LEGEND_PT)
                continue
            x = p.x * scale
            ax.plot(x, p.mean_w, color=colors[d], lw=1.4, ls="--" if p.estimated else "-")
            ax.fill_between(x, p.mean_w - p.std_w, p.mean_w + p.std_w, color=colors[d], alpha=0.25,
                            lw=0)
            shades = {"load": ("#999999", "load"), "compute": ("#f4a261", "compute")}
            for name, (c, lab) in shades.items():
                if name in p.phases:
                    a, b = p.phases[name]
                    ax.axvspan(a * scale, b * scale, color=c, alpha=0.15, lw=0, label=lab)
            ax.text(0.02, 0.96, f"n={p.n}", transform=ax.transAxes, ha="left", va="top",
                    fontsize=style.LEGEND_PT, color="#444444")
            if i == len(devices) - 1:
                ax.set_xlabel("time since start (s)" if timed else "run progress (%)")
            if i == 0 and j == len(qs) - 1 and p.phases:
                ax.legend(loc="lower right")
    fig.suptitle("Power profiles: mean +/- std across repetitions")
    return fig


# --- latency and GWP box plots -----------------------------------------------------------------


def _grouped_boxes(ax: Any, data: dict[tuple[str, int], list[float]], devices: Sequence[str],
                   qs: Sequence[int], colors: dict[str, str], estimated: dict[str, bool],
                   suffix: dict[str, str] | None = None) -> None:
    width = 0.8 / max(1, len(devices))
    for k, d in enumerate(devices):
        pos, vals = [], []
        for j, q in enumerate(qs):
            xs = data.get((d, q))
            if xs:
                pos.append(j + (k - (len(devices) - 1) / 2) * width)
                vals.append(xs)
        if not vals:
            continue
        bp = ax.boxplot(vals, positions=pos, widths=width * 0.85, patch_artist=True,
                        # median in the device's colour, thick: repetitions often agree so
                        # closely that the box is a dash, and a black median hid its colour
                        manage_ticks=False, medianprops={"color": colors[d], "lw": 2.4},
                        whiskerprops={"color": colors[d]}, capprops={"color": colors[d]},
                        flierprops={"markeredgecolor": colors[d], "markersize": 3})
        for b in bp["boxes"]:
            b.set_facecolor(colors[d] + ("44" if estimated.get(d) else "88"))
            b.set_edgecolor(colors[d])
            b.set_linewidth(1.2)
            if estimated.get(d):
                b.set_hatch("//")
        ax.plot([], [], color=colors[d], lw=6,
                label=_label(d, estimated.get(d, False)) + (suffix or {}).get(d, ""))
    ax.set_xticks(range(len(qs)))
    ax.set_xticklabels([str(q) for q in qs])
    ax.set_xlabel("queries per run")


def latency_figure(runs: Sequence[RunView]):  # type: ignore[no-untyped-def]
    """Box plots of max and p99 query latency (ms, log scale) per device vs query count."""
    mx: dict[tuple[str, int], list[float]] = defaultdict(list)
    p99: dict[tuple[str, int], list[float]] = defaultdict(list)
    for v in runs:
        q = v.queries or 0
        mx[(v.device_name, q)] += [x * 1e3 for x in v.rep_metric("latency_max_s") if x > 0]
        p99[(v.device_name, q)] += [x * 1e3 for x in v.rep_metric("latency_p99_s") if x > 0]
    if not any(mx.values()) and not any(p99.values()):
        return None
    devices = device_order(runs)
    qs = sorted({v.queries or 0 for v in runs})
    colors = device_colors(devices)
    est = {v.device_name: v.estimated for v in runs}
    fig = _figure(13, 4.2)
    axes = fig.subplots(1, 2)
    for ax, data, title in ((axes[0], mx, "maximum query latency"),
                            (axes[1], p99, "p99 query latency")):
        _grouped_boxes(ax, data, devices, qs, colors, est)
        ax.set_yscale("log")
        _plain_log_axis(ax.yaxis)
        ax.set_ylabel("latency (ms, log scale)")
        ax.set_title(title, fontsize=10)
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def gwp_figures(runs: Sequence[RunView], unit: style.Unit | None = None) -> dict[str, Any]:
    """Per workload: box plots of GWP per workload vs query count, use and embodied apart.

    Devices without a manufacturing footprint have no embodied value (n/a, said in the legend);
    when no device has one, the embodied panel is left out and the title says why.
    """
    out = {}
    by_wl: dict[str, list[RunView]] = defaultdict(list)
    for v in runs:
        by_wl[v.workload].append(v)
    unit = unit or style.gwp_unit([x for v in runs for x in v.rep_impact("total_gco2e")])
    for wl, vs in sorted(by_wl.items()):
        use: dict[tuple[str, int], list[float]] = defaultdict(list)
        emb: dict[tuple[str, int], list[float]] = defaultdict(list)
        for v in vs:
            use[(v.device_name, v.queries or 0)] += [unit(x) for x in v.rep_impact("use_gco2e")]
            if not v.embodied_missing:
                emb[(v.device_name, v.queries or 0)] += [
                    unit(x) for x in v.rep_impact("embodied_gco2e")]
        if not any(use.values()):
            continue
        devices = device_order(vs)
        qs = sorted({v.queries or 0 for v in vs})
        colors = device_colors(devices)
        est = {v.device_name: v.estimated for v in vs}
        has_emb = {d for (d, _), xs in emb.items() if any(x > 0 for x in xs)}
        no_emb = {d: " (no embodied footprint: n/a)" for d in devices if d not in has_emb}
        panels = [(use, "use phase")]
        if has_emb:
            panels.append((emb, "embodied (allocated)"))
        fig = style.figure(4.2)
        axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
        for ax, (data, title) in zip(axes, panels):
            _grouped_boxes(ax, {k: [x for x in xs if x > 0] for k, xs in data.items()}, devices,
                           qs, colors, est, no_emb)
            ax.set_yscale("log")
            _plain_log_axis(ax.yaxis)
            ax.set_title(title)
        axes[0].set_ylabel(f"GWP per workload ({unit.name}, log scale)")
        handles, labels = axes[0].get_legend_handles_labels()
        axes[-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        extra = "" if has_emb else " (embodied n/a: no device of these runs has a footprint)"
        fig.suptitle(f"GWP per workload vs query count: {_label(wl)}{extra}")
        out[wl] = fig
    return out


# --- manufacturing footprint -------------------------------------------------------------------


@dataclass(frozen=True)
class Footprint:
    """A device's manufacturing footprint (kgCO2e) by one memory method."""

    device: str
    category: str | None
    method: str
    processor_kg: Any  # UValue
    memory_kg: Any  # UValue
    total_kg: Any  # UValue
    sources: tuple[str, ...] = ()


def manufacturing_figure(rows: Sequence[Footprint]):  # type: ignore[no-untyped-def]
    """Stacked bars processor + memory per device, both memory methods side by side, grouped by
    category; error bars give the total's interval."""
    if not rows:
        return None
    methods = sorted({r.method for r in rows}, key=lambda m: (m != "per-gb", m))
    cats = [c for c in CATEGORIES if any(r.category == c for r in rows)]
    if any(r.category not in CATEGORIES for r in rows):
        cats.append("other")
    devices: list[tuple[str, str]] = []
    for c in cats:
        names = sorted({r.device for r in rows
                        if (r.category if r.category in CATEGORIES else "other") == c})
        devices += [(c, n) for n in names]
    by = {(r.device, r.method): r for r in rows}
    fig = _figure(max(6.0, 0.9 * len(devices) + 2) + 1.6, 4.6)
    ax = fig.subplots()
    width = 0.8 / len(methods)
    hatches = {"per-gb": "", "area": "xx"}
    x_ticks = []
    for i, (_, d) in enumerate(devices):
        x_ticks.append(i)
        for k, m in enumerate(methods):
            r = by.get((d, m))
            if r is None:
                continue
            x = i + (k - (len(methods) - 1) / 2) * width
            ax.bar(x, r.processor_kg.value, width * 0.9, color="#457b9d", hatch=hatches.get(m, ""),
                   edgecolor="white", label="processor" if (i, k) == (0, 0) else None)
            ax.bar(x, r.memory_kg.value, width * 0.9, bottom=r.processor_kg.value,
                   color="#e9c46a", hatch=hatches.get(m, ""), edgecolor="white",
                   label="memory" if (i, k) == (0, 0) else None)
            t = r.total_kg
            ax.errorbar(x, t.value, yerr=[[t.value - t.low], [t.high - t.value]], color="black",
                        capsize=2, lw=0.8)
    for m in methods:
        ax.bar(0, 0, 0, color="white", edgecolor="black", hatch=hatches.get(m, ""),
               label=f"memory method: {m}")
    ax.set_xticks(x_ticks)
    ax.set_xticklabels([_label(d) for _, d in devices], rotation=30, ha="right", fontsize=8)
    # category separators and names
    start = 0
    for c in cats:
        n = sum(1 for cc, _ in devices if cc == c)
        if start > 0:
            ax.axvline(start - 0.5, color="#999999", lw=0.8, ls=":")
        ax.text(start + (n - 1) / 2, 1.0, c, transform=ax.get_xaxis_transform(), ha="center",
                va="bottom", fontsize=9)
        start += n
    ax.set_ylabel("manufacturing footprint (kgCO2e)")
    # outside the axes: inside it covered the first device's error bar
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    ax.set_title("Manufacturing footprint per device, processor vs memory", fontsize=10, pad=16)
    return fig


# --- sensitivity, trade-off, LLM ---------------------------------------------------------------


def tornado_rows(t: Any) -> tuple[list[Any], list[Any]]:
    """(bars drawn, bars left out): a parameter whose two ends give the run's own value has no
    effect on this run (e.g. the lifetime of a device without a manufacturing footprint)."""
    keep: list[Any] = []
    drop: list[Any] = []
    for b in t.bars:
        tol = 1e-9 * max(abs(t.base_g), 1e-30)
        (keep if b.swing_g > tol or abs(b.at_low_g - t.base_g) > tol else drop).append(b)
    return keep, drop


def tornado_figure(tornados: Sequence[Any], unit: style.Unit | None = None):  # type: ignore[no-untyped-def]
    """One tornado panel per run: GWP per query at each parameter's two ends.

    Each row is a bar from the run's value (the black line) to each end: teal to the first end,
    orange to the second, with a marker at each end so that an end equal to the run's value is
    still drawn. Rows of parameters without effect on the run are left out and named in the
    panel. The x axis always contains the run's value and both ends of every row.
    """
    tornados = [t for t in tornados if t.bars]
    if not tornados:
        return None
    criterion = getattr(tornados[0], "criterion", "gwp")
    what = "GWP"
    if criterion != "gwp":  # water, PE, ADPe: in their own unit
        from inferlca.lca.criteria import NAMES

        unit, what = style.Unit(tornados[0].unit, 1.0), NAMES[criterion]
    unit = unit or style.gwp_unit([t.base_g for t in tornados])
    cols = min(2, len(tornados))
    rows = math.ceil(len(tornados) / cols)
    fig = style.figure(2.3 * rows + 0.9)
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(tornados):]:
        ax.set_axis_off()
    for ax, t in zip(axes.flat, tornados):
        keep, drop = tornado_rows(t)
        base = unit(t.base_g)
        xs = [base]
        for i, b in enumerate(reversed(keep)):
            lo, hi = unit(b.at_low_g), unit(b.at_high_g)
            xs += [lo, hi]
            ax.barh(i, lo - base, left=base, color=style.FIRST_END, height=0.55, alpha=0.85)
            ax.barh(i, hi - base, left=base, color=style.SECOND_END, height=0.55, alpha=0.85)
            ax.plot([lo], [i], "o", color=style.FIRST_END, ms=5, mec="black", mew=0.5, zorder=3)
            ax.plot([hi], [i], "s", color=style.SECOND_END, ms=5, mec="black", mew=0.5,
                    zorder=3)
        ax.axvline(base, color="black", lw=1.0, zorder=4)
        span = (max(xs) - min(xs)) or abs(base) or 1.0
        ax.set_xlim(min(xs) - 0.08 * span, max(xs) + 0.08 * span)
        ax.set_ylim(-0.6, max(len(keep), 1) - 0.4)
        ax.set_yticks(range(len(keep)))
        ax.set_yticklabels([f"{b.parameter.split(' (')[0]}\n{b.low_label} -> {b.high_label}"
                            for b in reversed(keep)])
        ax.set_xlabel(f"{what} per query ({unit.name})")
        ax.set_title(f"{_label(t.run)}, {t.run.queries} queries")
        if drop:
            ax.text(0.99, 0.02, "no effect: " + ", ".join(b.parameter.split(" (")[0]
                                                          for b in drop),
                    transform=ax.transAxes, ha="right", va="bottom", fontsize=style.LEGEND_PT,
                    color="#555555")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color="black", lw=1.0, label="the run's settings"),
               Line2D([], [], marker="o", color=style.FIRST_END, lw=6, label="first end"),
               Line2D([], [], marker="s", color=style.SECOND_END, lw=6, label="second end")]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=style.LEGEND_PT,
               frameon=False)
    fig.suptitle(f"Sensitivity of {what} per query, one parameter at a time")
    return fig


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (both minimised), by x."""
    idx = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    front, best_y = [], math.inf
    for i in idx:
        if points[i][1] < best_y:
            front.append(i)
            best_y = points[i][1]
    return front


def tradeoff_points(runs: Sequence[RunView], y: str = "gwp") -> list[tuple[RunView, Any, Any]]:
    """(run, p99 latency UValue in s, GWP per query in g or energy per query in J) per run."""
    out = []
    for v in runs:
        lat = v.latency_p99_s()
        val = v.gwp_per_query_g() if y == "gwp" else v.energy_per_query_j()
        if lat is not None and val is not None and lat.value > 0 and val.value > 0:
            out.append((v, lat, val))
    return out


MAX_TRADEOFF_POINTS = 60  # more runs: one point per device and query count (mean of its runs)


def _mean_points(pts: Sequence[tuple[RunView, Any, Any]]) -> list[tuple[RunView, Any, Any]]:
    """One point per (device, query count, estimated): the mean of value, low and high of its
    runs' latency and GWP (the latest run stands for the group in labels)."""
    from inferlca.uncertainty import UValue

    groups: dict[tuple[str, int, bool], list[tuple[RunView, Any, Any]]] = defaultdict(list)
    for p in pts:
        groups[(p[0].device_name, p[0].queries or 0, p[0].estimated)].append(p)

    def mean(us: list[Any]) -> Any:
        n = len(us)
        return UValue(sum(u.value for u in us) / n, sum(u.low for u in us) / n,
                      sum(u.high for u in us) / n, us[0].unit)

    return [(max(g, key=lambda p: p[0].created)[0], mean([p[1] for p in g]),
             mean([p[2] for p in g])) for g in groups.values()]


def tradeoff_figure(runs: Sequence[RunView], y: str = "gwp",  # type: ignore[no-untyped-def]
                    unit: style.Unit | None = None):
    """GWP (or energy) per query vs p99 latency, intervals as error bars, Pareto front.

    Log axes when the points span more than a factor of 10, linear otherwise; with a few points
    each is labelled with its values, so a one-run figure reads as a result, not an empty plot.
    """
    pts = tradeoff_points(runs, y)
    if not pts:
        return None
    aggregated = len(pts) > MAX_TRADEOFF_POINTS
    if aggregated:
        pts = _mean_points(pts)
    devices = device_order([p[0] for p in pts])
    colors = device_colors(devices)
    if y == "gwp":
        unit = unit or style.gwp_unit([p[2].value for p in pts])
    else:
        unit = style.Unit("J", 1.0)
    fig = style.figure(4.6)
    ax = fig.subplots()

    def use_only(v: RunView) -> bool:  # GWP without embodied: the device has no footprint
        return y == "gwp" and v.embodied_missing is not None

    # more devices than colours: the shape tells apart devices that share a colour
    shapes = {d: "o^sv"[(i // len(style.COLORS)) % 4] for i, d in enumerate(devices)}

    seen = set()
    for v, lat, val in pts:
        x, yy = lat.value * 1e3, unit(val.value)
        partial = use_only(v)
        ax.errorbar(x, yy, xerr=[[x - lat.low * 1e3], [lat.high * 1e3 - x]],
                    yerr=[[yy - unit(val.low)], [unit(val.high) - yy]],
                    fmt="D" if partial else shapes[v.device_name],
                    color=colors[v.device_name], mfc="white" if v.estimated else colors[v.device_name],
                    ms=6, capsize=2, lw=0.8,
                    label=None if (v.device_name, v.estimated) in seen
                    else _label(v) + (" (use phase only)" if partial else ""))
        seen.add((v.device_name, v.estimated))
        if len(pts) <= 3:
            ax.annotate(f"{style.num(x)} ms, {style.num(yy)} {unit.name}", (x, yy), xytext=(6, 6),
                        textcoords="offset points", fontsize=style.LEGEND_PT)
    # the front is over comparable totals: a use-phase-only GWP is lower by construction
    on_front = [i for i, (v, _, _) in enumerate(pts) if not use_only(v)] or list(range(len(pts)))
    sub = pareto_front([(pts[i][1].value, pts[i][2].value) for i in on_front])
    front = [on_front[i] for i in sub]
    if len(front) > 1:
        fx = [pts[i][1].value * 1e3 for i in front]
        fy = [unit(pts[i][2].value) for i in front]
        ax.step(fx, fy, where="post", color="black", lw=1, ls="--", label="Pareto front")
    xs = [p[1].value * 1e3 for p in pts]
    ys = [unit(p[2].value) for p in pts]
    logx = max(xs) / min(xs) > 10
    logy = max(ys) / min(ys) > 10
    if logx:
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
    if logy:
        ax.set_yscale("log")
        _plain_log_axis(ax.yaxis)
    ax.set_xlabel("p99 latency (ms" + (", log scale)" if logx else ")"))
    what = f"GWP per query ({unit.name}" if y == "gwp" else "energy per query (J"
    ax.set_ylabel(what + (", log scale)" if logy else ")"))
    partial_note = ("; diamond = use phase only, off the front"
                    if any(use_only(v) for v, _, _ in pts) else "")
    one = "; one run: nothing to trade off yet" if len(pts) == 1 else ""
    if aggregated:
        one += "; one point per device and query count: mean of its runs"
    ax.set_title(f"Footprint vs latency (hollow = estimated{partial_note}{one})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def llm_figure(runs: Sequence[RunView]):  # type: ignore[no-untyped-def]
    """Decoder LLM runs: tokens per joule vs time per output token (p99) and time to first token."""
    pts: list[tuple[RunView, float, Any, Any]] = []
    for v in runs:
        if not v.is_llm:
            continue
        e_tok = v.metric("energy_per_token_j")
        # tokens_out is per request, so tokens/J cannot be rebuilt from it and a run's energy:
        # only runs that carry energy_per_token_j are drawn
        tok_per_j = (1.0 / e_tok.value) if e_tok is not None and e_tok.value > 0 else None
        tpot, ttft = v.metric("tpot_p99_s"), v.metric("ttft_p99_s")
        if tok_per_j is not None and (tpot is not None or ttft is not None):
            pts.append((v, tok_per_j, tpot, ttft))
    if not pts:
        return None
    devices = device_order([p[0] for p in pts])
    colors = device_colors(devices)
    fig = _figure(10, 4.0)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, k, title in ((axes[0], 2, "p99 time per output token"), (axes[1], 3,
                                                                       "p99 time to first token")):
        for v, tok_per_j, tpot, ttft in pts:
            lat = tpot if k == 2 else ttft
            if lat is None:
                continue
            ax.plot(lat.value * 1e3, tok_per_j, "o", color=colors[v.device_name],
                    mfc="white" if v.estimated else colors[v.device_name], label=_label(v))
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
        ax.set_xlabel(f"{title} (ms, log scale)")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("tokens per joule")
    handles, labels = axes[0].get_legend_handles_labels()
    uniq = dict(zip(labels, handles))
    axes[0].legend(uniq.values(), uniq.keys(), fontsize=7)
    fig.suptitle("Decoder LLM runs: tokens per joule vs latency", fontsize=10)
    return fig


# --- criteria (water, primary energy, abiotic depletion, GWP) ----------------------------------


def criterion_figure(runs: Sequence[RunView], name: str,
                     values: Sequence[dict[str, Any]]):  # type: ignore[no-untyped-def]
    """One criterion per query for each run (``values[i]``: ``lca.criteria.run_criteria(runs[i])
    [name]``): a bar at the value with the run interval as error bar, in the device's colour;
    a run without data for the criterion is named with ``no data`` instead of a bar at 0.
    ``None`` when no run has a value."""
    from inferlca.lca.criteria import NAMES, UNITS

    rows = list(zip(runs, values))
    if not any(d.get("value") is not None for _, d in rows):
        return None
    colors = device_colors(device_order(runs))
    fig = style.figure(1.2 + 0.32 * len(rows))
    ax = fig.subplots()
    labels: list[str] = []
    for i, (v, d) in enumerate(rows):
        labels.append(f"{_label(v)}, {v.queries or '-'} q ({v.short_id})")
        if d.get("value") is None:
            ax.text(0.0, i, "  no data: " + (d.get("notes") or ["-"])[0][:90], va="center",
                    transform=ax.get_yaxis_transform(), color="#555555")
            continue
        lo, hi = d["value"] - d["low"], d["high"] - d["value"]
        ax.barh(i, d["value"], color=colors.get(v.device_name, "#666666"),
                xerr=[[lo], [hi]], capsize=3, height=0.6,
                hatch="//" if d.get("scope") == "use" else None, edgecolor="white")
    ax.set_yticks(range(len(rows)), labels)
    ax.invert_yaxis()
    vals = [d[k] for _, d in rows if d.get("value") is not None for k in ("low", "high")]
    pos = [x for x in vals if x > 0]
    if pos and max(pos) / min(pos) > 100:
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
    ax.set_xlabel(f"{NAMES[name]} per query ({UNITS[name]})")
    fig.suptitle(f"{NAMES[name].capitalize()} per query (bars: value; whiskers: run interval; "
                 "hatched: use phase only, no sourced manufacturing figure)")
    return fig
