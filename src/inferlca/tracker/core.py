"""The tracker: energy and CO2e of your own code, per named window, request and token.

A thin composition of the parts that exist: a meter (:func:`inferlca.meters.registry.open_meter`),
the sampler (:class:`inferlca.meters.sampler.Sampler`), the energy rules
(:mod:`inferlca.traces.energy`), the impact core (:mod:`inferlca.lca.impact`) and, when asked,
the results store. It adds only bookkeeping: when each window opened and closed, and what was
counted in it::

    import inferlca

    with inferlca.track("rag-pipeline", device="RTX 4090", region="DE") as t:
        with t.window("retrieve"):
            docs = retrieve(q)
        with t.window("generate"):
            out = generate(docs)
        t.count(requests=1, tokens_in=512, tokens_out=len(out))
    print(t.result)                 # energy per window, per request, per token, GWP

The open windows of the running code are kept in a :class:`contextvars.ContextVar`, so windows
opened in threads and asyncio tasks nest within their own code path and never in each other's.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import math
import threading
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from inferlca.errors import InvalidValueError, MeterUnavailableError, UsageError
from inferlca.tracker import context

if TYPE_CHECKING:
    from typing_extensions import Self

    from inferlca.meters.sampler import Sampler
    from inferlca.tracker.live import LiveMeter
    from inferlca.tracker.result import TrackResult

log = logging.getLogger("inferlca.tracker")

F = TypeVar("F", bound=Callable[..., Any])

#: the count names :meth:`Tracker.count` accepts
COUNT_NAMES = ("requests", "tokens_in", "tokens_out")

_OPEN = context.OPEN
_CURRENT = context.CURRENT

_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(message: str) -> None:
    """One warning per message and process (a notebook re-running a cell is not flooded)."""
    with _warned_lock:
        if message in _warned:
            return
        _warned.add(message)
    log.info(message)  # shown with -v; the warning itself goes through `warnings` (one display)
    warnings.warn(message, RuntimeWarning, stacklevel=4)


def current() -> Tracker | None:
    """The tracker of the innermost running ``with track(...)`` in this code path, or ``None``."""
    return context.current()  # type: ignore[no-any-return]


def _check_counts(counts: Mapping[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in counts.items():
        if name not in COUNT_NAMES:
            from inferlca.errors import UnknownNameError

            raise UnknownNameError("count", name, COUNT_NAMES,
                                   hint=f"(accepted: {', '.join(COUNT_NAMES)})")
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value) or value < 0:
            raise InvalidValueError(f"count {name} must be a finite number >= 0, got {value!r}",
                                    param=name)
        out[name] = float(value)
    return out


@dataclass(eq=False)
class Window:
    """One occurrence of a named window: when it opened and closed (monotonic seconds), its
    enclosing window, what was counted while it was open. Use it as a context manager (from
    :meth:`Tracker.window`) or close it with :meth:`end` (from :meth:`Tracker.begin`)."""

    name: str
    tracker: Tracker
    parent: str | None = None
    start_mono: float = 0.0
    end_mono: float | None = None
    counts: dict[str, float] = field(default_factory=dict)
    _token: contextvars.Token[tuple[Window, ...]] | None = field(default=None, repr=False)

    @property
    def path(self) -> str:
        """``parent/name`` for a nested window (the key of its results)."""
        return f"{self.parent}/{self.name}" if self.parent else self.name

    @property
    def open(self) -> bool:
        return self.end_mono is None

    @property
    def duration_s(self) -> float:
        end = time.monotonic() if self.end_mono is None else self.end_mono
        return end - self.start_mono

    def count(self, **counts: float) -> None:
        """Add counts to this window only (and the tracker's totals)."""
        self.tracker._add_counts(_check_counts(counts), (self,))

    def end(self) -> None:
        """Close the window (a second close is an error)."""
        self.tracker._close(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.tracker._close(self)


class Tracker:
    """Measure your own code: see :func:`track` for the arguments."""

    def __init__(self, name: str = "tracked", *, device: str | None = None,
                 region: str | None = None, meter: str | Any | None = None,
                 period_s: float | None = None, grid: float | str | None = None,
                 pue: float | str | None = None, lifetime_years: float | str | None = None,
                 scope: str | None = None, save: bool = False,
                 store: str | Path | Any | None = None, label: str | None = None,
                 sync: str | None = None, prometheus_port: int | None = None,
                 otel: Any = None, config: str | Path | None = None) -> None:
        from inferlca import settings

        if not isinstance(name, str) or not name.strip():
            raise InvalidValueError(f"the tracker needs a non-empty name, got {name!r}")
        from inferlca.meters.base import PowerMeter

        self._given_meter = meter if isinstance(meter, PowerMeter) else None
        if self._given_meter is not None:
            meter = None
        given = {"device": device, "region": region, "meter": meter, "period": period_s,
                 "grid": grid, "pue": pue, "lifetime": lifetime_years, "scope": scope,
                 "store": store if isinstance(store, (str, Path)) else None}
        eff = settings.values(given, config=config)
        self.name = name
        self.meter_name = self._given_meter.name if self._given_meter is not None \
            else str(eff["meter"] or "auto")
        self.period_s = float(eff["period"]) if eff["period"] is not None else 0.01
        self.region = str(eff["region"]) if eff["region"] is not None else None
        self.grid = eff["grid"]
        self.pue = eff["pue"]
        self.lifetime_years = eff["lifetime"]
        self.scope = str(eff["scope"] or "chip")
        self.device_arg = str(eff["device"]) if eff["device"] is not None else None
        self.store = store if store is not None and not isinstance(store, (str, Path)) \
            else eff["store"]
        self.save = bool(save) or isinstance(store, (str, Path)) or (
            store is not None and not isinstance(store, (str, Path)))
        self.label = label
        if sync not in (None, "torch"):
            raise InvalidValueError(f"sync must be None or 'torch', got {sync!r}", param="sync")
        self.sync = sync
        if prometheus_port is not None and (isinstance(prometheus_port, bool) or not isinstance(
                prometheus_port, int) or not 0 <= prometheus_port <= 65535):
            raise InvalidValueError(f"prometheus_port must be a port number 0-65535, got "
                                    f"{prometheus_port!r}", param="prometheus_port")
        self.prometheus_port = prometheus_port
        self.otel = otel
        # everything that can be checked is checked before any work runs
        from inferlca.lca.impact import ImpactContext

        if self.period_s <= 0 or not math.isfinite(self.period_s):
            raise InvalidValueError(f"period_s must be a finite number of seconds > 0, "
                                    f"got {self.period_s!r}", param="period_s")
        from inferlca.hardware.resolve import resolve_device

        self.device = resolve_device(self.device_arg)
        self.context = ImpactContext.resolve(self.device.device, region=self.region,
                                             grid=self.grid, pue=self.pue,
                                             lifetime_years=self.lifetime_years, scope=self.scope)
        from inferlca.meters.registry import meter_class

        if self.meter_name != "auto" and self._given_meter is None:
            meter_class(self.meter_name)  # an unknown name is bad input, not a fallback
        self.notes: list[str] = list(self.device.notes)
        self.windows: list[Window] = []
        self.totals: dict[str, float] = {}
        self._lock = threading.Lock()
        self._sampler: Sampler | None = None
        self._live: LiveMeter | None = None
        self._start_mono: float | None = None
        self._end_mono: float | None = None
        self._result: TrackResult | None = None
        self._sync_fn: Callable[[], None] | None = None
        self._token: contextvars.Token[Tracker | None] | None = None
        self._exporters: list[Any] = []
        self.run_id: str | None = None

    # ---- life cycle ---------------------------------------------------------------------------
    def start(self) -> Tracker:
        """Open the meter (falling back to the modelled meter, with a warning, when the asked one
        cannot run here) and start sampling."""
        if self._start_mono is not None:
            raise UsageError(f"tracker {self.name!r} was already started (one tracker measures "
                             "once: make a new one with inferlca.track)")
        from inferlca.meters.sampler import Sampler
        from inferlca.tracker.live import LiveMeter

        if self.sync == "torch":
            from inferlca.tracker.hooks import torch_sync

            self._sync_fn = torch_sync()
        meter = self._open_meter()
        if meter is not None:
            self._live = LiveMeter(meter)
            self._sampler = Sampler(self._live, period_s=self.period_s,
                                    close_meter=self._given_meter is None)
            self._sampler.start()
        self._start_mono = time.monotonic()
        if self._sampler is not None:  # the mark and the span's start are one instant
            self._sampler.mark("run", at_monotonic_s=self._start_mono)
        if self.prometheus_port is not None or self.otel is not None:
            from inferlca.tracker.export import attach_exporters

            try:
                self._exporters = attach_exporters(self, self.prometheus_port, self.otel)
            except BaseException:
                if self._sampler is not None:
                    self._sampler.stop(incomplete=True)
                raise
        return self

    def _open_meter(self) -> Any:
        from inferlca.meters.registry import open_meter

        if self._given_meter is not None:
            return self._given_meter
        dev = self.device.device
        try:
            return open_meter(self.meter_name, device=dev, period_s=self.period_s)
        except MeterUnavailableError as exc:
            if self.meter_name in ("modelled", "modeled", "model"):
                first = exc
            else:
                try:
                    m = open_meter("modelled", device=dev, period_s=self.period_s)
                except MeterUnavailableError as exc2:
                    first = exc2
                else:
                    msg = (f"inferlca.track: {exc}; falling back to the modelled meter: energy "
                           "and CO2e are ESTIMATED, not measured")
                    self.notes.append(msg)
                    _warn_once(msg)
                    return m
        msg = (f"inferlca.track: no power meter works here ({first}); windows are timed but "
               "no energy is reported")
        self.notes.append(msg)
        _warn_once(msg)
        return None

    def stop(self, incomplete: bool = False) -> TrackResult:
        """Stop sampling, close windows left open (with a note), compute (and save) the result.
        Idempotent."""
        if self._result is not None:
            return self._result
        if self._start_mono is None:
            raise UsageError(f"tracker {self.name!r} was never started")
        if self._sync_fn is not None:
            self._sync_fn()
        self._end_mono = time.monotonic()
        with self._lock:
            left_open = [w for w in self.windows if w.end_mono is None]
        for w in left_open:
            w.end_mono = self._end_mono
            self.notes.append(f"window {w.path!r} was still open at the end: closed there")
        trace = None
        if self._sampler is not None:
            self._sampler.mark("end", at_monotonic_s=self._end_mono)
            trace = self._sampler.stop(incomplete=incomplete)
        from inferlca.tracker.result import analyse

        self._result = analyse(self, trace)
        for exp in self._exporters:
            exp.finish(self._result)  # a collection now sees the final figures
            if hasattr(exp, "close"):
                exp.close()  # the HTTP endpoint lives as long as the tracker runs
        if self.save:
            from inferlca.tracker.result import save_result

            self.run_id = save_result(self._result, self.store, label=self.label)
            self._result.run_id = self.run_id
        return self._result

    @property
    def result(self) -> TrackResult:
        """The result, once the tracker has stopped (left its ``with`` block or ``stop()``)."""
        if self._result is None:
            raise UsageError(f"tracker {self.name!r} is still running: read .result after its "
                             "with block (or call stop())")
        return self._result

    @property
    def running(self) -> bool:
        return self._start_mono is not None and self._result is None

    def __enter__(self) -> Self:
        self.start()
        self._token = _CURRENT.set(self)
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self._token is not None:
            try:
                _CURRENT.reset(self._token)
            except ValueError:  # left in another context (a generator, a task): just unset
                _CURRENT.set(None)
            self._token = None
        self.stop(incomplete=exc_type is not None)

    async def __aenter__(self) -> Self:
        return self.__enter__()

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.__exit__(exc_type, exc, tb)

    # ---- decorator ----------------------------------------------------------------------------
    def __call__(self, func: F) -> F:
        """``@inferlca.track(...)``: each call of ``func`` is measured by a fresh tracker with these
        settings; the last one is ``func.tracker`` (its result ``func.tracker.result``)."""
        if self._start_mono is not None:
            raise UsageError("a tracker that has started cannot decorate a function")
        template = self

        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                t = template._fresh()
                awrapper.tracker = t  # type: ignore[attr-defined]
                async with t:
                    return await func(*args, **kwargs)
            return awrapper  # type: ignore[return-value]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = template._fresh()
            wrapper.tracker = t  # type: ignore[attr-defined]
            with t:
                return func(*args, **kwargs)
        return wrapper  # type: ignore[return-value]

    def _fresh(self) -> Tracker:
        t = Tracker.__new__(Tracker)
        t.__dict__.update({k: v for k, v in self.__dict__.items()})
        t.notes = list(self.device.notes)
        t.windows, t.totals = [], {}
        t._lock = threading.Lock()
        t._sampler = t._live = t._start_mono = t._end_mono = t._result = None
        t._sync_fn = t._token = None
        t._exporters = []
        t.run_id = None
        return t

    # ---- windows ------------------------------------------------------------------------------
    def window(self, name: str) -> Window:
        """A named window as a context manager; windows nest (the enclosing one of the same code
        path is its parent) and may overlap other windows (threads, tasks, :meth:`begin`)."""
        w = self._open(name)
        w._token = _OPEN.set((*_OPEN.get(), w))
        return w

    def begin(self, name: str) -> Window:
        """Open a window explicitly; close it with :meth:`end` (or ``window.end()``). Its parent is
        the innermost ``with`` window open here; it does not become anyone's parent."""
        return self._open(name)

    def end(self, name: str | Window) -> Window:
        """Close the most recent open window of that name (or that window).

        Raises:
            UsageError: no window of that name is open (never opened, or closed already).
        """
        if isinstance(name, Window):
            self._close(name)
            return name
        with self._lock:
            for w in reversed(self.windows):
                if w.name == name and w.end_mono is None:
                    break
            else:
                known = any(w.name == name for w in self.windows)
                raise UsageError(
                    f"window {name!r} is not open: "
                    + ("it was closed already" if known else "it was never opened"))
        self._close(w)
        return w

    def _open(self, name: str) -> Window:
        if self._start_mono is None or self._result is not None:
            raise UsageError(f"window {name!r}: the tracker {self.name!r} is not running (open "
                             "windows inside its with block)")
        if not isinstance(name, str) or not name or "/" in name:
            raise InvalidValueError(f"a window name is a non-empty text without '/', got {name!r}")
        parent = None
        for w in reversed(_OPEN.get()):
            if w.tracker is self:
                parent = w.path
                break
        if self._sync_fn is not None:
            self._sync_fn()
        w = Window(name, self, parent, time.monotonic())
        with self._lock:
            self.windows.append(w)
        return w

    def _close(self, w: Window) -> None:
        if w.tracker is not self:
            raise UsageError(f"window {w.name!r} belongs to another tracker")
        if self._sync_fn is not None:
            self._sync_fn()
        now = time.monotonic()
        with self._lock:
            if w.end_mono is not None:
                raise UsageError(f"window {w.path!r} was closed twice")
            w.end_mono = now
        if w._token is not None:
            try:
                _OPEN.reset(w._token)
            except ValueError:  # closed from another context: drop it from this one's stack
                _OPEN.set(tuple(x for x in _OPEN.get() if x is not w))
            w._token = None

    # ---- counts -------------------------------------------------------------------------------
    def count(self, **counts: float) -> None:
        """Add ``requests``, ``tokens_in``, ``tokens_out`` to the totals and to every window of this
        tracker open in the running code path. Negative, NaN or unknown counts raise."""
        clean = _check_counts(counts)
        open_here = tuple(w for w in _OPEN.get() if w.tracker is self and w.end_mono is None)
        self._add_counts(clean, open_here)

    def _add_counts(self, clean: dict[str, float], windows: tuple[Window, ...]) -> None:
        if self._start_mono is None or self._result is not None:
            raise UsageError(f"count: the tracker {self.name!r} is not running")
        with self._lock:
            for k, v in clean.items():
                self.totals[k] = self.totals.get(k, 0.0) + v
                for w in windows:
                    w.counts[k] = w.counts.get(k, 0.0) + v

    # ---- live figures (exporters) ---------------------------------------------------------------
    def live_power_w(self) -> float | None:
        """The primary channel's latest power reading, W (``None`` without a meter)."""
        if self._live is None:
            return None
        p = self._live.last_power_w.get(self._live.primary)
        return p if p is not None and math.isfinite(p) else None

    def live_energy_j(self, start_mono: float | None = None,
                      end_mono: float | None = None) -> float | None:
        """Energy so far (or over a window of monotonic times) by :mod:`inferlca.traces.energy`
        on the samples read so far; ``None`` before two samples or without a meter."""
        if self._live is None or self._sampler is None or self._sampler._t0 is None:
            return None
        t0 = self._sampler._t0
        snap = self._live.snapshot(t0)
        if snap is None:
            return None
        from inferlca.traces.energy import energy

        first, last = float(snap.t_s[0]), float(snap.t_s[-1])
        a = first if start_mono is None else max(start_mono - t0, first)
        b = last if end_mono is None else min(end_mono - t0, last)
        if b < a:  # the window lies after the last sample read so far (or before the first)
            return 0.0
        e = energy(snap, a, b).energy_j
        return e if math.isfinite(e) else None

    def _repr_html_(self) -> str:
        """In a notebook: the result's table once stopped, else a one-line state."""
        if self._result is not None:
            return self._result._repr_html_()
        import html

        return f"<p>{html.escape(repr(self))}</p>"

    def __repr__(self) -> str:
        state = "done" if self._result is not None else (
            "running" if self._start_mono is not None else "not started")
        return (f"<inferlca Tracker {self.name!r} {state}, meter {self.meter_name}, "
                f"{len(self.windows)} window(s)>")


def track(name: str = "tracked", *, device: str | None = None, region: str | None = None,
          meter: str | Any | None = None, period_s: float | None = None,
          grid: float | str | None = None, pue: float | str | None = None,
          lifetime_years: float | str | None = None, scope: str | None = None,
          save: bool = False, store: str | Path | Any | None = None, label: str | None = None,
          sync: str | None = None, prometheus_port: int | None = None, otel: Any = None,
          config: str | Path | None = None) -> Tracker:
    """Track the energy and CO2e of your own code: ``with track(...) as t:`` or ``@track(...)``.

    Args:
        name: what is tracked (the run's workload is ``track:<name>`` when saved).
        device: catalog device the code runs on (default: this machine's, detected); its
            manufacturing footprint enters the GWP.
        region: grid region (default FR); ``grid`` a custom intensity in gCO2e/kWh.
        meter: ``auto`` (default: the best that works here), ``nvml``, ``rapl``, ``modelled``...;
            one that cannot run here falls back to ``modelled`` with one warning (ESTIMATED).
            An open :class:`~inferlca.meters.base.PowerMeter` is used as is (left open).
        period_s: sampling period (default 0.01 s).
        pue, lifetime_years, scope: as for :meth:`inferlca.ImpactContext.resolve`.
        save: store the result as a run (``store``: a store path or an open
            :class:`~inferlca.store.sqlite.Store`; giving a store implies ``save``).
        label: the saved run's label.
        sync: ``"torch"``: synchronise CUDA at every window edge (no-op without CUDA).
        prometheus_port: serve live metrics for Prometheus on this port (off by default; 0 picks
            a free port, see ``tracker.prometheus_url``).
        otel: an OpenTelemetry ``MeterProvider`` (or ``True`` for the global one) to publish to.
        config: a config file (default: ``INFERLCA_CONFIG`` or ``inferlca.toml``, see
            :mod:`inferlca.settings`); arguments win over the environment, which wins over it.

    Raises:
        UnknownNameError: unknown device, region or meter name.
        InvalidValueError: a bad period, PUE, lifetime or grid value.
    """
    return Tracker(name, device=device, region=region, meter=meter, period_s=period_s, grid=grid,
                   pue=pue, lifetime_years=lifetime_years, scope=scope, save=save, store=store,
                   label=label, sync=sync, prometheus_port=prometheus_port, otel=otel,
                   config=config)
