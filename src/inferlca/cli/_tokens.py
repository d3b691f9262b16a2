"""Rows and options for decoder LLM runs (``llm-generate``), shared by ``run`` and ``compare``.

Token metrics use the store contract keys (``tokens_in``, ``tokens_out``, ``ttft_p50_s``...);
GWP per request and per 1,000 output tokens come from the repetition impact's ``tokens`` entry
(:func:`inferlca.lca.tokens.token_impacts`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inferlca.errors import InvalidValueError, UnknownNameError
from inferlca.spec import (
    BATCHING_MODES,
    OVERFLOW_POLICIES,
    SAMPLING_MODES,
    LLMOptions,
    parse_prompt_len,
)

#: (label, metric key, scale) of the token rows, in display order.
TOKEN_ROWS: tuple[tuple[str, str, float], ...] = (
    ("tokens in / request", "tokens_in", 1.0),
    ("tokens out / request", "tokens_out", 1.0),
    ("time to first token p50 (ms)", "ttft_p50_s", 1e3),
    ("time to first token p99 (ms)", "ttft_p99_s", 1e3),
    ("time per output token p50 (ms)", "tpot_p50_s", 1e3),
    ("time per output token p99 (ms)", "tpot_p99_s", 1e3),
    ("output tokens / s (per request)", "tokens_per_s", 1.0),
    ("energy / request (J, load + compute)", "energy_per_request_j", 1.0),
    ("energy / output token (mJ, compute)", "energy_per_token_j", 1e3),
    ("energy: prefill steps (J)", "energy_prefill_j", 1.0),
    ("energy: decode steps (J)", "energy_decode_j", 1.0),
)

TOKEN_METRIC_KEYS = tuple(k for _, k, _ in TOKEN_ROWS)


def has_tokens(summary: dict[str, Any]) -> bool:
    """True when a run summary holds decoder-LLM metrics."""
    return "tokens_out" in (summary.get("metrics") or {})


def token_rows(summary: dict[str, Any], metric_cell: Callable[..., Any],
               interval_cell: Callable[..., Any], *, device_known: bool = True,
               unknown_cells: Any = None) -> list[tuple[str, Any]]:
    """``(label, cells)`` rows for a run summary; empty when the run generated no tokens.

    Args:
        summary: the run summary (``metrics`` and ``impact`` as in docs/CONTRACTS.md).
        metric_cell: ``metric_cell(summary, key, scale)`` formats a metric over repetitions.
        interval_cell: ``interval_cell({"value","low","high"}, scale)`` formats an interval.
        The cells are whatever these two return (the ``run`` table's column cells).
        device_known: False for a device the catalog lacks: its embodied share is unknown, not
            zero; that row gets ``unknown_cells`` and "total" reads "use only".
    """
    if not has_tokens(summary):
        return []
    rows = [(label, metric_cell(summary, key, scale)) for label, key, scale in TOKEN_ROWS
            if key in (summary.get("metrics") or {})]
    tokens = ((summary.get("impact") or {}).get("tokens") or {})
    per_1k = tokens.get("per_1k_tokens") or {}
    per_req = tokens.get("per_request") or {}
    total = "total" if device_known else "use only"
    for part, key in (("use", "use_gco2e"), ("embodied", "embodied_gco2e"), (total, "total_gco2e")):
        if key in per_1k:
            cells = (unknown_cells if key == "embodied_gco2e" and not device_known
                     else interval_cell(per_1k[key], 1e3))
            rows.append((f"GWP / 1,000 tokens: {part} (mgCO2e)", cells))
    if "total_gco2e" in per_req:
        rows.append((f"GWP / request: {total} (mgCO2e)", interval_cell(per_req["total_gco2e"], 1e3)))
    return rows


def llm_options(sampling: str | None, temperature: float | None, top_k: int | None,
                prompt_len: str | None, prompt_overflow: str | None,
                max_batch: int | None, batching: str | None = None) -> LLMOptions:
    """``RunSpec.llm`` from the ``llm-generate`` options given (None = default)."""
    given: dict[str, Any] = {}
    if sampling is not None:
        if sampling not in SAMPLING_MODES:
            raise UnknownNameError("sampling", sampling, SAMPLING_MODES,
                                   hint=f"(accepted: {', '.join(SAMPLING_MODES)})",
                                   param="sampling")
        given["sampling"] = sampling
    if temperature is not None:
        if not (temperature > 0 and temperature < float("inf")):
            raise InvalidValueError(f"--temperature must be a finite number > 0, got {temperature}")
        given["temperature"] = float(temperature)
    if top_k is not None:
        if top_k < 0:
            raise InvalidValueError(f"--top-k must be an integer >= 0 (0 = all tokens), got {top_k}")
        given["top_k"] = int(top_k)
    if prompt_len is not None:
        parse_prompt_len(prompt_len)
        given["prompt_len"] = prompt_len
    if prompt_overflow is not None:
        if prompt_overflow not in OVERFLOW_POLICIES:
            raise UnknownNameError("prompt_overflow", prompt_overflow, OVERFLOW_POLICIES,
                                   hint=f"(accepted: {', '.join(OVERFLOW_POLICIES)})",
                                   param="prompt_overflow")
        given["prompt_overflow"] = prompt_overflow
    if max_batch is not None:
        if max_batch < 1:
            raise InvalidValueError(f"--max-batch must be an integer >= 1, got {max_batch}")
        given["max_batch"] = int(max_batch)
    if batching is not None:
        if batching not in BATCHING_MODES:
            raise UnknownNameError("batching", batching, BATCHING_MODES,
                                   hint=f"(accepted: {', '.join(BATCHING_MODES)})",
                                   param="batching")
        given["batching"] = batching
    return LLMOptions(**given)
