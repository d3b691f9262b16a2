"""The engine's request and result types: a request (prompt, tokens wanted, arrival), a finished
request with every token's timestamp, and one engine step (a forward pass)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class GenRequest:
    """A request for the engine: prompt tokens, how many to generate, when it arrived (clock s)."""

    index: int
    input_ids: list[int]
    max_new_tokens: int
    arrival_s: float
    tag: Any = None
    on_first_token: Callable[[GenRequest, int, float], None] | None = None
    on_done: Callable[[GenResult], None] | None = None
    on_error: Callable[[GenRequest, BaseException], None] | None = None


@dataclass
class GenResult:
    """One finished request with every token's timestamp (seconds on the engine's clock)."""

    index: int
    tokens_in: int
    output_ids: list[int]
    arrival_s: float
    start_s: float
    token_times_s: list[float]
    tag: Any = None
    #: a finished request never failed (a failed batch calls ``on_error`` instead)
    error_kind = None

    @property
    def tokens_out(self) -> int:
        return len(self.output_ids)

    @property
    def first_token_s(self) -> float:
        return self.token_times_s[0]

    @property
    def end_s(self) -> float:
        return self.token_times_s[-1]

    @property
    def ttft_s(self) -> float:
        """Time to first token: arrival to first token (queueing included)."""
        return self.first_token_s - self.arrival_s

    @property
    def e2e_s(self) -> float:
        """End-to-end latency: arrival to last token."""
        return self.end_s - self.arrival_s

    @property
    def tpot_s(self) -> float | None:
        """Time per output token after the first (MLPerf): ``(end - first) / (tokens_out - 1)``."""
        if self.tokens_out < 2:
            return None
        return (self.end_s - self.first_token_s) / (self.tokens_out - 1)

    @property
    def tokens_per_s(self) -> float:
        """Output tokens over the end-to-end latency."""
        return self.tokens_out / self.e2e_s if self.e2e_s > 0 else math.inf


@dataclass
class Step:
    """One engine forward pass: its clock window, phase (``prefill``/``decode``) and batch size."""

    start_s: float
    end_s: float
    phase: str
    batch: int


