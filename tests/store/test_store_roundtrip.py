"""Round trips through a real SQLite results store: runs, repetitions, traces, latencies, series."""

from __future__ import annotations

import math
import sqlite3

import numpy as np
import pytest
from helpers_store import SPEC, add_complete_run, impact, metrics, orin_trace
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays as np_arrays

from inferlca.errors import InvalidValueError, StoreError, UnknownNameError, UsageError
from inferlca.store import Store
from inferlca.store import arrays as codec
from inferlca.traces.trace import PowerTrace


@pytest.fixture
def store(tmp_path):
    with Store.open(tmp_path / "inferlca.db") as s:
        yield s


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Bit-for-bit equality, NaN included."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@settings(max_examples=200, deadline=None)
@given(np_arrays(np.float64, st.integers(0, 300),
                 elements=st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)))
def test_array_codec_is_lossless(values):
    dtype, name, n, blob = codec.encode(values)
    assert n == values.size
    assert _same(codec.decode(dtype, name, n, blob), values.astype(np.float64))


@settings(max_examples=150, deadline=None)
@given(np_arrays(np.int64, st.integers(16, 200), elements=st.integers(-10**9, 10**9)),
       st.integers(0, 6), st.lists(st.integers(0, 199), max_size=20))
def test_decimal_readings_are_lossless(ints, k, nan_at):
    values = ints.astype(np.float64) / 10.0 ** k
    values[[i for i in nan_at if i < values.size]] = np.nan
    dtype, name, n, blob = codec.encode(values)
    assert _same(codec.decode(dtype, name, n, blob), values)


def test_array_codec_is_compact_on_a_real_trace():
    trace = orin_trace()
    # tegrastats reports whole milliwatts: mW / 1000 in watts is stored as integers (k = 3 decimals)
    rail = trace.channels["VDD_CPU_CV"]
    dtype, name, n, blob = codec.encode(rail)
    assert (dtype, name, n) == ("<i8", "dec3", 50)
    assert len(blob) < 400 * 0.3  # 400 raw bytes of float64
    # the same rail with its NaN gap (VDD_GPU_SOC[7]) keeps the gap, bit for bit
    gpu = trace.channels["VDD_GPU_SOC"]
    dtype, name, n, blob = codec.encode(gpu)
    assert name == "dec3" and _same(codec.decode(dtype, name, n, blob), gpu)
    # values exact in float32 and not decimal are stored in 4 bytes each
    dtype, _, _, _ = codec.encode(np.array([0.5, 1.25, np.nan, 1 / 3] * 10, dtype=np.float32))
    assert dtype == "<f4"


def test_decimal_codec_on_nvml_like_readings():
    rng = np.random.default_rng(1)
    power_mw = np.round(rng.normal(250_000, 8_000, 5000))
    power_w = power_mw / 1000.0
    energy_j = np.cumsum(np.round(power_mw * 0.01)) / 1000.0  # NVML mJ counter, in J
    for values in (power_w, energy_j):
        dtype, name, n, blob = codec.encode(values)
        assert name == "dec3" and _same(codec.decode(dtype, name, n, blob), values)
    # a counter becomes small differences: far below 8 bytes a sample
    assert len(codec.encode(energy_j)[3]) < 5000 * 8 * 0.3
    # -0.0 is not an integer / 10**k: kept exactly by a float encoding
    signed = np.array([0.5, -0.0] * 20)
    dtype, name, n, blob = codec.encode(signed)
    assert not name.startswith("dec") and _same(codec.decode(dtype, name, n, blob), signed)
    # an unknown codec (a newer inferlca) is a clear error
    with pytest.raises(StoreError, match="newer inferlca"):
        codec.decode("<i8", "dec9", 3, b"")


def test_corrupt_blob_is_a_store_error():
    dtype, name, n, blob = codec.encode(np.linspace(0, 1, 100))
    with pytest.raises(StoreError, match="corrupt"):
        codec.decode(dtype, name, n, blob[:-7])


