"""A run with a model size preset is not the full model: reports, compare and recommend keep
them apart."""

from __future__ import annotations

from inferlca.report.data import load_runs
from inferlca.store.sqlite import Store


def test_preset_is_part_of_the_workload(tmp_path, cli, run_and_read):
    store = tmp_path / "s.db"
    run_and_read("-w", "bert-base-squad", "--preset", "tiny", "--backend", "torch", "-n", "2",
                 "-r", "1", "--device", "xeon-platinum-8480plus", store=store)
    assert cli("estimate", "--model", "bert-base", "--device", "h100-sxm5-80gb", "--save",
               "--store", store).code == 0
    with Store.open_readonly(store) as st:
        names = sorted(v.workload for v in load_runs(st))
    assert names == ["bert-base-squad", "bert-base-squad (tiny)"]
    # the tiny measured run and the full-size estimate are different workloads: refused
    runs = cli("results", "--store", store, "--json").json()["runs"]
    a, b = (r["run_id"] for r in runs)
    r = cli("compare", a, b, "--store", store)
    assert r.code == 2 and "cannot be compared" in r.err
    ok = cli("recommend", "--latency-p99-ms", "1000", "--workload", "bert-base-squad (tiny)",
             "--store", store, "--json")
    assert ok.code == 0, ok.err
