"""Tracker overhead, measured side by side in one run (not a timed test).

Prints:
1. the cost of one ``with t.window(...)`` enter/exit (and, at the end, of analysing each
   occurrence when the tracker stops) (and of ``begin``/``end``, ``count``, and a
   window with ``sync="torch"`` on this machine), as the difference between a loop whose body is
   wrapped in a window and the same bare loop, per iteration (median of interleaved rounds);
2. the sampler's perturbation with and without the tracker: the slowdown of a CPU-bound pure
   Python workload under a bare 10 ms ``Sampler`` and under a 10 ms tracker (whose meter is
   wrapped to keep live figures), against no sampling, interleaved rounds, medians; and the
   cost of one meter read bare vs wrapped.

Run: PYTHONPATH=src python benchmarks/bench_tracker.py [--quick]
Goals (issue 19): < 50 us per window enter/exit; the 10 ms sampler's perturbation unchanged.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from inferlca.meters.modelled import ModelledCpuMeter
from inferlca.meters.sampler import Sampler
from inferlca.tracker import track
from inferlca.tracker.live import LiveMeter


def _body(k: int) -> int:
    return k * 3 + 1


def per_window_us(n: int, rounds: int) -> dict[str, float]:
    """Microseconds added per iteration by each tracker call, over a bare loop."""
    results: dict[str, list[float]] = {"window": [], "nested window (2 levels)": [],
                                       "begin/end": [], "count": [], "window, sync=torch": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = track("bench", device="AGX Orin", meter=ModelledCpuMeter(cpu_tdp_w=100.0))
        ts = track("bench-sync", device="AGX Orin", meter=ModelledCpuMeter(cpu_tdp_w=100.0),
                   sync="torch")
    with t, ts:
        for _ in range(rounds):
            t0 = time.perf_counter()
            for k in range(n):
                _body(k)
            bare = time.perf_counter() - t0

            t0 = time.perf_counter()
            for k in range(n):
                with t.window("w"):
                    _body(k)
            results["window"].append(time.perf_counter() - t0 - bare)

            t0 = time.perf_counter()
            for k in range(n):
                with t.window("outer"), t.window("inner"):
                    _body(k)
            results["nested window (2 levels)"].append((time.perf_counter() - t0 - bare) / 2)

            t0 = time.perf_counter()
            for k in range(n):
                w = t.begin("b")
                _body(k)
                w.end()
            results["begin/end"].append(time.perf_counter() - t0 - bare)

            t0 = time.perf_counter()
            for k in range(n):
                t.count(requests=1, tokens_out=3)
                _body(k)
            results["count"].append(time.perf_counter() - t0 - bare)

            t0 = time.perf_counter()
            for k in range(n):
                with ts.window("w"):
                    _body(k)
            results["window, sync=torch"].append(time.perf_counter() - t0 - bare)
    return {k: statistics.median(v) / n * 1e6 for k, v in results.items()}


def stop_cost_us(n: int) -> float:
    """Microseconds per window occurrence spent when the tracker stops (energy of every
    occurrence through traces.energy.window_energies_j, results per path, GWP)."""
    t = track("stop", device="AGX Orin", meter=ModelledCpuMeter(cpu_tdp_w=100.0))
    with t:
        for k in range(n):
            with t.window("w"):
                _body(k)
        t0 = time.perf_counter()
    return (time.perf_counter() - t0) / n * 1e6


def _work(n: int) -> float:
    s = 0.0
    for i in range(n):
        s += (i % 7) * 0.5
    return s


def perturbation(n: int, rounds: int) -> dict[str, float]:
    """Median seconds of the workload: no sampling, bare sampler, tracker (10 ms each)."""
    off: list[float] = []
    bare: list[float] = []
    tracked: list[float] = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        _work(n)
        off.append(time.perf_counter() - t0)
        with Sampler(ModelledCpuMeter(cpu_tdp_w=100.0), period_s=0.01, close_meter=True):
            t0 = time.perf_counter()
            _work(n)
            bare.append(time.perf_counter() - t0)
        with track("perturb", device="AGX Orin", meter=ModelledCpuMeter(cpu_tdp_w=100.0),
                   period_s=0.01):
            t0 = time.perf_counter()
            _work(n)
            tracked.append(time.perf_counter() - t0)
    return {"off": statistics.median(off), "sampler": statistics.median(bare),
            "tracker": statistics.median(tracked)}


def read_us(n: int) -> dict[str, float]:
    m = ModelledCpuMeter(cpu_tdp_w=100.0)
    live = LiveMeter(ModelledCpuMeter(cpu_tdp_w=100.0))
    m.read()
    live.read()
    t0 = time.perf_counter()
    for _ in range(n):
        m.read()
    bare = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(n):
        live.read()
    wrapped = time.perf_counter() - t0
    return {"bare": bare / n * 1e6, "wrapped": wrapped / n * 1e6}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    # every window occurrence is kept (and analysed at the end): loops of a few thousand
    n, rounds = (2_000, 3) if args.quick else (5_000, 5)
    print(f"1. tracker cost per call (loop of {n}, median of {rounds} interleaved rounds)")
    for name, us in per_window_us(n, rounds).items():
        print(f"   {name:28s} {us:7.2f} us  (goal < 50 us per window enter/exit)")
    m = 20_000 if args.quick else 100_000
    print(f"   stop and analysis             {stop_cost_us(m):7.2f} us per window occurrence "
          f"({m} occurrences)")
    work_n, prounds = (2_000_000, 3) if args.quick else (5_000_000, 5)
    p = perturbation(work_n, prounds)
    print(f"2. CPU-bound pure-Python workload ({work_n} iterations, median of {prounds}):")
    print(f"   no sampling {p['off']:.3f} s | bare 10 ms sampler {p['sampler']:.3f} s "
          f"({(p['sampler'] / p['off'] - 1) * 100:+.2f} %) | 10 ms tracker {p['tracker']:.3f} s "
          f"({(p['tracker'] / p['off'] - 1) * 100:+.2f} %)")
    r = read_us(2000 if args.quick else 10000)
    print(f"   one meter read: bare {r['bare']:.2f} us, wrapped for live figures "
          f"{r['wrapped']:.2f} us ({r['wrapped'] - r['bare']:+.2f} us)")


if __name__ == "__main__":
    main()
