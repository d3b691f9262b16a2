"""The per-class table of a mixed run in an 80-column terminal."""

from __future__ import annotations

import io

from rich.console import Console

from inferlca.report.classes import class_table

NAMES = ("interactive-chat", "api_stream", "batch-nightly", "d", "e")


def _classes() -> dict:
    m = {"requests_ok": 2.0, "energy_j": 0.0804, "energy_share": 0.127, "tokens_per_j": 56.3,
         "ttft_p50_s": 0.0563, "e2e_p99_s": 0.0579}
    return {n: {"kind": "offline", "metrics": {k: {"mean": v} for k, v in m.items()}}
            for n in NAMES}


def test_class_names_are_never_cut_at_80_columns():
    """Regression: five classes at 80 columns showed "interactive-…" and "batch-night…", so two
    classes sharing a prefix could not be told apart."""
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(class_table(_classes()))
    text = out.getvalue()
    assert "…" not in text, text
    assert max(len(ln) for ln in text.splitlines()) <= 80
    # the header lines, column by column: each class name whole (folded over lines at most)
    header = [ln.split("┃")[1:-1] for ln in text.splitlines() if ln.startswith("┃")]
    columns = ["".join(line[i].strip() for line in header) for i in range(len(header[0]))]
    assert columns == ["figure", *NAMES], text
