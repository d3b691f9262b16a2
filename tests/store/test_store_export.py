"""Export round trips: the numbers read back from CSV, JSON and Parquet equal the stored ones."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers_store import add_complete_run, orin_trace

from inferlca.errors import UnknownNameError, UsageError
from inferlca.store import Store
from inferlca.store.export import TABLES, build_tables, export_store, flatten_impact, iter_csv


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "inferlca.db") as s:
        add_complete_run(s, reps=3)
        add_complete_run(s, reps=2, device_id="h100-sxm", device_name="H100 SXM")
        yield s


def _trace_from_rows(rows, run_id, rep, channel):
    picked = [r for r in rows if r["run_id"] == run_id and int(r["repetition"]) == rep and r["channel"] == channel]
    return (np.array([float(r["t_s"]) for r in picked]),
            np.array([float(r["power_w"]) if r["power_w"] not in ("", None) else math.nan for r in picked]),
            [r["phase"] for r in picked])


def test_flatten_impact():
    flat = flatten_impact({"use_gco2e": {"value": 1.0, "low": 0.5, "high": 2.0}, "allocation": "time",
                           "sources": ["a", "b"], "impact_compute": {"use_gco2e": {"value": 3, "low": 2, "high": 4}}})
    assert flat == {"use_gco2e": 1.0, "use_gco2e_low": 0.5, "use_gco2e_high": 2.0, "allocation": "time",
                    "sources": "a; b", "impact_compute_use_gco2e": 3, "impact_compute_use_gco2e_low": 2,
                    "impact_compute_use_gco2e_high": 4}


def test_tables_shape(store):
    runs = store.list_runs()
    tables = build_tables(store, runs)
    assert list(tables) == list(TABLES)
    assert len(list(tables["runs"].rows)) == 2 and len(list(tables["repetitions"].rows)) == 5
    # 5 repetitions x 50 samples x (4 power channels + 1 energy counter)
    assert len(list(tables["traces"].rows)) == 5 * 50 * 5
    assert len(list(tables["latencies"].rows)) == 5 * 16 and len(list(tables["series"].rows)) == 5 * 16
    cols = tables["runs"].columns
    assert cols[:3] == ["run_id", "created_at", "finished_at"]
    assert {"energy_total_j_mean", "energy_total_j_ci95_high", "latency_p99_s_n",
            "use_gco2e", "use_gco2e_low", "use_gco2e_high"} <= set(cols)
    with pytest.raises(UnknownNameError, match="accepted"):
        build_tables(store, runs, ["runs", "plots"])


def test_csv_round_trip(store, tmp_path):
    written = export_store(store, "csv", tmp_path / "out")
    assert [p.name for p in written] == [f"{t}.csv" for t in TABLES]
    runs = {r.run_id: r for r in store.list_runs()}
    for row in iter_csv(tmp_path / "out" / "runs.csv"):
        run = runs[row["run_id"]]
        for key, stats in run.summary["metrics"].items():
            assert float(row[f"{key}_mean"]) == stats["mean"]  # exact: floats written with repr
            assert float(row[f"{key}_ci95_low"]) == stats["ci95_low"]
            assert int(row[f"{key}_n"]) == stats["n"]
        assert float(row["use_gco2e_high"]) == run.summary["impact"]["use_gco2e"]["high"]
        assert row["device_name"] == run.device_name and row["status"] == "complete"
        assert row["measured"] == "true" and row["error"] == ""
    reps = list(iter_csv(tmp_path / "out" / "repetitions.csv"))
    assert len(reps) == 5 and {r["loadgen"] for r in reps} == {'{"reason": "short run", "valid": false}'}
    rows = list(iter_csv(tmp_path / "out" / "traces.csv"))
    rid = next(iter(runs))
    t, p, phases = _trace_from_rows(rows, rid, 1, "VDD_GPU_SOC")
    o = orin_trace()
    assert t.tobytes() == o.t_s.tobytes()
    assert np.array_equal(p, o.channels["VDD_GPU_SOC"], equal_nan=True) and math.isnan(p[7])
    # marks at 0 s (load), 5 s (compute), 24.5 s (end): 10 samples of load, 39 of compute, 1 end
    assert phases.count("load") == 10 and phases.count("compute") == 39 and phases[-1] == "end"
    _, counter, _ = _trace_from_rows(rows, rid, 0, "counter:module")
    assert counter.tobytes() == o.counters["module"].tobytes()
    lat = [float(r["latency_s"]) for r in iter_csv(tmp_path / "out" / "latencies.csv")
           if r["run_id"] == rid and r["repetition"] == "2"]
    assert np.array(lat).tobytes() == store.load_latencies(rid, 2).tobytes()


def test_parquet_round_trip(store, tmp_path):
    export_store(store, "parquet", tmp_path / "pq")
    runs_pq = pq.read_table(tmp_path / "pq" / "runs.parquet").to_pylist()
    by_id = {r.run_id: r for r in store.list_runs()}
    assert {r["run_id"] for r in runs_pq} == set(by_id)
    for row in runs_pq:
        run = by_id[row["run_id"]]
        assert row["queries"] == 16 and isinstance(row["queries"], int)
        assert row["estimated"] is False
        assert row["energy_total_j_mean"] == run.summary["metrics"]["energy_total_j"]["mean"]
        assert row["energy_total_j_std"] == run.summary["metrics"]["energy_total_j"]["std"]
    traces = pq.read_table(tmp_path / "pq" / "traces.parquet")
    assert traces.schema.field("power_w").type == "double"
    rows = traces.to_pylist()
    rid = next(iter(by_id))
    t, p, _ = _trace_from_rows(rows, rid, 0, "module")
    o = orin_trace()
    assert t.tobytes() == o.t_s.tobytes() and np.array_equal(p, o.channels["module"], equal_nan=True)
    lat = pq.read_table(tmp_path / "pq" / "latencies.parquet").to_pylist()
    assert len(lat) == 80 and set(lat[0]) == {"run_id", "repetition", "query", "latency_s"}


def test_json_round_trip_is_strict(store, tmp_path):
    out = tmp_path / "export.json"
    export_store(store, "json", out, tables=["runs", "traces"])
    doc = json.loads(out.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert doc["format"] == "inferlca-export" and doc["tables"] == ["runs", "traces"]
    assert "latencies" not in doc
    runs = {r.run_id: r for r in store.list_runs()}
    for row in doc["runs"]:
        assert row["energy_total_j_mean"] == runs[row["run_id"]].summary["metrics"]["energy_total_j"]["mean"]
    gaps = [r for r in doc["traces"] if r["channel"] == "VDD_GPU_SOC" and r["power_w"] is None]
    assert len(gaps) == 5  # the NaN gap of each of the 5 repetitions is null, not 0


def test_json_out_with_a_trailing_slash_is_a_folder(store, tmp_path):
    """`export --format json --out results/` as the csv/parquet examples: a folder (made when
    missing) holding inferlca-export.json (was: a file named `results`)."""
    written = export_store(store, "json", f"{tmp_path / 'results'}/", tables=["runs"])
    assert written == [tmp_path / "results" / "inferlca-export.json"]
    assert json.loads(written[0].read_text())["tables"] == ["runs"]


def test_export_errors(store, tmp_path):
    with pytest.raises(UnknownNameError, match="accepted: csv, json, parquet"):
        export_store(store, "xlsx", tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="it is a file"):
        export_store(store, "csv", tmp_path / "file")
    with pytest.raises(UsageError, match="cannot create the export folder"):
        export_store(store, "csv", tmp_path / "file" / "sub")
    with pytest.raises(UsageError, match="nothing to export"):
        export_store(store, "csv", tmp_path / "x", runs=[])


def test_parquet_streams_in_batches_and_handles_empty_tables(store, tmp_path, monkeypatch):
    import inferlca.store.export as export_mod

    monkeypatch.setattr(export_mod, "_BATCH_ROWS", 7)  # force many row groups
    export_store(store, "parquet", tmp_path / "pq")
    f = pq.ParquetFile(tmp_path / "pq" / "traces.parquet")
    assert f.metadata.num_rows == 5 * 50 * 5 and f.metadata.num_row_groups > 100
    rows = f.read().to_pylist()
    rid = store.list_runs()[0].run_id
    _, p, _ = _trace_from_rows(rows, rid, 2, "VDD_CPU_CV")
    assert p.tobytes() == orin_trace().channels["VDD_CPU_CV"].tobytes()
    # a run without traces or latencies still gives well-formed (empty) long tables
    bare = store.create_run({"workload": "null"})
    store.add_repetition(bare, 0, metrics={"duration_s": 1.0})
    export_store(store, "parquet", tmp_path / "bare", runs=store.list_runs(run_ids=[bare]))
    empty = pq.read_table(tmp_path / "bare" / "traces.parquet")
    assert empty.num_rows == 0 and empty.column_names == ["run_id", "repetition", "channel", "t_s", "power_w", "phase"]


def test_runs_table_carries_validity_and_accuracy(store):
    rid = store.create_run({"workload": "bert-large-squad", "queries": 4})
    store.add_repetition(rid, 0, metrics={"duration_s": 1.0}, loadgen={"valid": True})
    summary = store.summarize_run(rid)
    summary["validity"] = [{"valid": True, "text": "VALID"}]
    summary["accuracy"] = {"exact_match": 80.5, "f1": 88.25, "samples": 10}
    store.finish_run(rid, "complete", summary)
    table = build_tables(store, store.list_runs(), ["runs"])["runs"]
    rows = [dict(zip(table.columns, r)) for r in table.rows]
    by_id = {r["run_id"]: r for r in rows}
    assert by_id[rid]["mlperf_valid"] is True
    assert by_id[rid]["accuracy_exact_match"] == 80.5 and by_id[rid]["accuracy_f1"] == 88.25
    # the helper runs' repetitions said "valid": False in their LoadGen results
    others = [r for r in rows if r["run_id"] != rid]
    assert {r["mlperf_valid"] for r in others} == {False}
    assert {r["accuracy_f1"] for r in others} == {None}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_every_table_reads_back_with_unique_columns(store, tmp_path, fmt):
    """Regression: the repetitions table held ``queries`` twice (the run's and the repetition's
    metric), which made its Parquet file unreadable (pyarrow: "Multiple matches for FieldRef")."""
    export_store(store, fmt, tmp_path / "out")
    for name in TABLES:
        if fmt == "parquet":
            table = pq.read_table(tmp_path / "out" / f"{name}.parquet")
            cols, rows = table.column_names, table.to_pylist()
        else:
            rows = list(iter_csv(tmp_path / "out" / f"{name}.csv"))
            cols = list(rows[0]) if rows else []
        assert len(cols) == len(set(cols)), name
    reps = (pq.read_table(tmp_path / "out" / "repetitions.parquet").to_pylist() if fmt == "parquet"
            else list(iter_csv(tmp_path / "out" / "repetitions.csv")))
    assert len(reps) == 5
    assert {int(r["queries_planned"]) for r in reps} == {16}
    assert {float(r["queries"]) for r in reps} == {16.0}
