"""`--criteria` on `project`, `recommend`, `results show`, `report`; `--samples` on `results show`
and `project` (sample store; golden values from the repetitions' stored impacts)."""

from __future__ import annotations

import pytest

FR_PE_MJ_PER_KWH = 9.3135  # lca/data/criteria_grid.csv, FRA
ORIN, A100 = "NVIDIA Jetson AGX Orin 64GB", "NVIDIA A100 40GB PCIe"


def _show(cli, path, run_id, *args):
    r = cli("results", "show", run_id, "--store", path, "--json", *args)
    assert r.code == 0, r.err
    return r.json()


def test_results_show_criteria_golden(cli, sample_store):
    """PE per query = mean over repetitions of kWh x PUE x 9.3135 MJ/kWh (France), / queries."""
    path, ids = sample_store
    run_id = ids[ORIN][0]
    d = _show(cli, path, run_id, "--criteria", "gwp,water,pe,adpe")
    assert d["spec"]["region"] == "FR" and d["queries"] == 16
    crit = d["criteria"]
    assert list(crit) == ["gwp", "water", "pe", "adpe"]
    reps = [r["impact"] for r in d["repetitions"] if r["status"] == "complete"]
    hand = sum(i["energy_kwh"]["value"] * i["pue"]["value"] * FR_PE_MJ_PER_KWH
               for i in reps) / len(reps) / 16
    pe = crit["pe"]
    assert pe["value"] == pytest.approx(hand, rel=1e-4)
    assert pe["unit"] == "MJ" and pe["per"] == "query" and pe["low"] <= pe["value"] <= pe["high"]
    assert pe["scope"] == "use" and any("no sourced" in n for n in pe["notes"])
    # GWP per query is the run's CO2e per query under the same rule
    g = d["summary"]["impact"]["per_query_gco2e"]
    assert crit["gwp"]["value"] == pytest.approx(g["value"], rel=1e-6)
    for name in ("water", "adpe"):
        assert crit[name]["value"] > 0 and crit[name]["sources"]
    text = cli("results", "show", run_id, "--store", path, "--criteria", "pe,water").out
    assert "criteria per query" in text and "MJ" in text


def test_results_show_criteria_no_data_is_null(cli, sample_store):
    """The run without a stored impact: every criterion null with its reason, never 0."""
    path, ids = sample_store
    run_id = next(v[0] for k, v in ids.items() if k.startswith("Board"))
    crit = _show(cli, path, run_id, "--criteria", "pe,water")["criteria"]
    for c in crit.values():
        assert c["value"] is None and c["low"] is None and c["notes"]
    text = cli("results", "show", run_id, "--store", path, "--criteria", "pe").out
    assert "no data" in text


def test_results_show_monte_carlo(cli, sample_store):
    path, ids = sample_store
    run_id = ids[A100][0]
    d = _show(cli, path, run_id, "--samples", "5000", "--seed", "3")
    mc, g = d["monte_carlo"], d["summary"]["impact"]["per_query_gco2e"]
    assert mc["samples"] == 5000 and mc["seed"] == 3
    assert mc["p2_5"] <= mc["median"] <= mc["p97_5"]
    assert g["low"] * (1 - 1e-9) <= mc["median"] <= g["high"] * (1 + 1e-9)
    assert _show(cli, path, run_id, "--samples", "5000", "--seed", "3")["monte_carlo"] == mc
    assert _show(cli, path, run_id, "--samples", "5000", "--seed", "4")["monte_carlo"] != mc
    r = cli("results", "show", run_id, "--store", path, "--samples", "5000")
    assert r.code == 0 and "(p2.5" in r.out and "mgCO2e per query" in r.out


@pytest.mark.parametrize("cmd", [
    ["results", "show", "RUN"], ["project", "--users", "10", "--queries-per-user", "1",
                                 "--run", "RUN"]])
@pytest.mark.parametrize("args,message", [
    (["--samples", "0"], "samples"), (["--samples", "10", "--seed", "-1"], "seed"),
    (["--criteria", "gwp,h2o"], "unknown criterion 'h2o'")])
def test_bad_input_exit_2(cli, sample_store, cmd, args, message):
    path, ids = sample_store
    cmd = [ids[ORIN][0] if x == "RUN" else x for x in cmd]
    r = cli(*cmd, "--store", path, *args)
    assert r.code == 2 and message in r.err and "Traceback" not in r.err


