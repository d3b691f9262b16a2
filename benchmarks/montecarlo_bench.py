"""Monte Carlo speed: 1,000 stored runs x 10,000 draws, from the store to a table.

Builds a store of 1,000 runs (3 repetitions each, the impact of the lca core on 12 devices and 6
regions; no traces), then times, in one process:

1. **inferlca**: ``load_runs`` -> ``inputs_from_run`` -> ``simulate_summary`` (vectorised over
   chunks of runs, shared inputs drawn once) -> one table row per run (median, p2.5, p97.5);
2. **plain numpy loop**: the same runs and distributions, one run at a time (``rng.triangular``,
   ``rng.standard_t``, ``np.percentile`` per run), as a straightforward script would do it.

It prints both times, their ratio and the machine's load average (the issue's target: under 2 s
for step 1 on the project machine). Run on demand::

    python benchmarks/montecarlo_bench.py [--runs 1000] [--samples 10000]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np

from inferlca.lca.impact import ImpactContext, compute_impact
from inferlca.lca.montecarlo import Draws, inputs_from_run, simulate_summary
from inferlca.report.data import load_runs
from inferlca.store.sqlite import Store
from inferlca.units import G_PER_KG, J_PER_KWH, S_PER_YEAR

DEVICES = ("t4", "a100-sxm4-40gb", "a100-pcie-40gb", "h100-sxm5-80gb", "l4", "l40s", "v100-sxm2-32gb",
           "jetson-agx-orin-64gb", "jetson-orin-nano-8gb", "rtx-4090", "rtx-a5000", "p100-pcie-16gb")
REGIONS = ("FR", "DE", "US", "SE", "PL", "WORLD")


def build(path: Path, n_runs: int) -> None:
    rng = np.random.default_rng(0)
    contexts = {(d, r): ImpactContext.resolve(d, region=r) for d in DEVICES for r in REGIONS}
    with Store.open(path) as st:
        for k in range(n_runs):
            dev, reg = DEVICES[k % len(DEVICES)], REGIONS[(k // len(DEVICES)) % len(REGIONS)]
            ctx = contexts[(dev, reg)]
            rid = st.create_run({"workload": "bert-base-squad", "scenario": "single-stream",
                                 "backend": "torch", "queries": 16, "repetitions": 3},
                                kind="measured", device_id=dev, device_name=dev, meter="nvml",
                                estimated=False, environment={"host": "bench"})
            base = 50.0 + 10.0 * (k % 17)
            for i in range(3):
                e = base * float(rng.uniform(0.9, 1.1))
                t = 10.0 * float(rng.uniform(0.95, 1.05))
                imp = compute_impact(e, t, ctx, 16).to_dict()
                st.add_repetition(rid, i, metrics={"energy_total_j": e, "duration_s": t,
                                                   "queries": 16.0}, impact=imp, trace=None)
            st.finish_run(rid, "complete", None)


def inferlca_table(db: Path, samples: int) -> tuple[list[dict[str, float]], float, float]:
    t0 = time.perf_counter()
    with Store.open_readonly(db) as st:
        runs = load_runs(st)
    t_load = time.perf_counter() - t0
    inputs = [inputs_from_run(r) for r in runs]
    s = simulate_summary([i for i in inputs if i is not None], Draws(samples, 1))
    rows = [{"run": r.short_id, "median_g": float(s["median"][k]), "p2_5_g": float(s["p2_5"][k]),
             "p97_5_g": float(s["p97_5"][k])} for k, r in enumerate(runs)]
    return rows, time.perf_counter() - t0, t_load


def numpy_loop_table(db: Path, samples: int) -> tuple[list[dict[str, float]], float]:
    t0 = time.perf_counter()
    with Store.open_readonly(db) as st:
        runs = load_runs(st)
    rng = np.random.default_rng(1)
    rows = []
    for r in runs:
        inp = inputs_from_run(r)
        assert inp is not None

        def tri(u, rng=rng):  # type: ignore[no-untyped-def]
            return rng.triangular(u.low, u.value, u.high, samples) if u.high > u.low \
                else np.full(samples, u.value)

        def mean_draws(sp, rng=rng):  # type: ignore[no-untyped-def]
            d = sp.mean + sp.std / math.sqrt(sp.n) * rng.standard_t(sp.n - 1, samples)
            return np.clip(d, sp.low, sp.high)

        total = (mean_draws(inp.energy_j) / J_PER_KWH * tri(inp.grid_gco2e_per_kwh) * tri(inp.pue)
                 + mean_draws(inp.duration_s) / (tri(inp.lifetime_years) * S_PER_YEAR)
                 * tri(inp.footprint_kg) * G_PER_KG) / (inp.queries or 1)
        p = np.percentile(total, [2.5, 50, 97.5])
        rows.append({"run": r.short_id, "median_g": p[1], "p2_5_g": p[0], "p97_5_g": p[2]})
    return rows, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "mc.db"
        t0 = time.perf_counter()
        build(db, args.runs)
        print(f"store of {args.runs} runs built in {time.perf_counter() - t0:.1f} s")
        rows, t_vec, t_load = inferlca_table(db, args.samples)
        rows_loop, t_loop = numpy_loop_table(db, args.samples)
        med = np.array([r["median_g"] for r in rows])
        med_loop = np.array([r["median_g"] for r in rows_loop])
        print(f"{args.runs} runs x {args.samples:,} draws, store -> table:")
        print(f"  inferlca (vectorised, shared inputs once): {t_vec:.2f} s "
              f"(of which reading the store {t_load:.2f} s)")
        print(f"  plain numpy loop, one run at a time:       {t_loop:.2f} s")
        print(f"  ratio loop / inferlca: {t_loop / t_vec:.1f}x")
        print(f"  medians agree within {np.max(np.abs(med / med_loop - 1)) * 100:.1f} % "
              "(independent draws of the shared inputs in the loop)")
        print(f"  load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; target < 2 s")


if __name__ == "__main__":
    main()
