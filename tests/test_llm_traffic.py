"""Mixed traffic on our own decoder (``llm-generate``, seeded random tiny weights): three classes
at once through the runner, a real sampler and a real store; per-class counts, tokens and
latencies, and their energies adding up to the measured energy.

The power comes from a meter that reads a constant 50 W (``llm_helpers.ConstantMeter``), so the
whole-run energies are 50 W x their windows.
"""

from __future__ import annotations

import math

import pytest
from llm_helpers import POWER_W, ConstantMeter, llm_cache_dir  # noqa: F401

from inferlca.loadgen.traffic_file import load_traffic_file
from inferlca.spec import RunSpec

pytest.importorskip("torch")

TRAFFIC = """\
classes:
  chat:
    kind: interactive
    users: 2
    think_time_s: 0.05
    requests: 6
    prompt_len: 4..8
    max_new_tokens: 3
  api:
    kind: poisson
    rate_qps: 40
    requests: 8
    prompt_len: 10
    max_new_tokens: 5
  batch:
    kind: offline
    requests: 4
    prompt_len: 20
    max_new_tokens: 7
    start_s: 0.05
"""


class _Stored:
    """The run as reported (``out``) and as the store gives it back (``record``)."""

    def __init__(self, out, db) -> None:
        from inferlca.store.sqlite import Store

        self.out, self.store = out, db
        with Store.open_readonly(db) as st:
            self.record = st.get_run(out.run_id)

    def series(self, index: int):
        from inferlca.store.sqlite import Store

        with Store.open_readonly(self.store) as st:
            return st.load_series(self.record.run_id, index)


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    from inferlca.loadgen.runner import run_benchmark
    from inferlca.store.sqlite import Store

    tmp = tmp_path_factory.mktemp("traffic")
    (tmp / "t.yaml").write_text(TRAFFIC)
    plan = load_traffic_file(tmp / "t.yaml")
    spec = RunSpec(workload="llm-generate", preset="tiny", scenario="mixed", repetitions=2,
                   period_ms=5.0, device="a100-pcie-40gb", seed=1,
                   extra={"traffic": plan.to_dict(), "max_batch": 4,
                          "batching": "continuous"})
    with Store.open(tmp / "r.db") as st:
        out = run_benchmark(spec, st, meter=ConstantMeter(), logs_dir=tmp / "logs")
        # a second mixed run (static batching) beside it, for ``compare``
        other = RunSpec(**{**spec.to_dict(), "repetitions": 1, "llm": {"max_batch": 4}})
        run_benchmark(other, st, meter=ConstantMeter(), logs_dir=tmp / "logs")
    return _Stored(out, tmp / "r.db")


def test_every_class_ran_with_its_own_lengths(stored):
    for rep in stored.out.repetitions:
        classes = rep.loadgen["traffic"]["classes"]
        assert list(classes) == ["chat", "api", "batch"]
        want = {"chat": (6, 3, None), "api": (8, 5, 10), "batch": (4, 7, 20)}
        for name, (n, out_len, in_len) in want.items():
            m = classes[name]["metrics"]
            assert m["requests"] == m["requests_ok"] == n and m["requests_failed"] == 0
            # synthetic weights mask the end token: exactly max_new_tokens per request
            assert m["tokens_out"] == n * out_len
            if in_len is not None:
                assert m["tokens_in"] == n * in_len
            assert 4 * n <= m["tokens_in"] <= 8 * n or in_len is not None
            assert classes[name]["tokens_in_source"] == "exact"
            assert 0 < m["ttft_p50_s"] <= m["ttft_p99_s"] <= m["e2e_p99_s"]
            assert m["tpot_p50_s"] > 0 and m["itl_p50_s"] > 0
        # whole run: every answered request of every class
        assert rep.metrics["samples"] == 18 and rep.metrics["queries"] == 18


def test_class_energies_add_up_to_the_measured_energy(stored):
    for rep in stored.out.repetitions:
        m = rep.metrics
        classes = rep.loadgen["traffic"]["classes"].values()
        assert math.isclose(m["energy_compute_j"], POWER_W * m["compute_duration_s"],
                            rel_tol=1e-9)
        total = sum(c["metrics"]["energy_j"] for c in classes)
        assert math.isclose(total, m["energy_total_j"], rel_tol=1e-9)
        compute = sum(c["metrics"]["energy_compute_j"] for c in classes)
        assert math.isclose(compute, m["energy_compute_j"], rel_tol=1e-9)
        assert math.isclose(sum(c["metrics"]["energy_share"] for c in classes), 1.0)
        for c in classes:
            cm = c["metrics"]
            assert cm["energy_j"] > 0
            # energy per token x tokens = the class's compute energy; tokens/J its inverse
            assert math.isclose(cm["energy_per_token_j"] * cm["tokens_out"],
                                cm["energy_compute_j"], rel_tol=1e-12)
            assert math.isclose(cm["tokens_per_j"] * cm["energy_per_token_j"], 1.0)


