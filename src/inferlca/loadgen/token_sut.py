"""A LoadGen system under test for token-streaming workloads (``llm-generate``).

Each LoadGen query sample is one generation request. The SUT hands requests to the workload's
:class:`~inferlca.workloads.generation.BatchScheduler` (one worker thread; ``issue_query`` never
blocks), reports each request's first token with ``mlperf_loadgen.FirstTokenComplete`` as soon as
the prefill produced it, and completes the request with ``QuerySamplesComplete`` carrying the
generated token ids and their count (``n_tokens``), so LoadGen's own logs hold time to first token
and time per output token (``TestSettings.use_token_latencies``).

How the four scenarios batch (static batching, see the workload's docstring):

* SingleStream: one request at a time, batches of 1;
* MultiStream: the ``samples_per_query`` requests of a query arrive together and form one batch;
* Server: Poisson arrivals; the requests waiting when the engine frees up form the next batch
  (at most ``max_batch``), so batches grow with the load;
* Offline: all requests arrive at once and run in batches of ``max_batch``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import importlib
import logging
from pathlib import Path
import re
import tempfile
import threading
from typing import Any

import numpy as np

from inferlca.errors import InferlcaError, InvalidValueError, UnknownNameError
from inferlca.workloads.generation import BatchScheduler, GenRequest, GenResult, Step

log = logging.getLogger(__name__)

LOADGEN_SCENARIOS = {
    "single-stream": "SingleStream",
    "multi-stream": "MultiStream",
    "server": "Server",
    "offline": "Offline",
}


class GenerationSUT:
    """LoadGen SUT around a loaded token-streaming workload.

    Args:
        workload: a loaded workload with ``engine``, ``request(index, arrival_s, tag)`` and
            ``options.max_batch`` (an :class:`~inferlca.workloads.generation.LLMGenerate`).
        max_batch: overrides the workload's batch limit.
        lg: the ``mlperf_loadgen`` module (injectable; the real one by default).
    """

    def __init__(self, workload: Any, max_batch: int | None = None, lg: Any = None) -> None:
        self.lg = lg if lg is not None else importlib.import_module("mlperf_loadgen")
        self.workload = workload
        self.results: list[GenResult] = []
        self.first_tokens = 0
        self.failed: list[GenRequest] = []
        self._keep: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        self.scheduler = BatchScheduler(
            workload.engine, max_batch or workload.options.max_batch,
            on_first_token=self._first_token, on_done=self._done, on_error=self._error)
        self.handle: Any = None

    # LoadGen callbacks ------------------------------------------------------------------------
    def issue_query(self, query_samples: list[Any]) -> None:
        now = self.workload.clock()
        self.scheduler.submit(*[self.workload.request(q.index, now, tag=q.id) for q in query_samples])

    def flush_queries(self) -> None:
        """Nothing is held back: every request is already queued for the engine."""

    # engine callbacks ------------------------------------------------------------------------
    def _first_token(self, request: GenRequest, token_id: int, t_s: float) -> None:
        buf = np.array([token_id], dtype=np.int64)
        with self._lock:
            self._keep[request.tag] = buf
            self.first_tokens += 1
        self.lg.FirstTokenComplete([self.lg.QuerySampleResponse(request.tag, buf.ctypes.data, buf.nbytes)])

    def _done(self, result: GenResult) -> None:
        buf = np.asarray(result.output_ids, dtype=np.int64)
        with self._lock:
            self._keep[result.tag] = buf
            self.results.append(result)
        self.lg.QuerySamplesComplete([self.lg.QuerySampleResponse(
            result.tag, buf.ctypes.data, buf.nbytes, result.tokens_out)])

    def _error(self, requests: list[GenRequest], exc: BaseException) -> None:
        # answer LoadGen so the test ends; the driver raises afterwards and nothing is stored as ok
        with self._lock:
            self.failed.extend(requests)
        self.lg.QuerySamplesComplete([self.lg.QuerySampleResponse(r.tag, 0, 0, 1) for r in requests])

    # lifetime --------------------------------------------------------------------------------
    def __enter__(self) -> "GenerationSUT":
        self.scheduler.start()
        self.handle = self.lg.ConstructSUT(self.issue_query, self.flush_queries)
        return self

    def __exit__(self, *exc: object) -> None:
        self.scheduler.stop()
        if self.handle is not None:
            self.lg.DestroySUT(self.handle)
            self.handle = None
        self._keep.clear()


@dataclass
class GenerationTestResult:
    """What one LoadGen test of a generation workload produced.

    Attributes:
        results: every finished request, with token timestamps (engine clock, s).
        steps: the engine's prefill/decode steps in the test (engine clock, s).
        start_s, end_s: the test's window on the engine clock.
        batch_sizes: size of every batch the engine ran.
        loadgen: LoadGen's summary figures (``ttft_p50_s``... from its own log, ``result_valid``,
            ``scenario``, ``log_dir``).
    """

    results: list[GenResult]
    steps: list[Step]
    start_s: float
    end_s: float
    batch_sizes: list[int]
    loadgen: dict[str, Any] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


def token_test_settings(lg: Any, scenario: str, queries: int, *, samples_per_query: int = 8,
                        target_qps: float = 10.0, offline_samples: int | None = None,
                        mlperf_compliant: bool = False, seed: int = 0) -> Any:
    """LoadGen ``TestSettings`` for a token-streaming test with exact query counts.

    Token latencies are on (``use_token_latencies``); the TTFT/TPOT targets used for Server
    validity stay LoadGen's defaults. Without ``mlperf_compliant`` the query count is exact
    (min = max) and the minimum duration is 0 (a short run is then not MLPerf-valid, said plainly).
    """
    if scenario not in LOADGEN_SCENARIOS:
        raise UnknownNameError("LoadGen scenario", scenario, LOADGEN_SCENARIOS)
    ts = lg.TestSettings()
    ts.scenario = getattr(lg.TestScenario, LOADGEN_SCENARIOS[scenario])
    ts.mode = lg.TestMode.PerformanceOnly
    ts.use_token_latencies = True
    count = offline_samples if (scenario == "offline" and offline_samples) else queries
    if not mlperf_compliant:
        ts.min_query_count = count
        ts.max_query_count = count
        ts.min_duration_ms = 0
    ts.multi_stream_samples_per_query = samples_per_query
    ts.server_target_qps = float(target_qps)
    ts.offline_expected_qps = float(max(count, 1))
    ts.qsl_rng_seed = ts.sample_index_rng_seed = ts.schedule_rng_seed = int(seed)
    return ts


_SUMMARY_KEYS = {
    "result_valid": re.compile(r"^Result is\s*:\s*(\S+)"),
    "ttft_p50_ns": re.compile(r"^50\.00 percentile first token latency \(ns\)\s*:\s*(\d+)"),
    "ttft_p99_ns": re.compile(r"^99\.00 percentile first token latency \(ns\)\s*:\s*(\d+)"),
    "tpot_p50_ns": re.compile(r"^50\.00 percentile time to output token \(ns\)\s*:\s*(\d+)"),
    "tpot_p99_ns": re.compile(r"^99\.00 percentile time to output token \(ns\)\s*:\s*(\d+)"),
    "tokens_per_s": re.compile(r"^Completed tokens per second\s*:\s*([0-9.]+)"),
}


def parse_token_summary(path: str | Path) -> dict[str, Any]:
    """Read LoadGen's token figures from ``mlperf_log_summary.txt`` (seconds, tokens/s)."""
    out: dict[str, Any] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return out
    for line in lines:
        line = line.strip()
        for key, rx in _SUMMARY_KEYS.items():
            m = rx.match(line)
            if m and key not in out:
                if key == "result_valid":
                    out[key] = m.group(1) == "VALID"
                elif key.endswith("_ns"):
                    out[key[:-3] + "_s"] = int(m.group(1)) * 1e-9
                else:
                    out[key] = float(m.group(1))
    return out


