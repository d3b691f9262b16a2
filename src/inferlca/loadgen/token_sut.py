"""A LoadGen system under test for workloads that declare ``streams_tokens`` (``llm-generate``).

Each LoadGen query sample is one generation request. The SUT hands requests to the workload's
own batching engine (:class:`~inferlca.workloads.base.TokenEngine`; for ``llm-generate`` its
:class:`~inferlca.workloads.llm.scheduler.BatchScheduler`, one worker thread; ``issue_queries``
never blocks), reports each request's first token with ``mlperf_loadgen.FirstTokenComplete`` as soon as
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
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from inferlca.workloads.base import TokenEngine
from inferlca.workloads.llm.request import GenRequest, GenResult


class GenerationSUT:
    """LoadGen SUT around a loaded token-streaming workload.

    Same surface as :class:`~inferlca.loadgen.sut.WorkloadSUT` (``handle``, ``errors``,
    ``samples_done``, ``tokens_out``, ``outputs``, ``close()``), so the runner can use either.

    Args:
        workload: a loaded workload that declares ``streams_tokens``
            (:class:`~inferlca.workloads.base.TokenEngine`, e.g.
            :class:`~inferlca.workloads.llm.workload.LLMGenerate`).
        keep_outputs: keep the generated token ids by sample index (accuracy mode).
        stop: when set (Ctrl-C), requests not yet started are answered at once without the
            model (counted in ``samples_skipped``); the batch in progress finishes.
        on_done: called with 1 after each answered request (progress bars).
        lg: the ``mlperf_loadgen`` module (the real one by default).
    """

    def __init__(self, workload: TokenEngine, keep_outputs: bool = False, stop: threading.Event | None = None,
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
        if self.stop is not None and self.stop.is_set():
            left = self.workload.skip_waiting()
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
