"""Calibration of runs on a device the catalog has no roof for (CPUs), and CPU/GPU classes apart.

`calibrate --peak-flops` gives a CPU-only measured run the roof it needs, and a CPU's efficiency
is never pooled with the GPUs of its category (a Xeon's fraction of its roof does not apply to an
H100).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from inferlca.spec import RunSpec
from inferlca.store.sqlite import Store

XEON = "xeon-platinum-8480plus"


def _cpu_run(store: Store, latency_s: float) -> str:
    rid = store.create_run(RunSpec(workload="bert-base-squad", device=XEON, repetitions=1,
                                   preset="tiny"),
                           kind="measured", device_id=XEON, device_name="Intel Xeon Platinum 8480+",
                           meter="modelled", estimated=True)
    store.add_repetition(rid, 0, metrics={"latency_mean_s": latency_s, "queries": 4.0,
                                          "energy_per_query_j": 0.5})
    store.finish_run(rid, "complete")
    return rid


# bert-base-squad --preset tiny = the estimator's bert-tiny (2 layers, d 128, f 512) at 128
# tokens. Faithful FLOPs per layer: Q, K, V, O 4 x 2 x 128 x 128^2 = 16,777,216; FFN
# 2 x 2 x 128 x 128 x 512 = 33,554,432; scores and context 2 x 2 x 128^2 x 128 = 8,388,608;
# sum 58,720,256, x 2 layers = 117,440,512 FLOP (the QA head adds nothing at this rounding).
TINY_FLOPS = 117_440_512


def test_calibrate_a_cpu_run_with_user_roof(cli, tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    peak = 2.56e11  # e.g. 2 Sapphire Rapids cores: 2 x 2 FMA x 16 fp32 x 2 x 2 GHz
    t_lb = TINY_FLOPS / peak  # compute-bound (intensity ~24 FLOP/B > ridge 0.83): 0.45875 ms
    with Store.open(db) as store:
        _cpu_run(store, latency_s=8 * t_lb)
    # without a peak the run is skipped, and the message names an option that exists
    r = cli("calibrate", "--store", str(db), "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["pairs"] == [] and "--peak-flops" in out["skipped"][0]
    r = cli("calibrate", "--store", str(db), "--device", XEON, "--peak-flops", str(peak), "--json")
    assert r.code == 0, r.err
    pair = r.json()["pairs"][0]
    assert pair["flops"] == TINY_FLOPS
    assert pair["estimated_time_s"] == pytest.approx(t_lb)
    assert pair["time_ratio"] == pytest.approx(8.0) and pair["efficiency"] == pytest.approx(0.125)
    assert pair["energy_ratio"] is None  # modelled power: no energy ratio
    assert pair["device_class"] == "datacenter cpu"
    assert set(r.json()["by_class"]) == {"datacenter cpu"}
    # the overrides need a device, and are checked
    bad = cli("calibrate", "--store", str(db), "--peak-flops", "1e12")
    assert bad.code == 2 and "--device" in bad.err
    assert cli("calibrate", "--store", str(db), "-d", XEON, "--peak-flops", "-1").code == 2
    assert cli("calibrate", "--store", str(db), "-d", "nope", "--peak-flops", "1e12").code == 2


def test_estimate_uses_the_cpu_calibration_only_for_cpus(cli, tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    peak = 2.56e11
    with Store.open(db) as store:
        _cpu_run(store, latency_s=8 * TINY_FLOPS / peak)
    r = cli("estimate", "--model", "bert-tiny", "--seq-len", "128", "--device", XEON,
            "--peak-flops", str(peak), "--device", "h100", "--store", str(db), "--json")
    assert r.code == 0, r.err
    xeon, h100 = r.json()["devices"]
    # the Xeon's own fit (one run: interval x/÷ 2) reproduces the measured time
    assert xeon["efficiency"]["value"] == pytest.approx(0.125)
    assert xeon["time_per_query_s"]["value"] == pytest.approx(8 * TINY_FLOPS / peak)
    # the H100 (a datacenter GPU, never measured) does not inherit a CPU's efficiency
    assert h100["efficiency"]["value"] == 1.0
