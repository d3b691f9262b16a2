"""The latest value of a slow sensor, polled by a background thread.

A BMC (IPMI, Redfish) answers in tens to hundreds of milliseconds and updates about once a second,
so a meter cannot ask it on every sample. :class:`LatestReading` asks it every ``period_s`` from a
daemon thread and keeps the last answer; a meter's ``read()`` returns it at once. A failed poll
replaces the value with NaN and its reason: the previous value is never passed off as new.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable


class LatestReading:
    """Poll ``fetch()`` (watts) now and then every ``period_s`` once :meth:`start` is called.

    Args:
        fetch: returns the sensor's watts, or raises one of ``errors`` for a failed poll.
        period_s: time between polls.
        name: the polling thread's name.
        errors: the exceptions that mean "no reading this time" (anything else is a bug and
            propagates from the first poll).
    """

    def __init__(self, fetch: Callable[[], float], period_s: float, name: str,
                 errors: tuple[type[BaseException], ...]) -> None:
        self._fetch = fetch
        self.period_s = period_s
        self._errors = errors
        self._lock = threading.Lock()
        self._watts = math.nan
        self._error: str | None = "no reading yet"
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=name)
        self.poll_once()

    def poll_once(self) -> None:
        try:
            watts = float(self._fetch())
        except self._errors as exc:
            with self._lock:
                self._watts, self._error = math.nan, str(exc)
            return
        with self._lock:
            self._watts, self._error = watts, None
            self.polls += 1

    def latest(self) -> tuple[float, str | None]:
        """``(watts, None)`` or ``(nan, why)``."""
        with self._lock:
            return self._watts, self._error

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.period_s):
            self.poll_once()
