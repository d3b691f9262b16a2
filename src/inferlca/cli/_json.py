"""JSON for scripts, written without rich (so that ``--json`` output starts fast)."""

from __future__ import annotations

import json
import sys
from typing import Any


def _default(o: Any) -> Any:
    if hasattr(o, "to_dict"):  # UValue and the library's records
        return o.to_dict()
    if hasattr(o, "tolist"):  # numpy arrays and scalars, without importing numpy here
        return o.tolist()
    if isinstance(o, (set, frozenset)):
        return list(o)
    return str(o)


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, default=_default, allow_nan=False)


def print_json(obj: Any) -> None:
    """Write JSON for scripts: plain stdout, no rich markup or wrapping."""
    sys.stdout.write(dumps(obj) + "\n")
    sys.stdout.flush()
