"""Results store: how compact the stored traces are and what a repetition costs to write and read.

Run on demand (not a test): ``python benchmarks/store_bench.py``. Every figure is a ratio of two
things measured side by side in this run, on this machine.

Traces (3 minutes at the 10 ms NVML period = 18,000 samples; a power channel and an energy counter):
* ``nvml``: power in whole milliwatts (what NVML returns) converted to W, counter in whole mJ -> J;
* ``tegrastats``: the rails of a recorded Jetson AGX Orin log (tests/fixtures/store), tiled;
* ``noise``: full-precision random floats (the worst case for any lossless compression).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from inferlca.store import Store
from inferlca.traces.trace import Mark, PowerTrace

N = 18_000
PERIOD_S = 0.01


def nvml_trace(rng: np.random.Generator) -> PowerTrace:
    power_mw = np.round(rng.normal(250_000, 8_000, N)).clip(60_000, 400_000)
    power_w = power_mw / 1000.0
    energy_mj = np.cumsum(np.round(power_mw * PERIOD_S))
    return PowerTrace(t_s=np.arange(N) * PERIOD_S, channels={"gpu0": power_w}, primary="gpu0",
                      meter="nvml", counters={"gpu0": energy_mj / 1000.0},
                      marks=[Mark(0.0, "load"), Mark(20.0, "compute")])


def tegrastats_trace() -> PowerTrace:
    text = (ROOT / "tests" / "fixtures" / "store" / "tegrastats_orin_agx64_r36_1.log").read_text()
    mw = [float(m) for m in re.findall(r"VIN_SYS_5V0 (\d+)mW/", text)]
    module_w = np.resize(np.array(mw) / 1000.0, N)
    return PowerTrace(t_s=np.arange(N) * PERIOD_S, channels={"module": module_w}, primary="module",
                      meter="tegrastats", counters={"module": np.cumsum(module_w * PERIOD_S)})


def noise_trace(rng: np.random.Generator) -> PowerTrace:
    p = rng.normal(30.0, 2.0, N)
    return PowerTrace(t_s=np.cumsum(rng.uniform(0.0095, 0.0105, N)), channels={"cpu": p},
                      primary="cpu", meter="rapl", counters={"cpu": np.cumsum(p * PERIOD_S)})


def raw_bytes(trace: PowerTrace) -> int:
    return 8 * N * (1 + len(trace.channels) + len(trace.counters))


def main() -> None:
    rng = np.random.default_rng(0)
    traces = {"nvml": nvml_trace(rng), "tegrastats": tegrastats_trace(), "noise": noise_trace(rng)}
    reps = 20
    print(f"{'trace':<11} {'stored/raw bytes':>17} {'write ms':>9} {'np.save ms':>11} {'write ratio':>12} "
          f"{'read ms':>8} {'np.load ms':>11} {'read ratio':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, trace in traces.items():
            path = Path(tmp) / f"{name}.db"
            store = Store.open(path)
            rid = store.create_run({"workload": "bench", "queries": 16})
            blob_bytes_before = store.info()["array_bytes"]
            t0 = time.perf_counter()
            for k in range(reps):
                store.add_repetition(rid, k, metrics={"energy_total_j": 1.0}, trace=trace,
                                     latencies_s=np.full(16, 0.02))
            write_s = (time.perf_counter() - t0) / reps
            stored = (store.info()["array_bytes"] - blob_bytes_before) / reps - 16 * 4
            # the baseline: raw float64 arrays to one .npy file per repetition, fsync'd like SQLite's
            t0 = time.perf_counter()
            for k in range(reps):
                f = Path(tmp) / f"{name}-{k}.npy"
                with f.open("wb") as fh:
                    np.save(fh, np.vstack([trace.t_s, *trace.channels.values(), *trace.counters.values()]))
                    fh.flush()
                    os.fsync(fh.fileno())
            npy_s = (time.perf_counter() - t0) / reps
            t0 = time.perf_counter()
            for k in range(reps):
                back = store.load_trace(rid, k)
            read_s = (time.perf_counter() - t0) / reps
            t0 = time.perf_counter()
            for k in range(reps):
                np.load(Path(tmp) / f"{name}-{k}.npy")
            npload_s = (time.perf_counter() - t0) / reps
            assert back is not None and back.t_s.tobytes() == trace.t_s.tobytes()
            for ch in trace.channels:
                assert back.channels[ch].tobytes() == trace.channels[ch].tobytes()  # lossless
            store.close()
            print(f"{name:<11} {stored / raw_bytes(trace):>17.3f} {write_s * 1e3:>9.2f} {npy_s * 1e3:>11.2f} "
                  f"{write_s / npy_s:>12.2f} {read_s * 1e3:>8.2f} {npload_s * 1e3:>11.2f} "
                  f"{read_s / npload_s:>11.2f}")


if __name__ == "__main__":
    main()
