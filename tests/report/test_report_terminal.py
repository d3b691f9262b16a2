"""What a person sees in an 80-column terminal: n/a never 0, tables that fit, thousands
separators, flags without a type in --help."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def narrow(monkeypatch):
    from inferlca.cli import _common

    monkeypatch.setattr(_common.console, "width", 80)
    monkeypatch.setattr(_common.console, "_width", 80, raising=False)
    monkeypatch.setenv("COLUMNS", "80")


def _gtx_run(cli, db):
    res = cli("results", "--store", db, "--json")
    return next(r["run_id"] for r in json.loads(res.out)["runs"] if "GTX" in r["device_name"])


def test_results_show_says_na_not_zero(cli, sample_store, narrow):
    db, _ = sample_store
    res = cli("results", "show", _gtx_run(cli, db), "--store", db)
    assert res.code == 0, res.err
    lines = res.out.splitlines()
    for key in ("embodied_gco2e", "device_embodied_kgco2e"):
        row = next(ln for ln in lines if f" {key} " in ln)
        assert "n/a" in row and " 0 " not in row
    flat = " ".join(res.out.split())
    assert "no manufacturing footprint" in flat and "total_gco2e (use only)" in flat
    assert "grid: France (FR)" in flat and "PUE:" in flat and "lifetime:" in flat


def test_listings_fit_80_columns(cli, sample_store, narrow):
    db, _ = sample_store
    for args in (("results", "--store", db), ("hardware", "list"),
                 ("project", "--users", "122.5e6", "--queries-per-user", "16", "--store", db,
                  "--workload", "bert-large-squad", "--scenario", "single-stream")):
        res = cli(*args)
        assert res.code == 0, res.err
        assert max(len(ln.rstrip()) for ln in res.out.splitlines()) <= 80, args
        assert "…" not in res.out, args  # nothing cut with an ellipsis


def test_project_na_and_thousands(cli, sample_store, narrow):
    db, _ = sample_store
    res = cli("project", "--users", "122.5e6", "--queries-per-user", "16", "--store", db,
              "--workload", "bert-large-squad", "--scenario", "single-stream")
    assert "1,960,000,000 queries/day" in res.out
    block = res.out.split("GeForce GTX 1650")[1].split("devices needed")[0]
    emb = next(ln for ln in block.splitlines() if "embodied / day" in ln)
    assert "n/a" in emb and " 0" not in emb.split("day")[1]
    assert "embodied n/a for NVIDIA GeForce GTX 1650" in " ".join(res.out.split())


def test_flags_show_no_type(cli):
    res = cli("--help")
    assert "<bool>" not in res.out and "--version" in res.out
    assert "<bool>" not in cli("export", "--help").out
