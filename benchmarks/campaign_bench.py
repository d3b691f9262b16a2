"""Campaign overheads, measured side by side in one run (issue 8).

1. executor overhead: wall time of ``run_local`` over a grid of null-workload cells (state
   queries, lock, bookkeeping) / wall time of calling ``run_benchmark`` on the same specs in a
   plain loop into the same kind of store. Goal <= 1.10.
2. resume scan: time for ``run_local`` to find that every cell of a 55-cell campaign is already
   done (the study grid's size) from a store holding those 55 runs, in ms.
3. transfer: ``export_run`` + ``import_run`` of one stored run (the Ray path back to the driver)
   / storing the same run directly, per run.

Rounds alternate A and B so a busy machine slows both sides alike; each ratio is the median of
the per-round ratios. Run: ``python benchmarks/campaign_bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from inferlca.campaign.local import run_local
from inferlca.campaign.spec import parse_campaign
from inferlca.campaign.transfer import export_run, import_run
from inferlca.loadgen.runner import run_benchmark
from inferlca.store.sqlite import Store

GRID = """
name: bench
defaults: {{repetitions: 2, period_ms: 10}}
grid: {{workloads: ["null"], queries: {queries}, scenarios: [single-stream, offline]}}
"""


def executor_ratio(queries: list[int], tmp: Path, k: int) -> tuple[float, float]:
    """One round: the campaign executor and the plain loop, in alternating order."""
    camp = parse_campaign(GRID.format(queries=queries), source="bench.yaml")

    def plain() -> float:
        t0 = time.perf_counter()
        with Store.open(tmp / f"plain{k}.db") as st:
            for cell in camp.cells:
                run_benchmark(cell.spec, st)
        return time.perf_counter() - t0

    def campaign() -> float:
        t0 = time.perf_counter()
        path = tmp / f"camp{k}.db"
        with Store.open(path) as st:
            run_local(camp, st, store_path=str(path), detect=False)
        return time.perf_counter() - t0

    if k % 2:
        camp_s = campaign()
        plain_s = plain()
    else:
        plain_s = plain()
        camp_s = campaign()
    return camp_s, plain_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rounds = 2 if args.quick else 5
    queries = [4, 8, 16] if args.quick else [8, 16, 32, 64]
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        executor_ratio(queries[:1], tmp, -1)  # warm-up: imports, LoadGen, first store
        ratios, camp_total, plain_total = [], [], []
        for k in range(rounds):
            camp_s, plain_s = executor_ratio(queries, tmp, k)
            ratios.append(camp_s / plain_s)
            camp_total.append(camp_s)
            plain_total.append(plain_s)
        n_cells = 2 * len(queries)
        print(f"1. executor overhead ({n_cells} null cells x 2 reps): campaign "
              f"{statistics.median(camp_total):.2f} s / plain loop "
              f"{statistics.median(plain_total):.2f} s = {statistics.median(ratios):.3f} "
              f"(goal <= 1.10)")

        # 2. resume scan on a study-sized campaign (55 cells), every cell done
        study = parse_campaign('name: scan\ndefaults: {repetitions: 1}\n'
                               'grid: {workloads: ["null"], queries: [1, 2, 3, 4, 5], '
                               'regions: [FR, DE, US, SE, PL, ES, IT, NO, GB, AT, BE]}',
                               source="scan.yaml")
        path = tmp / "scan.db"
        with Store.open(path) as st:
            run_local(study, st, store_path=str(path), detect=False)
            scans = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                r = run_local(study, st, store_path=str(path), detect=False)
                scans.append(time.perf_counter() - t0)
                assert r.count("skipped-done") == len(study.cells)
        print(f"2. resume scan: {len(study.cells)} done cells found in "
              f"{statistics.median(scans) * 1000:.1f} ms")

        # 3. transfer of one run (Ray path) vs storing it directly
        with Store.open(tmp / "src.db") as src:
            cell = study.cells[-1]
            spec = cell.spec
            spec.repetitions = 3
            rid = run_benchmark(spec, src).run_id
            payload = export_run(src, rid)
            t_ratios, t_transfer = [], []
            with Store.open(tmp / "dst.db") as dst:
                for _ in range(rounds * 4):
                    t0 = time.perf_counter()
                    import_run(dst, export_run(src, rid))
                    transfer_s = time.perf_counter() - t0
                    t0 = time.perf_counter()
                    direct = dst.create_run(payload["spec"], kind="measured",
                                            device_id=payload["device_id"],
                                            device_name=payload["device_name"],
                                            meter=payload["meter"],
                                            estimated=payload["estimated"],
                                            environment=payload["environment"])
                    for rep in payload["repetitions"]:
                        dst.add_repetition(direct, rep["index"], metrics=rep["metrics"],
                                           impact=rep["impact"], trace=rep["trace"],
                                           latencies_s=rep["latencies_s"],
                                           loadgen=rep["loadgen"])
                    dst.finish_run(direct, "complete", payload["summary"])
                    direct_s = time.perf_counter() - t0
                    t_ratios.append(transfer_s / direct_s)
                    t_transfer.append(transfer_s)
        print(f"3. transfer of a 3-repetition run: export+import "
              f"{statistics.median(t_transfer) * 1000:.1f} ms / direct store "
              f"= {statistics.median(t_ratios):.2f}")


if __name__ == "__main__":
    main()
