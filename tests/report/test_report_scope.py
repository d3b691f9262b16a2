"""Runs of different manufacturing scopes: compare refuses their ratio unless asked, and the
results tables keep them apart."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inferlca.report.compare import compare_runs
from inferlca.report.data import IncomparableRunsError
from inferlca.report.tables import results_tables


def _scoped(run, scope):
    return replace(run, spec={**run.spec, "scope": scope})


def test_compare_refuses_mixed_scopes_unless_allowed(make_run):
    a = _scoped(make_run("h100", 16), "card")
    b = make_run("orin", 16)  # stored before scopes existed: chip
    with pytest.raises(IncomparableRunsError, match="scope card.*scope chip.*--allow-mixed-scope"):
        compare_runs(a, b)
    c = compare_runs(a, b, allow_mixed_scope=True)
    assert any("scopes differ" in n for n in c.notes)
    assert c.to_dict()["a"]["scope"] == "card" and c.to_dict()["b"]["scope"] == "chip"
    same = compare_runs(a, _scoped(make_run("orin", 16), "card"))
    assert not any("scopes differ" in n for n in same.notes)


def test_results_tables_never_mix_scopes(make_run):
    runs = [make_run("h100", 16), _scoped(make_run("orin", 16), "server-share")]
    tables = results_tables(runs)
    assert sorted(t.scope for t in tables) == ["chip", "server-share"]
    assert all(f"manufacturing scope {t.scope}" in t.title for t in tables)
    assert all(len(t.devices) == 1 for t in tables)
