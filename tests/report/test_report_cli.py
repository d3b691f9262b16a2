"""The report commands end to end on the replayed sample store (real SQLite, lca, matplotlib)."""

from __future__ import annotations

import json
import re

import pytest

from inferlca.store.sqlite import Store


def test_sample_store_has_every_category_and_estimates(sample_store):
    from inferlca.report.data import load_runs

    path, _ = sample_store
    with Store.open_readonly(path) as st:
        runs = load_runs(st)
    # 5 replayed devices x 3 query counts + 2 estimated devices x 3 query counts + 2 LLM runs
    # + 1 run with hostile text
    assert len(runs) == 24
    assert {v.category for v in runs} == {"edge", "gaming", "datacenter", None}
    assert sum(v.estimated for v in runs) == 6
    assert all(len(v.repetitions) == 3 for v in runs
               if v.meter.startswith("replay:") and v.workload == "bert-large-squad")
    assert sum(v.is_llm for v in runs) == 2
    assert all(v.environment.get("replayed_from") or v.kind == "estimated" for v in runs)
    assert all("roofline" in v.notes[0] for v in runs if v.estimated)


def test_report_writes_every_figure_as_png_and_svg(sample_report):
    out, result, _ = sample_report
    drawn = {f.stem for f in result.figures if f.data_uri}
    # one set of per-condition views for bert-large-squad (1) and llm-generation (2)
    assert drawn == {"power_profiles_1", "latency_1", "gwp_1", "tradeoff_1", "power_profiles_2",
                     "latency_2", "gwp_2", "tradeoff_2", "manufacturing", "sensitivity", "llm"}
    for stem in drawn:
        assert (out / f"{stem}.png").read_bytes()[:4] == b"\x89PNG"
        assert (out / f"{stem}.svg").stat().st_size > 1000
    html = (out / "report.html").read_text()
    # self-contained: figures are data URIs, nothing is fetched from elsewhere
    assert html.count('src="data:image/png;base64,') == len(drawn)
    assert not re.search(r'(src|href)="(https?:|//|file:)', html)
    assert "runs are replayed fixtures" in html


def test_results_table_rows_and_lowest_marks(sample_report):
    _, result, _ = sample_report
    t, llm = result.tables
    assert llm.workload == "llm-generation" and llm.query_counts == (8,)
    assert t.query_counts == (16, 64, 256)
    assert len(t.devices) == 7
    assert t.devices[:2] == ("NVIDIA Jetson AGX Orin 64GB", "NVIDIA Jetson AGX Xavier 32GB")
    for q in t.query_counts:
        marked = [d for d in t.devices if t.cells[(d, q)].lowest]
        assert len(marked) == 1
        # the GTX 1650 is not in the catalog: its use-phase-only total is the smallest number but
        # not comparable; the lowest is among the devices with a manufacturing footprint
        assert t.cells[("NVIDIA GeForce GTX 1650", q)].embodied_missing
        assert min(t.devices, key=lambda d: t.cells[(d, q)].gwp_g.value) == "NVIDIA GeForce GTX 1650"
        complete = [d for d in t.devices if not t.cells[(d, q)].embodied_missing]
        lowest = min(complete, key=lambda d: t.cells[(d, q)].gwp_g.value)
        assert marked == [lowest]
    assert t.cells[("NVIDIA H100 SXM5 80GB", 16)].estimated


