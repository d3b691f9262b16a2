"""Harness performance: four ratios measured side by side in one run (issue 4, "Performance").

1. harness overhead: SingleStream p50 latency through LoadGen and our SUT / p50 of the raw
   model forward on the same model and inputs (bert-base-squad, torch, CPU). Goal <= 1.03. The
   forward is timed inside the SUT for the very queries LoadGen timed, so both sides see the same
   machine load (this machine is shared; separate runs minutes apart are not comparable).
2. null throughput: queries/s of the null workload through our SUT adapter / a bare LoadGen SUT
   that completes each query in its callback, both as LoadGen reports them (QPS with LoadGen
   overhead, SingleStream). Goal >= 0.8. The wall-clock rate including our parsing of LoadGen's
   trace afterwards is printed too (``ours_null_wall_qps``).
3. sampler cost: model p50 latency with the 10 ms power sampler running / without, alternating
   forward by forward. Goal <= 1.01.
4. auto backend: p50 latency of the backend ``auto`` picks / p50 of the fastest backend measured
   here. Goal <= 1.05.

Measurements alternate (A, B, A, B...) so that a busy machine slows both sides alike; each ratio
is the median of the per-round ratios. Run: ``python benchmarks/bench_harness.py [--quick]
[--recalibrate]`` (``--recalibrate``: auto times both backends now rather than reusing a cached
decision, which may have been taken while the machine was busy).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from inferlca.loadgen.logs import read_detail
from inferlca.loadgen.runner import run_loadgen_test
from inferlca.loadgen.scenarios import plan_scenario
from inferlca.spec import RunSpec
from inferlca.workloads.base import BaseWorkload
from inferlca.workloads.registry import make_workload


def bare_null_qps(n: int, outdir: Path) -> float:
    import mlperf_loadgen as lg

    def issue(qs):
        lg.QuerySamplesComplete([lg.QuerySampleResponse(q.id, 0, 0) for q in qs])

    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(1024, 1024, lambda s: None, lambda s: None)
    ts = lg.TestSettings()
    ts.scenario = lg.TestScenario.SingleStream
    ts.mode = lg.TestMode.PerformanceOnly
    ts.min_query_count = ts.max_query_count = n
    ts.min_duration_ms = ts.max_duration_ms = 0
    ls = lg.LogSettings()
    ls.enable_trace = True  # same logging as our runner
    ls.log_output.outdir = str(outdir)
    ls.log_output.copy_summary_to_stdout = False
    outdir.mkdir(parents=True, exist_ok=True)
    lg.StartTestWithLogSettings(sut, qsl, ts, ls)
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    return float(read_detail(outdir / "mlperf_log_detail.txt")["result_qps_with_loadgen_overhead"])


WALL: list[float] = []


def keep_wall(qps: float) -> None:
    WALL.append(qps)


def ours_null_qps(n: int, outdir: Path) -> float:
    spec = RunSpec(workload="null", queries=n)
    w = make_workload(spec)
    w.prepare()
    t0 = time.perf_counter()
    run = run_loadgen_test(w, plan_scenario(spec), outdir)
    keep_wall(n / (time.perf_counter() - t0))
    return float(run.detail["result_qps_with_loadgen_overhead"])


class TimedWorkload(BaseWorkload):
    """Wraps a loaded workload; records how long each ``run`` (the raw forward) takes, so LoadGen's
    latency of a query and the model's own time for that very query are measured together."""

    def __init__(self, inner) -> None:
        super().__init__()
        self.inner = inner
        self.name = inner.name
        self.forward_s: list[float] = []

    @property
    def sample_count(self) -> int:
        return self.inner.sample_count

    def run(self, indices):
        t0 = time.perf_counter()
        out = self.inner.run(indices)
        self.forward_s.append(time.perf_counter() - t0)
        return out


