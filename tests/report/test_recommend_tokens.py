"""``recommend --ttft-p99-ms / --tpot-p99-ms`` and ``project`` per user and per token, on runs
written into a real store with hand-picked values (issue 12 part 5), and on stored estimates."""

from __future__ import annotations

import pytest

from inferlca.store.sqlite import Store


def _u(v, lo=None, hi=None):
    return {"value": v, "low": v if lo is None else lo, "high": v if hi is None else hi}


def _endpoint_run(st, device, *, ttft_ms, tpot_ms, lat_ms, gwp_run_g, tokens_out=20.0,
                  requests=10, workload="openai-endpoint", estimated=False, reps=1):
    """A complete run of ``requests`` single-request queries; the repetition's GWP is
    ``gwp_run_g`` (use 80 %, embodied 20 %), stored per 1,000 tokens as the workload does."""
    spec = {"workload": workload, "scenario": "server", "queries": requests, "region": "FR",
            "extra": {"endpoint": {"url": "http://x/v1", "model": "m"}}}
    rid = st.create_run(spec, kind="estimated" if estimated else "measured", device_id=device,
                        device_name=device, estimated=estimated)
    tokens = tokens_out * requests
    for i in range(reps):
        m = {"queries": float(requests), "samples": float(requests),
             "requests_ok": float(requests), "tokens_out": tokens_out,
             "ttft_p99_s": ttft_ms / 1e3, "tpot_p99_s": tpot_ms / 1e3,
             "latency_p99_s": lat_ms / 1e3, "energy_total_j": 100.0,
             "energy_per_token_j": 100.0 / tokens, "throughput_qps": 2.0, "duration_s": 5.0}
        g = gwp_run_g
        imp = {"use_gco2e": _u(0.8 * g), "embodied_gco2e": _u(0.2 * g),
               "total_gco2e": _u(g, 0.5 * g, 2 * g), "per_query_gco2e": _u(g / requests),
               "energy_kwh": _u(100.0 / 3.6e6), "device_embodied_kgco2e": _u(20.0, 10.0, 30.0),
               "grid_gco2e_per_kwh": _u(50.0), "pue": _u(1.2), "lifetime_years": _u(5.0),
               "allocation": "time-based", "scope": "chip",
               "tokens": {"per_request": {"total_gco2e": _u(g / requests)},
                          "per_1k_tokens": {"total_gco2e": _u(1000 * g / tokens,
                                                              500 * g / tokens,
                                                              2000 * g / tokens)}}}
        st.add_repetition(rid, i, metrics=m, impact=imp)
    st.finish_run(rid, "complete")
    return rid


@pytest.fixture
def store(tmp_path):
    path = tmp_path / "r.db"
    with Store.open(path) as st:
        ids = {
            # GWP per query: a 0.1 g, b 0.05 g, c 0.02 g, d 0.2 g (estimated)
            "a": _endpoint_run(st, "dev-a", ttft_ms=40, tpot_ms=4, lat_ms=200, gwp_run_g=1.0),
            "b": _endpoint_run(st, "dev-b", ttft_ms=60, tpot_ms=3, lat_ms=150, gwp_run_g=0.5),
            "c": _endpoint_run(st, "dev-c", ttft_ms=20, tpot_ms=9, lat_ms=300, gwp_run_g=0.2),
            "d": _endpoint_run(st, "dev-d", ttft_ms=10, tpot_ms=1, lat_ms=50, gwp_run_g=2.0,
                               estimated=True),
        }
    return path, ids


def test_ttft_budget_ranks_by_gwp_among_those_meeting_it(cli, store):
    path, ids = store
    assert set(ids) == {"a", "b", "c", "d"}
    r = cli("recommend", "--ttft-p99-ms", "50", "--store", path, "--json")
    assert r.code == 0, r.err
    d = r.json()
    # TTFT p99: a 40, b 60 (out), c 20, d 10 ms; GWP per query c 0.02 < a 0.1 < d 0.2
    assert d["recommended"]["device"] == "dev-c"
    assert [c["device"] for c in d["runners_up"]] == ["dev-a", "dev-d"]
    assert [c["device"] for c in d["excluded"]] == ["dev-b"]
    assert d["excluded"][0]["excluded"] == "TTFT p99 60 ms exceeds the budget 50 ms"
    assert d["recommended"]["ttft_p99_s"]["value"] == pytest.approx(0.020)
    assert d["budgets_ms"] == {"ttft_p99_ms": 50.0} and d["budget_p99_ms"] is None


