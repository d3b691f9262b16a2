"""Sweeps over an endpoint's ``max_concurrency`` and request rate (issue 12 part 5): the nested
axis, its cell ids (the same as the spelled-out ``extra`` form), ids of existing axes unchanged,
bad input, and the figures ``campaign status`` shows per done cell."""

from __future__ import annotations

import pytest

from inferlca.campaign.spec import parse_campaign
from inferlca.campaign.state import run_figures
from inferlca.errors import InvalidValueError

ENDPOINT = '{url: "http://127.0.0.1:8000/v1", model: tiny}'


def parse(text: str):
    return parse_campaign(text, source="t.yaml")


#: cell ids computed before the nested axes existed (main at 7bc87af): they must not move (the
#: other axes' ids are pinned beside their grid in test_campaign_spec.py)
SERVE_OLD = """
name: serve
defaults:
  workload: openai-endpoint
  scenario: server
  extra: {endpoint: {url: "http://127.0.0.1:8000/v1", model: tiny, max_concurrency: 4}}
grid:
  target_qps: [2, 4]
  queries: 8
"""
SERVE_OLD_IDS = ["2f3dfcda583e", "68c7ceab26e9"]


def test_existing_cell_ids_do_not_move():
    assert sorted(c.cell_id for c in parse(SERVE_OLD).cells) == SERVE_OLD_IDS


def test_the_axis_is_the_same_cell_as_the_extra_form():
    new = parse("""
name: serve
defaults:
  workload: openai-endpoint
  scenario: server
  extra: {endpoint: {url: "http://127.0.0.1:8000/v1", model: tiny}}
grid:
  max_concurrency: 4
  target_qps: [2, 4]
  queries: 8
""")
    assert sorted(c.cell_id for c in new.cells) == SERVE_OLD_IDS
    assert all(c.spec.extra["endpoint"] == {"url": "http://127.0.0.1:8000/v1", "model": "tiny",
                                            "max_concurrency": 4} for c in new.cells)


def test_concurrency_by_rate_grid():
    c = parse(f"""
name: sweep
defaults: {{workload: openai-endpoint, scenario: server, queries: 8,
            extra: {{endpoint: {ENDPOINT}}}}}
grid:
  max_concurrency: [1, 2, 8]
  target_qps: [0.5, 4]
""")
    got = {(x.spec.extra["endpoint"]["max_concurrency"], x.spec.target_qps) for x in c.cells}
    assert got == {(m, q) for m in (1, 2, 8) for q in (0.5, 4.0)}
    assert len({x.cell_id for x in c.cells}) == 6
    # both swept settings read in the labels, so no two cells read alike
    labels = [x.describe() for x in c.cells]
    assert len(set(labels)) == 6
    assert "max_concurrency=8" in labels[-1] and "target_qps=4" in labels[-1]
    # the url and model of the defaults are kept in every cell
    assert all(x.spec.extra["endpoint"]["model"] == "tiny" for x in c.cells)


def test_interactive_users_and_think_time_are_axes():
    c = parse(f"""
name: users
defaults: {{workload: openai-endpoint, scenario: interactive, duration_s: 10,
            extra: {{endpoint: {ENDPOINT}}}}}
grid:
  users: [1, 4]
  think_time_s: [0.5, 2]
  max_concurrency: [2]
""")
    assert {(x.spec.users, x.spec.think_time_s) for x in c.cells} == {
        (1, 0.5), (1, 2.0), (4, 0.5), (4, 2.0)}
    # the labels say the users, not the query count an interactive run does not use
    labels = [x.describe() for x in c.cells]
    assert sum("1 user " in x for x in labels) == 2 and sum("4 users" in x for x in labels) == 2
    assert not any(" q16 " in x for x in labels)
    assert not any("users=" in x for x in labels)  # not said twice


def test_a_mixed_cell_is_labelled_by_its_traffic_classes():
    c = parse(f"""
name: mixed
defaults: {{workload: openai-endpoint, scenario: mixed, extra: {{endpoint: {ENDPOINT},
            traffic: {{classes: {{chat: {{kind: interactive, users: 2}},
                                 api: {{kind: poisson, rate_qps: 3}}}}, duration_s: 5}}}}}}
grid:
  max_concurrency: [1, 4]
""")
    labels = [x.describe() for x in c.cells]
    assert labels == [
        "openai-endpoint mixed traffic chat+api x3 local FR max_concurrency=1",
        "openai-endpoint mixed traffic chat+api x3 local FR max_concurrency=4"]


