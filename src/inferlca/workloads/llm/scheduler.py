"""Batching of concurrent requests for the decode engine, static or continuous, on one worker
thread."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.spec import BATCHING_MODES
from inferlca.workloads.llm.engine import DecodeEngine, RunningBatch
from inferlca.workloads.llm.request import GenRequest, GenResult

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["BATCHING_MODES", "BatchScheduler"]

log = logging.getLogger(__name__)


class BatchScheduler:
    """Batching of concurrent requests on one worker thread, static or continuous.

    :meth:`submit` never blocks (LoadGen's issue thread must not wait for the model). Requests
    submitted in one call stay together, oldest first.

    * ``static`` (default): when the engine is free, the waiting requests (at most ``max_batch``;
      a larger group is split) form one :meth:`DecodeEngine.generate` batch; requests that arrive
      while it runs wait for the next batch.
    * ``continuous``: before every decode step, waiting requests (up to ``max_batch`` rows in all)
      are prefilled together and joined to the running batch (:meth:`DecodeEngine.merge`);
      finished rows leave it (:meth:`DecodeEngine.compact`). A new request waits one decode step,
      not a whole batch.

    Args:
        engine: the decode engine.
        max_batch: most requests per batch (>= 1).
        on_first_token: called ``(request, token_id, t_s)`` for every request's first token.
        on_done: called with each :class:`GenResult`.
        on_error: called ``(unfinished requests, exception)`` when a batch fails, so a driver
            can still answer them; the first error is kept in :attr:`error`.
        mode: ``static`` or ``continuous``.
    """

    def __init__(self, engine: DecodeEngine, max_batch: int = 8,
                 on_first_token: Callable[[GenRequest, int, float], None] | None = None,
                 on_done: Callable[[GenResult], None] | None = None,
                 on_error: Callable[[list[GenRequest], BaseException], None] | None = None,
                 mode: str = "static") -> None:
        if not isinstance(max_batch, int) or max_batch < 1:
            raise InvalidValueError(f"max-batch must be an integer >= 1, got {max_batch!r}")
        if mode not in BATCHING_MODES:
            raise UnknownNameError("batching mode", mode, BATCHING_MODES)
        self.engine = engine
        self.max_batch = max_batch
        self.mode = mode
        self.on_first_token = on_first_token
        self.on_done = on_done
        self.on_error = on_error
        self._waiting: list[GenRequest] = []
        self._cond = threading.Condition()
        self._stop = False
        self._running = 0
        self._thread: threading.Thread | None = None
        #: requests admitted together: one entry per static batch or per continuous admission
        self.batch_sizes: list[int] = []
        self.error: BaseException | None = None

    def start(self) -> Self:
        self._stop = False
        work = self._work_continuous if self.mode == "continuous" else self._work
        self._thread = threading.Thread(target=work, name="inferlca-llm-batcher", daemon=True)
        self._thread.start()
        return self

    def submit(self, *requests: GenRequest) -> None:
        """Queue requests (one arrival group); returns at once."""
        with self._cond:
            self._waiting.extend(requests)
            self._cond.notify_all()

    def skip_waiting(self) -> list[GenRequest]:
        """Remove and return the requests not yet started (Ctrl-C: answer them without the model)."""
        with self._cond:
            left, self._waiting = self._waiting, []
            self._cond.notify_all()
        return left

    def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Block until every submitted request has finished (or ``timeout_s`` passed)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._waiting and self._running == 0, timeout_s)

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _done(self, finished: list[GenResult]) -> Callable[[GenResult], None]:
        def done(res: GenResult) -> None:
            finished.append(res)
            if self.on_done is not None:
                self.on_done(res)
        return done

    def _fail(self, requests: Sequence[GenRequest], finished: list[GenResult], exc: BaseException) -> None:
        self.error = self.error or exc
        log.exception("llm-generate batch failed")
        left = [r for r in requests
                if not any(f.index == r.index and f.tag is r.tag for f in finished)]
        if self.on_error is not None:
            self.on_error(left, exc)
        for r in left:
            if r.on_error is not None:
                r.on_error(r, exc)

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._waiting or self._stop)
                if not self._waiting:
                    return
                batch = self._waiting[:self.max_batch]
                del self._waiting[:self.max_batch]
                self._running = len(batch)
            self.batch_sizes.append(len(batch))
            finished: list[GenResult] = []
            try:
                self.engine.generate(batch, self.on_first_token, self._done(finished))
            except BaseException as exc:  # noqa: BLE001 - kept for the caller; the worker must not die
                self._fail(batch, finished, exc)
            with self._cond:
                self._running = 0
                self._cond.notify_all()

    def _work_continuous(self) -> None:
        engine = self.engine
        running: RunningBatch | None = None
        while True:
            rows = running.rows if running is not None else 0
            with self._cond:
                if rows == 0:
                    self._cond.wait_for(lambda: self._waiting or self._stop)
                    if not self._waiting:
                        return
                new = self._waiting[:self.max_batch - rows]
                del self._waiting[:len(new)]
                self._running = rows + len(new)
            finished: list[GenResult] = []
            done = self._done(finished)
            admitted: list[GenRequest] = list(running.requests) if running is not None else []
            try:
                if new:
                    self.batch_sizes.append(len(new))
                    admitted += new
                    fresh = engine.prefill(new, self.on_first_token, done)
                    running = engine.merge(running, fresh) if running is not None else fresh
                    engine.compact(running)  # requests that wanted a single token
                if running is not None and running.rows:
                    engine.decode_step(running, done)
                    engine.compact(running)
            except BaseException as exc:  # noqa: BLE001 - kept for the caller; the worker must not die
                self._fail(admitted, finished, exc)
                running = None
            with self._cond:
                self._running = running.rows if running is not None else 0
                self._cond.notify_all()