def test_stored_and_summarized_per_class(stored):
    rec = stored.record
    assert rec.scenario == "mixed" and rec.status == "complete"
    assert [r.loadgen["traffic"]["classes"]["api"]["metrics"]["requests"]
            for r in rec.repetitions] == [8.0, 8.0]
    summary = rec.summary["classes"]
    assert summary["batch"]["kind"] == "offline"
    assert summary["batch"]["metrics"]["requests_ok"]["mean"] == 4.0
    assert summary["batch"]["metrics"]["requests_ok"]["n"] == 2
    # the per-request class index lines up with the stored latencies
    series = stored.series(0)
    assert sorted(series["traffic_class"].tolist()) == [0.0] * 6 + [1.0] * 8 + [2.0] * 4
    assert any("mixed traffic: 3 classes" in n for n in rec.notes)
    # each class's own prompts and the seed that makes them again (the run's seed 1 x 1009 + k);
    # the whole-run prompts made by the workload are not sent, so not described
    assert ("class prompts: chat: 6 synthetic (prompt_len 4..8, seed 1009); api: 8 synthetic "
            "(prompt_len 10, seed 1010); batch: 4 synthetic (prompt_len 20, seed 1011)"
            in rec.notes)


def test_results_show_export_and_report(stored, cli, tmp_path):
    db = stored.store
    run_id = stored.record.run_id
    res = cli("results", "show", run_id, "--store", db)
    assert res.code == 0, res.err
    assert "request classes" in res.out and "batch" in res.out and "offline" in res.out
    res = cli("results", "show", run_id, "--store", db, "--json")
    doc = res.json()
    assert set(doc["classes"]) == {"chat", "api", "batch"}
    assert doc["classes"]["chat"]["metrics"]["tokens_out"]["mean"] == 18.0
    res = cli("export", "--format", "csv", "--store", db, "--out", tmp_path / "x")
    assert res.code == 0, res.err
    assert (tmp_path / "x" / "runs.csv").exists()  # the five tables, and classes beside them
    from inferlca.store.export import iter_csv

    rows = list(iter_csv(tmp_path / "x" / "classes.csv"))
    tok = [r for r in rows if r["metric"] == "tokens_out" and r["repetition"] == "1"]
    assert {r["class"]: float(r["value"]) for r in tok} == {"chat": 18.0, "api": 40.0,
                                                            "batch": 28.0}
    res = cli("report", "--store", db, "--out", tmp_path / "rep")
    assert res.code == 0, res.err
    html = (tmp_path / "rep" / "report.html").read_text()
    assert "Request classes (mixed traffic)" in html and "tokens/J" in html
    # whole-run commands keep working on a mixed run
    res = cli("project", "--run", run_id, "--users", "100", "--queries-per-user", "3",
              "--store", db, "--json")
    assert res.code == 0, res.err
    from inferlca.store.sqlite import Store

    with Store.open_readonly(db) as st:
        other = next(r.run_id for r in st.list_runs() if r.run_id != run_id)
    res = cli("compare", run_id, other, "--store", db, "--json")
    assert res.code == 0, res.err
    res = cli("recommend", "--latency-p99-ms", "100000", "--store", db, "--json")
    assert res.code == 0, res.err


def test_stop_ends_the_traffic_with_every_record_finished():
    """Ctrl-C (the stop event): nothing new is sent, queued requests are dropped and counted,
    the requests in flight finish; every kept record has its tokens."""
    import threading
    import time

    from inferlca.loadgen.traffic import class_prompts, run_traffic
    from inferlca.loadgen.traffic_file import traffic_plan
    from inferlca.workloads.llm.workload import LLMGenerate

    plan = traffic_plan({"duration_s": 60, "classes": {
        "u": {"kind": "interactive", "users": 3, "max_new_tokens": 4},
        "p": {"kind": "poisson", "rate_qps": 200, "max_new_tokens": 4}}})
    w = LLMGenerate(preset="tiny", max_new_tokens=4, n_samples=4)
    w.prepare()
    prompts = class_prompts(w, plan, 0, 4)
    w.load()
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    t0 = time.monotonic()
    try:
        result = run_traffic(w, plan, prompts, seed=0, stop=stop)
    finally:
        w.unload()
    assert time.monotonic() - t0 < 30  # not the file's 60 s
    assert result.interrupted
    assert result.records and all(r.tokens_out == 4 and len(r.token_times_s) == 4
                                  for r in result.records)
    assert {r.cls for r in result.records} == {0, 1}


