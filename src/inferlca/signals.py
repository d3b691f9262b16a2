"""A signal answered by a handler of ours for the length of a block (main thread only).

Python lets only the main thread set signal handlers; elsewhere (a thread, an embedding host)
the block runs with the handling unchanged. The CLI turns SIGTERM into Ctrl-C with it, and
``meters.measure`` holds Ctrl-C back while what was measured is put together.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any


@contextlib.contextmanager
def handled(signum: int, handler: Callable[[int, Any], None]) -> Iterator[bool]:
    """While the block runs, ``handler`` answers ``signum``; yields whether it was installed
    (False outside the main thread or where signals are unavailable). The previous handler is
    put back after the block."""
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    try:
        old = signal.signal(signum, handler)
    except (ValueError, OSError):  # pragma: no cover - signals unavailable
        yield False
        return
    try:
        yield True
    finally:
        signal.signal(signum, old)


@contextlib.contextmanager
def deferred(signum: int = signal.SIGINT) -> Iterator[Callable[[], bool]]:
    """While the block runs, ``signum`` (Ctrl-C by default) raises nothing: it is noted, and the
    yielded function tells whether it came."""
    got: list[bool] = []
    with handled(signum, lambda s, frame: got.append(True)):
        yield lambda: bool(got)
