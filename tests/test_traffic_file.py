"""Traffic files (``inferlca run --traffic FILE``): a good file reads back to the same plan, every
malformed one is refused with the file, its line and what is expected (exit code 2, one line),
and the arrival processes are the ones documented."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from inferlca.errors import InputFileError, InvalidValueError
from inferlca.loadgen.traffic import poisson_arrivals
from inferlca.loadgen.traffic_file import load_traffic_file, traffic_plan
from inferlca.spec import RunSpec

GOOD = """\
duration_s: 30
seed: 3
classes:
  chat:
    kind: interactive
    users: 20
    think_time_s: 5
    prompt_len: 16..64
    max_new_tokens: 64
  api:
    kind: poisson
    rate_qps: 2
    daily_profile: [1, 1, 1, 1, 1, 1, 2, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 3, 2, 2, 1, 1, 1]
  batch:
    kind: offline
    requests: 500
    start_s: 10
    max_new_tokens: 8
"""


def _write(tmp_path, text: str, name: str = "traffic.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_good_file_and_round_trip(tmp_path):
    plan = load_traffic_file(_write(tmp_path, GOOD))
    assert plan.names == ["chat", "api", "batch"]
    chat, api, batch = plan.classes
    assert (chat.kind, chat.users, chat.think_time_s, chat.prompt_len, chat.max_new_tokens) == \
        ("interactive", 20, 5.0, "16..64", 64)
    assert api.rate_qps == 2.0 and len(api.daily_profile or []) == 24
    assert (batch.requests, batch.start_s) == (500, 10.0)
    assert plan.duration_s == 30.0 and plan.seed == 3
    again = traffic_plan(plan.to_dict())
    assert again.to_dict() == plan.to_dict()
    # the spec takes it as the scenario "mixed"
    RunSpec(workload="llm-generate", scenario="mixed", extra={"traffic": plan.to_dict()}).validate()


BAD = [
    # (file text, line, words in the message)
    ("classes:\n  a:\n    kind: poisson\n    rate_qps: 2\n    users: 3\n    requests: 4\n",
     5, ["classes.a.users", "unknown key in a poisson class", "rate_qps"]),
    ("classes:\n  a:\n    kind: interactive\n    users: four\n    requests: 2\n",
     4, ["classes.a.users", "integer >= 1", "'four'"]),
    ("classes:\n  a:\n    kind: poisson\n    rate_qps: -1\n    requests: 2\n",
     4, ["classes.a.rate_qps", "> 0", "-1"]),
    ("classes:\n  a:\n    kind: steady\n", 3, ["classes.a.kind", "interactive, poisson, offline"]),
    ("duration_s: 10\nclasses:\n  a:\n    kind: offline\n", 3, ["classes.a", "needs 'requests'"]),
    ("classes:\n  a:\n    kind: poisson\n    rate_qps: 1\n", 2,
     ["classes.a", "'requests' or 'duration_s'"]),
    (("classes:\n  a:\n    kind: poisson\n    rate_qps: 1\n    duration_s: 5\n"
     "    daily_profile: [1, 2, 3]\n"), 6, ["daily_profile", "24 hourly multipliers", "3 values"]),
    ("duration_s: 5\nclasses:\n  a:\n    kind: poisson\n    rate_qps: 1\n    daily_profile:\n"
     + "".join("      - 1\n" for _ in range(5)) + "      - -2\n"
     + "".join("      - 1\n" for _ in range(18)), 12, ["daily_profile[5]", "hour 5", ">= 0"]),
    (("classes:\n  a:\n    kind: offline\n    requests: 2\n  a:\n    kind: offline\n"
     "    requests: 3\n"), 5, ["classes.a", "given twice"]),
    ("durration_s: 4\nclasses:\n  a: {kind: offline, requests: 1}\n", 1,
     ["durration_s", "unknown key in the traffic file", "duration_s"]),
    ("classes: []\n", 1, ["classes", "non-empty mapping"]),
    ("classes:\n  a:\n    kind: offline\n    requests: 2\n    prompt_len: 0..4\n", 5,
     ["prompt_len", "LOW..HIGH"]),
    ("classes:\n  a:\n    kind: offline\n    requests: 2\n    prompts: missing.txt\n", 5,
     ["prompts", "does not exist"]),
    ("classes:\n  a:\n    kind: offline\n    requests: 2\n    duration_s: 3\n", 5,
     ["duration_s", "at once"]),
    ("classes:\n  a b:\n    kind: offline\n    requests: 2\n", 2, ["class name"]),
    ("classes:\n  a:\n    kind: offline\n    requests: [2\n", 5, ["not valid YAML"]),
    ("classes:\n  a:\n    kind: interactive\n    requests: 3\n", 2, ["needs 'users'"]),
    # regression: a class without kind said "..., got None"
    ("classes:\n  a:\n    rate_qps: 2\n", 2, ["classes.a: 'kind' is missing", "interactive"]),
]


@pytest.mark.parametrize(("text", "line", "words"), BAD)
def test_malformed_file_names_the_line(tmp_path, text, line, words):
    path = _write(tmp_path, text)
    with pytest.raises(InputFileError) as info:
        load_traffic_file(path)
    msg = str(info.value)
    assert msg.startswith(f"{path}, line {line}: "), msg
    for w in words:
        assert w in msg, msg


@pytest.mark.parametrize(("text", "line", "words"), BAD[:4])
def test_cli_one_line_exit_2(cli, tmp_path, text, line, words):
    path = _write(tmp_path, text)
    res = cli("run", "-w", "llm-generate", "--traffic", path, "--store", tmp_path / "r.db")
    assert res.code == 2, res.err
    lines = [ln for ln in res.err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.err
    assert f"line {line}" in lines[0] and words[0] in lines[0]
    assert not (tmp_path / "r.db").exists()  # nothing stored


def test_cli_refuses_missing_and_empty_files(cli, tmp_path):
    res = cli("run", "-w", "llm-generate", "--traffic", tmp_path / "none.yaml")
    assert res.code == 2 and "does not exist" in res.err
    res = cli("run", "-w", "llm-generate", "--traffic", _write(tmp_path, ""))
    assert res.code == 2 and "empty" in res.err


def test_cli_refuses_a_traffic_file_with_another_scenario(cli, tmp_path):
    res = cli("run", "-w", "llm-generate", "-s", "server", "--traffic", _write(tmp_path, GOOD))
    assert res.code == 2 and "mixed" in res.err


def test_a_workload_without_a_token_engine_refuses_traffic(tmp_path):
    from inferlca.loadgen.runner import run_benchmark

    plan = load_traffic_file(_write(tmp_path, GOOD))
    with pytest.raises(Exception, match="does not take a traffic file"):
        run_benchmark(RunSpec(workload="null", scenario="mixed", repetitions=1,
                              extra={"traffic": plan.to_dict()}), None)


def test_spec_ties_mixed_to_a_traffic_mapping():
    with pytest.raises(InvalidValueError, match="traffic"):
        RunSpec(workload="llm-generate", scenario="mixed").validate()
    with pytest.raises(InvalidValueError, match="mixed"):
        RunSpec(workload="llm-generate", scenario="server",
                extra={"traffic": {"classes": {}}}).validate()


def test_a_stored_mapping_is_checked_with_its_key_path():
    with pytest.raises(InvalidValueError, match=r"traffic: classes\.x\.rate_qps: must be"):
        traffic_plan({"classes": {"x": {"kind": "poisson", "rate_qps": "fast", "requests": 2}}})


def test_poisson_arrivals_rate_and_limits():
    rng = np.random.default_rng(0)
    t = poisson_arrivals(rng, 50.0, 1.0, 100.0, None)
    assert np.all(np.diff(t) >= 0) and t[0] >= 1.0 and t[-1] < 101.0
    assert len(t) / 100.0 == pytest.approx(50.0, rel=0.05)  # 5,000 expected, sd 71
    assert len(poisson_arrivals(np.random.default_rng(0), 50.0, 0.0, 100.0, 7)) == 7


def test_daily_profile_follows_the_hours():
    # rate 0 in the first half of the day, 4x in the second: no arrival before mid-run
    profile = [0.0] * 12 + [4.0] * 12
    t = poisson_arrivals(np.random.default_rng(1), 10.0, 0.0, 48.0, None, profile)
    assert t.min() >= 24.0
    assert len(t) / 24.0 == pytest.approx(40.0, rel=0.1)  # 960 expected, sd 31


def test_a_campaign_gives_the_traffic_inline(tmp_path):
    from inferlca.campaign.spec import load_campaign

    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent("""\
        name: mix
        defaults:
          workload: llm-generate
          preset: tiny
          extra:
            traffic:
              classes:
                a: {kind: offline, requests: 3}
                b: {kind: poisson, rate_qps: 20, requests: 3}
        grid:
          scenarios: [mixed]
          devices: [local]
        """))
    camp = load_campaign(path)
    (cell,) = camp.cells
    assert cell.spec.scenario == "mixed"
    assert traffic_plan(cell.spec.extra["traffic"]).names == ["a", "b"]
