"""What a person sees: titles inside the figure, axes that hold their values, one unit
per quantity, n/a (never 0) for a missing footprint, outlier repetitions flagged."""

from __future__ import annotations

import csv
import json

import pytest

from inferlca.report import plots, style
from inferlca.report.data import load_runs
from inferlca.report.html import build_report
from inferlca.report.project import project
from inferlca.report.sensitivity import Bar, Tornado
from inferlca.report.summary import outlier_repetitions
from inferlca.report.tables import results_tables, runs_rows
from inferlca.store.export import embodied_missing, flatten_impact

NO_FP = {"footprint_kg": (0.0, 0.0, 0.0), "embodied_g": (0.0,)}


# --- units ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("values", "unit"), [
    ([0.0004, 0.002, 0.009], "mgCO2e"), ([1.5, 20.0], "gCO2e"), ([2500.0], "kgCO2e"),
    ([3e-5, 6e-5, 2e-4], "µgCO2e"), ([], "gCO2e"), ([0.0, None], "gCO2e"), ([0.001], "mgCO2e")])
def test_gwp_unit_from_the_median(values, unit):
    assert style.gwp_unit(values).name == unit


def test_one_unit_for_every_results_table(make_run):
    """Two workloads a factor 1000 apart: one unit for both tables (it was g in one, mg in the
    other), and every run row of the report in one unit."""
    runs = [make_run("orin", 16, use_g=(0.002,), embodied_g=(0.001,)),
            make_run("orin", 16, workload="bert-base-squad", use_g=(2.0,), embodied_g=(1.0,)),
            make_run("a100", 16, workload="bert-base-squad", use_g=(3.0,), embodied_g=(1.0,))]
    tables = results_tables(runs)
    assert len(tables) == 2 and {t.unit for t in tables} == {"gCO2e"}
    rows = runs_rows(runs)
    assert len({r["gwp_per_query"].split()[-1] for r in rows}) == 1


# --- titles inside the figure, values inside the axes --------------------------------------------

def _tornado(run, base, bars):
    return Tornado(run, base, tuple(Bar(p, "a", "b", lo, hi) for p, lo, hi in bars))


def test_tornado_line_and_both_ends_inside_the_axis(make_run):
    """The issue's case: the run's value (0.489) below every end but one, an end equal to the
    base, a parameter without effect: the line and both ends of every drawn row are inside the x
    axis, the no-effect row is not drawn, a long title fits."""
    run = make_run("NVIDIA Jetson AGX Orin 64GB with a rather long device name for a panel", 16)
    t = _tornado(run, 0.489e-3, [("grid intensity (FR -> WORLD)", 0.489e-3, 2.9e-3),
                                 ("PUE (1 -> 1.6)", 0.489e-3, 0.78e-3),
                                 ("lifetime (3 -> 7 y)", 0.489e-3, 0.489e-3),
                                 ("per-node factor (low -> high)", 0.41e-3, 0.62e-3)])
    fig = style.finish(plots.tornado_figure([t, t, t]))
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    unit = style.gwp_unit([t.base_g])
    for x in [t.base_g] + [v for b in t.bars for v in (b.at_low_g, b.at_high_g)]:
        assert lo < unit(x) < hi
    labels = [tl.get_text() for tl in ax.get_yticklabels()]
    assert len(labels) == 3 and not any(lab.startswith("lifetime") for lab in labels)
    assert any("no effect: lifetime" in tx.get_text() for tx in ax.texts)
    # both ends are drawn as markers, even the end equal to the run's value
    markers = [ln for ln in ax.get_lines() if ln.get_marker() in ("o", "s")]
    assert len(markers) == 6
    assert style.overflowing_texts(fig) == []


def test_no_figure_of_the_sample_report_has_a_text_outside(sample_store):
    from inferlca.store.sqlite import Store

    path, _ = sample_store
    with Store.open_readonly(path) as st:
        runs = load_runs(st)
        bert = [v for v in runs if v.workload == "bert-large-squad"]
        figs = {"latency": plots.latency_figure(bert), "tradeoff": plots.tradeoff_figure(bert),
                "gwp": plots.gwp_figures(bert)["bert-large-squad"],
                "profiles": plots.power_profiles_figure(plots.power_profiles(bert, st.load_trace),
                                                        sorted({v.device_name for v in bert})),
                "llm": plots.llm_figure(runs)}
    for name, fig in figs.items():
        assert fig is not None, name
        style.finish(fig)
        assert fig.get_figwidth() == style.WIDTH_IN, name  # one size for all figures
        assert style.overflowing_texts(fig) == [], name


def test_overflow_check_catches_a_cut_title():
    fig = style.figure(3.0)
    ax = fig.subplots()
    ax.set_title("x" * 400)
    assert style.overflowing_texts(fig)  # unfitted: out of the figure
    style.finish(fig)
    assert style.overflowing_texts(fig) == []  # wrapped onto several lines


