"""Token metrics of ``llm-generate`` (store contract keys): per-request percentiles of time to
first token and time per output token, tokens per request, energy per output token and the
energies of the prefill and decode steps."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from inferlca.stats import loadgen_percentile
from inferlca.traces.energy import phase_energies_from_steps
from inferlca.traces.trace import PowerTrace
from inferlca.workloads.llm.request import GenResult, Step


def _pct(values: Sequence[float], q: float) -> float:
    """LoadGen's percentile rule (as for query latencies), ``q`` in percent."""
    return loadgen_percentile(np.asarray(values, dtype=float), q / 100.0)


def request_metrics(results: Sequence[GenResult]) -> dict[str, float]:
    """Token metrics over finished requests (contract keys; per request; seconds, tokens).

    ``tokens_in``/``tokens_out`` are the mean tokens per request (exact integers when every
    request has the same length; the totals are these times ``samples``), as the estimator gives
    them for one query. ``ttft_*`` and ``tpot_*`` are percentiles over requests (TPOT only over
    requests with at least two tokens), by LoadGen's rule (sorted value at index ``floor(n * p)``)
    so they compare with its summary and with ``latency_p*_s``. ``tokens_per_s`` is the mean over
    requests of output tokens / end-to-end latency (a user's view of speed).
    """
    if not results:
        return {}
    n = len(results)
    ttft = [r.ttft_s for r in results]
    tpot = [t for t in (r.tpot_s for r in results) if t is not None]
    speeds = [r.tokens_per_s for r in results if r.e2e_s > 0]
    m = {
        "tokens_in": math.fsum(r.tokens_in for r in results) / n,
        "tokens_out": math.fsum(r.tokens_out for r in results) / n,
        "ttft_p50_s": _pct(ttft, 50),
        "ttft_p99_s": _pct(ttft, 99),
    }
    if tpot:
        m["tpot_p50_s"] = _pct(tpot, 50)
        m["tpot_p99_s"] = _pct(tpot, 99)
    if speeds:
        m["tokens_per_s"] = math.fsum(speeds) / len(speeds)
    return m


def generation_metrics(results: Sequence[GenResult], *, energy_compute_j: float | None = None,
                       trace: PowerTrace | None = None, steps: Sequence[Step] = (),
                       clock_offset_s: float = 0.0) -> dict[str, float]:
    """All decoder-LLM metric keys of a repetition (see docs/CONTRACTS.md).

    Args:
        results: every finished request.
        energy_compute_j: energy of the compute phase (J); gives ``energy_per_token_j`` =
            ``energy_compute_j / total output tokens``, so energy per token x output tokens per
            request x requests = compute energy.
        trace: the power trace, for prefill/decode energies from ``steps``.
        steps: the engine's steps (clock seconds); ``clock_offset_s`` maps them to trace time.
    """
    m = request_metrics(results)
    if not m:
        return m
    total_out = sum(r.tokens_out for r in results)
    if energy_compute_j is not None and math.isfinite(energy_compute_j) and total_out > 0:
        m["energy_per_token_j"] = energy_compute_j / total_out
    if trace is not None and steps:
        m.update(phase_energies_from_steps(trace, steps, clock_offset_s,
                                            phases=("prefill", "decode")))
    return m

