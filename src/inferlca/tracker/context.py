"""The tracker's context variables: the windows open in the running code path and the tracker of
the innermost ``with track(...)``. A module of its own so that hooks can find the running tracker
without importing the tracker's core (no import circle)."""

from __future__ import annotations

import contextvars
from typing import Any

#: the windows open in the running code path (all trackers; innermost last)
OPEN: contextvars.ContextVar[tuple[Any, ...]] = contextvars.ContextVar(
    "inferlca_open_windows", default=())
#: the tracker of the innermost ``with track(...)`` of the running code path
CURRENT: contextvars.ContextVar[Any] = contextvars.ContextVar("inferlca_tracker", default=None)


def current() -> Any:
    """The tracker of the innermost running ``with track(...)`` in this code path, or ``None``."""
    return CURRENT.get()