def test_one_run_tradeoff_is_readable(make_run):
    fig = plots.tradeoff_figure([make_run("orin", 16, p99_s=(0.02,))])
    ax = fig.axes[0]
    assert ax.get_xscale() == "linear" and ax.get_yscale() == "linear"
    assert "one run" in ax.get_title()
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 < 20 < x1  # the point (ms) is inside the axes
    assert y0 < style.gwp_unit([1.5 / 16])(1.5 / 16) < y1
    assert len(ax.texts) == 1 and "ms" in ax.texts[0].get_text()


def test_embodied_panel_left_out_with_a_reason(make_run):
    runs = [make_run("gtx-1650", 16, **NO_FP), make_run("gtx-1650", 64, **NO_FP)]
    fig = plots.gwp_figures(runs)["bert-large-squad"]
    assert len(fig.axes) == 1
    assert "no device of these runs has a footprint" in fig._suptitle.get_text()


def test_long_and_markup_labels_stay_text(make_run):
    name = "<b>x</b> $\\alpha$ " + "y" * 500
    fig = style.finish(plots.latency_figure([make_run(name, 16)]))
    legend = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert len(legend[0]) <= plots.MAX_LABEL + 2 and legend[0].endswith("…")
    assert style.overflowing_texts(fig) == []


def test_device_has_one_colour_in_every_figure(make_run):
    runs = [make_run("a", 16), make_run("b", 16), make_run("c", 16)]
    with style.report_devices(["a", "b", "c"]):
        assert style.device_colors(["c"]) == {"c": style.COLORS[2]}
    assert style.device_colors(["c"]) == {"c": style.COLORS[0]}
    assert runs


# --- n/a, never 0 --------------------------------------------------------------------------------

def _impact(fp):
    u = {"value": 1e-3, "low": 5e-4, "high": 2e-3}
    z = {"value": fp, "low": fp, "high": fp}
    return {"use_gco2e": u, "embodied_gco2e": {"value": 0.0, "low": 0.0, "high": 0.0},
            "total_gco2e": u, "device_embodied_kgco2e": z, "sources": ["s"]}


def test_flatten_impact_na_with_reason():
    flat = flatten_impact(_impact(0.0))
    assert flat["embodied_gco2e"] is None and flat["device_embodied_kgco2e_high"] is None
    assert "no manufacturing footprint" in flat["embodied_na_reason"]
    assert flat["use_gco2e"] == 1e-3
    ok = flatten_impact(_impact(120.0))
    assert ok["device_embodied_kgco2e"] == 120.0 and ok["embodied_na_reason"] is None
    assert embodied_missing(None) is None


def test_export_and_project_say_na(tmp_path, make_run, sample_store):
    """CSV: empty embodied cells plus the reason; JSON: null plus the reason; project: no
    embodied per day, a note, the reason in its JSON."""
    from inferlca.store.export import export_store
    from inferlca.store.sqlite import Store

    path, _ = sample_store
    with Store.open_readonly(path) as st:
        export_store(st, "csv", tmp_path / "csv", tables=["runs"])
        export_store(st, "json", tmp_path / "e.json", tables=["runs"])
    with open(tmp_path / "csv" / "runs.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    gtx = [r for r in rows if "GTX" in r["device_name"]]
    assert gtx and all(r["embodied_gco2e"] == "" and r["device_embodied_kgco2e"] == ""
                       and r["embodied_na_reason"] for r in gtx)
    orin = [r for r in rows if "Orin" in r["device_name"]]
    assert all(float(r["device_embodied_kgco2e"]) > 0 and r["embodied_na_reason"] == ""
               for r in orin)
    doc = json.loads((tmp_path / "e.json").read_text())
    j = [r for r in doc["runs"] if "GTX" in r["device_name"]]
    assert all(r["embodied_gco2e"] is None and r["embodied_na_reason"] for r in j)

    p = project(make_run("gtx-1650", 16, **NO_FP), 1000, 16)
    assert p.embodied_per_day_kg is None
    assert p.to_dict()["embodied_na_reason"] and any("embodied n/a" in n for n in p.notes)


# --- outlier repetitions -------------------------------------------------------------------------

def test_outlier_rule():
    notes = outlier_repetitions([(0, 86.6), (1, 22.2), (2, 22.5), (3, 21.9)])
    assert len(notes) == 1 and notes[0].startswith("repetition 0") and "warm-up" in notes[0]
    assert "3.9x the median" in notes[0]
    assert outlier_repetitions([(0, 10.0), (1, 11.0), (2, 19.0)]) == []  # 19/11 < 2
    assert outlier_repetitions([(0, 80.0), (1, 20.0)]) == []  # too few to judge
    late = outlier_repetitions([(0, 20.0), (1, 20.5), (2, 50.0)])
    assert len(late) == 1 and "other load" in late[0]


def test_report_of_zero_runs_is_a_readable_page(tmp_path, sample_store):
    from inferlca.store.sqlite import Store

    path, _ = sample_store
    with Store.open_readonly(path) as st:
        r = build_report(st, [], tmp_path / "out")
    html = r.html_path.read_text()
    assert "No run has impact figures" in html and "<img" not in html