def test_class_impacts_add_up_to_the_run(stored):
    """GWP per class: the repetition's impact split by energy share; the classes' use, embodied
    and total (value and interval ends) add up to the run's."""
    for rep in stored.out.repetitions:
        classes = rep.loadgen["traffic"]["classes"]
        for key in ("use_gco2e", "embodied_gco2e", "total_gco2e"):
            for end in ("value", "low", "high"):
                parts = [c["impact"][key][end] for c in classes.values()]
                assert math.isclose(sum(parts), rep.impact[key][end], rel_tol=1e-9)
        assert rep.impact["embodied_gco2e"]["value"] > 0  # a100: a catalog footprint
        for c in classes.values():
            m = c["metrics"]
            share = m["energy_j"] / rep.metrics["energy_total_j"]
            assert math.isclose(c["impact"]["share"], share, rel_tol=1e-9)
            assert math.isclose(m["gwp_total_gco2e"], share * rep.impact["total_gco2e"]["value"],
                                rel_tol=1e-9)
            assert math.isclose(m["gwp_per_1k_tokens_gco2e"] * m["tokens_out"] / 1000,
                                m["gwp_total_gco2e"], rel_tol=1e-12)
    summary = stored.record.summary["classes"]
    assert set(summary["batch"]["impact"]) >= {"use_gco2e", "embodied_gco2e", "total_gco2e"}
    assert summary["batch"]["metrics"]["gwp_total_gco2e"]["n"] == 2


def test_results_show_gives_the_class_impacts(stored, cli):
    db, run_id = stored.store, stored.record.run_id
    doc = cli("results", "show", run_id, "--store", db, "--json").json()
    chat = doc["classes"]["chat"]
    assert chat["impact"]["total_gco2e"]["value"] == pytest.approx(
        chat["metrics"]["gwp_total_gco2e"]["mean"])
    res = cli("results", "show", run_id, "--store", db)
    assert "GWP mgCO2e" in " ".join(res.out.split()) or "GWP" in res.out


def test_compare_two_mixed_runs_class_by_class(stored, cli):
    from inferlca.store.sqlite import Store

    db, run_id = stored.store, stored.record.run_id
    with Store.open_readonly(db) as st:
        other = next(r for r in st.list_runs() if r.run_id != run_id)
        other = st.get_run(other.run_id)
    res = cli("compare", run_id, other.run_id, "--store", db, "--json")
    assert res.code == 0, res.err
    doc = res.json()["classes"]
    assert list(doc) == ["chat", "api", "batch"]
    assert not any("classes" in n for n in res.json()["notes"])
    a_cls, b_cls = stored.record.summary["classes"], other.summary["classes"]
    for name in ("chat", "api", "batch"):
        c = doc[name]
        assert set(c) == {"kind", "energy_per_token", "ttft_p99", "tokens_per_j",
                          "gwp_per_1k_tokens"}
        a = a_cls[name]["metrics"]["energy_per_token_j"]["mean"]
        b = b_cls[name]["metrics"]["energy_per_token_j"]["mean"]
        assert c["energy_per_token"]["ratio"]["value"] == pytest.approx(a / b)
        ta = a_cls[name]["metrics"]["ttft_p99_s"]["mean"]
        tb = b_cls[name]["metrics"]["ttft_p99_s"]["mean"]
        assert c["ttft_p99"]["ratio"]["value"] == pytest.approx(ta / tb)
    assert doc["batch"]["kind"] == "offline"
    res = cli("compare", run_id, other.run_id, "--store", db)
    assert res.code == 0, res.err
    text = " ".join(res.out.split())
    assert "class chat (interactive)" in text and "class batch (offline)" in text
    assert "per class" in text and "p99 time to first token" in text


def test_compare_says_when_the_classes_differ(stored):
    import dataclasses

    from inferlca.report.compare import compare_runs
    from inferlca.report.data import run_view

    a = run_view(stored.record)
    summary = dict(a.summary)
    classes = dict(summary["classes"])
    classes["bulk"] = classes.pop("batch")
    b = dataclasses.replace(a, run_id="b" * 32, summary={**summary, "classes": classes})
    c = compare_runs(a, b)
    assert c.classes is not None and list(c.classes.ratios) == ["chat", "api"]
    assert c.classes.note == ("the runs' request classes differ (A: chat, api, batch; B: chat, "
                              "api, bulk): per-class figures compared for chat, api only; only "
                              "in A: batch; only in B: bulk")
    assert c.classes.note in c.notes
    # the same class of the same run on both sides: the same figures
    for r in c.classes.ratios["chat"]:
        assert r.a is not None and (r.a.value, r.a.low, r.a.high) == (r.b.value, r.b.low,
                                                                       r.b.high)
