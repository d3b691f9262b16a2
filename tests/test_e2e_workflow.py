"""End to end: every layer through the CLI, real components, tiny presets, one results store.

A real ``inferlca run`` of a tiny BERT and of the null workload (each declared as a different
catalog device), a roofline estimate of a datacenter device saved into the same store, then the
report (HTML and figures), ``compare`` of a measured and the estimated run, ``recommend``,
``project``, ``export --format parquet`` read back with pyarrow, and ``store merge`` of a second
store. Everything runs in-process through :func:`inferlca.cli.run` (LoadGen, SQLite, matplotlib
and pyarrow are real).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the tiny BERT run needs torch (the [torch] extra)")
pytest.importorskip("mlperf_loadgen", reason="runs need the MLPerf LoadGen")
pq = pytest.importorskip("pyarrow.parquet", reason="the parquet export needs pyarrow")

MEASURED_BERT_DEVICE = "t4"
MEASURED_NULL_DEVICE = "jetson-agx-orin-64gb"
ESTIMATED_DEVICE = "h100-sxm5-80gb"


def _ok(res):
    assert res.code == 0, f"exit {res.code}\nstdout: {res.out[-2000:]}\nstderr: {res.err[-2000:]}"
    return res


def test_whole_workflow_one_store(tmp_path: Path, cli):
    store = tmp_path / "study.db"

    # 1. Two real measured runs, declared as two different catalog devices.
    bert = _ok(cli("run", "-w", "bert-base-squad", "--preset", "tiny", "--backend", "torch",
                   "-n", "4", "-r", "1", "--device", MEASURED_BERT_DEVICE, "--store", store,
                   "--json")).json()
    null = _ok(cli("run", "-w", "null", "-n", "4", "-r", "1", "--device", MEASURED_NULL_DEVICE,
                   "--store", store, "--json")).json()
    assert bert["status"] == null["status"] == "complete"
    assert bert["device"]["id"] == MEASURED_BERT_DEVICE
    assert null["device"]["id"] == MEASURED_NULL_DEVICE
    for run in (bert, null):
        reps = run["repetitions"]
        assert len(reps) == 1
        m = run["summary"]["metrics"]
        assert m["energy_per_query_j"]["mean"] > 0
        assert m["latency_p99_s"]["mean"] > 0
        imp = run["summary"]["impact"]
        gwp = imp["per_query_gco2e"]
        assert 0 < gwp["low"] <= gwp["value"] <= gwp["high"]
        # By hand: GWP = energy x grid x PUE + (run time / lifetime) x manufacturing footprint.
        kwh = m["energy_total_j"]["mean"] / 3.6e6
        assert imp["energy_kwh"]["value"] == pytest.approx(kwh, rel=1e-6)
        use = kwh * imp["grid_gco2e_per_kwh"]["value"] * imp["pue"]["value"]
        assert imp["use_gco2e"]["value"] == pytest.approx(use, rel=1e-6)
        share = m["duration_s"]["mean"] / (imp["lifetime_years"]["value"] * 365.25 * 86400)
        assert imp["allocation"]["value"] == pytest.approx(share, rel=1e-3)
        emb = share * imp["device_embodied_kgco2e"]["value"] * 1e3
        assert imp["embodied_gco2e"]["value"] == pytest.approx(emb, rel=1e-3)
        assert gwp["value"] == pytest.approx((use + emb) / 4, rel=1e-3)

    # 2. A roofline estimate of a datacenter device, saved into the same store.
    est = _ok(cli("estimate", "--model", "bert-tiny", "--workload", "bert-base-squad",
                  "--device", ESTIMATED_DEVICE, "--queries", "4", "--save", "--store", store,
                  "--json")).json()
    (est_id,) = est["saved_run_ids"]
    shown = _ok(cli("results", "show", est_id, "--store", store, "--json")).json()
    assert shown["kind"] == "estimated" and shown["estimated"] is True
    assert shown["device_id"] == ESTIMATED_DEVICE
    assert shown["workload"] == "bert-base-squad"

    listed = _ok(cli("results", "--store", store, "--json")).json()
    runs = listed["runs"] if isinstance(listed, dict) else listed
    assert {r["run_id"] for r in runs} == {bert["run_id"], null["run_id"], est_id}

    # 3. The report: an HTML page naming the three devices and the figures it lists.
    out = tmp_path / "report"
    rep = _ok(cli("report", "--store", store, "--out", out, "--json")).json()
    html = Path(rep["html"])
    assert html.is_file()
    text = html.read_text(encoding="utf-8")
    for name in ("NVIDIA Tesla T4", "NVIDIA Jetson AGX Orin 64GB", "NVIDIA H100 SXM5 80GB"):
        assert name in text
    written = [f for f in rep["figures"].values() if "png" in f]
    assert len(written) >= 4
    for fig in written:
        for fmt in ("png", "svg"):
            p = out / fig[fmt]
            assert p.is_file() and p.stat().st_size > 500, p
            assert fig[fmt] in text or Path(fig[fmt]).stem in text
    assert rep["runs"] == 3

    # 4. compare: the measured T4 run against the estimated H100 run.
    cmp = _ok(cli("compare", bert["run_id"][:8], est_id[:8], "--store", store, "--json")).json()
    assert cmp["a"]["run_id"] == bert["run_id"] and cmp["b"]["run_id"] == est_id
    assert cmp["b"]["estimated"] is True
    r = cmp["ratios"]["gwp_per_query"]
    assert r["ratio"]["value"] == pytest.approx(r["a"]["value"] / r["b"]["value"], rel=1e-9)
    assert r["ratio"]["low"] <= r["ratio"]["value"] <= r["ratio"]["high"]
    e = cmp["ratios"]["energy_per_query"]
    assert e["a"]["value"] == pytest.approx(bert["summary"]["metrics"]["energy_per_query_j"]["mean"])
    assert any("estimate" in n for n in cmp["notes"])

    # 5. recommend under a p99 budget that only one of the two BERT runs meets.
    p99_bert_ms = bert["summary"]["metrics"]["latency_p99_s"]["mean"] * 1e3
    p99_est_ms = cmp["ratios"]["latency_p99"]["b"]["value"] * 1e3
    assert p99_bert_ms != p99_est_ms
    budget_ms = (p99_bert_ms + p99_est_ms) / 2
    faster_id = est_id if p99_est_ms < p99_bert_ms else bert["run_id"]
    slower_id = bert["run_id"] if faster_id == est_id else est_id
    rec = _ok(cli("recommend", "--latency-p99-ms", f"{budget_ms:.6g}", "--workload",
                  "bert-base-squad (tiny)", "--store", store, "--json")).json()
    assert rec["recommended"]["run_id"] == faster_id
    assert rec["recommended"]["latency_p99_s"]["value"] * 1e3 <= budget_ms
    assert slower_id in json.dumps(rec["excluded"])
    # A budget nobody meets: nothing recommended, said plainly (exit 1, not a traceback).
    none = cli("recommend", "--latency-p99-ms", "1e-6", "--workload", "bert-base-squad (tiny)",
               "--store", store, "--json")
    assert none.code in (0, 1) and "Traceback" not in none.err
    assert none.json()["recommended"] is None

    # 6. project: per day = per query x users x queries per user.
    proj = _ok(cli("project", "--users", "1000", "--queries-per-user", "16", "--run",
                   bert["run_id"][:8], "--store", store, "--json")).json()
    (p,) = proj["projections"]
    per_q = bert["summary"]["impact"]["per_query_gco2e"]["value"]
    assert p["queries_per_day"] == 16000
    assert p["total_per_day_kgco2e"]["value"] == pytest.approx(per_q * 16000 / 1000, rel=1e-6)
    assert p["total_per_year_kgco2e"]["value"] == pytest.approx(
        p["total_per_day_kgco2e"]["value"] * 365, rel=1e-2)

    # 7. export to parquet and read the runs table back.
    exp_dir = tmp_path / "export"
    exp = _ok(cli("export", "--format", "parquet", "--out", exp_dir, "--store", store,
                  "--json")).json()
    assert exp["runs"] == 3
    files = {Path(f["path"]).name for f in exp["files"]}
    assert {"runs.parquet", "repetitions.parquet"} <= files
    table = pq.read_table(exp_dir / "runs.parquet")
    assert table.num_rows == 3
    cols = table.to_pydict()
    assert set(cols["run_id"]) == {bert["run_id"], null["run_id"], est_id}
    assert set(cols["device_id"]) == {MEASURED_BERT_DEVICE, MEASURED_NULL_DEVICE, ESTIMATED_DEVICE}
    lat = pq.read_table(exp_dir / "latencies.parquet").to_pydict()
    assert len([x for x in lat["run_id"] if x == bert["run_id"]]) == 4  # 4 queries x 1 repetition

    # 8. store merge: a second store's run joins; merging again adds nothing.
    other = tmp_path / "lab-b.db"
    a40 = _ok(cli("run", "-w", "null", "-n", "4", "-r", "1", "--device", "a40", "--store", other,
                  "--json")).json()
    merged = _ok(cli("store", "merge", other, "--store", store, "--json")).json()
    assert merged["added"] == [a40["run_id"]]
    again = _ok(cli("store", "merge", other, "--store", store, "--json")).json()
    assert again["added"] == [] and again["skipped"] == [a40["run_id"]]
    listed = _ok(cli("results", "--store", store, "--json")).json()
    runs = listed["runs"] if isinstance(listed, dict) else listed
    assert len(runs) == 4
    got = _ok(cli("results", "show", a40["run_id"], "--store", store, "--json")).json()
    assert got["device_id"] == "a40" and got["status"] == "complete"
    assert len(got["repetitions"]) == 1


def test_parquet_repetitions_table_reads_back(tmp_path: Path, cli):
    """Every exported parquet file reads back with pyarrow (unique column names)."""
    store = tmp_path / "s.db"
    _ok(cli("run", "-w", "null", "-n", "4", "-r", "1", "--device", "a40", "--store", store))
    out = tmp_path / "exp"
    _ok(cli("export", "--format", "parquet", "--out", out, "--store", store))
    for f in sorted(out.glob("*.parquet")):
        names = pq.read_schema(f).names
        assert len(names) == len(set(names)), f"{f.name}: duplicate columns"
        rows = pq.read_table(f).num_rows
        # per-request series exist only for decoder LLM runs; every other table has rows
        assert rows >= 1 or f.stem == "series", f"{f.name}: no rows"


def test_estimate_save_bert_base_uses_the_measured_workload_name(tmp_path: Path, cli):
    """`estimate --model bert-base --save` must land in the same comparison as bert-base-squad runs."""
    store = tmp_path / "s.db"
    est = _ok(cli("estimate", "--model", "bert-base", "--device", ESTIMATED_DEVICE, "--save",
                  "--store", store, "--json")).json()
    (rid,) = est["saved_run_ids"]
    shown = _ok(cli("results", "show", rid, "--store", store, "--json")).json()
    assert shown["workload"] == "bert-base-squad"
