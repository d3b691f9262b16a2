"""The decode engine of ``llm-generate``: batched prefill, then one cached forward pass per
token, every token timestamped (see :mod:`inferlca.workloads.llm`)."""

from __future__ import annotations

import inspect
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from inferlca.errors import InvalidValueError, UnknownNameError, require
from inferlca.spec import SAMPLING_MODES
from inferlca.workloads.llm.models import context_length, eos_ids
from inferlca.workloads.llm.request import GenRequest, GenResult, Step

__all__ = ["SAMPLING_MODES", "DecodeEngine", "DecodeSettings", "RunningBatch"]


@dataclass
class DecodeSettings:
    """How tokens are chosen.

    Attributes:
        sampling: ``greedy`` or ``sample``.
        temperature: softmax temperature for ``sample`` (> 0).
        top_k: keep the k most likely tokens for ``sample`` (0 = all).
        seed: base seed; request ``i`` samples from ``torch.Generator`` seeded ``seed + i``.
        force_length: mask end-of-sequence so every request yields exactly ``max_new_tokens``.
    """

    sampling: str = "greedy"
    temperature: float = 1.0
    top_k: int = 0
    seed: int = 0
    force_length: bool = True

    def validate(self) -> DecodeSettings:
        if self.sampling not in SAMPLING_MODES:
            raise UnknownNameError("sampling mode", self.sampling, SAMPLING_MODES)
        if not (self.temperature > 0 and math.isfinite(self.temperature)):
            raise InvalidValueError(f"temperature must be a finite number > 0, got {self.temperature}")
        if not isinstance(self.top_k, int) or self.top_k < 0:
            raise InvalidValueError(f"top-k must be an integer >= 0, got {self.top_k!r}")
        return self


