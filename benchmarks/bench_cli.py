"""How fast the command line answers (issue 16), side by side in one run.

Median wall time of fresh processes, interleaved round by round so that other load on the
machine hits every command alike: ``python3 -c pass`` (the floor), ``inferlca --version``,
``inferlca hardware list`` (to a pipe), ``hardware list --json``, ``hardware list`` as to a
terminal (``FORCE_COLOR=1``: bold and italic escapes) and ``inferlca --help`` (typer and rich).

Run: PYTHONPATH=src python benchmarks/bench_cli.py [--rounds N]
Goal (issue 16): ``--version`` and ``hardware list`` under 0.15 s, or at most 10x
``python3 -c pass``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")

CASES: dict[str, tuple[list[str], dict[str, str]]] = {
    "python3 -c pass": (["-c", "pass"], {}),
    "inferlca --version": (["-m", "inferlca", "--version"], {}),
    "hardware list": (["-m", "inferlca", "hardware", "list"], {}),
    "hardware list --json": (["-m", "inferlca", "hardware", "list", "--json"], {}),
    "hardware list (terminal)": (["-m", "inferlca", "hardware", "list"], {"FORCE_COLOR": "1"}),
    "inferlca --help": (["-m", "inferlca", "--help"], {}),
}


def wall_s(args: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, *args], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=15)
    a = ap.parse_args()
    base = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    base.pop("FORCE_COLOR", None)
    times: dict[str, list[float]] = {k: [] for k in CASES}
    for name, (args, extra) in CASES.items():  # warm the file cache and the bytecode
        wall_s(args, {**base, **extra})
    for _ in range(a.rounds):
        for name, (args, extra) in CASES.items():
            times[name].append(wall_s(args, {**base, **extra}))
    floor = statistics.median(times["python3 -c pass"])
    print(f"load average {os.getloadavg()[0]:.2f}; {a.rounds} rounds; python {sys.version.split()[0]}")
    print(f"{'command':<28}{'median s':>10}{'min s':>9}{'x python':>10}  goal")
    for name, ts in times.items():
        med = statistics.median(ts)
        goal = ""
        if name in ("inferlca --version", "hardware list"):
            goal = "ok" if med < 0.15 or med <= 10 * floor else "MISSED (< 0.15 s or <= 10x)"
        print(f"{name:<28}{med:>10.3f}{min(ts):>9.3f}{med / floor:>10.1f}  {goal}")


if __name__ == "__main__":
    main()
