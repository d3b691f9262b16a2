"""What load and idle contribute to the energy ratio of two whole runs (report/phase_contrib)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inferlca.errors import InvalidValueError
from inferlca.report.data import Repetition, RunView
from inferlca.report.phase_contrib import (
    phase_contribution,
    phase_energies,
    phase_figure,
    whole_run_pairs,
)


def _run(name: str, load: float, compute: float, idle: float | None = 0.0, *,
         kind: str = "estimated", queries: int = 16, created: str = "2026-01-01") -> RunView:
    m = {"energy_load_j": load, "energy_compute_j": compute,
         "energy_total_j": load + compute + (idle or 0.0)}
    if idle is not None:
        m["energy_idle_j"] = idle
    return RunView(run_id=f"{name}-{created}-{kind}", device_id=None, device_name=name,
                   category=None, workload="bert-large-squad", scenario="single-stream", backend=None,
                   queries=queries, estimated=kind == "estimated", kind=kind, status="complete",
                   label=None, created=created, repetitions=(Repetition(0, m),))


def test_golden_split() -> None:
    # A: load 30, compute 2, idle 0; B: load 10, compute 4, idle 0
    a, b = _run("A", 30.0, 2.0), _run("B", 10.0, 4.0)
    c = phase_contribution(a, b)
    assert c.ratio == pytest.approx(32.0 / 14.0)
    assert c.compute_ratio == pytest.approx(0.5)
    # no idle in either run: idle adds nothing, load takes the whole move 0.5 -> 32/14
    assert c.factors["idle"] == pytest.approx(1.0)
    assert c.factors["load"] == pytest.approx((32.0 / 14.0) / 0.5)
    assert c.without["load"] == pytest.approx(0.5)
    assert c.without["compute"] == pytest.approx(3.0)
    assert c.share("a", "load") == pytest.approx(30.0 / 32.0)


def test_golden_shapley_with_idle() -> None:
    # A: load 8, compute 1, idle 11; B: load 1, compute 1, idle 2
    c = phase_contribution(_run("A", 8.0, 1.0, 11.0), _run("B", 1.0, 1.0, 2.0))
    v0, vl, vi, vli = math.log(1.0), math.log(9.0 / 2.0), math.log(12.0 / 3.0), math.log(5.0)
    assert c.ratio == pytest.approx(5.0)
    assert math.log(c.factors["load"]) == pytest.approx(0.5 * ((vl - v0) + (vli - vi)))
    assert math.log(c.factors["idle"]) == pytest.approx(0.5 * ((vi - v0) + (vli - vl)))
    assert c.without["idle"] == pytest.approx(9.0 / 2.0)


@settings(max_examples=60, deadline=None)
@given(*[st.floats(0.0, 1e4) for _ in range(2)], st.floats(1e-3, 1e4),
       *[st.floats(0.0, 1e4) for _ in range(2)], st.floats(1e-3, 1e4))
def test_factors_multiply_to_the_ratio(la: float, ia: float, ca: float, lb: float, ib: float,
                                       cb: float) -> None:
    c = phase_contribution(_run("A", la, ca, ia), _run("B", lb, cb, ib))
    assert c.ratio == pytest.approx((la + ca + ia) / (lb + cb + ib), rel=1e-9)
    assert c.compute_ratio * c.factors["load"] * c.factors["idle"] == pytest.approx(c.ratio,
                                                                                   rel=1e-9)


def test_run_without_phases_is_refused() -> None:
    bare = RunView(run_id="x" * 12, device_id=None, device_name="X", category=None,
                   workload="w", scenario="s", backend=None, queries=4, estimated=False, kind="measured",
                   status="complete", label=None, created="c",
                   repetitions=(Repetition(0, {"energy_total_j": 3.0}),))
    assert phase_energies(bare) is None
    with pytest.raises(InvalidValueError, match="no per-phase energy"):
        phase_contribution(bare, _run("B", 1.0, 1.0))


def test_pairs_pick_most_vs_least_energy_among_estimated_whole_runs() -> None:
    runs = [_run("H", 27.6, 1.39), _run("M", 10.0, 2.0), _run("O", 8.64, 2.78),
            _run("meas", 100.0, 10.0, kind="measured"),  # not estimated: ignored
            _run("noload", 0.0, 500.0),                    # no load phase: ignored
            _run("H", 1.0, 1.0, created="2025-01-01")]    # older run of H: ignored
    (c,) = whole_run_pairs(runs)
    assert (c.a.device_name, c.b.device_name) == ("H", "O")
    assert c.ratio == pytest.approx((27.6 + 1.39) / (8.64 + 2.78))


def test_real_estimate_h100_vs_orin_16_bert_queries(tmp_path: Path) -> None:
    """The issue's case: estimated 16-query BERT runs on H100 and AGX Orin, stored, read back
    by the report, split by phase; the report draws the figure."""
    from inferlca.estimate.api import estimate, save_estimates
    from inferlca.hardware.catalog import get_catalog
    from inferlca.report.data import load_runs
    from inferlca.report.html import build_report
    from inferlca.store.sqlite import Store

    cat = get_catalog()
    res = estimate("bert-large", [cat.get("h100-sxm5-80gb"), cat.get("jetson-agx-orin-64gb")],
                   precision="int8", queries=16, whole_run=True, idle_s=10.0)
    by_dev = {d.roof.device_id: d.metrics() for d in res.devices}
    with Store.open(tmp_path / "s.db") as store:
        save_estimates(store, res)
        runs = load_runs(store)
        (c,) = whole_run_pairs(runs)
        assert c.a.device_id == "h100-sxm5-80gb" and c.b.device_id == "jetson-agx-orin-64gb"
        h, o = by_dev["h100-sxm5-80gb"], by_dev["jetson-agx-orin-64gb"]
        for p in ("load", "compute", "idle"):
            assert c.energy_a[p] == pytest.approx(h[f"energy_{p}_j"])
            assert c.energy_b[p] == pytest.approx(o[f"energy_{p}_j"])
        # the H100 computes 16 queries with less energy than the Orin, yet the whole run costs
        # more: load and idle turn a ratio below 1 into one well above it
        assert c.compute_ratio < 1.0 < c.ratio
        assert c.factors["idle"] > 1.0 and c.factors["load"] > 1.0
        result = build_report(store, runs, tmp_path / "rep")
    entry = next(f for f in result.figures if f.stem == "phase_contributions")
    assert entry.png_name and (tmp_path / "rep" / entry.png_name).stat().st_size > 0
    assert phase_figure([]) is None
