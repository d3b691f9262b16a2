"""A LoadGen system under test for token-streaming workloads (``llm-generate``).

Each LoadGen query sample is one generation request. The SUT hands requests to the workload's
:class:`~inferlca.workloads.generation.BatchScheduler` (one worker thread; ``issue_queries`` never
blocks), reports each request's first token with ``mlperf_loadgen.FirstTokenComplete`` as soon as
the prefill produced it, and completes the request with ``QuerySamplesComplete`` carrying the
generated token ids and their count (``n_tokens``), so LoadGen's own logs hold time to first token
and time per output token (``TestSettings.use_token_latencies``).

How the four scenarios batch with static batching (the default; with ``--batching continuous``
requests also join a running batch between two decode steps, see the workload's docstring):

* SingleStream: one request at a time, batches of 1;
* MultiStream: the ``samples_per_query`` requests of a query arrive together and form one batch;
* Server: Poisson arrivals; the requests waiting when the engine frees up form the next batch
  (at most ``max_batch``), so batches grow with the load;
* Offline: all requests arrive at once and run in batches of ``max_batch``.
"""

from __future__ import annotations

import importlib
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inferlca.errors import InferlcaError, InvalidValueError
from inferlca.loadgen.scenarios import plan_scenario
from inferlca.workloads.generation import GenRequest, GenResult, Step


