"""Track your own code: :func:`track` (context manager and decorator), named windows, counts,
results per window/request/token with GWP; framework hooks and exporters (see docs/tracker.md).

Layer: above ``store`` (it may save a run), below ``spec``; it imports meters, traces, lca,
hardware and the store, and nothing imports it but the package root (lazily) and the CLI.
"""

from __future__ import annotations

from inferlca.tracker.core import Tracker, Window, current, track
from inferlca.tracker.result import TrackResult, WindowResult

__all__ = ["TrackResult", "Tracker", "Window", "WindowResult", "current", "track"]
