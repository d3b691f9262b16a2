"""Impacts per request and per 1,000 output tokens, for decoder LLM runs.

A repetition's impact (``Impact.to_dict()``: gCO2e for the whole repetition, each a
``{"value", "low", "high"}`` interval) is divided by its requests and by its output tokens:

* ``per_request[k] = impact[k] / requests``
* ``per_1k_tokens[k] = impact[k] x 1000 / tokens_out`` (``tokens_out`` = all output tokens)

for ``k`` in ``use_gco2e``, ``embodied_gco2e``, ``total_gco2e``. Every bound is scaled alike
(the divisors are counts, exact).
"""

from __future__ import annotations

from typing import Any


def token_impacts(impact: dict[str, Any], total_tokens_out: float, requests: float) -> dict[str, Any]:
    """GWP per request and per 1,000 output tokens, use and embodied, from an ``Impact.to_dict()``.

    Scales the ``{"value","low","high"}`` dicts of ``use_gco2e``, ``embodied_gco2e`` and
    ``total_gco2e`` (gCO2e for the whole repetition) by ``1/requests`` and ``1000/tokens_out``.
    """
    out: dict[str, Any] = {"per_request": {}, "per_1k_tokens": {}}
    for key in ("use_gco2e", "embodied_gco2e", "total_gco2e"):
        v = impact.get(key)
        if not isinstance(v, dict):
            continue
        if requests > 0:
            out["per_request"][key] = {b: float(v[b]) / requests for b in ("value", "low", "high")}
        if total_tokens_out > 0:
            out["per_1k_tokens"][key] = {b: float(v[b]) * 1000.0 / total_tokens_out
                                         for b in ("value", "low", "high")}
    return out