class GenerationSUT:
    """LoadGen SUT around a loaded token-streaming workload.

    Same surface as :class:`~inferlca.loadgen.sut.WorkloadSUT` (``handle``, ``errors``,
    ``samples_done``, ``tokens_out``, ``outputs``, ``close()``), so the runner can use either.

    Args:
        workload: a loaded workload with ``request(index, arrival_s, tag, **callbacks)``,
            ``submit(requests)`` and ``clock`` (an :class:`~inferlca.workloads.generation.LLMGenerate`).
        keep_outputs: keep the generated token ids by sample index (accuracy mode).
        stop: when set (Ctrl-C), requests not yet started are answered at once without the
            model (counted in ``samples_skipped``); the batch in progress finishes.
        on_done: called with 1 after each answered request (progress bars).
        lg: the ``mlperf_loadgen`` module (the real one by default).
    """

    def __init__(self, workload: Any, keep_outputs: bool = False, stop: threading.Event | None = None,
                 on_done: Callable[[int], None] | None = None, lg: Any = None) -> None:
        self.lg = lg if lg is not None else importlib.import_module("mlperf_loadgen")
        self.workload = workload
        self.keep_outputs = keep_outputs
        self.stop = stop
        self.on_done = on_done
        self.outputs: dict[int, Any] = {}
        self.samples_done = 0
        self.samples_skipped = 0
        self.first_tokens = 0
        self.tokens_out: list[float] = []
        self.errors: list[BaseException] = []
        self._keep: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self.handle = self.lg.ConstructSUT(self.issue_queries, self.flush_queries)

    # LoadGen callbacks ------------------------------------------------------------------------
    def issue_queries(self, query_samples: list[Any]) -> None:
        if self.stop is not None and self.stop.is_set():
            self._skip([q.id for q in query_samples])
            return
        now = self.workload.clock()
        reqs = [self.workload.request(q.index, now, tag=q.id, on_first_token=self._first_token,
                                      on_done=self._done, on_error=self._error)
                for q in query_samples]
        with self._lock:
            self._pending += len(reqs)
        self.workload.submit(reqs)

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
            self.samples_done += 1
            self.tokens_out.append(float(result.tokens_out))
            if self.keep_outputs:
                self.outputs[result.index] = list(result.output_ids)
        self.lg.QuerySamplesComplete([self.lg.QuerySampleResponse(
            result.tag, buf.ctypes.data, buf.nbytes, result.tokens_out)])
        with self._lock:
            self._pending -= 1
            self._idle.notify_all()
        if self.on_done is not None:
            self.on_done(1)
        if self.stop is not None and self.stop.is_set() and self.workload.scheduler is not None:
            left = self.workload.scheduler.skip_waiting()
            if left:
                self._skip([r.tag for r in left], pending=True)

    def _skip(self, ids: list[Any], pending: bool = False) -> None:
        self.lg.QuerySamplesComplete([self.lg.QuerySampleResponse(i, 0, 0, 1) for i in ids])
        with self._lock:
            self.samples_skipped += len(ids)
            if pending:
                self._pending -= len(ids)
                self._idle.notify_all()

    def _error(self, request: GenRequest, exc: BaseException) -> None:
        # answer LoadGen so the test ends; the runner raises afterwards and nothing is stored as ok
        with self._lock:
            self.errors.append(exc)
        self.lg.QuerySamplesComplete([self.lg.QuerySampleResponse(request.tag, 0, 0, 1)])
        with self._lock:
            self._pending -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Block until every issued request was answered."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending <= 0, timeout_s)

    def close(self, timeout_s: float = 5.0) -> None:
        """Wait for requests in flight, then free LoadGen's SUT handle."""
        self.wait_idle(timeout_s)
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
        loadgen: LoadGen's token figures (``ttft_p50_s``... from its detail log), its validity
            and plan (``to_dict`` of the runner's ``LoadgenRun``).
        latencies_s: LoadGen's query latencies from its trace (s).
    """

    results: list[GenResult]
    steps: list[Step]
    start_s: float
    end_s: float
    batch_sizes: list[int]
    loadgen: dict[str, Any] = field(default_factory=dict)
    latencies_s: Any = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


_DETAIL_TOKEN_KEYS = {
    "result_first_token_50.00_percentile_latency_ns": "ttft_p50_s",
    "result_first_token_99.00_percentile_latency_ns": "ttft_p99_s",
    "result_first_token_mean_latency_ns": "ttft_mean_s",
    "result_time_per_output_token_50.00_percentile_ns": "tpot_p50_s",
    "result_time_per_output_token_99.00_percentile_ns": "tpot_p99_s",
}


def token_latency_summary(detail: dict[str, Any]) -> dict[str, float]:
    """LoadGen's own token figures from its detail log (see :func:`~inferlca.loadgen.logs.read_detail`).

    Returns ``ttft_p50_s``, ``ttft_p99_s``, ``ttft_mean_s``, ``tpot_p50_s``, ``tpot_p99_s`` (s) and
    ``tokens_per_s`` where LoadGen logged them (Offline logs no first-token latencies).
    """
    out: dict[str, float] = {}
    for key, name in _DETAIL_TOKEN_KEYS.items():
        v = detail.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[name] = float(v) * 1e-9
    for key in ("result_completed_tokens_per_second", "result_token_throughput"):
        v = detail.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out["tokens_per_s"] = float(v)
            break
    return out


def run_token_test(workload: Any, spec: Any, *, log_dir: str | Path | None = None) -> GenerationTestResult:
    """One real LoadGen test of a loaded generation workload, without meter or store.

    The runner's own :func:`~inferlca.loadgen.runner.run_loadgen_test` does the test (with the
    workload's SUT and LoadGen settings hooks); this adds the requests, steps and LoadGen's token
    figures. Used by tests and benchmarks.

    Args:
        workload: a loaded :class:`~inferlca.workloads.generation.LLMGenerate`.
        spec: the :class:`~inferlca.spec.RunSpec` (scenario, queries, samples per query, QPS...).
        log_dir: where LoadGen writes its logs (a temporary folder when None).
    """
    from inferlca.loadgen.runner import run_loadgen_test

    if workload.engine is None or not workload.samples:
        raise InvalidValueError("llm-generate: load the workload before running a test")
    plan = plan_scenario(spec)
    workload.take_results()  # start clean
    batches_before = len(workload.scheduler.batch_sizes)
    with tempfile.TemporaryDirectory(prefix="inferlca-lg-") as tmp:
        out_dir = Path(log_dir) if log_dir is not None else Path(tmp)
        start_s = workload.clock()
        lg_run = run_loadgen_test(workload, plan, out_dir, extra_settings=workload.loadgen_settings(plan))
        end_s = workload.clock()
    if lg_run.errors:
        err = lg_run.errors[0]
        if isinstance(err, InferlcaError):
            raise err
        raise InferlcaError(f"llm-generate: a batch failed during the LoadGen test: {err}") from err
    summary: dict[str, Any] = dict(token_latency_summary(lg_run.detail))
    summary.update(lg_run.to_dict())
    if log_dir is None:
        summary.pop("log_dir", None)
    results, steps = workload.take_results()
    return GenerationTestResult(results, steps, start_s, end_s,
                                list(workload.scheduler.batch_sizes[batches_before:]), summary,
                                lg_run.latencies_s)