def test_report_cli_json_and_table(cli, sample_store, tmp_path):
    path, _ = sample_store
    r = cli("report", "--store", path, "--out", tmp_path / "r", "--device", "A100 40GB PCIe",
            "--device", "Orin", "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["devices"] == ["NVIDIA A100 40GB PCIe", "NVIDIA Jetson AGX Orin 64GB"]
    assert (tmp_path / "r" / "report.html").exists()
    r = cli("report", "--store", path, "--out", tmp_path / "r2", "--workload", "bert-large-squad",
            "--device", "V100 SXM2 16GB")
    assert r.code == 0 and "V100" in r.out and "report.html" in r.out
    assert "lowest per query count" not in r.out  # one device: no lowest, no legend for it


def test_compare_cli(cli, sample_store):
    path, _ = sample_store
    r = cli("compare", "A100 40GB PCIe", "Orin", "--store", path, "--queries", "64", "--json")
    assert r.code == 0, r.err
    d = r.json()
    g = d["ratios"]["gwp_per_query"]
    # the ratio interval is low_A / high_B .. high_A / low_B
    assert g["ratio"]["low"] == pytest.approx(g["a"]["low"] / g["b"]["high"])
    assert g["ratio"]["high"] == pytest.approx(g["a"]["high"] / g["b"]["low"])
    assert g["ratio"]["value"] == pytest.approx(g["a"]["value"] / g["b"]["value"])
    assert d["a"]["queries"] == d["b"]["queries"] == 64
    r = cli("compare", "A100 40GB PCIe", "Orin", "--store", path)
    assert r.code == 0 and "times the CO2e of B per query" in r.out


def test_project_cli_and_recommend_cli(cli, sample_store):
    path, _ = sample_store
    r = cli("project", "--users", "122.5e6", "--queries-per-user", "16", "--device", "Orin",
            "--store", path)
    assert r.code == 2 and "several workloads" in r.err and "--workload" in r.err
    r = cli("project", "--users", "122.5e6", "--queries-per-user", "16", "--device", "Orin",
            "--workload", "bert-large-squad", "--store", path, "--json")
    assert r.code == 0, r.err
    (p,) = r.json()["projections"]
    assert p["queries_per_day"] == pytest.approx(1.96e9)
    assert p["total_per_year_kgco2e"]["value"] == pytest.approx(
        p["total_per_day_kgco2e"]["value"] * 365.25)
    assert p["devices_needed"] >= 1
    r = cli("recommend", "--latency-p99-ms", "10", "--store", path)
    assert r.code == 2 and "several workloads" in r.err
    r = cli("recommend", "--latency-p99-ms", "10", "--workload", "bert-large-squad", "--store",
            path, "--json")
    assert r.code == 0, r.err
    rec = r.json()
    # edge devices (about 20 and 35 ms per query) miss a 10 ms budget
    excluded = {c["device"] for c in rec["excluded"]}
    assert {"NVIDIA Jetson AGX Orin 64GB", "NVIDIA Jetson AGX Xavier 32GB"} <= excluded
    ranked = [rec["recommended"], *rec["runners_up"]]
    gwp = [c["gwp_per_query_gco2e"]["value"] for c in ranked]
    assert gwp == sorted(gwp)
    assert all(c["latency_p99_s"]["value"] <= 0.010 for c in ranked)
    r = cli("recommend", "--latency-p99-ms", "10", "--workload", "bert-large-squad", "--store",
            path)
    assert r.code == 0 and "recommended:" in r.out


def test_recommend_ranks_use_phase_only_after_full_totals(cli, sample_store):
    """Regression: the GTX 1650 (not in the catalog, GWP of the use phase only) was recommended
    for a 20 ms budget because its partial total is the smallest number."""
    path, _ = sample_store
    r = cli("recommend", "--latency-p99-ms", "20", "--workload", "bert-large-squad", "--queries",
            "256", "--store", path, "--json")
    assert r.code == 0, r.err
    rec = r.json()
    ranked = [rec["recommended"], *rec["runners_up"]]
    names = [c["device"] for c in ranked]
    assert "NVIDIA GeForce GTX 1650" in names and rec["recommended"]["device"] != "NVIDIA GeForce GTX 1650"
    flags = [c["use_phase_only"] for c in ranked]
    assert flags == sorted(flags) and flags[-1] is True
    full = [c["gwp_per_query_gco2e"]["value"] for c in ranked if not c["use_phase_only"]]
    assert full == sorted(full)
    assert any("use phase only" in n for n in rec["notes"])


@pytest.mark.parametrize("args,message", [
    (["report", "--out", "{file}/sub"], "cannot write the report"),
    (["report", "--device", "Quadro P6000"], "has no runs in the store"),
    (["report", "--power-axis", "seconds"], "accepted: progress, time"),
    (["compare", "Orin", "no-such-device"], "neither a run id nor a device"),
    (["project", "--users", "0", "--queries-per-user", "16"], "--users must be"),
    (["project", "--users", "-3", "--queries-per-user", "16"], "--users must be"),
    (["project", "--users", "10", "--queries-per-user", "0"], "--queries-per-user must be"),
    (["recommend", "--latency-p99-ms", "-1"], "--latency-p99-ms must be"),
    (["recommend", "--latency-p99-ms", "10", "--workload", "bert-large-squad", "--scenario",
      "offline"], "no bert-large-squad runs with scenario 'offline'"),
    (["recommend", "--latency-p99-ms", "10", "--workload", "gpt"], "no runs with workload"),
])
def test_bad_input_exits_2_with_one_line(cli, sample_store, tmp_path, args, message):
    path, _ = sample_store
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    argv = [a.replace("{file}", str(blocker)) for a in args] + ["--store", str(path)]
    r = cli(*argv)
    assert r.code == 2
    assert message in r.err
    assert "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1


def test_incomparable_runs_are_refused(cli, sample_store, tmp_path):
    import shutil

    path, ids = sample_store
    copy = tmp_path / "copy.db"
    shutil.copy(path, copy)
    with Store.open(copy) as st:
        rid = st.create_run({"workload": "bert-large-squad", "scenario": "server", "queries": 16},
                            device_id="a100-pcie-40gb", device_name="NVIDIA A100 40GB PCIe")
        st.add_repetition(rid, 0, metrics={"energy_total_j": 5.0, "duration_s": 1.0,
                                           "latency_p99_s": 0.004, "queries": 16.0})
        st.finish_run(rid, "complete")
    orin = ids["NVIDIA Jetson AGX Orin 64GB"][0]
    r = cli("compare", rid[:10], orin[:10], "--store", copy)
    assert r.code == 2 and "cannot be compared" in r.err and "server" in r.err


def test_empty_and_missing_store(cli, tmp_path):
    with Store.open(tmp_path / "empty.db"):
        pass
    for cmd in (["report", "--out", str(tmp_path / "o")], ["compare", "a", "b"],
                ["recommend", "--latency-p99-ms", "5"],
                ["project", "--users", "5", "--queries-per-user", "2"]):
        r = cli(*cmd, "--store", tmp_path / "empty.db")
        assert r.code == 2 and "no complete runs" in r.err, (cmd, r.err)
    r = cli("report", "--store", tmp_path / "missing.db", "--out", tmp_path / "o")
    assert r.code == 2 and "no results store" in r.err


def test_user_text_is_escaped_in_the_html(sample_report):
    _, result, _ = sample_report
    html = result.html_path.read_text()
    assert "<script>" not in html and "<img src=x" not in html
    assert "Board &lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&#34;window.__pwned = 2&#34;&gt;" in html
    json.dumps(result.to_dict())  # JSON-able
