"""`report.mc_table`: a Monte Carlo table over every complete run of a store, read with one query
(`Store.impact_inputs`), equals the one-run path of `results show ID --samples N --seed S`."""

from __future__ import annotations

import math

import pytest

from inferlca.cli._criteria import monte_carlo
from inferlca.lca.impact import ImpactContext, compute_impact
from inferlca.report.data import load_runs
from inferlca.report.mc_table import monte_carlo_table
from inferlca.store.sqlite import Store


def _store(path):
    """Five runs: FR/t4 and DE/a100 with 3 repetitions, one with 2 (one NaN metric beside),
    one without an impact context (no data), one left incomplete (not in the table)."""
    ids = {}
    with Store.open(path) as st:
        for name, dev, region, energies, impact, status in (
                ("fr", "t4", "FR", [100.0, 110.0, 120.0], True, "complete"),
                ("de", "a100-sxm4-40gb", "DE", [300.0, 290.0, 310.0], True, "complete"),
                ("two", "t4", "FR", [80.0, 95.0], True, "complete"),
                ("none", "t4", "FR", [60.0, 61.0], False, "complete"),
                ("cut", "t4", "FR", [50.0, 55.0], True, "incomplete")):
            ctx = ImpactContext.resolve(dev, region=region)
            rid = st.create_run({"workload": "bert-base-squad", "scenario": "single-stream",
                                 "queries": 8}, device_id=dev, device_name=dev, meter="nvml")
            for i, e in enumerate(energies):
                t = 10.0 + i
                st.add_repetition(rid, i, metrics={"energy_total_j": e, "duration_s": t,
                                                   "queries": 8.0, "accuracy": math.nan},
                                  impact=compute_impact(e, t, ctx, 8).to_dict() if impact
                                  else None)
            st.finish_run(rid, status, None)
            ids[name] = rid
    return ids


def test_table_rows_equal_results_show(tmp_path):
    path = tmp_path / "s.db"
    ids = _store(path)
    with Store.open_readonly(path) as st:
        rows = monte_carlo_table(st, 4_000, 3, ps=(2.5, 5.0, 25.0, 50.0, 75.0, 95.0, 97.5))
        views = {v.run_id: v for v in load_runs(st)}
    assert [r["run_id"] for r in rows] == [ids[k] for k in ("fr", "de", "two", "none")]
    for row in rows:
        if row["run_id"] == ids["none"]:
            assert row["no_data"] and row["median"] is None
            continue
        one = monte_carlo(views[row["run_id"]], 4_000, 3)  # the `results show` path
        for key in ("mean", "median", "p2_5", "p5", "p25", "p75", "p95", "p97_5"):
            assert row[key] == one[key], key
    fr, de = rows[0], rows[1]
    assert fr["p2_5"] < fr["median"] < fr["p97_5"]
    assert de["median"] > fr["median"]  # a higher energy on a dirtier grid


def test_impact_inputs_reads_what_load_runs_reads(tmp_path):
    """The columns of one query: the same energies, durations, queries and impact context as
    the full `load_runs` path, complete runs only, oldest first."""
    path = tmp_path / "s.db"
    _store(path)
    with Store.open_readonly(path) as st:
        fast = st.impact_inputs()
        views = load_runs(st)
    assert [f[0] for f in fast] == [v.run_id for v in views]
    for (rid, queries, energies, durations, impact), v in zip(fast, views):
        assert queries == v.queries == 8
        assert energies == v.rep_metric("energy_total_j")
        assert durations == v.rep_metric("duration_s")
        assert impact == next((r.impact for r in v.repetitions if r.impact), None)


def test_table_bad_samples(tmp_path):
    from inferlca.errors import InvalidValueError

    path = tmp_path / "s.db"
    _store(path)
    with Store.open_readonly(path) as st, pytest.raises(InvalidValueError):
        monte_carlo_table(st, 0, 1)


def test_damaged_metrics_are_a_store_error(tmp_path):
    """A repetition whose stored metrics are not JSON: a StoreError naming the store (the CLI's
    one-line error), never a traceback or a silently dropped run."""
    import sqlite3

    from inferlca.errors import StoreError

    path = tmp_path / "s.db"
    ids = _store(path)
    with sqlite3.connect(path) as c:
        c.execute("UPDATE repetitions SET metrics_json = '{oops' WHERE run_id = ? AND idx = 1",
                  (ids["de"],))
    with Store.open_readonly(path) as st, pytest.raises(StoreError, match="damaged"):
        monte_carlo_table(st, 100, 1)
