"""Options shared by the commands that read the results store (`results`, `export`, `store`)."""

from __future__ import annotations

import math
from typing import Any

from inferlca.uncertainty import UValue

STORE_HELP = ("The results store (SQLite file). Default: $INFERLCA_STORE, else ./inferlca.db.")


def fmt_number(x: float | None, digits: int = 3) -> str:
    """A number for tables: 3 significant digits, '-' when missing, 'nan' kept visible."""
    if x is None:
        return "-"
    if isinstance(x, float) and math.isnan(x):
        return "nan"
    return UValue.exact(x).format(digits=digits)


def fmt_interval(d: Any, scale: float = 1.0, unit: str = "") -> str:
    """``{"value","low","high"}`` (times ``scale``) as ``v [lo - hi] unit``; '-' when missing."""
    if not isinstance(d, dict) or d.get("value") is None:
        return "-"
    try:
        v = UValue(float(d["value"]) * scale, float(d["low"]) * scale, float(d["high"]) * scale, unit)
    except Exception:  # noqa: BLE001 - a malformed stored figure prints as it is
        return str(d)
    return v.format()


STATUS_STYLE = {"complete": "green", "incomplete": "yellow", "failed": "red", "running": "cyan"}
