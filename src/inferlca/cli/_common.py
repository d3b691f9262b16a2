"""Helpers shared by the CLI modules: output, JSON, parsing of uncertain options."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from rich.console import Console

from inferlca.errors import InvalidValueError
from inferlca.uncertainty import UValue

console = Console()
err_console = Console(stderr=True)


def _default(o: Any) -> Any:
    if isinstance(o, UValue):
        return o.to_dict()
    if hasattr(o, "to_dict"):
        return o.to_dict()
    import numpy as np  # a dependency; imported here so that the CLI starts without it

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=_default, allow_nan=False)


def print_json(obj: Any) -> None:
    """Write JSON for scripts: plain stdout, no rich markup or wrapping."""
    sys.stdout.write(dumps(obj) + "\n")
    sys.stdout.flush()


def positive_float(name: str, value: float | None, allow_zero: bool = False) -> float | None:
    """Check a numeric option: finite and > 0 (or >= 0)."""
    if value is None:
        return None
    if math.isnan(value) or math.isinf(value) or value < 0 or (value == 0 and not allow_zero):
        accepted = ">= 0" if allow_zero else "> 0"
        raise InvalidValueError(f"{name} must be a finite number {accepted}, got {value}")
    return value


def parse_uncertain(name: str, text: str | None, unit: str = "", minimum: float = 0.0,
                    allow_equal: bool = False) -> UValue | None:
    """Parse ``1.5`` or ``1.1..1.6`` from a command-line option into a :class:`UValue`."""
    if text is None:
        return None
    try:
        v = UValue.parse(text, unit=unit)
    except InvalidValueError as exc:
        raise InvalidValueError(f"{name}: {exc}") from None
    ok = (v.low >= minimum) if allow_equal else (v.low > minimum)
    if not ok:
        rel = ">=" if allow_equal else ">"
        raise InvalidValueError(f"{name} must be {rel} {minimum:g}, got {text!r}")
    return v
