"""Review regressions of `inferlca estimate`: option names shared with `impact`, the measured
workload's name as a model, and errors that list what is accepted."""

from __future__ import annotations

import pytest


def test_lifetime_years_as_in_impact(cli) -> None:
    r = cli("estimate", "-m", "bert-large", "-d", "h100", "--lifetime-years", "4..7", "--json")
    assert r.code == 0, r.err
    assert r.json()["devices"][0]["impact"]["lifetime_years"] == {"value": 5.5, "low": 4.0,
                                                                   "high": 7.0}
    # the older spelling still works
    old = cli("estimate", "-m", "bert-large", "-d", "h100", "--lifetime", "4..7", "--json")
    assert old.code == 0 and old.json()["devices"][0]["impact"]["lifetime_years"]["low"] == 4.0
    bad = cli("estimate", "-m", "bert-large", "-d", "h100", "--lifetime-years", "7..4")
    assert bad.code == 2 and "--lifetime-years: inverted interval" in bad.err


def test_measured_workload_names_are_models(cli) -> None:
    # `inferlca run -w bert-base-squad` users type the same name here
    r = cli("estimate", "-m", "bert-base-squad", "-d", "t4", "--json")
    assert r.code == 0, r.err
    assert r.json()["model"]["name"] == "bert-base"


@pytest.mark.parametrize("args,accepted", [
    (["--method", "x"], "(accepted: thesis, faithful)"),
    (["--power-model", "x"], "(accepted: tdp, utilisation)"),
    (["--precision", "fp64"], "(accepted: fp32, fp16, bf16, int8)"),
])
def test_unknown_names_list_what_is_accepted(cli, args, accepted) -> None:
    r = cli("estimate", "-m", "bert-large", "-d", "h100", *args)
    assert r.code == 2 and accepted in r.err