def test_full_round_trip(store):
    rid = add_complete_run(store)
    assert len(rid) == 32 and int(rid, 16) >= 0  # uuid4 hex: globally unique
    run = store.get_run(rid)
    assert run.status == run.stored_status == "complete"
    assert (run.workload, run.scenario, run.backend, run.queries) == ("bert-base-squad", "single-stream", "torch", 16)
    assert (run.device_id, run.device_name, run.meter, run.kind, run.estimated) == (
        "jetson-agx-orin-64gb", "Jetson AGX Orin 64GB", "tegrastats", "measured", False)
    assert run.label == "lab bench" and run.spec == SPEC and run.environment == {"host": "bench"}
    assert run.repetitions_planned == 3 and run.measured
    assert [r.index for r in run.repetitions] == [0, 1, 2]
    for i, rep in enumerate(run.repetitions):
        assert rep.status == "complete"
        assert rep.metrics == metrics(i)
        assert rep.impact == impact(i)
        assert rep.impact_compute == impact(i)["impact_compute"]
        assert rep.loadgen == {"valid": False, "reason": "short run"}
        assert rep.has_trace and rep.trace_samples == 50 and rep.n_latencies == 16
        assert rep.series == ["ttft_s"]

    original = orin_trace()
    back = store.load_trace(rid, 1)
    assert isinstance(back, PowerTrace)
    assert _same(back.t_s, original.t_s)
    assert list(back.channels) == list(original.channels)  # order kept: primary first
    for name in original.channels:
        assert _same(back.channels[name], original.channels[name])
    assert np.isnan(back.channels["VDD_GPU_SOC"][7])  # the gap stays a gap
    assert _same(back.counters["module"], original.counters["module"])
    assert back.marks == original.marks and back.gaps == original.gaps
    assert (back.primary, back.meter, back.estimated, back.period_requested_s) == ("module", "tegrastats", False, 0.5)
    assert back.meta == original.meta

    assert _same(store.load_latencies(rid, 2), np.linspace(0.01, 0.022, 16))
    series = store.load_series(rid, 0)
    assert list(series) == ["ttft_s"] and _same(series["ttft_s"], np.full(16, 0.005))


def test_summary_computed_from_stored_repetitions(store):
    rid = add_complete_run(store)
    s = store.get_run(rid).summary
    # energy_total_j = 100, 110, 120: mean 110, sample std 10,
    # 95 % interval 110 +/- t(0.975, 2) * 10 / sqrt(3) = 110 +/- 4.302652729749 * 5.773502691896 = 110 +/- 24.8414
    e = s["metrics"]["energy_total_j"]
    assert e["mean"] == pytest.approx(110.0) and e["std"] == pytest.approx(10.0) and e["n"] == 3
    assert e["ci95_low"] == pytest.approx(110 - 24.8414, abs=1e-3)
    assert e["ci95_high"] == pytest.approx(110 + 24.8414, abs=1e-3)
    # impact (the run interval rule): value = mean (1, 2, 3) -> 2; low = min(0.5, 1.5 - 2.4841
    # clipped at 0) = 0; high = max(4, 3 + 4.302652729749 x 1 / sqrt 3 = 5.4841)
    assert s["impact"]["use_gco2e"] == pytest.approx(
        {"value": 2.0, "low": 0.0, "high": 3.0 + 4.302652729749 / 3 ** 0.5})
    assert s["impact"]["sources"] == ["ADEME Base Empreinte", "Pirson 2022"]
    assert s["measured"] is True
    run = store.get_run(rid)
    assert run.metric("energy_total_j") == pytest.approx(110.0)
    assert run.impact("use_gco2e", "high") == pytest.approx(3.0 + 4.302652729749 / 3 ** 0.5)


def test_prefix_lookup_and_errors(store):
    a = add_complete_run(store, reps=1)
    assert store.get_run(a[:6]).run_id == a
    assert store.get_run(a.upper()).run_id == a
    with pytest.raises(UnknownNameError) as e:
        store.get_run("zzzz")
    assert e.value.exit_code == 2
    # make an ambiguous prefix: two runs whose ids share their start
    store.create_run(SPEC, run_id="abc1" + "0" * 28)
    store.create_run(SPEC, run_id="abc2" + "0" * 28)
    with pytest.raises(UsageError, match="ambiguous"):
        store.get_run("abc")
    assert store.get_run("abc2").run_id == "abc2" + "0" * 28
    with pytest.raises(InvalidValueError):
        store.get_run("  ")


