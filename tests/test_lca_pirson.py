"""The Pirson et al. dataset (values read off the paper's figures) and the seed study's use of it."""

from __future__ import annotations

import csv
from collections import defaultdict
from importlib import resources

import pytest

from inferlca.errors import InvalidValueError
from inferlca.hardware.catalog import get_catalog
from inferlca.lca.embodied import embodied_footprint
from inferlca.lca.factors import node_factor, node_factor_rows, source_values
from inferlca.lca.pirson import foundry_value, node_values, pirson_values, study_node_factor

CAT = get_catalog()


def test_values_are_the_papers_panels_each_with_its_figure():
    rows = pirson_values()
    cats = {v.category for v in rows}
    assert cats == {"literature", "database", "foundry", "roadmap"}
    assert all("doi:10.1109/TSM.2022.3228311" in v.source and "read off the plot" in v.source
               for v in rows)
    # the values the study's two cases rest on
    assert [v.kgco2e_per_cm2 for v in node_values(12.0)[0]] == [3.48]            # EIME (2019)
    assert sorted(v.kgco2e_per_cm2 for v in node_values(7.0)[0]) == [2.00, 4.07]  # Bardon, EIME
    assert foundry_value("TSMC", 2018).kgco2e_per_cm2 == 1.02
    assert foundry_value("TSMC", 2020).kgco2e_per_cm2 == 1.12
    assert foundry_value("Samsung", 2020) is None and foundry_value("TSMC", 2023) is None


def test_pirson_rows_of_node_factors_are_the_mean_of_the_dataset_at_each_node():
    at = defaultdict(list)
    for v in pirson_values():
        if v.category in ("literature", "database"):
            at[v.node_nm].append(v.kgco2e_per_cm2)
    rows = {r.node_nm: r.kgco2e_per_cm2 for r in node_factor_rows() if r.source_id == "pirson"}
    assert set(rows) == set(at)
    for node, values in at.items():
        assert rows[node] == pytest.approx(sum(values) / len(values), abs=5e-4), node


def test_study_factor_xavier_by_hand():
    # 12 nm, TSMC, 2018: EIME (2019) 3.48 at 12 nm and TSMC's 2018 CSR value 1.02
    f, notes = study_node_factor(12.0, "TSMC", 2018)
    assert (f.value, f.low, f.high) == pytest.approx((2.25, 1.02, 3.48))
    assert "EIME (2019)" in notes[0] and "TSMC CSR report 2018" in notes[0]


def test_study_factor_a100_by_hand():
    # 7 nm, TSMC, 2020: EIME 4.07, Bardon 2.00 at 7 nm and TSMC's 2020 CSR value 1.12
    f, _ = study_node_factor(7.0, "TSMC", 2020)
    assert (f.value, f.low, f.high) == pytest.approx(((4.07 + 2.00 + 1.12) / 3, 1.12, 4.07))


def test_study_reproduces_the_seed_study_footprints_by_hand():
    # F = die area x I_proc + memory GB x the study's per-GB factor
    x = embodied_footprint(CAT.get("jetson-agx-xavier-32gb"), node_source="study")
    assert x.processor_kg.value == pytest.approx(3.50 * 2.25)            # 7.875
    assert x.memory_kg.value == pytest.approx(32 * 0.290)                # 9.28
    assert x.total_kg.value == pytest.approx(17.155)                     # study: about 17
    assert (x.processor_kg.low, x.processor_kg.high) == pytest.approx((3.50 * 1.02, 3.50 * 3.48))
    a = embodied_footprint(CAT.get("a100-sxm4-40gb"), node_source="study")
    assert a.processor_kg.value == pytest.approx(8.26 * (4.07 + 2.00 + 1.12) / 3)   # 19.80
    assert a.total_kg.value == pytest.approx(8.26 * 7.19 / 3 + 40 * 0.280)          # 31.00
    assert (a.processor_kg.low, a.processor_kg.high) == pytest.approx((8.26 * 1.12, 8.26 * 4.07))


def test_pirson_node_source_alone_by_hand():
    # literature and database values at the node only (no foundry value): larger than the study
    x = embodied_footprint(CAT.get("jetson-agx-xavier-32gb"), node_source="pirson")
    assert x.total_kg.value == pytest.approx(3.50 * 3.48 + 32 * 0.290)              # 21.46
    a = embodied_footprint(CAT.get("a100-sxm4-40gb"), node_source="pirson")
    assert a.total_kg.value == pytest.approx(8.26 * (4.07 + 2.00) / 2 + 40 * 0.280)  # 36.27


def test_study_without_foundry_value_or_exact_node_says_so():
    f, notes = study_node_factor(4.0, "Samsung", 2023)
    # no Pirson value at 4 nm: the nearest nodes (3 and 5 nm, Bardon 3.05 and 2.68) are used
    assert f.value == pytest.approx((3.05 + 2.68) / 2)
    assert any("no foundry CSR value for Samsung" in n for n in notes)
    assert any("nearest node (3/5 nm)" in n for n in notes)


def test_study_needs_a_device_and_is_never_in_the_default_spread():
    with pytest.raises(InvalidValueError, match="foundry and release year"):
        node_factor(7.0, "study")
    assert "study" not in [s.source_id for s in source_values(7.0, ("pirson",))]
    e = embodied_footprint(CAT.get("a100-sxm4-40gb"), node_source="study", node_basis="good-die")
    assert e.total_kg.value == pytest.approx(8.26 * 7.19 / 3 + 40 * 0.280)
    assert any("study basis keeps Pirson" in n for n in e.notes)


def test_embodied_cli_accepts_study(cli):
    r = cli("embodied", "a100-sxm4-40gb", "--node-source", "study", "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["embodied_kgco2e"]["value"] == pytest.approx(31.0, abs=0.01)
    assert d["node_source"] == "study"
    bad = cli("embodied", "a100-sxm4-40gb", "--node-source", "studyy")
    assert bad.code == 2 and "did you mean 'study'" in bad.err


def test_data_file_reads_as_sourced_csv():
    text = resources.files("inferlca.lca").joinpath("data").joinpath("pirson_ic_gwp.csv").read_text("utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert rows and all(len(r) == 9 and None not in r for r in rows)
    assert all(r["source"].strip() for r in rows)
