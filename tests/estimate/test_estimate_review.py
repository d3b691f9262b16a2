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
    (["--precision", "fp64"], "(accepted: fp32, tf32, fp16, bf16, fp8, int8, int4)"),
])
def test_unknown_names_list_what_is_accepted(cli, args, accepted) -> None:
    r = cli("estimate", "-m", "bert-large", "-d", "h100", *args)
    assert r.code == 2 and accepted in r.err


def test_calibration_energy_is_the_compute_phase(cli, tmp_path) -> None:
    """Regression: the energy ratio used energy_per_query_j, which carries the model-loading
    energy (57.9 of 74.6 J in a real 4-query tiny run), while the estimate has none."""
    from inferlca.spec import RunSpec
    from inferlca.store.sqlite import Store

    # the measured run is fp32 (RunSpec's default), so is the bound
    lb = cli("estimate", "-m", "bert-large", "-d", "l4", "--precision", "fp32",
             "--json").json()["devices"][0]
    e_lb = lb["energy_per_query_j"]["tdp"]["value"]
    db = tmp_path / "runs.db"
    with Store.open(db) as store:
        rid = store.create_run(RunSpec(workload="bert-large-squad", device="l4", repetitions=1),
                               kind="measured", device_id="l4", device_name="NVIDIA L4",
                               meter="nvml", estimated=False)
        store.add_repetition(rid, 0, metrics={
            "latency_mean_s": 2 * lb["time_per_query_s"]["value"], "queries": 4.0,
            "energy_per_query_j": 10 * e_lb,            # load + compute, per query
            "energy_per_query_compute_j": 3 * e_lb})    # compute phase only
        store.finish_run(rid, "complete")
    pair = cli("calibrate", "--store", str(db), "--json").json()["pairs"][0]
    assert pair["energy_ratio"] == pytest.approx(3.0)
    assert pair["time_ratio"] == pytest.approx(2.0)


def test_saved_bert_base_estimate_is_the_bert_base_squad_workload(cli, tmp_path) -> None:
    """Regression: saved as workload 'bert-base', so `compare` refused to set it beside a
    measured bert-base-squad run."""
    from inferlca.store.sqlite import Store

    db = tmp_path / "runs.db"
    r = cli("estimate", "-m", "bert-base", "-d", "t4", "--store", str(db), "--save", "--json")
    assert r.code == 0, r.err
    with Store.open_readonly(db) as store:
        run = store.get_run(r.json()["saved_run_ids"][0])
    assert run.workload == "bert-base-squad" and run.kind == "estimated"


def test_store_that_does_not_exist_is_an_error_without_save(cli, tmp_path) -> None:
    """Regression: a mistyped --store created an empty store and calibrated on nothing."""
    missing = tmp_path / "typo.db"
    r = cli("estimate", "-m", "bert-large", "-d", "t4", "--store", str(missing))
    assert r.code == 2 and "no results store" in r.err
    assert not missing.exists()
    # --save creates it
    r = cli("estimate", "-m", "bert-large", "-d", "t4", "--store", str(missing), "--save")
    assert r.code == 0, r.err
    assert missing.exists()
