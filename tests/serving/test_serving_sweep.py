"""A real campaign sweep (issue 12 part 5, like ML.ENERGY's): 2 x 2 cells over
``max_concurrency`` and ``target_qps`` against llama-cpp-python's server with the tiny seeded
model, a few requests each; ``campaign status`` then shows tokens/J and TTFT p99 per cell."""

from __future__ import annotations

import llama_server
import pytest

llama_server.require()

from tiny_gguf import write_tiny_llama

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with llama_server.running(write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny.gguf",
                                               seed=0)) as url:
        yield url


def test_sweep_over_concurrency_and_rate(cli, tmp_path, server):
    camp = tmp_path / "sweep.yaml"
    camp.write_text(f"""
name: sweep
defaults:
  workload: openai-endpoint
  scenario: server
  queries: 4
  repetitions: 1
  max_new_tokens: 6
  period_ms: 20
  extra: {{endpoint: {{url: "{server}", model: tiny, api: completions}}}}
grid:
  max_concurrency: [1, 2]
  target_qps: [4, 8]
""")
    store = tmp_path / "r.db"
    r = cli("campaign", "run", camp, "--store", store, "--json", "--no-progress")
    assert r.code == 0, r.err
    r = cli("campaign", "status", camp, "--store", store, "--json")
    assert r.code == 0, r.err
    cells = r.json()["cells"]
    assert len(cells) == 4 and all(c["state"] == "done" for c in cells)
    assert {c["label"].split("max_concurrency=")[1] for c in cells} == {
        "1 target_qps=4", "1 target_qps=8", "2 target_qps=4", "2 target_qps=8"}
    for c in cells:
        assert c["tokens_per_j"] > 0 and 0 < c["ttft_p99_s"] < 10
        assert c["requests_failed"] == 0
    # the stored runs carry the concurrency where `inferlca run --max-concurrency` puts it,
    # and the figures are those of the stored summaries
    from inferlca.store.sqlite import Store

    st = Store.open_readonly(store)
    try:
        runs = {rec.run_id: rec for rec in st.list_runs()}
    finally:
        st.close()
    for c in cells:
        rec = next(v for k, v in runs.items() if k.startswith(c["run_id"]))
        assert rec.spec["extra"]["endpoint"]["max_concurrency"] in (1, 2)
        m = rec.summary["metrics"]
        assert c["tokens_per_j"] == pytest.approx(1 / m["energy_per_token_j"]["mean"])
        assert c["ttft_p99_s"] == pytest.approx(m["ttft_p99_s"]["mean"])
        assert m["requests_ok"]["mean"] == 4
    # the text table shows them too
    r = cli("campaign", "status", camp, "--store", store)
    assert r.code == 0
    assert "tokens/J" in r.out and "TTFT p99" in r.out and "done: 4" in r.out
    # recommend and project read the measured endpoint runs: TTFT p99 from the store
    d = cli("recommend", "--ttft-p99-ms", "60000", "--workload", "openai-endpoint",
            "--store", store, "--json")
    assert d.code == 0, d.err
    best = d.json()["recommended"]
    rec = runs[best["run_id"]]
    assert best["ttft_p99_s"]["value"] == pytest.approx(rec.summary["metrics"]["ttft_p99_s"]["mean"])
    p = cli("project", "--users", "100", "--queries-per-user", "10", "--run", best["run_id"],
            "--store", store, "--json")
    assert p.code == 0, p.err
    (proj,) = p.json()["projections"]
    m = rec.summary["metrics"]
    # one request per query (server scenario): tokens per query = tokens per request
    assert proj["tokens_per_query"] == pytest.approx(m["tokens_out"]["mean"])
    assert proj["tokens_per_day"] == pytest.approx(1000 * m["tokens_out"]["mean"])
    stored = rec.repetitions[0].impact["tokens"]["per_1k_tokens"]["total_gco2e"]["value"]
    assert proj["per_1k_tokens_gco2e"]["value"] == pytest.approx(stored)
    assert proj["per_user_day_gco2e"]["value"] == pytest.approx(10 * proj["per_query_gco2e"]["value"])