def test_overrides_match_and_set_the_nested_setting():
    c = parse(f"""
name: o
defaults: {{workload: openai-endpoint, scenario: server, extra: {{endpoint: {ENDPOINT}}}}}
grid:
  max_concurrency: [1, 16]
  target_qps: [1, 8]
overrides:
  - where: {{max_concurrency: 16}}
    set: {{queries: 64}}
  - where: {{target_qps: 8, max_concurrency: 1}}
    set: {{max_concurrency: 2}}
""")
    got = sorted((x.spec.extra["endpoint"]["max_concurrency"], x.spec.target_qps, x.spec.queries)
                 for x in c.cells)
    assert got == [(1, 1.0, 16), (2, 8.0, 16), (16, 1.0, 64), (16, 8.0, 64)]


@pytest.mark.parametrize("text,words", [
    ('defaults: {workload: "null"}\ngrid: {max_concurrency: [1, 2]}',
     ["max_concurrency", "openai-endpoint", "'null'"]),
    ((f"defaults: {{workload: openai-endpoint, extra: {{endpoint: {ENDPOINT}}}}}\n"
     "grid: {max_concurrency: [0]}"), ["max_concurrency", ">= 1", "0"]),
    ((f"defaults: {{workload: openai-endpoint, extra: {{endpoint: {ENDPOINT}}}}}\n"
     'grid: {max_concurrency: ["8"]}'), ["max_concurrency", "integer"]),
])
def test_bad_nested_settings(text, words):
    with pytest.raises(InvalidValueError) as e:
        parse(text)
    assert all(w in str(e.value) for w in words), str(e.value)
    assert str(e.value).startswith("t.yaml: cell")


def test_run_figures_from_a_stored_summary():
    summary = {"metrics": {"energy_per_token_j": {"mean": 0.25, "n": 2},
                           "ttft_p99_s": {"mean": 0.0123}, "requests_failed": {"mean": 1.0},
                           "queries": {"mean": 8}}}
    assert run_figures({"summary": summary}) == {"tokens_per_j": 4.0, "ttft_p99_s": 0.0123,
                                                 "requests_failed": 1.0}
    assert run_figures({"summary": {"metrics": {"energy_per_query_j": {"mean": 2}}}}) == {}
    assert run_figures({"summary": None}) == {}


def test_plan_of_a_rate_sweep_is_paced_by_the_arrivals(tmp_path):
    """History from a run at 8 queries/s: 16 queries took 1.6 s of compute (0.1 s/query), load
    0.5 s. At 1 query/s 16 queries cannot take less than 16 s; at 32/s the history holds."""
    from inferlca.campaign.plan import make_plan
    from inferlca.store.sqlite import Store

    c = parse(f"""
name: rate
defaults: {{workload: openai-endpoint, scenario: server, queries: 16, repetitions: 2,
            extra: {{endpoint: {ENDPOINT}}}}}
grid:
  target_qps: [1, 32]
  devices: [a40]
""")

    def m(x):
        return {"mean": x, "std": 0.0, "ci95_low": x, "ci95_high": x, "n": 1}

    with Store.open(tmp_path / "h.db") as st:
        rid = st.create_run({"workload": "openai-endpoint", "scenario": "server",
                             "backend": "auto", "queries": 16}, device_id="a40",
                            device_name="NVIDIA A40")
        st.finish_run(rid, "complete", {"metrics": {
            "queries": m(16), "load_duration_s": m(0.5), "compute_duration_s": m(1.6),
            "duration_s": m(2.1)}, "impact": {}, "measured": True, "notes": []})
        plan = make_plan(c, st, use_estimator=False)
    slow, fast = sorted(plan.estimates, key=lambda e: e.cell.spec.target_qps)
    # 2 repetitions x (0.5 + 16 / 1) = 33 s; x (0.5 + 0.1 x 16) = 4.2 s
    assert slow.duration_s == pytest.approx(33.0) and "paced by 1 queries/s" in slow.note
    assert fast.duration_s == pytest.approx(4.2) and "paced" not in fast.note


def test_campaign_status_names_every_swept_setting():
    """Regression: with the scenario an axis, `campaign status` listed only the other swept
    settings, so an interactive and a single-stream cell both read `users=2`."""
    from inferlca.cli.campaign import _swept

    c = parse("""
name: s
defaults: {workload: "null", duration_s: 1}
grid:
  scenarios: [interactive, single-stream]
  users: [2, 3]
""")
    swept = [_swept(x) for x in c.cells]
    assert len(set(swept)) == 4
    assert "scenario=interactive\nusers=2" in swept and "scenario=single-stream\nusers=2" in swept
