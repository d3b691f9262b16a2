"""Rows and a warning line for runs that send requests to a server (``openai-endpoint``): how
many requests were answered and how many failed, by kind, shared by ``run`` and ``results show``.

The metric keys are the workload's (docs/serving.md): ``requests_ok``, ``requests_failed``,
``errors_timeout``, ``errors_http``, ``errors_refused``, ``errors_closed``, ``errors_protocol``,
``server_gone``; a run summary holds their mean over repetitions and the count ``n``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: failure kinds: (metric key, words)
FAILURE_KINDS = (("errors_timeout", "timeout"), ("errors_http", "HTTP error"),
                 ("errors_refused", "refused"), ("errors_closed", "closed mid-answer"),
                 ("errors_protocol", "not SSE JSON"))


def _total(metrics: dict[str, Any], key: str) -> int | None:
    """The metric summed over the repetitions that have it (mean x n), or None."""
    m = metrics.get(key)
    if not isinstance(m, dict) or m.get("mean") is None:
        return None
    return round(float(m["mean"]) * int(m.get("n") or 1))


def request_rows(summary: dict[str, Any], metric_cell: Callable[..., Any]
                 ) -> list[tuple[str, Any]]:
    """``(label, cells)`` rows: requests answered and failed per repetition, and each failure
    kind that occurred; empty for runs that send no requests."""
    metrics = summary.get("metrics") or {}
    if "requests_failed" not in metrics:
        return []
    rows = [("requests answered / repetition", metric_cell(summary, "requests_ok")),
            ("requests failed / repetition", metric_cell(summary, "requests_failed"))]
    for key, words in FAILURE_KINDS:
        if _total(metrics, key):
            rows.append((f"  failed: {words} / repetition", metric_cell(summary, key)))
    return rows


def failure_line(summary: dict[str, Any]) -> str | None:
    """One line when requests failed (counts over all repetitions, by kind), else None."""
    metrics = summary.get("metrics") or {}
    failed = _total(metrics, "requests_failed")
    if not failed:
        return None
    ok = _total(metrics, "requests_ok") or 0
    kinds = ", ".join(f"{words} {n}" for key, words in FAILURE_KINDS
                      if (n := _total(metrics, key)))
    line = (f"{failed} of {failed + ok} requests failed ({kinds}); latencies and token figures "
            "are those of the answered requests")
    if _total(metrics, "server_gone"):
        line += "; the server went away during the run"
    return line
