"""``--backend auto``: pick the faster backend on this machine by a short calibration.

Both backends are opened on the same model, warmed up with one batch, then timed in alternation
on up to ``repeats`` batches of the workload's example inputs (two when they clearly differ); the
lower median wins. The decision is cached
(``<cache>/calibration/<key>.json``, keyed by model, shapes, precision, threads, CPU model and the
library versions) so a later run on the same machine reuses it, and says so with its age.

A decision timed while the machine was busy with something else can be wrong for later runs, so
the cache does not keep it forever: a decision older than :data:`CALIBRATION_MAX_AGE_S` (7 days)
is timed again, and ``inferlca run --recalibrate`` (``RunSpec.extra["recalibrate"]``) times it
again now and replaces the cached one. When onnxruntime is
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

#: A cached calibration older than this is timed again (seconds; 7 days).
CALIBRATION_MAX_AGE_S = 7 * 24 * 3600.0


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


def _time_backends(names: tuple[str, ...], source: ModelSource, precision: str, threads: int,
                   repeats: int) -> dict[str, float]:
    """Median seconds per batch of each backend, timed in alternation (A B A B ...) so that a busy
    machine slows both alike; stops after two rounds when both agree on a winner by > 20 %."""
    backends = {name: open_backend(name, source, precision, threads) for name in names}
    times_s: dict[str, list[float]] = {name: [] for name in names}
    try:
        for b in backends.values():
            b.run(source.example_feeds)  # warm-up
        for r in range(repeats):
            for name, b in backends.items():
                t0 = time.perf_counter()
                b.run(source.example_feeds)
                times_s[name].append(time.perf_counter() - t0)
            if r == 1 and len(names) == 2:
                a, b_ = (times_s[n] for n in names)
                if all(x > 1.2 * y for x, y in zip(a, b_)) or all(y > 1.2 * x for x, y in zip(a, b_)):
                    break
    finally:
        for b in backends.values():
            b.close()
    return {name: statistics.median(v) for name, v in times_s.items()}


def _describe(median_s: dict[str, float], winner: str) -> str:
    parts = ", ".join(f"{k} {v * 1e3:.3g} ms" if v < 1 else f"{k} {v:.3g} s"
                      for k, v in sorted(median_s.items()))
    return f"median per batch: {parts}; {winner} is faster"


def _age_text(age_s: float) -> str:
    if age_s < 3600:
        return f"{max(age_s, 0) / 60:.0f} min ago"
    if age_s < 2 * 86400:
        return f"{age_s / 3600:.0f} h ago"
    return f"{age_s / 86400:.0f} days ago"


def _saved_epoch_s(saved: dict[str, object]) -> float | None:
    """When a cached calibration was made (seconds since the epoch), None if unknown."""
    epoch = saved.get("when_epoch_s")
    if isinstance(epoch, (int, float)):
        return float(epoch)
    when = saved.get("when")
    if isinstance(when, str):
        import calendar

        try:
            return float(calendar.timegm(time.strptime(when, "%Y-%m-%dT%H:%M:%SZ")))
        except ValueError:
            return None
    return None


def choose_backend(source: ModelSource, precision: str = "fp32", threads: int | None = None,
                   repeats: int = 3, use_cache: bool = True,
                   max_age_s: float = CALIBRATION_MAX_AGE_S) -> AutoChoice:
    """Pick ``torch`` or ``onnxruntime`` for ``source`` on this machine (see the module doc).

    Args:
        use_cache: False times both backends now (``--recalibrate``) and replaces the cached
            decision.
        max_age_s: a cached decision older than this (or of unknown age) is timed again.
    """
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
    why_now = "" if use_cache else "--recalibrate, "
    if use_cache and path.exists():
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            median_s = {str(k): float(v) for k, v in saved["median_s"].items()}
            winner = str(saved["backend"])
            made_s = _saved_epoch_s(saved)
            age_s = None if made_s is None else time.time() - made_s
            if age_s is not None and age_s <= max_age_s:
                return AutoChoice(winner, f"auto backend: {winner} (calibration cached from "
                                          f"{saved.get('when')}, {_age_text(age_s)}: "
                                          f"{_describe(median_s, winner)}; --recalibrate times "
                                          "both again)", median_s, cached=True)
            why_now = (f"the cached decision was older than {max_age_s / 86400:g} days, "
                       if age_s is not None else "the cached decision had no date, ")
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass  # a damaged cache file: calibrate again
    median_s = _time_backends(("torch", "onnxruntime"), source, precision, n_threads, repeats)
    winner = min(median_s, key=lambda k: median_s[k])
    now_s = time.time()
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now_s))
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"backend": winner, "median_s": median_s, "when": when,
                               "when_epoch_s": now_s, "model": source.key,
                               "threads": n_threads}), encoding="utf-8")
    tmp.replace(path)
    return AutoChoice(winner, f"auto backend: {winner} (calibrated now: {why_now}"
                              f"{_describe(median_s, winner)})", median_s)


def _batch(source: ModelSource) -> int:
    first = next(iter(source.example_feeds.values()))
    return int(first.shape[0])
