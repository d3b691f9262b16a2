"""``--backend auto``: pick the faster backend on this machine by a short calibration.

Each available backend is opened on the same model, warmed up with one batch, then timed on
``repeats`` batches of the workload's example inputs; the lower median wins. The decision is cached
(``<cache>/calibration/<key>.json``, keyed by model, shapes, precision, threads, CPU model and the
library versions) so a later run on the same machine reuses it, and says so. When onnxruntime is
not installed, or the precision is not fp32 (the ONNX export is fp32), auto is torch and the
note says why.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from inferlca.workloads.backends import ModelSource, default_threads, open_backend
from inferlca.workloads.cache import cache_dir, cache_key


@dataclass
class AutoChoice:
    """The outcome of ``auto``.

    Attributes:
        backend: ``torch`` or ``onnxruntime``.
        note: one sentence for the results.
        median_s: per-backend median seconds per batch of the example inputs (empty if not timed).
        cached: True when the decision came from an earlier calibration.
    """

    backend: str
    note: str
    median_s: dict[str, float] = field(default_factory=dict)
    cached: bool = False


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _time_backend(name: str, source: ModelSource, precision: str, threads: int,
                  repeats: int) -> float:
    backend = open_backend(name, source, precision, threads)
    try:
        backend.run(source.example_feeds)  # warm-up
        times_s = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            backend.run(source.example_feeds)
            times_s.append(time.perf_counter() - t0)
        return statistics.median(times_s)
    finally:
        backend.close()


def _describe(median_s: dict[str, float], winner: str) -> str:
    parts = ", ".join(f"{k} {v * 1e3:.3g} ms" for k, v in sorted(median_s.items()))
    return f"median per batch: {parts}; {winner} is faster"


def choose_backend(source: ModelSource, precision: str = "fp32", threads: int | None = None,
                   repeats: int = 3, use_cache: bool = True) -> AutoChoice:
    """Pick ``torch`` or ``onnxruntime`` for ``source`` on this machine (see the module doc)."""
    if precision != "fp32":
        return AutoChoice("torch", f"auto backend: torch, because the onnxruntime export runs "
                                   f"fp32 only and {precision} was asked for")
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        return AutoChoice("torch", "auto backend: torch, because onnxruntime is not installed "
                                   "(pip install 'inferlca[onnx]' to let auto compare both)")
    n_threads = default_threads(threads)
    import onnxruntime
    import torch

    key = cache_key(model=source.key, shapes=source.shapes(), batch=_batch(source),
                    precision=precision, threads=n_threads, cpu=_cpu_model(),
                    torch=torch.__version__, ort=onnxruntime.__version__)
    path: Path = cache_dir("calibration") / f"{key}.json"
    if use_cache and path.exists():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            median_s = {str(k): float(v) for k, v in saved["median_s"].items()}
            winner = str(saved["backend"])
            return AutoChoice(winner, f"auto backend: {winner} (calibration cached from "
                                      f"{saved.get('when', 'an earlier run')}: "
                                      f"{_describe(median_s, winner)})", median_s, cached=True)
        except (OSError, ValueError, KeyError, TypeError):
            pass  # a damaged cache file: calibrate again
    median_s = {name: _time_backend(name, source, precision, n_threads, repeats)
                for name in ("torch", "onnxruntime")}
    winner = min(median_s, key=lambda k: median_s[k])
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"backend": winner, "median_s": median_s, "when": when,
                               "model": source.key, "threads": n_threads}), encoding="utf-8")
    tmp.replace(path)
    return AutoChoice(winner, f"auto backend: {winner} (calibrated now on {repeats} batches: "
                              f"{_describe(median_s, winner)})", median_s)


def _batch(source: ModelSource) -> int:
    first = next(iter(source.example_feeds.values()))
    return int(first.shape[0])
