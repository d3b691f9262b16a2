"""Estimated runs store the estimator's precisions (tf32, fp8, int4); measured runs refuse them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from inferlca.errors import UnknownNameError
from inferlca.estimate.api import estimate, save_estimates
from inferlca.hardware.catalog import get_catalog
from inferlca.spec import ESTIMATE_PRECISIONS, PRECISIONS, RunSpec

CAT = get_catalog()


def _estimate_spec(precision: str) -> RunSpec:
    return RunSpec(workload="bert-large-squad", device="h100-sxm5-80gb", meter="roofline",
                   precision=precision, extra={"estimate": {"model": "bert-large"}})


@pytest.mark.parametrize("precision", ["tf32", "fp8", "int4"])
def test_measured_run_refuses_estimate_only_precision(precision: str) -> None:
    with pytest.raises(UnknownNameError) as info:
        RunSpec(precision=precision).validate()
    msg = str(info.value)
    assert "\n" not in msg
    assert f"unknown precision '{precision}'" in msg
    assert "(accepted: fp32, fp16, bf16, int8)" in msg
    assert f"{precision} can only be estimated" in msg
    assert f"inferlca estimate --precision {precision}" in msg
    assert "precision" in info.value.params


@pytest.mark.parametrize("precision", ESTIMATE_PRECISIONS)
def test_estimated_spec_accepts_every_estimator_precision(precision: str) -> None:
    assert _estimate_spec(precision).validate().precision == precision


def test_unknown_precision_is_refused_for_both() -> None:
    with pytest.raises(UnknownNameError):
        RunSpec(precision="fp4").validate()
    with pytest.raises(UnknownNameError):
        _estimate_spec("fp4").validate()
    # the roofline meter is only an estimate's
    with pytest.raises(UnknownNameError):
        RunSpec(meter="roofline").validate()


def test_measured_precisions_unchanged() -> None:
    assert PRECISIONS == ("fp32", "fp16", "bf16", "int8")
    assert set(PRECISIONS) < set(ESTIMATE_PRECISIONS)


@pytest.mark.parametrize(("precision", "device"), [("fp8", "h100-sxm5-80gb"), ("int4", "t4"),
                                                   ("tf32", "a100-sxm4-40gb")])
def test_save_estimate_at_estimate_only_precision_round_trips(tmp_path: Path, precision: str,
                                                              device: str) -> None:
    from inferlca.store.sqlite import Store

    res = estimate("bert-large", [CAT.get(device)], precision=precision)
    with Store.open(tmp_path / "s.db") as store:
        (rid,) = save_estimates(store, res)
        run = store.get_run(rid)
    spec = run.spec if isinstance(run.spec, dict) else run.spec.to_dict()
    assert spec["precision"] == precision
    assert spec["extra"]["estimate"]["precision"] == precision
    # read back, the stored spec is still a valid estimated spec
    assert RunSpec.from_dict(spec).validate().is_estimate


def test_saved_estimate_keeps_its_scope_and_memory_method(tmp_path: Path) -> None:
    """`estimate --scope card --memory-method area --save` stored spec scope chip / per-gb while
    the impact was card / area, so `compare` labelled it chip and compared it with chip runs."""
    from inferlca.store.sqlite import Store

    res = estimate("bert-large", [CAT.get("a100-sxm4-40gb")], scope="card",
                   memory_method="area")
    with Store.open(tmp_path / "s.db") as store:
        (rid,) = save_estimates(store, res)
        run = store.get_run(rid)
    spec = run.spec if isinstance(run.spec, dict) else run.spec.to_dict()
    assert (spec["scope"], spec["memory_method"]) == ("card", "area")
    assert run.repetitions[0].impact["scope"] == "card"


def test_cli_run_fp8_is_one_line_exit_2() -> None:
    proc = subprocess.run([sys.executable, "-m", "inferlca", "run", "--precision", "fp8",
                           "--queries", "1"], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "fp8" in lines[0] and "Traceback" not in proc.stderr
