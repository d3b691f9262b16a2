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
   forward by forward, for the sampler thread and the sampler process (issue 16) side by side;
   one sampler process per kind and round, each forward a window of it (as a run's repetitions
   are), stopped between its windows; at least 7 rounds. Goal <= 1.01.
4. auto backend: p50 latency of the backend ``auto`` picks / p50 of the fastest backend measured
   here. Goal <= 1.05.

Measurements alternate (A, B, A, B...) so that a busy machine slows both sides alike; each ratio
is the median of the per-round ratios. Run: ``python benchmarks/bench_harness.py [--quick]
[--recalibrate] [--parts overhead,sampler,null,auto]`` (``--parts``: only those ratios;
``--recalibrate``: auto times both backends now rather than reusing a cached
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
from typing import Any

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
    ap.add_argument("--parts", default="overhead,sampler,null,auto",
                    help="comma-separated ratios to measure (default: all four)")
    ap.add_argument("--sampler-rounds", type=int, default=7,
                    help="rounds of the sampler ratio (default 7: the issue's minimum)")
    args = ap.parse_args()
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    rounds = args.rounds or (2 if args.quick else 3)
    n_model = 8 if args.quick else 20
    n_null = 2000 if args.quick else 10000
    os.environ.setdefault("INFERLCA_CACHE_DIR", str(Path(tempfile.gettempdir()) / "inferlca-bench"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-harness-"))
    results: dict[str, list[float]] = {k: [] for k in ("overhead", "null", "sampler",
                                                        "sampler_process",
                                                        "sampler_process_normal",
                                                        "sampler_process_fifo", "auto")}
    raw: dict[str, list[float]] = {}

    def keep(name: str, v: float) -> float:
        raw.setdefault(name, []).append(v)
        return v

    # 1: bert-base-squad on torch; LoadGen's latency of each query / the forward of that query
    spec = RunSpec(workload="bert-base-squad", backend="torch")
    w = make_workload(spec)
    w.prepare()
    w.load()
    for r in range(rounds if "overhead" in parts else 0):
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

    # 3: forwards with the 10 ms sampler (thread, process) on and off, alternating forward by
    # forward. The thread sampler is started for each "on" forward (a thread starts at once).
    # Each process side has one sampler process for the whole round, as a run has one for all
    # its repetitions: each forward is a window of it (as a repetition is), and between its own
    # forwards the process is stopped (SIGSTOP), so it takes nothing from the other sides.
    import signal
    import warnings

    from inferlca.meters.registry import open_meter
    from inferlca.meters.sampler import Sampler
    from inferlca.meters.sampler_process import open_sampler, run_sampler_process

    def pause(host: Any, sig: int) -> None:
        if host is not None and host.proc is not None and host.proc.poll() is None:
            os.kill(host.proc.pid, sig)

    meter = open_meter("auto")
    warnings.simplefilter("ignore", RuntimeWarning)
    for r in range(args.sampler_rounds if "sampler" in parts else 0):
        times: dict[str, list[float]] = {"off": [], "thread": [], "process": [],
                                         "process_normal": [], "process_fifo": []}
        kinds_used = set()
        sides = list(times) if r % 2 == 0 else list(reversed(times))
        kind_of = {side: side.replace("_", ":") for side in times if side != "off"}
        hosts = {side: run_sampler_process(meter, 0.01, kind=kind)
                 for side, kind in kind_of.items()}
        for k in range(n_model):
            for side in sides:
                if side == "off":
                    time.sleep(0.03)  # same pause on every side
                    times["off"].append(forward_s(w, k % 16))
                    continue
                host = hosts[side]
                pause(host, signal.SIGCONT)
                s: Sampler = open_sampler(meter, period_s=0.01, kind=kind_of[side], host=host)
                with s:
                    time.sleep(0.03)  # sampling before the forward starts
                    times[side].append(forward_s(w, k % 16))
                pause(host, signal.SIGSTOP)
                kinds_used.add(s.trace.meta["sampler"])
        for host in hosts.values():
            pause(host, signal.SIGCONT)
            if host is not None:
                host.close()
        p50 = {side: keep(f"sampler_{side}_p50_s", float(np.median(v)))
               for side, v in times.items()}
        results["sampler"].append(p50["thread"] / p50["off"])
        results["sampler_process"].append(p50["process"] / p50["off"])
        results["sampler_process_normal"].append(p50["process_normal"] / p50["off"])
        results["sampler_process_fifo"].append(p50["process_fifo"] / p50["off"])
        print(f"round {r + 1}: on/off thread {p50['thread'] / p50['off']:.4f}, process "
              f"{p50['process'] / p50['off']:.4f}, process at normal priority "
              f"{p50['process_normal'] / p50['off']:.4f}, process SCHED_FIFO "
              f"{p50['process_fifo'] / p50['off']:.4f} (samplers used: {sorted(kinds_used)}; "
              f"load {os.getloadavg()[0]:.2f})", flush=True)
    w.unload()
    meter.close()

    # 2: null throughput (LoadGen-reported QPS), alternating
    for r in range(rounds if "null" in parts else 0):
        bare = keep("bare_null_qps", bare_null_qps(n_null, tmp / f"bare{r}"))
        ours = keep("ours_null_qps", ours_null_qps(n_null, tmp / f"ours{r}"))
        results["null"].append(ours / bare)
        print(f"round {r + 1}: null throughput ours/bare {ours / bare:.3f}", flush=True)

    # 4: auto's pick vs the fastest backend, forwards alternating between backends
    from inferlca.workloads.backends import open_backend
    from inferlca.workloads.backends.auto import choose_backend

    if "auto" not in parts:
        _print_results(results, raw, None)
        return
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
    _print_results(results, raw, choice)


def _print_results(results: dict[str, list[float]], raw: dict[str, list[float]], choice) -> None:
    goals = {"overhead": ("<=", 1.03), "null": (">=", 0.8), "sampler": ("<=", 1.01),
             "sampler_process": ("<=", 1.01), "sampler_process_normal": ("<=", 1.01),
             "sampler_process_fifo": ("<=", 1.01), "auto": ("<=", 1.05)}
    names = {"overhead": "SingleStream p50 via LoadGen / forward of the same queries",
             "null": "null throughput: our SUT / bare LoadGen SUT",
             "sampler": "model p50 with 10 ms sampler THREAD on / off",
             "sampler_process": "model p50 with 10 ms sampler PROCESS (nice 19) on / off",
             "sampler_process_normal": "model p50 with 10 ms sampler PROCESS (normal) on / off",
             "sampler_process_fifo": "model p50 with 10 ms sampler PROCESS (SCHED_FIFO) on / off",
             "auto": f"auto ({choice.backend if choice else '-'}) p50 / fastest backend p50"}
    print()
    print(f"{'ratio':62s} {'median':>8s} {'rounds':>24s}  goal")
    for key, vals in results.items():
        if not vals:
            continue
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
    if choice is not None:
        print(f"  auto note: {choice.note}")
    print(f"  load average now: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