def run_token_test(workload: Any, scenario: str, queries: int, *, samples_per_query: int = 8,
                   target_qps: float = 10.0, offline_samples: int | None = None,
                   mlperf_compliant: bool = False, seed: int = 0, log_dir: str | Path | None = None,
                   on_start: Callable[[], None] | None = None,
                   settings: Any = None) -> GenerationTestResult:
    """Drive a loaded generation workload through one real LoadGen test.

    Args:
        workload: a loaded :class:`~inferlca.workloads.generation.LLMGenerate`.
        scenario: ``single-stream``, ``multi-stream``, ``server`` or ``offline``.
        queries: LoadGen queries (Offline: samples, unless ``offline_samples``).
        log_dir: where LoadGen writes its logs (a temporary folder when None).
        on_start: called just before the test starts (e.g. to mark the compute phase).
        settings: ready ``TestSettings`` (the runner's); built here when None.

    Raises:
        InferlcaError: when a batch failed (after LoadGen has finished cleanly).
    """
    lg = importlib.import_module("mlperf_loadgen")
    if workload.engine is None or not workload.samples:
        raise InvalidValueError("llm-generate: load the workload before running a test")
    ts = settings or token_test_settings(lg, scenario, queries, samples_per_query=samples_per_query,
                                         target_qps=target_qps, offline_samples=offline_samples,
                                         mlperf_compliant=mlperf_compliant, seed=seed)
    tmp = None
    if log_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="inferlca-lg-")
        log_dir = tmp.name
    out_dir = Path(log_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    log_out = lg.LogOutputSettings()
    log_out.outdir = str(out_dir)
    log_out.copy_summary_to_stdout = False
    log_settings = lg.LogSettings()
    log_settings.log_output = log_out
    log_settings.enable_trace = False
    n = workload.sample_count
    qsl = lg.ConstructQSL(n, n, lambda _s: None, lambda _s: None)
    workload.engine.reset_steps()
    try:
        with GenerationSUT(workload, lg=lg) as sut:
            if on_start is not None:
                on_start()
            start_s = workload.clock()
            lg.StartTestWithLogSettings(sut.handle, qsl, ts, log_settings)
            sut.scheduler.wait_idle()
            end_s = workload.clock()
            summary = parse_token_summary(out_dir / "mlperf_log_summary.txt")
            if tmp is None:
                summary["log_dir"] = str(out_dir)
            summary["scenario"] = scenario
            error = sut.scheduler.error
            result = GenerationTestResult(sorted(sut.results, key=lambda r: r.first_token_s),
                                          workload.engine.reset_steps(), start_s, end_s,
                                          list(sut.scheduler.batch_sizes), summary)
    finally:
        lg.DestroyQSL(qsl)
        if tmp is not None:
            tmp.cleanup()
    if error is not None:
        if isinstance(error, InferlcaError):
            raise error
        raise InferlcaError(f"llm-generate: a batch failed during the LoadGen test: {error}") from error
    return result
