"""The meter agent's cost and delivery latency (issue 12, "Performance"), side by side in one run.

* Agent CPU: ``python -m inferlca meters serve --interval-ms 10`` (100 Hz) runs as its own
  process; its CPU time (``/proc/PID/stat`` utime + stime) over a window, as a share of one core,
  without a client and with one client streaming the readings. Beside it, in the same run, the
  same meter read at 100 Hz by a bare loop in its own process (the meter's own cost, which the
  agent cannot avoid): the difference is what the agent adds. Goal: agent < 1 % of a core.
* Delivery latency: for every reading the client receives, its arrival time minus the agent's
  time of the read (both ``CLOCK_MONOTONIC`` of this machine, so no offset enters), p50 and p99
  over loopback. Goal: p99 < 20 ms.

The meter is ``modelled`` (``/proc/stat``, the one that works on any Linux machine) unless
``--meter`` names another; ``--replay LOG`` serves a recorded log instead.

Run: ``python benchmarks/bench_meter_agent.py [--seconds 20] [--meter modelled] [--replay LOG]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np

from inferlca.meters.remote import RemoteMeter

TICK = os.sysconf("SC_CLK_TCK")

BARE_LOOP = """
import sys, time
from inferlca.meters.registry import open_meter
opts = {"path": sys.argv[2]} if len(sys.argv) > 2 else {}
m = open_meter(sys.argv[1], period_s=0.01, **opts)
print("ready", flush=True)
start = time.monotonic(); k = 1
while True:
    d = start + k * 0.01 - time.monotonic()
    if d > 0:
        time.sleep(d)
    m.read(); k += 1
"""


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def share_over(pid: int, seconds: float) -> float:
    """The process's CPU over the next ``seconds``, as a share of one core."""
    c0, t0 = cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_s(pid) - c0) / (time.monotonic() - t0)


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), e.get("PYTHONPATH")]))
    return e


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each window")
    ap.add_argument("--meter", default="modelled")
    ap.add_argument("--replay", default=None, help="serve this recorded log (--meter replay)")
    args = ap.parse_args()
    meter = "replay" if args.replay else args.meter
    extra = ["--replay", args.replay] if args.replay else []
    agent = subprocess.Popen(
        [sys.executable, "-m", "inferlca", "meters", "serve", "--port", "0", "--interval-ms",
         "10", "--meter", meter, *extra], stdout=subprocess.PIPE, text=True, env=env())
    bare = subprocess.Popen([sys.executable, "-c", BARE_LOOP, meter, *(extra[1:])],
                            stdout=subprocess.PIPE, text=True, env=env())
    try:
        assert agent.stdout is not None and bare.stdout is not None
        line = agent.stdout.readline()
        url = line.split(" on ", 1)[1].split()[0]
        bare.stdout.readline()
        time.sleep(1.0)  # past the start-up
        # the bare loop and the agent alone, in the same window (the machine's load hits both)
        c_bare, c_agent, t0 = cpu_s(bare.pid), cpu_s(agent.pid), time.monotonic()
        time.sleep(args.seconds)
        span = time.monotonic() - t0
        bare_share = (cpu_s(bare.pid) - c_bare) / span
        alone = (cpu_s(agent.pid) - c_agent) / span
        bare.kill()
        bare.wait()
        m = RemoteMeter(url)
        try:
            time.sleep(0.5)
            with_client = share_over(agent.pid, args.seconds)
            with m._lock:
                samples = list(m._samples)
        finally:
            m.close()
    finally:
        for p in (agent, bare):
            if p.poll() is None:
                p.kill()
            p.wait()
    tail = [s for s in samples if s.arrival >= samples[-1].arrival - args.seconds]
    lat = np.array([s.arrival - s.t for s in tail]) * 1000.0
    seqs = np.array([s.seq for s in tail])
    lost = int(np.sum(np.diff(seqs) - 1)) if seqs.size > 1 else 0
    print(f"meter {meter}, 100 Hz, windows of {args.seconds:g} s, cores: {os.cpu_count()}")
    print(f"meter alone (bare 100 Hz read loop):  {bare_share * 100:6.2f} % of one core")
    print(f"agent, no client:                      {alone * 100:6.2f} % of one core "
          f"(adds {(alone - bare_share) * 100:+.2f} % to the meter's own reads)")
    print(f"agent, one client streaming:           {with_client * 100:6.2f} % of one core "
          f"(adds {(with_client - bare_share) * 100:+.2f} %)")
    print(f"delivery latency over loopback:        p50 {np.percentile(lat, 50):.2f} ms, "
          f"p99 {np.percentile(lat, 99):.2f} ms, max {lat.max():.2f} ms "
          f"({lat.size} readings, {lost} lost)")
    ok_cpu = with_client - bare_share < 0.01
    ok_lat = np.percentile(lat, 99) < 20.0
    print(f"goals: agent adds < 1 % CPU: {'met' if ok_cpu else 'NOT met'}; "
          f"p99 < 20 ms: {'met' if ok_lat else 'NOT met'}")


if __name__ == "__main__":
    main()