def test_filters(store):
    a = add_complete_run(store, reps=1)
    b = add_complete_run(store, reps=1, device_id="h100-sxm", device_name="H100 SXM",
                         spec={**SPEC, "scenario": "offline", "workload": "minilm-embed"})
    c = store.create_run({**SPEC, "workload": "roofline"}, kind="estimated", estimated=True,
                         device_id="a100-pcie-40gb", device_name="A100 PCIe 40GB")
    ids = lambda runs: [r.run_id for r in runs]
    assert ids(store.list_runs()) == [a, b, c]
    assert ids(store.list_runs(device="H100 sxm")) == [b]
    assert ids(store.list_runs(device="jetson-agx-orin-64gb")) == [a]
    assert ids(store.list_runs(device="AGX Orin")) == [a]  # a catalog alias
    assert ids(store.list_runs(scenario="offline")) == [b]
    assert ids(store.list_runs(workload="bert-base-squad")) == [a]
    assert ids(store.list_runs(kind="estimated")) == [c]
    assert ids(store.list_runs(status="running")) == [c]  # this process is alive
    assert ids(store.list_runs(status="complete")) == [a, b]
    assert ids(store.list_runs(limit=2)) == [b, c]
    assert ids(store.list_runs(run_ids=[c[:8], a])) == [a, c]
    with pytest.raises(UnknownNameError):
        store.list_runs(kind="guessed")
    with pytest.raises(UnknownNameError):
        store.list_runs(status="done")


