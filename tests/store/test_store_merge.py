"""Merging stores from several machines: no duplicates, idempotent, more complete copies win."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from helpers_store import FIXTURES, SPEC, add_complete_run, metrics, orin_trace

from inferlca.errors import StoreError, UsageError
from inferlca.store import Store


def _table_counts(path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("runs", "repetitions", "traces", "trace_arrays", "latencies", "series")}
    finally:
        conn.close()


def test_merge_adds_missing_runs_and_is_idempotent(tmp_path):
    a_path, b_path = tmp_path / "a.db", tmp_path / "b.db"
    with Store.open(a_path) as a, Store.open(b_path) as b:
        shared = add_complete_run(a, reps=2)
        only_a = add_complete_run(a, reps=1, device_id="h100-sxm", device_name="H100 SXM")
        only_b = add_complete_run(b, reps=3)
        before_b = _table_counts(b_path)
        # the shared run was copied to b by hand earlier (same globally unique id)
        b.merge(a_path)
        assert {r.run_id for r in b.list_runs()} == {shared, only_a, only_b}

        first = a.merge(b_path)
        assert first.added == [only_b] and sorted(first.skipped) == sorted([shared, only_a])
        second = a.merge(b_path)
        assert second.added == [] and second.updated == []
        assert sorted(second.skipped) == sorted([shared, only_a, only_b])
        assert _table_counts(a_path) == _table_counts(b_path)
        assert before_b["runs"] == 1

        # what was merged reads back exactly
        run = a.get_run(only_b)
        assert [r.metrics for r in run.repetitions] == [metrics(i) for i in range(3)]
        t = a.load_trace(only_b, 2)
        o = orin_trace()
        assert t.t_s.tobytes() == o.t_s.tobytes()
        assert t.channels["module"].tobytes() == o.channels["module"].tobytes()
        assert np.array_equal(a.load_latencies(only_b, 1), b.load_latencies(only_b, 1))
        assert a.load_series(only_b, 0)["ttft_s"].tolist() == [0.005] * 16
        assert a.integrity_check() == []


def test_more_complete_copy_replaces_a_partial_one(tmp_path):
    lab, laptop = tmp_path / "lab.db", tmp_path / "laptop.db"
    with Store.open(lab) as s:
        rid = s.create_run(SPEC)
        s.add_repetition(rid, 0, metrics=metrics(0), trace=orin_trace())
    # the laptop got a copy while the run was still going...
    with Store.open(laptop) as s:
        s.merge(lab)
        assert s.get_run(rid).stored_status == "running" and len(s.get_run(rid).repetitions) == 1
    # ...which then finished on the lab machine
    with Store.open(lab) as s:
        s.add_repetition(rid, 1, metrics=metrics(1), trace=orin_trace())
        s.finish_run(rid, "complete", None)
    with Store.open(laptop) as s:
        result = s.merge(lab)
        assert result.updated == [rid] and result.added == []
        run = s.get_run(rid)
        assert run.status == "complete" and [r.index for r in run.repetitions] == [0, 1]
        # and the partial copy never replaces the complete one
        with Store.open(tmp_path / "stale.db") as stale:
            stale_id = stale.create_run(SPEC, run_id=rid)
            assert stale_id == rid
        assert s.merge(tmp_path / "stale.db").skipped == [rid]
        assert s.get_run(rid).status == "complete"
        assert _table_counts(laptop)["trace_arrays"] == _table_counts(lab)["trace_arrays"]


def test_merge_an_old_schema_store_without_touching_it(tmp_path):
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.executescript((FIXTURES / "v1_store.sql").read_text())
    conn.close()
    before = old.read_bytes()
    with Store.open(tmp_path / "new.db") as s:
        result = s.merge(old)
        assert result.added == ["0f1e2d3c4b5a69788796a5b4c3d2e1f0"]
        run = s.get_run("0f1e2d")
        assert run.repetitions[0].status == "complete" and run.label == "v1 run"
        assert s.load_trace(run.run_id, 0).t_s.size == 12
    assert old.read_bytes() == before


def test_merge_errors(tmp_path):
    with Store.open(tmp_path / "a.db") as a:
        add_complete_run(a, reps=1)
        with pytest.raises(UsageError, match="into itself"):
            a.merge(tmp_path / "a.db")
        with pytest.raises(StoreError, match="no results store"):
            a.merge(tmp_path / "missing.db")
        (tmp_path / "junk.db").write_bytes(b"\x00junk" * 1000)
        with pytest.raises(StoreError, match="not an inferlca results store"):
            a.merge(tmp_path / "junk.db")
