"""The per-class table of a mixed-traffic run (``results show``, ``inferlca run``, the HTML
report): one row per request class with its requests, tokens, attributed energy, tokens per
joule and latency percentiles (means over repetitions)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: (header, metric key, scale, digits) of the columns after ``class`` and ``kind``
COLUMNS: tuple[tuple[str, str, float, int], ...] = (
    ("requests ok", "requests_ok", 1.0, 6),
    ("failed", "requests_failed", 1.0, 6),
    ("truncated", "requests_truncated", 1.0, 6),
    ("tokens in", "tokens_in", 1.0, 7),
    ("tokens out", "tokens_out", 1.0, 7),
    ("energy J", "energy_j", 1.0, 3),
    ("share %", "energy_share", 100.0, 3),
    ("tokens/J", "tokens_per_j", 1.0, 3),
    ("GWP mgCO2e", "gwp_total_gco2e", 1e3, 3),
    ("mgCO2e / 1k tokens", "gwp_per_1k_tokens_gco2e", 1e3, 3),
    ("TTFT p50 ms", "ttft_p50_s", 1e3, 3),
    ("TTFT p99 ms", "ttft_p99_s", 1e3, 3),
    ("TPOT p50 ms", "tpot_p50_s", 1e3, 3),
    ("TPOT p99 ms", "tpot_p99_s", 1e3, 3),
    ("e2e p99 ms", "e2e_p99_s", 1e3, 3),
)


def run_classes(summary: Mapping[str, Any] | None,
                loadgens: Sequence[Mapping[str, Any] | None] = ()) -> dict[str, Any]:
    """The run's per-class summary: ``summary["classes"]``, else summarized from the stored
    repetitions' ``loadgen["traffic"]`` (a run closed without the runner's summary)."""
    found = (summary or {}).get("classes")
    if isinstance(found, dict) and found:
        return dict(found)
    if any(isinstance(lg, dict) and "traffic" in lg for lg in loadgens):
        from inferlca.loadgen.traffic_results import summarize_classes

        return summarize_classes([dict(lg) if lg is not None else None for lg in loadgens])
    return {}


def _cell(x: Any, scale: float, digits: int) -> str:
    if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x):
        return "-"
    v = x * scale
    if digits >= 6 or 1000 <= abs(v) < 1e7:  # counts, and large values without an exponent
        return f"{v:,.0f}" if abs(v - round(v)) < 1e-9 or abs(v) >= 1000 else f"{v:.3g}"
    return f"{v:.{digits}g}"


def class_rows(classes: dict[str, Any]) -> list[list[str]]:
    """``[class, kind, *cells]`` per class (means over repetitions), in stored order."""
    rows = []
    for name, c in classes.items():
        metrics = c.get("metrics") or {}
        cells = [_cell((metrics.get(key) or {}).get("mean"), scale, digits)
                 for _, key, scale, digits in COLUMNS]
        rows.append([str(name), str(c.get("kind") or "-"), *cells])
    return rows


def headers() -> list[str]:
    return ["class", "kind", *(h for h, _, _, _ in COLUMNS)]


def class_table(classes: dict[str, Any]) -> Any:
    """A rich table of :func:`class_rows`, transposed: one column per class, one row per figure
    (a run has a few classes and many figures, so it fits a terminal). None without classes."""
    if not classes:
        return None
    from rich.markup import escape
    from rich.table import Table

    t = Table(title="request classes (mixed traffic; energy attributed by token share per "
                    "trace step, GWP by energy share; means over repetitions)",
              title_justify="left")
    rows = class_rows(classes)
    t.add_column("figure")
    for row in rows:  # a long class name folds over lines, never cut ("batch-night…")
        t.add_column(escape(row[0]), justify="right", overflow="fold")
    for i, h in enumerate(headers()[1:], start=1):
        t.add_row(escape(h), *(escape(row[i]) for row in rows))
    return t
