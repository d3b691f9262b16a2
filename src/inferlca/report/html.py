"""`inferlca report`: a self-contained HTML page plus every figure as PNG and SVG.

The page embeds its figures as ``data:`` URIs, so it opens from disk with no server and can be
mailed as one file; the PNG and SVG files sit beside it for papers and slides. Every piece of text
that comes from users (labels, device names, notes) goes through Jinja2's autoescaping.
"""

from __future__ import annotations

import base64
import errno
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from inferlca.errors import UsageError, named
from inferlca.report import plots, style
from inferlca.report.data import RunView, device_order, latest_per_device
from inferlca.report.tables import results_tables, runs_rows

REPORT_FILE = "report.html"
MAX_TORNADOS = 6


class OutputFolderError(UsageError):
    """The output folder cannot be created or written."""


@dataclass
class FigureEntry:
    stem: str
    title: str
    caption: str
    data_uri: str | None = None
    png_name: str | None = None
    svg_name: str | None = None
    reason: str | None = None


@dataclass
class ReportResult:
    """What :func:`build_report` wrote."""

    html_path: Path
    figures: list[FigureEntry]
    runs: list[RunView]
    tables: list[Any]
    sources: list[str]
    files: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"html": str(self.html_path), "runs": len(self.runs),
                "devices": sorted({v.device_name for v in self.runs}),
                "figures": {f.stem: ({"png": f.png_name, "svg": f.svg_name} if f.data_uri
                                     else {"missing": f.reason}) for f in self.figures},
                "tables": [t.to_dict() for t in self.tables], "sources": self.sources}


