"""Our system under test: a :class:`~inferlca.workloads.base.Workload` behind LoadGen's callbacks.

* SingleStream and MultiStream: LoadGen waits for each query before issuing the next, so the query
  runs right in ``issue_queries`` (no thread hand-off on the measured path).
* Server and Offline: ``issue_queries`` only enqueues; worker threads run the model and report
  completion, so LoadGen's issue thread keeps its schedule (Server's Poisson arrivals).
  Offline's one big query is cut into batches of ``batch_size`` samples.
* Streaming workloads (decoder LLMs): each sample calls LoadGen's ``FirstTokenComplete`` as soon as
  its first token exists, and its final response carries the token count.

Outputs are kept by sample index when ``keep_outputs`` (accuracy mode) and are then also handed
to LoadGen, which writes them to ``mlperf_log_accuracy.json``.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from inferlca.errors import require
from inferlca.workloads.base import Workload

_STOP = object()


def _as_bytes(output: Any) -> np.ndarray:
    """An output as a contiguous byte array LoadGen can copy into its accuracy log."""
    if isinstance(output, tuple):
        return np.concatenate([np.ascontiguousarray(o, dtype=np.float32).ravel()
                               for o in output]).view(np.uint8)
    return np.ascontiguousarray(np.asarray(output)).view(np.uint8).ravel()


class WorkloadSUT:
    """Adapts a workload to LoadGen (see the module docstring).

    Args:
        workload: a loaded workload.
        scenario: our scenario name.
        batch_size: Offline batch size (samples per ``workload.run`` call).
        workers: worker threads for Server/Offline.
        keep_outputs: keep outputs by sample index and give them to LoadGen (accuracy mode).
        stop: when set (Ctrl-C), remaining samples are answered at once without running the
            model, so LoadGen ends quickly; they are counted in ``samples_skipped``.
        on_done: called with the number of samples just completed (progress bars).
    """

    def __init__(self, workload: Workload, scenario: str, batch_size: int = 1, workers: int = 1,
                 keep_outputs: bool = False, stop: threading.Event | None = None,
                 on_done: Callable[[int], None] | None = None) -> None:
        self.lg = require("mlperf_loadgen", "core", "running LoadGen")
        self.workload = workload
        self.scenario = scenario
        self.batch_size = max(1, int(batch_size))
        self.keep_outputs = keep_outputs
        self.outputs: dict[int, Any] = {}
        self.samples_done = 0
        self.samples_skipped = 0
        self.stop = stop
        self.on_done = on_done
        self.tokens_out: list[float] = []
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._threaded = scenario in ("server", "offline")
        self._queue: queue.Queue[Any] = queue.Queue()
        self._threads: list[threading.Thread] = []
        if self._threaded:
            for k in range(max(1, workers)):
                t = threading.Thread(target=self._worker, name=f"inferlca-sut-{k}", daemon=True)
                t.start()
                self._threads.append(t)
        # the plain path (SingleStream/MultiStream, performance mode, not streaming) is kept
        # short: it is on LoadGen's measured path for every query
        self._fast = not self._threaded and not keep_outputs and not workload.streaming
        self._response = self.lg.QuerySampleResponse
        self._complete = self.lg.QuerySamplesComplete
        self._stop_is_set = stop.is_set if stop is not None else (lambda: False)
        self._run = workload.run
        issue = self._process_fast if self._fast else self.issue_queries
        self.handle = self.lg.ConstructSUT(issue, self.flush_queries)

    # -- LoadGen callbacks --------------------------------------------------------------------
    def issue_queries(self, query_samples: Sequence[Any]) -> None:
        if not self._threaded:
            if self._fast:
                self._process_fast(query_samples)
            else:
                self._process(list(query_samples))
            return
        samples = list(query_samples)
        for k in range(0, len(samples), self.batch_size):
            self._queue.put(samples[k:k + self.batch_size])

    def flush_queries(self) -> None:
        """LoadGen calls this at the end of the test; work is already complete or queued."""

    # -- work ---------------------------------------------------------------------------------
    def _worker(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            self._process(item)

    def _process_fast(self, samples: Sequence[Any]) -> None:
        """LoadGen's issue callback on the plain path (every name it needs is pre-bound; one
        sample, SingleStream's case, avoids building lists by comprehension)."""
        response = self._response
        if self._stop_is_set():
            self._complete([response(s.id, 0, 0) for s in samples])
            self.samples_skipped += len(samples)
            return
        if len(samples) == 1:
            one = samples[0]
            try:
                self._run([one.index])
            except BaseException as exc:  # noqa: BLE001 - LoadGen must still hear of it
                self.errors.append(exc)
                self._complete([response(one.id, 0, 0)])
                return
            self._complete([response(one.id, 0, 0)])
            self.samples_done += 1  # single thread (LoadGen's issue thread): no lock
            if self.on_done is not None:
                self.on_done(1)
            return
        try:
            self._run([s.index for s in samples])
        except BaseException as exc:  # noqa: BLE001 - LoadGen must still hear of every sample
            self.errors.append(exc)
            self._complete([response(s.id, 0, 0) for s in samples])
            return
        self._complete([response(s.id, 0, 0) for s in samples])
        self.samples_done += len(samples)
        if self.on_done is not None:
            self.on_done(len(samples))

    def _process(self, samples: list[Any]) -> None:
        lg = self.lg
        if self.stop is not None and self.stop.is_set():
            lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in samples])
            with self._lock:
                self.samples_skipped += len(samples)
            return
        try:
            if self.workload.streaming:
                for s in samples:
                    self._process_streaming(s)
                return
            indices = [s.index for s in samples]
            outputs = self.workload.run(indices)
        except BaseException as exc:  # noqa: BLE001 - LoadGen must still hear of every sample
            self.errors.append(exc)
            lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, 0, 0) for s in samples])
            return
        if self.keep_outputs:
            buffers = [_as_bytes(o) for o in outputs]
            responses = [lg.QuerySampleResponse(s.id, b.ctypes.data, b.nbytes)
                         for s, b in zip(samples, buffers)]
            with self._lock:
                for i, o in zip(indices, outputs):
                    self.outputs[i] = o
        else:
            responses = [lg.QuerySampleResponse(s.id, 0, 0) for s in samples]
        lg.QuerySamplesComplete(responses)
        with self._lock:
            self.samples_done += len(samples)
        if self.on_done is not None:
            self.on_done(len(samples))

    def _process_streaming(self, sample: Any) -> None:
        lg = self.lg
        sent: list[np.ndarray | None] = []

        def first_token(partial: Any) -> None:
            if sent:
                return
            buf = _as_bytes(partial) if self.keep_outputs else None
            sent.append(buf)
            resp = (lg.QuerySampleResponse(sample.id, buf.ctypes.data, buf.nbytes)
                    if buf is not None else lg.QuerySampleResponse(sample.id, 0, 0))
            lg.FirstTokenComplete([resp])

        result = self.workload.run_streaming(sample.index, first_token)
        if not sent:
            first_token(result.output)
        if self.keep_outputs:
            buf = _as_bytes(result.output)
            resp = lg.QuerySampleResponse(sample.id, buf.ctypes.data, buf.nbytes,
                                          int(result.n_tokens))
            with self._lock:
                self.outputs[sample.index] = result.output
        else:
            resp = lg.QuerySampleResponse(sample.id, 0, 0, int(result.n_tokens))
        lg.QuerySamplesComplete([resp])
        with self._lock:
            self.samples_done += 1
            self.tokens_out.append(float(result.n_tokens))
        if self.on_done is not None:
            self.on_done(1)

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the workers and free LoadGen's SUT handle."""
        for _ in self._threads:
            self._queue.put(_STOP)
        deadline = time.monotonic() + timeout_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads = []
        if self.handle is not None:
            self.lg.DestroySUT(self.handle)
            self.handle = None


class WorkloadQSL:
    """LoadGen's query sample library over a workload's samples (all held in memory)."""

    def __init__(self, workload: Workload, performance_count: int | None = None) -> None:
        self.lg = require("mlperf_loadgen", "core", "running LoadGen")
        total = int(workload.sample_count)
        perf = min(total, int(performance_count or total))
        self.handle = self.lg.ConstructQSL(total, perf, self._load, self._unload)

    def _load(self, indices: Sequence[int]) -> None:
        """Samples are prepared in memory before the test."""

    def _unload(self, indices: Sequence[int]) -> None:
        """Nothing to free: samples stay in memory for the next repetition."""

    def close(self) -> None:
        if self.handle is not None:
            self.lg.DestroyQSL(self.handle)
            self.handle = None
