"""Thin framework hooks for the tracker: CUDA synchronisation, token timing for generation.

* :func:`torch_sync`: with ``track(..., sync="torch")`` every window edge waits for the queued
  CUDA work (``torch.cuda.synchronize``), so GPU work launched inside a window is not counted in
  the next one. Without torch or without CUDA it is a no-op (``None``); torch is imported lazily.
* :class:`TokenTimer`: a transformers streamer (``generate(..., streamer=timer)``) that records
  when the first and each later token arrived; :meth:`TokenTimer.stats` gives TTFT and TPOT
  (MLPerf's ``(end - first token) / (tokens - 1)``) and, with a tracker, counts the tokens.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

from inferlca.errors import UsageError


def torch_sync() -> Callable[[], None] | None:
    """``torch.cuda.synchronize`` when torch is importable and CUDA is available, else ``None``."""
    try:
        import torch
    except ImportError:
        return None
    try:
        if not torch.cuda.is_available():
            return None
    except Exception:  # noqa: BLE001 - a broken CUDA setup must not break the user's program
        return None
    return torch.cuda.synchronize


class TokenTimer:
    """Record token arrival times of one ``generate`` call (the transformers streamer protocol:
    ``put(ids)`` for the prompt, then once per new token, ``end()`` when done).

    Args:
        tracker: count ``tokens_in``/``tokens_out`` and one request into this tracker (default:
            the tracker of the running ``with track(...)``, if any) when generation ends.
        skip_prompt: the first ``put`` carries the prompt (as in transformers); not a token.

    After generation: ``ttft_s`` (start to first new token), ``tpot_s``, ``tokens_out``,
    ``token_times_s`` (seconds since start).
    """

    def __init__(self, tracker: Any = None, skip_prompt: bool = True) -> None:
        self.tracker = tracker
        self.skip_prompt = skip_prompt
        self.reset()

    def reset(self) -> None:
        """Ready for the next generation (the start time is now)."""
        self.start_s = time.monotonic()
        self.token_times_s: list[float] = []
        self.tokens_in = 0
        self._prompt_seen = not self.skip_prompt
        self.done = False

    def put(self, value: Any) -> None:
        now = time.monotonic()
        n = _count_tokens(value)
        if not self._prompt_seen:
            self._prompt_seen = True
            self.tokens_in = n
            return
        self.token_times_s.extend([now - self.start_s] * max(n, 1))

    def end(self) -> None:
        if self.done:
            return
        self.done = True
        tracker = self.tracker
        if tracker is None:
            from inferlca.tracker.context import current

            tracker = current()
        if tracker is not None and tracker.running:
            tracker.count(requests=1, tokens_in=self.tokens_in, tokens_out=self.tokens_out)

    @property
    def tokens_out(self) -> int:
        return len(self.token_times_s)

    @property
    def ttft_s(self) -> float | None:
        return self.token_times_s[0] if self.token_times_s else None

    @property
    def tpot_s(self) -> float | None:
        if len(self.token_times_s) < 2:
            return None
        return (self.token_times_s[-1] - self.token_times_s[0]) / (len(self.token_times_s) - 1)

    def stats(self) -> dict[str, float | int | None]:
        if not self.done:
            raise UsageError("TokenTimer: generation has not ended yet (pass it as streamer=)")
        return {"ttft_s": self.ttft_s, "tpot_s": self.tpot_s, "tokens_in": self.tokens_in,
                "tokens_out": self.tokens_out}


def _count_tokens(value: Any) -> int:
    """Tokens in a streamer ``put``: a tensor of ids (batch 1: its last dimension), a list."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        if len(shape) == 0:
            return 1
        if len(shape) > 1 and shape[0] != 1:
            raise UsageError("TokenTimer times one sequence at a time (batch size 1); got a "
                             f"batch of {shape[0]}")
        return int(shape[-1])
    if isinstance(value, (list, tuple)):
        return len(value)
    return 1


def torch_loaded() -> bool:
    """Whether torch is already imported (the tracker never imports it on its own)."""
    return "torch" in sys.modules