def ensure_writable_dir(out_dir: Path) -> Path:
    """Create ``out_dir`` if needed and check a file can be written in it."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".inferlca-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        if exc.errno in (errno.ENOTDIR, errno.EEXIST):
            why = "a path component is a file, not a folder"
        raise OutputFolderError(f"cannot write the report to {str(out_dir)!r}: {why}; "
                                f"pass {named('out')} with a writable folder") from None
    return out_dir


def footprints(runs: Sequence[RunView]) -> tuple[list[plots.Footprint], list[str]]:
    """Manufacturing footprint of every catalogued device in ``runs``, or of the archetype a
    machine not in the catalog was charged (the share of its package the runs were charged: a
    VM's hardware threads; the label gives it), by both memory methods."""
    from inferlca.lca.embodied import embodied_footprint
    from inferlca.report.data import charged_device

    rows, sources = [], []
    seen = set()
    for v in runs:
        dev = charged_device(v)
        key = (dev.id, dev.share) if dev is not None else None
        if dev is None or key in seen:
            continue
        seen.add(key)
        label = v.device_name
        if dev.archetype is not None and "archetype" not in label:
            label = (f"{label} [archetype {dev.archetype}"
                     + (f", share {dev.share:.3g}]" if dev.share is not None else "]"))
        for method in ("per-gb", "area"):
            try:
                e = embodied_footprint(dev, memory_method=method)
            except UsageError:
                continue  # the catalog lacks an input this method needs
            srcs = _source_list(getattr(e, "sources", ()))
            rows.append(plots.Footprint(label, dev.category, method, e.processor_kg,
                                        e.memory_kg, e.total_kg, tuple(srcs)))
            sources += srcs
    return rows, sources


def _source_list(x: Any) -> list[str]:
    from inferlca.report.data import _flatten_sources

    return list(_flatten_sources(x))


def _fmt_uv(d: Any, unit: str = "", digits: int = 3) -> str:
    from inferlca.report.data import _as_uvalue

    uv = _as_uvalue(d)
    return uv.format(unit, digits) if uv is not None else "n/a"


def assumptions(runs: Sequence[RunView]) -> list[dict[str, str]]:
    """The impact assumptions behind the runs, one row per distinct set per device."""
    rows: dict[tuple[str, ...], dict[str, str]] = {}
    for v in runs:
        imp = v.summary.get("impact") or next((r.impact for r in v.repetitions if r.impact), None)
        if not imp:
            continue
        from inferlca.report.summary import grid_text, lifetime_text, pue_text

        missing = v.embodied_missing
        row = {
            "device": v.device_name,
            "grid": grid_text(v.spec, imp),
            "pue": pue_text(v.spec, imp, v.category),
            "lifetime": lifetime_text(v.spec, imp),
            "memory_method": str(v.spec.get("memory_method", "per-gb")),
            "footprint": f"n/a ({missing})" if missing
            else _fmt_uv(imp.get("device_embodied_kgco2e")),
            "allocation": _fmt_uv(imp.get("allocation")) if isinstance(imp.get("allocation"),
                                                                     (dict, float, int))
            else str(imp.get("allocation", "time-based (t / lifetime)")),
        }
        rows.setdefault(tuple(row.values()), row)
    return sorted(rows.values(), key=lambda r: r["device"])


def _tornados(runs: Sequence[RunView], criterion: str = "gwp",
              ) -> tuple[list[Any], list[str], str | None]:
    """One tornado per device (at most :data:`MAX_TORNADOS`): each device's latest run at the
    most common query count."""
    from inferlca.report.sensitivity import tornado

    usable = [v for v in runs if v.queries and v.metric("energy_total_j") is not None
              and v.metric("duration_s") is not None]
    if not usable:
        return [], [], "no run has the energy and duration a sensitivity needs"
    counts: dict[int, int] = {}
    for v in usable:
        counts[v.queries or 0] = counts.get(v.queries or 0, 0) + 1
    q_ref = max(counts, key=lambda q: (counts[q], -q))
    latest = latest_per_device([v for v in usable if v.queries == q_ref])
    out, sources = [], []
    for name in device_order(latest.values())[:MAX_TORNADOS]:
        try:
            t = tornado(latest[name], criterion=criterion)
        except UsageError:
            continue
        out.append(t)
        sources += list(t.sources)
    return out, list(dict.fromkeys(sources)), None if out else "no run could be re-evaluated"


def build_report(store: Any, runs: Sequence[RunView], out_dir: str | Path, *,
                 store_path: str = "", title: str = "inferlca report",
                 progress: Callable[[str], None] | None = None,
                 power_axis: str = "progress",
                 criteria: Sequence[str] = ()) -> ReportResult:
    """Draw every view for ``runs`` and write ``out_dir/report.html`` with PNG and SVG figures.

    Args:
        store: the open results store (traces are read from it for the power profiles).
        runs: the runs to report (already selected).
        out_dir: the output folder (created; must be writable).
        store_path: shown in the page header.
        progress: called with a short description before each step.
        power_axis: ``progress`` (each repetition on 100 points, as the study) or ``time``
            (seconds since the start, on one grid over the longest repetition).
        criteria: names of :data:`inferlca.lca.criteria.CRITERIA`; one figure per criterion
            (per query, each run, with its interval or ``no data``).
    """
    from inferlca.errors import UnknownNameError

    if power_axis not in plots.POWER_AXES:
        raise UnknownNameError("power axis", power_axis, plots.POWER_AXES,
                               hint=f"(accepted: {', '.join(plots.POWER_AXES)})")
    out = ensure_writable_dir(Path(out_dir))
    with style.report_devices(device_order(runs)):
        return _build(store, list(runs), out, store_path=store_path, title=title,
                      progress=progress, power_axis=power_axis, criteria=tuple(criteria))


def _build(store: Any, runs: list[RunView], out: Path, *, store_path: str, title: str,
           progress: Callable[[str], None] | None, power_axis: str,
           criteria: tuple[str, ...] = ()) -> ReportResult:
    import jinja2

    step = progress or (lambda _msg: None)
    runs = list(runs)
    order = device_order(runs)  # for the page header
    figures: list[FigureEntry] = []
    files: list[Path] = []

    def add(stem: str, title_: str, caption: str, fig: Any, reason: str) -> None:
        entry = FigureEntry(stem, title_, caption)
        if fig is None:
            entry.reason = reason
        else:
            png, svg = plots.save(fig, out, stem)
            files.extend([png, svg])
            entry.png_name, entry.svg_name = png.name, svg.name
            entry.data_uri = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
        figures.append(entry)

    # one display unit per quantity across the whole report (tables and figures)
    wl_unit = style.gwp_unit([x for v in runs for x in v.rep_impact("total_gco2e")])
    q_unit = style.gwp_unit([g.value for v in runs if (g := v.gwp_per_query_g()) is not None])
    step("tables")
    tables = results_tables(runs, wl_unit)
    rows = runs_rows(runs, q_unit)

    def load_trace(run_id: str, index: int) -> Any:
        return store.load_trace(run_id, index)

    # views that only make sense within one workload and scenario: one set per condition
    conditions: dict[tuple[str, str], list[RunView]] = {}
    for v in runs:
        conditions.setdefault(v.condition, []).append(v)
    for i, ((wl, sc), crun) in enumerate(sorted(conditions.items()), 1):
        where = f"{wl}, {sc}"
        dev_pages = style.pages(device_order(crun))
        for k, page in enumerate(dev_pages, 1):
            prun = [v for v in crun if v.device_name in set(page)]
            suffix = "" if len(dev_pages) == 1 else f"_p{k}"
            part = "" if len(dev_pages) == 1 else f" (devices {k} of {len(dev_pages)} pages)"
            step(f"power profiles ({where}){part}")
            profiles = plots.power_profiles(prun, load_trace, axis=power_axis)
            grid_text = ("interpolated onto 100 points per repetition (run progress)"
                         if power_axis == "progress" else
                         "against seconds since the start of each repetition (the mean covers "
                         "the repetitions still running)")
            add(f"power_profiles_{i}{suffix}", f"Power profiles: {where}{part}",
                f"Power of the device's primary channel, {grid_text}; "
                "line: mean across repetitions, band: +/- one standard deviation; shaded: model "
                "loading (grey) and compute (orange) phases.",
                plots.power_profiles_figure(profiles, page),
                "no run has a stored power trace")
            step(f"latency ({where}){part}")
            add(f"latency_{i}{suffix}", f"Query latency: {where}{part}",
                "Maximum and 99th-percentile query latency per repetition (from LoadGen), per "
                "device and query count; log scale.", plots.latency_figure(prun),
                "no run has latency metrics")
            step(f"GWP per workload ({where}){part}")
            add(f"gwp_{i}{suffix}", f"GWP per workload vs query count: {where}{part}",
                f"GWP of one workload per repetition in {wl_unit.name}, use phase (energy x grid "
                "x PUE) and allocated embodied footprint (t / lifetime x F) apart; log scale. "
                "A device without a manufacturing footprint has no embodied value (n/a).",
                next(iter(plots.gwp_figures(prun, wl_unit).values()), None),
                "no run has impact figures")
        step(f"trade-off ({where})")
        add(f"tradeoff_{i}", f"Trade-off, GWP per query vs p99 latency: {where}",
            "Each run's GWP per query against its p99 latency (mean, 95% interval across "
            "repetitions for latency, impact interval for GWP); dashed: the Pareto front (no other "
            "run is both faster and greener).", plots.tradeoff_figure(crun, unit=q_unit),
            "no run has both a p99 latency and impact figures")

    step("manufacturing footprint")
    fp_rows, fp_sources = footprints(runs)
    add("manufacturing", "Manufacturing footprint",
        "Embodied footprint F = processor + memory per device, grouped by category, with both "
        "memory methods (per-GB and area); error bars: the interval over the per-node sources.",
        plots.manufacturing_figure(fp_rows),
        "no device of these runs is in the hardware catalog (or charged an archetype) with "
        "embodied inputs")

    step("sensitivity")
    main_condition = max(conditions.values(), key=len) if conditions else []
    tors, grid_sources, why = _tornados(main_condition)
    drawn: dict[str, None] = {}
    left_out: dict[str, None] = {}
    for t in tors:
        keep, drop = plots.tornado_rows(t)
        drawn.update(dict.fromkeys(b.parameter for b in keep))
        left_out.update(dict.fromkeys(b.parameter.split(" (")[0] for b in drop))
    caption = ("GWP per query (" + q_unit.name + ") when one parameter moves between its ends "
               "and the others keep the run's values (black line: the run's settings; teal: "
               "first end, orange: second end). Parameters: " + "; ".join(drawn) + ". "
               + (f"Left out of a panel where it has no effect: {', '.join(left_out)} (named in "
                  "the panel). " if left_out else "")
               + "Runs of the workload with the most runs, at its most common query count.")
    add("sensitivity", "Sensitivity (tornado)", caption, plots.tornado_figure(tors, q_unit),
        why or "")

    step("phases of estimated whole runs")
    from inferlca.report.phase_contrib import phase_figure, whole_run_pairs

    pairs = whole_run_pairs(runs)
    if pairs:
        add("phase_contributions", "What load and idle contribute to the ratio of two estimated "
            "whole runs",
            "Energy ratio of the device with the most energy to the one with the least, per "
            "workload and query count, among estimated whole runs (--whole-run), on a log axis. "
            "Black line: the whole-run ratio; dashed: compute phases only. Each bar runs from the "
            "ratio with that phase left out of both runs to the whole-run ratio; the label gives "
            "the phase's share of each run's energy and its factor on the ratio (the Shapley "
            "split of ln ratio between load and idle: compute-only ratio x load factor x idle "
            "factor = whole-run ratio).", phase_figure(pairs), "")
    if criteria:
        from inferlca.lca.criteria import NAMES, run_criteria

        per_run = [run_criteria(v, criteria) for v in runs]
        for name in criteria:
            step(f"criterion {name}")
            add(f"criterion_{name}", f"Criterion: {NAMES[name]} per query",
                f"{NAMES[name].capitalize()} per query of each run: use phase (energy x PUE x the "
                "region's factor; water adds the on-site water of the device class) plus the "
                "time-allocated manufacturing share where a sourced figure exists (hatched: use "
                "phase only); whiskers: the run interval over repetitions and inputs. A run "
                "without a factor for its device or region says 'no data', never 0.",
                plots.criterion_figure(runs, name, [c[name] for c in per_run]),
                f"no run has {NAMES[name]} data (see the notes of `--criteria`)")
            if name == "gwp":
                continue
            ctors, _, cwhy = _tornados(main_condition, name)
            add(f"sensitivity_{name}", f"Sensitivity (tornado): {NAMES[name]}",
                f"{NAMES[name].capitalize()} per query when one parameter (grid, PUE, lifetime, "
                "manufacturing scope, per-node factor source and basis) moves between its ends "
                "and the others keep the run's values; a parameter the criterion does not "
                "depend on is named as having no effect.",
                plots.tornado_figure(ctors), cwhy or f"no run has {NAMES[name]} data")

    step("decoder LLM view")
    llm = plots.llm_figure(runs)
    if llm is not None:
        add("llm", "Decoder LLM runs: tokens per joule vs latency",
            "Tokens per joule against p99 time per output token and time to first token.", llm, "")

    step("page")
    from inferlca.report.classes import class_rows, headers, run_classes

    class_tables = [{"run_id": v.run_id, "title": f"{v.workload} on {v.device_name}",
                     "headers": headers(), "rows": class_rows(run_classes(v.summary))}
                    for v in runs if run_classes(v.summary)]
    sources: dict[str, None] = {}
    for v in runs:
        for s in v.impact_sources():
            sources.setdefault(s, None)
    for s in fp_sources + grid_sources:
        sources.setdefault(s, None)
    by_note: dict[str, list[RunView]] = {}
    for v in runs:
        for n in v.notes:
            by_note.setdefault(n, []).append(v)
    notes = [f"{n} ({len(vs)} run{'s' if len(vs) > 1 else ''}: "
             f"{', '.join(dict.fromkeys(v.device_name for v in vs))})"
             for n, vs in by_note.items()]
    logs = sorted({str(v.environment["replayed_from"]) for v in runs
                   if str(v.environment.get("replayed_from", "")).endswith((".csv", ".log"))})
    replay_notes = []
    if logs:
        n_replayed = sum(1 for v in runs if str(v.environment.get("replayed_from", "")) in logs)
        replay_notes.append(f"{n_replayed} runs are replayed fixtures (power from the recorded "
                            f"logs {', '.join(logs)}; query timing synthetic), not live runs.")
    from inferlca import __version__ as version
    from inferlca.text import escape_controls

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("inferlca.report", "templates"),
        autoescape=True, undefined=jinja2.StrictUndefined,
        # user text (labels, device names) with control characters shown escaped, not raw
        finalize=lambda v: escape_controls(v, keep_lines=True) if isinstance(v, str) else v)
    html = env.get_template("report.html").render(
        title=title, generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        version=version, store_path=store_path, runs=runs, devices=order,
        n_estimated=sum(1 for v in runs if v.estimated), replay_notes=replay_notes,
        results_tables=tables, run_rows=rows, figures=figures, class_tables=class_tables,
        assumptions=assumptions(runs), notes=notes, sources=list(sources))
    html_path = out / REPORT_FILE
    html_path.write_text(html, encoding="utf-8")
    files.append(html_path)
    return ReportResult(html_path, figures, runs, tables, list(sources), files)


__all__ = ["OutputFolderError", "ReportResult", "build_report", "ensure_writable_dir"]
