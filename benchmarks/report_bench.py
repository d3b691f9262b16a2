"""Report speed: where `inferlca report` spends its time, and what reusing the layout saves.

Builds the sample store (tests/fixtures/report), then

1. draws the full report once and prints the time of each step (figures dominate: matplotlib's
   constrained layout and rasterising);
2. saves the biggest figure (the power profiles grid) as PNG + SVG in two ways side by side, the
   layout solved again for the SVG versus reused from the PNG (what ``plots.save`` does), and
   prints the ratio.

3. builds a large store (``--large``, default on): 1,000 replayed runs across 20 catalog devices
   and 5 query counts (10 runs per device and query count, 3 repetitions each, power replayed
   from the 5 recorded logs of tests/fixtures/report), draws its report and prints the time of
   each step. Views per device are split into pages of 8 devices
   (:data:`inferlca.report.style.MAX_DEVICES_PER_FIGURE`) so they stay readable; the target is
   under 60 s on a 2-core machine.

Run on demand::

    python benchmarks/report_bench.py [--no-large]
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from inferlca.report import plots
from inferlca.report.data import device_order, load_runs
from inferlca.report.html import build_report
from inferlca.store.sqlite import Store


def _builder():  # type: ignore[no-untyped-def]
    path = ROOT / "tests" / "fixtures" / "report" / "build_sample_store.py"
    spec = importlib.util.spec_from_file_location("report_sample_store_builder", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = mod  # type: ignore[union-attr]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


LARGE_QUERY_COUNTS = (16, 32, 64, 128, 256)
LARGE_DEVICES = 20
LARGE_RUNS_PER_CELL = 10
LARGE_REPETITIONS = 3


def build_large(path: Path, seed: int = 11) -> int:
    """The large store: 20 devices x 5 query counts x 10 runs, 3 repetitions each; returns the
    number of runs."""
    import numpy as np

    from inferlca.hardware.catalog import get_catalog
    from inferlca.lca.impact import ImpactContext, compute_impact
    from inferlca.traces.energy import energy_j, phase_energies_j

    b = _builder()
    rng = np.random.default_rng(seed)
    cat = get_catalog()
    devices = [d for d in cat.devices() if d.category][:LARGE_DEVICES]
    logs = [(rp.log, rp.fmt, rp.latency_s) for rp in b.REPLAYS]
    recorded = {log: b.read_log(b.HERE / log, fmt) for log, fmt, _ in logs}
    n = 0
    with Store.open(path) as store:
        for k, dev in enumerate(devices):
            log, fmt, lat_s = logs[k % len(logs)]
            ctx = ImpactContext.resolve(dev, region="FR")
            for q in LARGE_QUERY_COUNTS:
                for j in range(LARGE_RUNS_PER_CELL):
                    spec = {"workload": b.WORKLOAD, "backend": "torch", "scenario": b.SCENARIO,
                            "queries": q, "repetitions": LARGE_REPETITIONS, "device": dev.id,
                            "region": "FR", "memory_method": "per-gb"}
                    rid = store.create_run(spec, kind="measured", device_id=dev.id,
                                           device_name=dev.name, meter=f"replay:{fmt}",
                                           estimated=False, environment={"replayed_from": log})
                    for r in range(LARGE_REPETITIONS):
                        lat = rng.lognormal(np.log(lat_s), 0.15, size=q)
                        trace = b.replay_trace(recorded[log], float(lat.sum()), offset=7 * r + j)
                        e = energy_j(trace)
                        ph = phase_energies_j(trace)
                        t0, t1 = float(trace.t_s[0]), float(trace.t_s[-1])
                        metrics = {"duration_s": t1 - t0, "energy_total_j": e,
                                   "energy_load_j": ph.get("load", float("nan")),
                                   "energy_compute_j": ph.get("compute", float("nan")),
                                   "energy_per_query_j": e / q, "queries": float(q),
                                   "throughput_qps": q / float(lat.sum()),
                                   **b._latency_metrics(lat)}
                        store.add_repetition(rid, r, metrics=metrics,
                                             impact=compute_impact(e, t1 - t0, ctx, q).to_dict(),
                                             trace=trace, latencies_s=lat)
                    store.finish_run(rid, "complete", store.summarize_run(rid))
                    n += 1
    return n


def large(tmp: Path) -> None:
    db = tmp / "large.db"
    t0 = time.perf_counter()
    n = build_large(db)
    print(f"\nlarge store: {n} runs ({LARGE_DEVICES} devices x {len(LARGE_QUERY_COUNTS)} query "
          f"counts x {LARGE_RUNS_PER_CELL}, {LARGE_REPETITIONS} repetitions) built in "
          f"{time.perf_counter() - t0:.1f} s")
    with Store.open_readonly(db) as st:
        t0 = time.perf_counter()
        runs = load_runs(st)
        t_load = time.perf_counter() - t0
        marks: list[tuple[str, float]] = []
        t0, c0 = time.perf_counter(), time.process_time()
        res = build_report(st, runs, tmp / "large-out",
                           progress=lambda m: marks.append((m, time.perf_counter())))
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
    # CPU time too: on a shared machine the wall time mostly measures the other processes
    print(f"report of {len(runs)} runs: {total:.1f} s wall, {cpu:.1f} s CPU (loading the runs: "
          f"{t_load:.1f} s), {sum(1 for f in res.figures if f.data_uri)} figures, target < 60 s")
    ends = [t for _, t in marks[1:]] + [t0 + total]
    for (name, start), end in zip(marks, ends):
        print(f"  {name:<60} {end - start:6.2f} s")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "sample.db"
        t0 = time.perf_counter()
        _builder().build(db)
        print(f"sample store built in {time.perf_counter() - t0:.2f} s")
        with Store.open_readonly(db) as st:
            runs = load_runs(st)
            marks: list[tuple[str, float]] = []
            t0 = time.perf_counter()
            build_report(st, runs, Path(tmp) / "out",
                         progress=lambda m: marks.append((m, time.perf_counter())))
            total = time.perf_counter() - t0
            print(f"\nfull report of {len(runs)} runs: {total:.2f} s")
            ends = [t for _, t in marks[1:]] + [t0 + total]
            for (name, start), end in zip(marks, ends):
                print(f"  {name:<45} {end - start:6.2f} s")

            bert = [v for v in runs if v.workload == "bert-large-squad"]
            profiles = plots.power_profiles(bert, st.load_trace)
            resolved, reused = [], []
            for _ in range(3):
                fig = plots.power_profiles_figure(profiles, device_order(bert))
                t = time.perf_counter()
                fig.savefig(Path(tmp) / "a.png")
                fig.savefig(Path(tmp) / "a.svg")
                resolved.append(time.perf_counter() - t)
                fig = plots.power_profiles_figure(profiles, device_order(bert))
                t = time.perf_counter()
                plots.save(fig, Path(tmp), "b")
                reused.append(time.perf_counter() - t)
            a, b = min(resolved), min(reused)
            print(f"\npower profiles PNG + SVG (best of 3): layout solved twice {a:.2f} s, "
                  f"reused {b:.2f} s, ratio {a / b:.2f}x")
        if "--no-large" not in sys.argv:
            large(Path(tmp))


if __name__ == "__main__":
    main()
