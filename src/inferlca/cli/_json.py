"""JSON for scripts, written without rich (so that ``--json`` output starts fast)."""

from __future__ import annotations

import json
import sys
from typing import Any


def _default(o: Any) -> Any:
    if hasattr(o, "to_dict"):  # UValue and the library's records
        return o.to_dict()
    if type(o).__module__ == "numpy":
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