def test_recommend_and_report_bad_criterion(cli, sample_store, tmp_path):
    path, _ = sample_store
    r = cli("recommend", "--latency-p99-ms", "100", "--store", path, "--workload",
            "bert-large-squad", "--queries", "64", "--criteria", "co2")
    assert r.code == 2 and "unknown criterion 'co2'" in r.err
    r = cli("report", "--store", path, "--out", tmp_path / "r", "--criteria", "co2")
    assert r.code == 2 and "unknown criterion 'co2'" in r.err and "Traceback" not in r.err


def test_project_criteria_per_day(cli, sample_store):
    """Criteria per day = criteria per query x users x queries per user; GWP/day in kgCO2e
    equals the projection's total/day; Monte Carlo in kgCO2e per day = per query x 10 (g->kg,
    10,000 queries/day)."""
    path, ids = sample_store
    run_id = ids[A100][0]
    show = _show(cli, path, run_id, "--criteria", "gwp,water,pe,adpe", "--samples", "4000",
                 "--seed", "2")
    r = cli("project", "--users", "1000", "--queries-per-user", "10", "--run", run_id,
            "--store", path, "--criteria", "gwp,water,pe,adpe", "--samples", "4000", "--seed",
            "2", "--json")
    assert r.code == 0, r.err
    p = r.json()["projections"][0]
    crit = p["criteria_per_day"]
    for name in ("water", "pe", "adpe"):
        q = show["criteria"][name]
        assert crit[name]["unit"] == q["unit"] + "/day" and crit[name]["per"] == "day"
        for k in ("value", "low", "high"):
            assert crit[name][k] == pytest.approx(q[k] * 10_000)
    assert crit["gwp"]["unit"] == "kgCO2e/day"
    for k in ("value", "low", "high"):
        assert crit["gwp"][k] == pytest.approx(p["total_per_day_kgco2e"][k])
    mc, mq = p["monte_carlo"], show["monte_carlo"]
    assert mc["unit"] == "kgCO2e per day"
    assert mc["median"] == pytest.approx(mq["median"] * 10.0)
    assert mc["p97_5"] == pytest.approx(mq["p97_5"] * 10.0)
    # the A100 has sourced manufacturing figures: PE is use + manufacturing
    assert crit["pe"]["scope"] == "use+manufacturing"
    text = cli("project", "--users", "1000", "--queries-per-user", "10", "--run", run_id,
               "--store", path, "--criteria", "pe", "--samples", "1000").out
    assert "pe / day (MJ)" in text and "[p2.5" in text


def test_recommend_criteria(cli, sample_store):
    path, _ = sample_store
    r = cli("recommend", "--latency-p99-ms", "1000", "--store", path, "--workload",
            "bert-large-squad", "--queries", "64", "--criteria", "pe,water", "--json")
    assert r.code == 0, r.err
    d = r.json()
    ranked = [d["recommended"]["run_id"]] + [c["run_id"] for c in d["runners_up"]]
    assert set(ranked) | {c["run_id"] for c in d["excluded"]} == set(d["criteria"])
    for per in d["criteria"].values():
        assert list(per) == ["pe", "water"]
        for c in per.values():
            assert c["value"] is None or c["low"] <= c["value"] <= c["high"]
    text = cli("recommend", "--latency-p99-ms", "1000", "--store", path, "--workload",
               "bert-large-squad", "--queries", "64", "--criteria", "pe").out
    assert "criteria per query" in text


def test_report_criteria_figures(cli, sample_store, tmp_path):
    """One figure per criterion, drawn; the run without an impact is named 'no data'."""
    path, _ = sample_store
    out = tmp_path / "rep"
    r = cli("report", "--store", path, "--out", out, "--workload", "bert-large-squad",
            "--criteria", "water,adpe", "--json")
    assert r.code == 0, r.err
    figs = r.json()["figures"]
    for name in ("water", "adpe"):
        assert (out / f"criterion_{name}.png").stat().st_size > 5000
        assert f"criterion_{name}" in figs
    assert "criterion_pe" not in figs
    html = (out / "report.html").read_text()
    assert "Criterion: water consumption per query" in html


def test_criterion_figure_no_overflow(sample_report):
    from inferlca.lca.criteria import run_criteria
    from inferlca.report import plots, style

    _, _, runs = sample_report
    vals = [run_criteria(v, ("pe",))["pe"] for v in runs]
    fig = plots.criterion_figure(runs, "pe", vals)
    assert fig is not None
    style.finish(fig)
    assert style.overflowing_texts(fig) == []
    assert plots.criterion_figure(runs[:1], "pe", [dict(vals[0], value=None)]) is None