class DecodeEngine:
    """Our decode loop: batched prefill, then one cached forward pass per token.

    Args:
        model: a transformers causal LM (eval mode).
        settings: token choice (:class:`DecodeSettings`).
        pad_token_id: id used for left padding (masked out, its value does not matter).
        clock: a monotonic clock in seconds (``time.monotonic`` by default, the clock of
            :class:`~inferlca.meters.sampler.Sampler`, so step windows map onto the trace with
            ``Sampler.to_trace_time``).
    """

    def __init__(self, model: Any, settings: DecodeSettings | None = None, pad_token_id: int = 0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.torch = require("torch", "torch", "the llm-generate workload")
        self.model = model
        self.settings = (settings or DecodeSettings()).validate()
        self.pad_token_id = pad_token_id
        self.clock = clock
        self.eos = eos_ids(model)
        self.n_positions = context_length(model)
        self.steps: list[Step] = []
        self._lock = threading.Lock()
        # the KV cache's keyword and output field: ``cache`` from transformers 5.x (where
        # ``past_key_values`` is deprecated, with a warning at each run), before that
        # ``past_key_values``
        self._cache_kw = ("cache" if "cache" in inspect.signature(model.forward).parameters
                          else "past_key_values")

    def reset_steps(self) -> list[Step]:
        """Return the recorded steps and start a new list."""
        with self._lock:
            steps, self.steps = self.steps, []
        return steps

    def _choose(self, logits: Any, generators: list[Any]) -> Any:
        torch = self.torch
        if self.settings.force_length and self.eos:
            logits[:, self.eos] = -math.inf
        if self.settings.sampling == "greedy":
            return logits.argmax(dim=-1)
        scaled = logits / self.settings.temperature
        k = self.settings.top_k
        if 0 < k < scaled.shape[-1]:
            kth = torch.topk(scaled, k, dim=-1).values[:, -1:]
            scaled = scaled.masked_fill(scaled < kth, -math.inf)
        probs = torch.softmax(scaled, dim=-1)
        picks = [torch.multinomial(probs[i], 1, generator=generators[i]) for i in range(probs.shape[0])]
        return torch.cat(picks)

    def generate(self, requests: Sequence[GenRequest],
                 on_first_token: Callable[[GenRequest, int, float], None] | None = None,
                 on_done: Callable[[GenResult], None] | None = None) -> list[GenResult]:
        """Generate for one static batch; returns results in the order of ``requests``.

        ``on_first_token(request, token_id, t_s)`` runs as soon as the prefill has produced each
        request's first token; ``on_done(result)`` runs at the step where a request finishes.
        A request's own ``on_first_token``/``on_done`` run after these. Finished requests stay
        in the batch (their rows are computed and ignored) until the longest one is done.
        """
        if not requests:
            return []
        batch = self.prefill(requests, on_first_token, on_done)
        while batch.active:
            self.decode_step(batch, on_done)
        return [r for r in batch.results if r is not None]

    def check(self, requests: Sequence[GenRequest]) -> None:
        """Refuse empty prompts and prompts that do not fit the context with their new tokens."""
        for r in requests:
            if not r.input_ids:
                raise InvalidValueError(f"request {r.index} has an empty prompt")
            if len(r.input_ids) + r.max_new_tokens > self.n_positions:
                raise InvalidValueError(
                    f"request {r.index}: {len(r.input_ids)} prompt tokens + {r.max_new_tokens} new "
                    f"tokens exceed the model's context of {self.n_positions}")

    def prefill(self, requests: Sequence[GenRequest],
                on_first_token: Callable[[GenRequest, int, float], None] | None = None,
                on_done: Callable[[GenResult], None] | None = None) -> RunningBatch:
        """One forward pass over the left-padded prompts: the KV cache and every first token."""
        torch = self.torch
        self.check(requests)
        n = len(requests)
        lengths = [len(r.input_ids) for r in requests]
        width = max(lengths)
        ids = torch.full((n, width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for i, r in enumerate(requests):
            ids[i, width - lengths[i]:] = torch.tensor(r.input_ids, dtype=torch.long)
            mask[i, width - lengths[i]:] = 1
        position = (mask.cumsum(-1) - 1).clamp(min=0)
        generators = []
        if self.settings.sampling == "sample":
            for r in requests:
                g = torch.Generator()
                g.manual_seed(self.settings.seed + r.index)
                generators.append(g)
        batch = RunningBatch(list(requests), self.clock(), generators)
        with torch.inference_mode():
            t0 = self.clock()
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=position, use_cache=True)
            nxt = self._choose(out.logits[:, -1, :].float(), generators)
            tokens = nxt.tolist()  # synchronises: the tokens exist now
            t1 = self.clock()
        with self._lock:
            self.steps.append(Step(t0, t1, "prefill", n))
        past = getattr(out, self._cache_kw)
        batch.past, batch.mask, batch.pos, batch.nxt = past, mask, position[:, -1:], nxt
        for i, tok in enumerate(tokens):
            if on_first_token is not None:
                on_first_token(requests[i], int(tok), t1)
            own_first = requests[i].on_first_token
            if own_first is not None:
                own_first(requests[i], int(tok), t1)
        self._record(batch, tokens, t1, on_done)
        return batch

    def decode_step(self, batch: RunningBatch, on_done: Callable[[GenResult], None] | None = None) -> None:
        """One cached forward pass: the next token of every row of ``batch``."""
        torch = self.torch
        n = batch.rows
        with torch.inference_mode():
            t0 = self.clock()
            batch.mask = torch.cat([batch.mask, torch.ones((n, 1), dtype=torch.long)], dim=1)
            batch.pos = batch.pos + 1
            out = self.model(input_ids=batch.nxt.view(n, 1), attention_mask=batch.mask,
                             position_ids=batch.pos, use_cache=True,
                             **{self._cache_kw: batch.past})
            batch.past = getattr(out, self._cache_kw)
            batch.nxt = self._choose(out.logits[:, -1, :].float(), batch.generators)
            tokens = batch.nxt.tolist()
            t1 = self.clock()
        with self._lock:
            self.steps.append(Step(t0, t1, "decode", batch.active))
        self._record(batch, tokens, t1, on_done)

    def _record(self, batch: RunningBatch, tokens: list[int], t_s: float,
                on_done: Callable[[GenResult], None] | None) -> None:
        for i, tok in enumerate(tokens):
            if batch.done[i]:
                continue
            batch.outputs[i].append(int(tok))
            batch.times[i].append(t_s)
            req = batch.requests[i]
            if (len(batch.outputs[i]) >= req.max_new_tokens
                    or (not self.settings.force_length and tok in self.eos)):
                batch.done[i] = True
                res = GenResult(req.index, len(req.input_ids), batch.outputs[i], req.arrival_s,
                                batch.start_s[i], batch.times[i], req.tag)
                batch.results[i] = res
                if on_done is not None:
                    on_done(res)
                own_done = req.on_done
                if own_done is not None:
                    own_done(res)

    def compact(self, batch: RunningBatch) -> None:
        """Drop finished rows from ``batch`` (cache, mask, positions, next tokens), then the
        leading cache columns that are padding for every remaining row, so attention never runs
        over more context than the longest live request holds."""
        keep = [i for i, d in enumerate(batch.done) if not d]
        if len(keep) == batch.rows:
            return
        idx = self.torch.tensor(keep, dtype=self.torch.long)
        if keep:
            batch.past.batch_select_indices(idx)
            batch.mask, batch.pos, batch.nxt = batch.mask[idx], batch.pos[idx], batch.nxt[idx]
            live = batch.mask.any(dim=0).nonzero()
            start = int(live[0]) if live.numel() else 0
            if start > 0:
                batch.mask = batch.mask[:, start:]
                for layer in batch.past.layers:
                    layer.keys = layer.keys[:, :, start:, :]
                    layer.values = layer.values[:, :, start:, :]
        batch.select(keep)

    def merge(self, old: RunningBatch, new: RunningBatch) -> RunningBatch:
        """Join a freshly prefilled batch to a running one (continuous batching).

        The shorter of the two KV caches and masks is padded on the left (masked-out zeros), so
        every row keeps its own positions; rows are then concatenated.
        """
        torch = self.torch
        if old.rows == 0:
            return new
        t_old, t_new = old.mask.shape[1], new.mask.shape[1]
        width = max(t_old, t_new)

        def pad(x: Any, t: int, dim: int) -> Any:
            if t == width:
                return x
            shape = list(x.shape)
            shape[dim] = width - t
            return torch.cat([torch.zeros(shape, dtype=x.dtype), x], dim=dim)

        for lo, ln in zip(old.past.layers, new.past.layers):
            lo.keys = torch.cat([pad(lo.keys, t_old, 2), pad(ln.keys, t_new, 2)], dim=0)
            lo.values = torch.cat([pad(lo.values, t_old, 2), pad(ln.values, t_new, 2)], dim=0)
        old.mask = torch.cat([pad(old.mask, t_old, 1), pad(new.mask, t_new, 1)], dim=0)
        old.pos = torch.cat([old.pos, new.pos], dim=0)
        old.nxt = torch.cat([old.nxt, new.nxt], dim=0)
        old.extend(new)
        return old


class RunningBatch:
    """The state of a batch in the engine: its requests, tokens so far, KV cache and masks."""

    def __init__(self, requests: list[GenRequest], start_s: float, generators: list[Any]) -> None:
        n = len(requests)
        self.requests = requests
        self.start_s = [start_s] * n
        self.generators = generators
        self.outputs: list[list[int]] = [[] for _ in range(n)]
        self.times: list[list[float]] = [[] for _ in range(n)]
        self.done = [False] * n
        self.results: list[GenResult | None] = [None] * n
        self.past: Any = None
        self.mask: Any = None
        self.pos: Any = None
        self.nxt: Any = None

    @property
    def rows(self) -> int:
        return len(self.requests)

    @property
    def active(self) -> int:
        return sum(1 for d in self.done if not d)

    def select(self, keep: list[int]) -> None:
        for name in ("requests", "start_s", "outputs", "times", "done", "results"):
            seq = getattr(self, name)
            setattr(self, name, [seq[i] for i in keep])
        if self.generators:
            self.generators = [self.generators[i] for i in keep]

    def extend(self, other: RunningBatch) -> None:
        for name in ("requests", "start_s", "outputs", "times", "done", "results", "generators"):
            getattr(self, name).extend(getattr(other, name))