def test_delete_cascades(store):
    a = add_complete_run(store, reps=2)
    b = add_complete_run(store, reps=1)
    assert store.delete_run(a[:8]) == a
    assert [r.run_id for r in store.list_runs()] == [b]
    conn = sqlite3.connect(store.path)
    for table in ("repetitions", "traces", "trace_arrays", "latencies", "series"):
        assert conn.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", (a,)).fetchone()[0] == 0
        assert conn.execute(f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", (b,)).fetchone()[0] > 0
    conn.close()
    assert store.integrity_check() == []


def test_repetition_is_all_or_nothing(store):
    # count SQLite VM steps of a whole add_repetition on a scratch run...
    scratch = store.create_run(SPEC)
    calls = {"n": 0, "limit": None}

    def handler() -> int:
        calls["n"] += 1
        return 1 if calls["n"] == calls["limit"] else 0  # abort one statement, once

    store._conn.set_progress_handler(handler, 1)
    store.add_repetition(scratch, 0, metrics=metrics(0), trace=orin_trace(), latencies_s=[0.1] * 16)
    total = calls["n"]
    # ...then abort a real one three quarters of the way: after the repetition row went in,
    # inside the trace inserts
    rid = store.create_run(SPEC)
    calls.update(n=0, limit=total * 3 // 4)
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    with pytest.raises(StoreError, match="interrupted"):
        store.add_repetition(rid, 0, metrics=metrics(0), trace=orin_trace(), latencies_s=[0.1] * 16)
    store._conn.set_progress_handler(None, 0)
    store._conn.set_trace_callback(None)
    assert any(s.startswith("INSERT INTO repetitions") for s in statements)
    assert "ROLLBACK" in statements and "COMMIT" not in statements
    store.delete_run(scratch)
    assert store.get_run(rid).repetitions == []
    conn = sqlite3.connect(store.path)
    for table in ("repetitions", "traces", "trace_arrays", "latencies"):
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table
    conn.close()
    # nothing measured is lost: the refused repetition waits in a file next to the store
    saved = store.unsaved_dir() / f"{rid}-rep0.json"
    assert saved.exists()
    assert store.import_unsaved(store.unsaved_dir()) == [(rid, 0)]
    assert not store.unsaved_dir().exists()
    back = store.load_trace(rid, 0)
    original = orin_trace()
    assert _same(back.channels["VDD_GPU_SOC"], original.channels["VDD_GPU_SOC"])  # NaN gap too
    assert back.marks == original.marks and back.gaps == original.gaps
    assert store.get_run(rid).repetitions[0].metrics == metrics(0)
    assert store.load_latencies(rid, 0).tolist() == [0.1] * 16


def test_refused_write_message_says_where_the_data_went(store, tmp_path):
    rid = store.create_run(SPEC)
    store._conn.set_progress_handler(lambda: 1, 1)  # SQLite refuses every statement
    try:
        with pytest.raises(StoreError) as e:
            store.add_repetition(rid, 3, metrics=metrics(0), latencies_s=[0.5, 0.25],
                                 extra_series={"ttft_s": [0.1, float("nan")]})
    finally:
        store._conn.set_progress_handler(None, 0)
    assert "was saved to" in str(e.value) and "inferlca store import-unsaved" in str(e.value)
    assert e.value.exit_code == 2
    # into another store: the run header travels with the file
    with Store.open(tmp_path / "elsewhere.db") as other:
        assert other.import_unsaved(store.unsaved_dir()) == [(rid, 3)]
        assert other.load_latencies(rid, 3).tolist() == [0.5, 0.25]
        assert math.isnan(other.load_series(rid, 3)["ttft_s"][1])


def test_bad_repetitions(store):
    rid = store.create_run(SPEC)
    store.add_repetition(rid, 0, metrics={"energy_total_j": np.float32(2.5), "coverage": None,
                                          "peak_power_w": float("nan")})
    rep = store.get_run(rid).repetitions[0]
    assert rep.metrics["energy_total_j"] == 2.5 and "coverage" not in rep.metrics
    assert math.isnan(rep.metrics["peak_power_w"])  # NaN kept, not zeroed
    assert rep.to_dict()["metrics"]["peak_power_w"] is None  # strict JSON on the way out
    with pytest.raises(StoreError, match="already stored"):
        store.add_repetition(rid, 0, metrics={})
    with pytest.raises(InvalidValueError):
        store.add_repetition(rid, 1, metrics={"energy_total_j": "a lot"})
    with pytest.raises(InvalidValueError):
        store.add_repetition(rid, -1, metrics={})
    with pytest.raises(UnknownNameError):
        store.add_repetition("f" * 32, 0, metrics={})
    bad = orin_trace()
    bad.channels["module"] = bad.channels["module"][:-1]
    with pytest.raises(InvalidValueError, match="49 values for 50"):
        store.add_repetition(rid, 1, metrics={}, trace=bad)
    with pytest.raises(UnknownNameError):
        store.load_trace(rid, 5)
    assert store.load_trace(rid, 0) is None
    assert store.load_latencies(rid, 0).size == 0


def test_incomplete_trace_marks_the_repetition(store):
    rid = store.create_run(SPEC)
    trace = orin_trace()
    trace.meta["incomplete"] = True
    store.add_repetition(rid, 0, metrics=metrics(0), trace=trace)
    store.finish_run(rid, "incomplete", None, error="interrupted by the user (Ctrl-C)")
    run = store.get_run(rid)
    assert run.status == "incomplete" and run.repetitions[0].status == "incomplete"
    assert run.error == "interrupted by the user (Ctrl-C)" and run.finished_at


def test_recording_marks_interrupted_and_failed_runs(store):
    rid = store.create_run(SPEC)
    with pytest.raises(KeyboardInterrupt), store.recording(rid, notes=["synthetic weights"]):
        store.add_repetition(rid, 0, metrics=metrics(0), trace=orin_trace())
        raise KeyboardInterrupt
    run = store.get_run(rid)
    assert run.status == "incomplete" and "Ctrl-C" in run.error
    assert run.summary["metrics"]["energy_total_j"]["mean"] == 100.0
    assert run.summary["metrics"]["energy_total_j"]["std"] is None  # one repetition: unknown spread
    assert run.summary["notes"] == ["synthetic weights"]
    rid2 = store.create_run(SPEC)
    with pytest.raises(RuntimeError), store.recording(rid2):
        raise RuntimeError("out of memory")
    assert store.get_run(rid2).status == "failed"
    assert store.get_run(rid2).error == "RuntimeError: out of memory"


def test_estimated_run_and_to_dict_is_strict_json(store):
    import json

    rid = store.create_run({"workload": "starcoder", "scenario": "single-stream", "queries": 1},
                           kind="estimated", estimated=True, device_id="a100-pcie-40gb",
                           device_name="A100 PCIe 40GB", meter="roofline")
    store.add_repetition(rid, 0, metrics={"duration_s": 0.5, "energy_total_j": 200.0})
    store.finish_run(rid, "complete", None)
    run = store.get_run(rid)
    assert run.kind == "estimated" and run.estimated and not run.measured
    assert run.summary["measured"] is False
    json.dumps(run.to_dict(), allow_nan=False)
    with pytest.raises(UnknownNameError):
        store.create_run(SPEC, kind="guessed")
    with pytest.raises(StoreError, match="already stored"):
        store.create_run(SPEC, run_id=rid)


def test_memory_store_and_readonly(tmp_path):
    with Store.memory() as m:
        rid = add_complete_run(m, reps=1)
        assert m.get_run(rid).status == "complete" and m.info()["path"] == ":memory:"
    path = tmp_path / "s.db"
    with Store.open(path) as s:
        rid = add_complete_run(s, reps=1)
    with Store.open_readonly(path) as r:
        assert r.get_run(rid).repetitions[0].has_trace
        with pytest.raises(StoreError, match="read-only"):
            r.create_run(SPEC)
    with pytest.raises(StoreError, match="no results store"):
        Store.open_readonly(tmp_path / "missing.db")


def test_default_path_and_env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("INFERLCA_STORE", raising=False)
    with Store.open() as s:
        assert s.path == tmp_path / "inferlca.db"
    monkeypatch.setenv("INFERLCA_STORE", str(tmp_path / "sub" / "env.db"))
    with Store.open() as s:
        assert s.path == tmp_path / "sub" / "env.db" and s.path.exists()


def test_info(store):
    add_complete_run(store, reps=2)
    store.create_run(SPEC)
    info = store.info()
    assert info["runs"] == 2 and info["runs_by_status"] == {"complete": 1, "running": 1}
    assert info["repetitions"] == 2 and info["traces"] == 2 and info["trace_samples"] == 100
    assert info["latencies"] == 32 and info["journal_mode"] == "wal"
    assert info["schema_version"] == info["schema_version_supported"] == 3
    assert [m["version"] for m in info["migrations"]] == [1, 2, 3]
    assert info["size_bytes"] > 0 and 0 < info["array_bytes"] < info["size_bytes"]


_names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
_floats = st.floats(allow_nan=True, allow_infinity=False, width=64)


@st.composite
def _traces(draw):
    n = draw(st.integers(0, 60))
    t = np.cumsum(draw(np_arrays(np.float64, n, elements=st.floats(0.0, 1.0))))
    names = draw(st.lists(_names, min_size=1, max_size=3, unique=True))
    channels = {k: draw(np_arrays(np.float64, n, elements=_floats)) for k in names}
    counters = {k: draw(np_arrays(np.float64, n, elements=st.floats(0, 1e9))) for k in names[:1]}
    marks = [(float(x), str(m)) for x, m in draw(st.lists(st.tuples(st.floats(0, 100), _names), max_size=4))]
    gaps = [(float(a), float(a + 1), str(r), draw(st.none() | _names))
            for a, r in draw(st.lists(st.tuples(st.floats(0, 100), _names), max_size=3))]
    meta = draw(st.dictionaries(_names, st.none() | st.booleans() | st.integers(-10, 10) | _names, max_size=3))
    return PowerTrace(t_s=t, channels=channels, primary=names[0], meter=draw(_names),
                      estimated=draw(st.booleans()), counters=counters, marks=marks, gaps=gaps,
                      period_requested_s=draw(st.none() | st.floats(0.001, 1.0)), meta=meta)


@settings(max_examples=40, deadline=None)
@given(trace=_traces(), metrics_in=st.dictionaries(_names, st.floats(allow_nan=False), max_size=5),
       latencies=np_arrays(np.float64, st.integers(0, 40), elements=st.floats(0, 10)),
       label=st.none() | _names)
def test_store_round_trip_property(trace, metrics_in, latencies, label):
    with Store.memory() as s:
        rid = s.create_run({"workload": "w", "queries": 3}, label=label, device_name=label)
        s.add_repetition(rid, 0, metrics=metrics_in, trace=trace, latencies_s=latencies)
        run = s.get_run(rid)
        assert run.label == label and run.device_name == label
        assert run.repetitions[0].metrics == metrics_in
        back = s.load_trace(rid, 0)
        assert _same(back.t_s, np.asarray(trace.t_s, dtype=np.float64))
        assert list(back.channels) == list(trace.channels)
        for k in trace.channels:
            assert _same(back.channels[k], trace.channels[k])
        for k in trace.counters:
            assert _same(back.counters[k], trace.counters[k])
        assert back.marks == trace.marks
        assert back.gaps == trace.gaps
        assert back.meta == trace.meta and back.primary == trace.primary
        assert back.meter == trace.meter and back.estimated == trace.estimated
        assert back.period_requested_s == trace.period_requested_s
        assert _same(s.load_latencies(rid, 0), latencies)