def test_ttft_and_tpot_budgets_together_and_with_latency(cli, store):
    path, _ = store
    d = cli("recommend", "--ttft-p99-ms", "50", "--tpot-p99-ms", "5", "--store", path,
            "--json").json()
    # c's TPOT 9 ms is over 5: a (0.1 g) wins over d (0.2 g, estimated)
    assert d["recommended"]["device"] == "dev-a"
    why = {c["device"]: c["excluded"] for c in d["excluded"]}
    assert why == {"dev-b": "TTFT p99 60 ms exceeds the budget 50 ms",
                   "dev-c": "TPOT p99 9 ms exceeds the budget 5 ms"}
    d = cli("recommend", "--ttft-p99-ms", "50", "--latency-p99-ms", "100", "--store", path,
            "--json").json()
    # only d (latency 50 ms) meets both; its figures are estimated and the notes say so
    assert d["recommended"]["device"] == "dev-d" and d["recommended"]["estimated"]
    assert any("estimated, not measured" in n for n in d["notes"])
    r = cli("recommend", "--ttft-p99-ms", "50", "--tpot-p99-ms", "5", "--store", path)
    assert r.code == 0
    assert "TTFT p99 ms" in r.out and "TPOT p99 ms" in r.out and "recommended: dev-a" in r.out
    none = cli("recommend", "--ttft-p99-ms", "5", "--store", path, "--json").json()
    assert none["recommended"] is None
    assert none["notes"][0].startswith("no device meets a TTFT p99 of 5 ms")
    # the fastest first among the excluded
    assert [c["device"] for c in none["excluded"]] == ["dev-d", "dev-c", "dev-a", "dev-b"]


def test_token_budget_without_token_figures_is_a_clear_error(cli, tmp_path):
    path = tmp_path / "bert.db"
    with Store.open(path) as st:
        rid = st.create_run({"workload": "bert-large-squad", "scenario": "single-stream",
                             "queries": 16}, device_id="dev-a", device_name="dev-a")
        st.add_repetition(rid, 0, metrics={"latency_p99_s": 0.01, "energy_total_j": 5.0,
                                           "queries": 16.0, "duration_s": 1.0},
                          impact={"per_query_gco2e": _u(0.01), "total_gco2e": _u(0.16)})
        st.finish_run(rid, "complete")
    r = cli("recommend", "--ttft-p99-ms", "50", "--store", path)
    assert r.code == 2
    assert "no bert-large-squad/single-stream run has a TTFT p99" in r.err
    assert "--ttft-p99-ms" in r.err and "--latency-p99-ms" in r.err
    assert "Traceback" not in r.err
    r = cli("recommend", "--store", path)
    assert r.code == 2 and "give a budget" in r.err
    r = cli("recommend", "--tpot-p99-ms", "-1", "--store", path)
    assert r.code == 2 and "--tpot-p99-ms" in r.err


def test_recommend_on_stored_estimates(cli, tmp_path):
    """Estimated decoder runs carry TTFT and TPOT (the estimator's prefill and decode step)."""
    path = tmp_path / "e.db"
    r = cli("estimate", "-m", "gpt2", "-d", "h100", "-d", "jetson-agx-orin-64gb", "--save",
            "--store", path)
    assert r.code == 0, r.err
    d = cli("recommend", "--ttft-p99-ms", "1000", "--store", path, "--json").json()
    ranked = [d["recommended"], *d["runners_up"]]
    assert len(ranked) == 2 and all(c["estimated"] and c["ttft_p99_s"]["value"] > 0
                                    for c in ranked)
    # a budget between the two devices' TTFT keeps the faster one only
    t = sorted(c["ttft_p99_s"]["value"] * 1e3 for c in ranked)
    mid = (t[0] + t[1]) / 2
    d = cli("recommend", "--ttft-p99-ms", f"{mid:.6g}", "--store", path, "--json").json()
    assert d["recommended"]["ttft_p99_s"]["value"] * 1e3 == pytest.approx(t[0])
    assert len(d["excluded"]) == 1


def test_project_per_user_and_per_token_on_an_endpoint_run(cli, store):
    path, ids = store
    r = cli("project", "--users", "1000", "--queries-per-user", "4", "--run", ids["a"],
            "--store", path, "--json")
    assert r.code == 0, r.err
    (p,) = r.json()["projections"]
    # run a: 10 requests of 20 tokens, GWP 1.0 g: 0.1 g per query, 0.4 g per user and day,
    # 1000 x 1.0 / 200 = 5 g per 1,000 tokens [2.5 - 10]; 4,000 queries x 20 = 80,000 tokens/day
    assert p["per_query_gco2e"]["value"] == pytest.approx(0.1)
    assert p["per_user_day_gco2e"]["value"] == pytest.approx(0.4)
    assert p["tokens_per_query"] == pytest.approx(20.0)
    assert p["tokens_per_day"] == pytest.approx(80_000)
    assert p["per_1k_tokens_gco2e"]["value"] == pytest.approx(5.0)
    assert p["per_1k_tokens_gco2e"]["low"] == pytest.approx(2.5)
    assert p["per_1k_tokens_gco2e"]["high"] == pytest.approx(10.0)
    # per day = per user x users
    assert p["total_per_day_kgco2e"]["value"] == pytest.approx(0.4 * 1000 / 1000)
    r = cli("project", "--users", "1000", "--queries-per-user", "4", "--run", ids["a"],
            "--store", path)
    assert r.code == 0
    assert "per user / day (gCO2e)" in r.out and "per 1,000 output tokens (gCO2e)" in r.out
    assert "80,000" in r.out
