"""`compare --samples`: Monte Carlo medians, percentiles and P(A < B) from the sample store."""

from __future__ import annotations

import io

import pytest

from inferlca.report.style import gwp_unit


def test_compare_cli_monte_carlo(cli, sample_store):
    path, _ = sample_store
    r = cli("compare", "A100 40GB PCIe", "Orin", "--store", path, "--queries", "64",
            "--samples", "10000", "--seed", "1", "--json")
    assert r.code == 0, r.err
    d = r.json()
    mc = d["monte_carlo"]
    assert mc["samples"] == 10000 and 0.0 <= mc["p_a_less_than_b"] <= 1.0
    g = d["ratios"]["gwp_per_query"]
    for side in ("a", "b"):
        m = mc[side]
        assert m["p2_5"] <= m["median"] <= m["p97_5"]
        # inside the interval of the interval arithmetic shown beside it
        assert g[side]["low"] * (1 - 1e-9) <= m["median"] <= g[side]["high"] * (1 + 1e-9)
    # the A100 PCIe emits more per query than the Orin in the sample store's interval figures
    if g["a"]["low"] > g["b"]["high"]:
        assert mc["p_a_less_than_b"] == 0.0
    again = cli("compare", "A100 40GB PCIe", "Orin", "--store", path, "--queries", "64",
                "--samples", "10000", "--seed", "1", "--json").json()["monte_carlo"]
    assert again == mc
    r = cli("compare", "A100 40GB PCIe", "Orin", "--store", path, "--queries", "64",
            "--samples", "10000")
    assert r.code == 0 and "P(A emits less than B)" in r.out and "(p2.5" in r.out


@pytest.mark.parametrize("args,message", [(["--samples", "0"], "samples"),
                                          (["--samples", "10", "--seed", "-1"], "seed")])
def test_compare_cli_bad_samples_exit_2(cli, sample_store, args, message):
    path, _ = sample_store
    r = cli("compare", "A100 40GB PCIe", "Orin", "--store", path, *args)
    assert r.code == 2 and message in r.err and "Traceback" not in r.err


def test_compare_cli_criteria(cli, sample_store):
    """`compare --criteria`: each criterion per query for A and B under the run interval rule;
    GWP is the CO2e per query the comparison already shows."""
    path, _ = sample_store
    r = cli("compare", "A100 40GB PCIe", "Orin", "--store", path, "--queries", "64",
            "--criteria", "gwp,water,pe,adpe", "--json")
    assert r.code == 0, r.err
    d = r.json()
    crit = d["criteria"]
    assert list(crit) == ["gwp", "water", "pe", "adpe"]
    g = d["ratios"]["gwp_per_query"]
    for side in ("a", "b"):
        assert crit["gwp"][side]["value"] == pytest.approx(g[side]["value"])
        assert crit["gwp"][side]["low"] == pytest.approx(g[side]["low"])
        assert crit["gwp"][side]["high"] == pytest.approx(g[side]["high"])
        for name, unit in (("water", "L"), ("pe", "MJ"), ("adpe", "kgSbeq")):
            c = crit[name][side]
            assert c["unit"] == unit and c["value"] is not None and c["low"] <= c["value"] <= c["high"]
            assert c["sources"]
    # the A100 has sourced manufacturing PE, ADPe and water; the Orin does not (use phase only)
    assert crit["pe"]["a"]["scope"] == "use+manufacturing"
    assert crit["pe"]["b"]["scope"] == "use" and any("no sourced" in n for n in crit["pe"]["b"]["notes"])
    r = cli("compare", "A100 40GB PCIe", "Orin", "--store", path, "--queries", "64",
            "--criteria", "gwp,h2o")
    assert r.code == 2 and "unknown criterion 'h2o'" in r.err


def test_results_listing_monte_carlo(cli, sample_store):
    """`results --samples N --seed S`: one Monte Carlo row per listed complete run, equal to
    that run's `results show ID --samples N --seed S`; bad numbers exit 2 before reading."""
    path, _ = sample_store
    r = cli("results", "--store", path, "--samples", "2000", "--seed", "4", "--json")
    assert r.code == 0, r.err
    runs = r.json()["runs"]
    done = [d for d in runs if d["status"] == "complete" and d["monte_carlo"]
            and not d["monte_carlo"].get("no_data")]
    assert len(done) >= 3
    assert all(d["monte_carlo"] is None for d in runs if d["status"] != "complete")
    for d in done[:3]:
        show = cli("results", "show", d["run_id"], "--store", path, "--samples", "2000",
                   "--seed", "4", "--json").json()["monte_carlo"]
        row = d["monte_carlo"]
        assert (row["median"], row["p2_5"], row["p97_5"], row["mean"]) == \
            (show["median"], show["p2_5"], show["p97_5"], show["mean"])
    text = cli("results", "--store", path, "--samples", "500")
    assert text.code == 0 and "MC: Monte Carlo median [p2.5 - p97.5]" in text.out
    bad = cli("results", "--store", path, "--samples", "0")
    assert bad.code == 2 and "--samples" in bad.err and "Traceback" not in bad.err


@pytest.mark.parametrize("width", [80, 100, 130, 160, 200])
def test_results_listing_monte_carlo_readable(sample_store, width):
    """`results --samples N` at any width: no number is cut to an ellipsis and the device and
    workload columns stay (found at 80 columns: `0.6…` for J/query, the MC column shared with a
    4-letter device column; at 130: `µgCO2e…`)."""
    from rich.console import Console

    from inferlca.cli.results import _mc_cell, _per_query_g, runs_table
    from inferlca.report.mc_table import monte_carlo_table
    from inferlca.store.sqlite import Store

    path, _ = sample_store
    with Store.open_readonly(path) as st:
        runs = st.list_runs()
        mc = {r["run_id"]: r for r in monte_carlo_table(st, 200, 1)}
    con = Console(width=width, record=True, file=io.StringIO())
    con.print(runs_table(runs, "t", width=width, mc=mc))
    text = con.export_text()
    assert "…" not in text
    header = text.splitlines()[1]
    for col in ("device", "workload", "status", "MC "):
        assert col in header, (col, header)
    unit = gwp_unit([v["value"] for r in runs if isinstance(v := _per_query_g(r), dict)
                     and isinstance(v.get("value"), (int, float))])
    cells = [_mc_cell(row, unit.scale) for row in mc.values() if row.get("median") is not None]
    assert cells and all(c in text for c in cells)