def forward_s(w, index: int) -> float:
    t0 = time.perf_counter()
    w.run([index])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer queries and rounds")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--recalibrate", action="store_true",
                    help="time auto's calibration again instead of reusing a cached decision")
    args = ap.parse_args()
    rounds = args.rounds or (2 if args.quick else 3)
    n_model = 8 if args.quick else 20
    n_null = 2000 if args.quick else 10000
    os.environ.setdefault("INFERLCA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "inferlca-bench"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-harness-"))
    results: dict[str, list[float]] = {k: [] for k in ("overhead", "null", "sampler", "auto")}
    raw: dict[str, list[float]] = {}

    def keep(name: str, v: float) -> float:
        raw.setdefault(name, []).append(v)
        return v

    # 1: bert-base-squad on torch; LoadGen's latency of each query / the forward of that query
    spec = RunSpec(workload="bert-base-squad", backend="torch")
    w = make_workload(spec)
    w.prepare()
    w.load()
    for r in range(rounds):
        tw = TimedWorkload(w)
        run = run_loadgen_test(tw, plan_scenario(RunSpec(workload=w.name, queries=n_model)),
                               tmp / f"lg{r}")
        lg_p50 = keep("loadgen_p50_s", float(np.median(run.latencies_s)))
        fw_p50 = keep("same_queries_forward_p50_s", float(np.median(tw.forward_s)))
        per_query = np.asarray(run.latencies_s) / np.asarray(tw.forward_s)
        keep("per_query_ratio_max", float(per_query.max()))
        results["overhead"].append(lg_p50 / fw_p50)
        print(f"round {r + 1}: LoadGen p50 {lg_p50:.4f} s / forward p50 {fw_p50:.4f} s = "
              f"{lg_p50 / fw_p50:.5f}", flush=True)

    # 3: forwards with the 10 ms sampler on and off, alternating forward by forward
    from inferlca.meters.registry import open_meter
    from inferlca.meters.sampler import Sampler

    meter = open_meter("auto")
    for r in range(rounds):
        on_s, off_s = [], []
        for k in range(n_model):
            time.sleep(0.03)  # same pause on both sides
            off_s.append(forward_s(w, k % 16))
            with Sampler(meter, period_s=0.01):
                time.sleep(0.03)  # the thread is running and sampling before the forward starts
                on_s.append(forward_s(w, k % 16))
        on, off = keep("sampler_on_p50_s", float(np.median(on_s))), keep(
            "sampler_off_p50_s", float(np.median(off_s)))
        results["sampler"].append(on / off)
        print(f"round {r + 1}: sampler on/off {on / off:.4f}", flush=True)
    w.unload()
    meter.close()

    # 2: null throughput (LoadGen-reported QPS), alternating
    for r in range(rounds):
        bare = keep("bare_null_qps", bare_null_qps(n_null, tmp / f"bare{r}"))
        ours = keep("ours_null_qps", ours_null_qps(n_null, tmp / f"ours{r}"))
        results["null"].append(ours / bare)
        print(f"round {r + 1}: null throughput ours/bare {ours / bare:.3f}", flush=True)

    # 4: auto's pick vs the fastest backend, forwards alternating between backends
    from inferlca.workloads.backends import open_backend
    from inferlca.workloads.backends.auto import choose_backend

    wa = make_workload(RunSpec(workload="bert-base-squad", backend="auto"))
    wa.prepare()
    src = wa.model_source()
    choice = choose_backend(src, use_cache=not args.recalibrate)
    backends = {n: open_backend(n, src) for n in ("torch", "onnxruntime")}
    feeds = wa.feeds([0])
    for b in backends.values():
        b.run(feeds)
    for r in range(rounds):
        times: dict[str, list[float]] = {n: [] for n in backends}
        for _ in range(n_model):
            for name, b in backends.items():
                t0 = time.perf_counter()
                b.run(feeds)
                times[name].append(time.perf_counter() - t0)
        p50 = {n: keep(f"{n}_p50_s", float(np.median(v))) for n, v in times.items()}
        results["auto"].append(p50[choice.backend] / min(p50.values()))
        print(f"round {r + 1}: auto={choice.backend} {p50}", flush=True)
    goals = {"overhead": ("<=", 1.03), "null": (">=", 0.8), "sampler": ("<=", 1.01),
             "auto": ("<=", 1.05)}
    names = {"overhead": "SingleStream p50 via LoadGen / forward of the same queries",
             "null": "null throughput: our SUT / bare LoadGen SUT",
             "sampler": "model p50 with 10 ms sampler on / off",
             "auto": f"auto ({choice.backend}) p50 / fastest backend p50"}
    print()
    print(f"{'ratio':62s} {'median':>8s} {'rounds':>24s}  goal")
    for key, vals in results.items():
        op, goal = goals[key]
        med = statistics.median(vals)
        ok = med <= goal if op == "<=" else med >= goal
        rounds_txt = " ".join(f"{v:.3f}" for v in vals)
        print(f"{names[key]:62s} {med:8.3f} {rounds_txt:>24s}  {op} {goal} "
              f"{'met' if ok else 'NOT met'}")
    print()
    raw["ours_null_wall_qps"] = WALL
    for k, v in raw.items():
        print(f"  {k}: " + ", ".join(f"{x:.4g}" for x in v))
    print(f"  auto note: {choice.note}")
    print(f"  load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
