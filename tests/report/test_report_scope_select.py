"""``recommend`` and ``project`` ``--scope``: runs are read at the scope they were stored with,
never recomputed; a scope asked that a device has no run at is refused with the way out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from inferlca.errors import UnknownNameError, UsageError
from inferlca.report.recommend import recommend
from inferlca.report.scope import runs_at_scope


def _scoped(run, scope):
    return replace(run, spec={**run.spec, "scope": scope})


def _runs(make_run):
    return [make_run("jetson-agx-orin", 16, p99_s=(0.020,), use_g=(0.01,), embodied_g=(0.006,)),
            make_run("a100", 16, p99_s=(0.004,), use_g=(0.06,), embodied_g=(0.02,),
                     category="datacenter")]


def test_without_a_scope_the_shared_stored_scope_is_used(make_run):
    rec = recommend(_runs(make_run), 10.0)
    assert rec.scope == "chip" and rec.to_dict()["scope"] == "chip"  # stored before scopes
    card = [_scoped(r, "card") for r in _runs(make_run)]
    assert recommend(card, 10.0).scope == "card"


def test_mixed_stored_scopes_need_a_choice(make_run):
    orin, a100 = _runs(make_run)
    runs = [orin, _scoped(a100, "card")]
    with pytest.raises(UsageError, match=r"several manufacturing scopes \(card, chip\).*--scope"):
        recommend(runs, 10.0)
    with pytest.raises(UsageError, match="no run of a100 at manufacturing scope chip "
                                         r"\(stored at card\).*inferlca run --scope chip"):
        recommend(runs, 10.0, scope="chip")


def test_a_scope_keeps_only_runs_stored_at_it(make_run):
    orin, a100 = _runs(make_run)
    runs = [orin, a100, _scoped(orin, "card"), _scoped(a100, "card")]
    kept, scope = runs_at_scope(runs, "card")
    assert scope == "card" and len(kept) == 2
    assert {r.spec["scope"] for r in kept} == {"card"}
    assert recommend(runs, 10.0, scope="card").best.run.spec["scope"] == "card"


def test_unknown_scope_is_refused(make_run):
    with pytest.raises(UnknownNameError, match="scope"):
        recommend(_runs(make_run), 10.0, scope="rack")


def test_cli_scope_on_project_and_recommend(cli, sample_store):
    path, _ = sample_store
    base = ("--workload", "bert-large-squad", "--store", path)
    r = cli("project", "--users", "1e6", "--queries-per-user", "16", "--device", "Orin", *base,
            "--scope", "chip", "--json")
    assert r.code == 0, r.err
    assert r.json()["scope"] == "chip"
    r = cli("project", "--users", "1e6", "--queries-per-user", "16", "--device", "Orin", *base,
            "--scope", "card")
    assert r.code == 2 and "at manufacturing scope card" in r.err and len(r.err.strip().splitlines()) == 1
    r = cli("recommend", "--latency-p99-ms", "10", *base, "--scope", "rack")
    assert r.code == 2 and "scope" in r.err and "Traceback" not in r.err
    r = cli("recommend", "--latency-p99-ms", "10", *base, "--json")
    assert r.code == 0 and r.json()["scope"] == "chip"
