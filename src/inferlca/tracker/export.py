"""Live tracker figures for Prometheus and OpenTelemetry (optional extra ``metrics``).

Both read the same figures from the tracker at scrape/collection time: the latest power reading,
the energy so far (:func:`inferlca.traces.energy.energy` of the samples read so far), the energy
and time of each window (closed windows, plus open ones up to now), the counts; once the tracker
has stopped, the final result (and its GWP).

Names follow each ecosystem's conventions:

======================================  ===========================  =========================
Prometheus (base units, ``_total``)     OpenTelemetry (UCUM unit)    meaning
======================================  ===========================  =========================
``inferlca_power_watts``                ``inferlca.power`` W         latest primary power
``inferlca_energy_joules_total``        ``inferlca.energy`` J        energy so far
``inferlca_window_energy_joules_total`` ``inferlca.window.energy`` J energy per window path
``inferlca_window_duration_seconds_total`` ``inferlca.window.duration`` s  time per window
``inferlca_window_occurrences_total``   ``inferlca.window.occurrences`` {window}
``inferlca_requests_total``             ``inferlca.requests`` {request}
``inferlca_tokens_total{direction}``    ``inferlca.tokens`` {token}  in / out
``inferlca_co2e_grams_total``           ``inferlca.co2e`` g          GWP, once stopped
``inferlca_estimated``                  ``inferlca.estimated`` 1     1: modelled (ESTIMATED)
======================================  ===========================  =========================

Every series has the labels (attributes) ``tracker`` (its name) and ``meter``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from inferlca.errors import InvalidValueError, UsageError, require

if TYPE_CHECKING:
    from inferlca.tracker.result import TrackResult

#: a :class:`~inferlca.tracker.core.Tracker` and its windows (core imports this module)
Tracker = Any
Window = Any


class LiveFigures:
    """The figures both exporters publish, computed from the tracker on demand."""

    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self.result: TrackResult | None = None
        self._final: dict[int, float | None] = {}  # closed window -> its energy, once settled
        self._lock = threading.Lock()

    def finish(self, result: TrackResult) -> None:
        self.result = result

    @property
    def labels(self) -> dict[str, str]:
        t = self.tracker
        meter = self.result.meter if self.result is not None else (
            t._live.name if t._live is not None else None)
        return {"tracker": t.name, "meter": meter or "none"}

    def estimated(self) -> float:
        if self.result is not None:
            return 0.0 if self.result.measured else 1.0
        live = self.tracker._live
        return 1.0 if live is None or live.estimated else 0.0

    def power_w(self) -> float | None:
        return self.tracker.live_power_w()

    def energy_j(self) -> float | None:
        if self.result is not None:
            return self.result.energy_j
        return self.tracker.live_energy_j(self.tracker._start_mono, None)

    def counts(self) -> dict[str, float]:
        src = self.result.counts if self.result is not None else self.tracker.totals
        return dict(src)

    def co2e_g(self) -> float | None:
        return self.result.gco2e if self.result is not None else None

    def windows(self) -> dict[str, tuple[int, float, float | None]]:
        """``{path: (occurrences, seconds, joules or None)}``."""
        if self.result is not None:
            return {p: (w.occurrences, w.duration_s, w.energy_j)
                    for p, w in self.result.windows.items()}
        out: dict[str, tuple[int, float, float | None]] = {}
        with self.tracker._lock:
            wins = list(self.tracker.windows)
        for w in wins:
            e = self._window_energy(w)
            n, d, j = out.get(w.path, (0, 0.0, 0.0))
            out[w.path] = (n + 1, d + w.duration_s, None if j is None or e is None else j + e)
        return out

    def _window_energy(self, w: Window) -> float | None:
        key = id(w)
        with self._lock:
            if key in self._final:
                return self._final[key]
        e = self.tracker.live_energy_j(w.start_mono, w.end_mono)
        live = self.tracker._live
        # settled once a sample later than its end exists (the energy will not change)
        if w.end_mono is not None and live is not None and live._t and live._t[-1] > w.end_mono:
            with self._lock:
                self._final[key] = e
        return e


# ---- Prometheus -------------------------------------------------------------------------------
class PrometheusExporter:
    """A collector on its own registry; ``serve(port)`` exposes it over HTTP (``/metrics``)."""

    def __init__(self, figures: LiveFigures) -> None:
        require("prometheus_client", "metrics", "the Prometheus exporter")
        from prometheus_client import CollectorRegistry

        self.figures = figures
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)  # type: ignore[arg-type]
        self.server: Any = None
        self.port: int | None = None

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        f = self.figures
        lab = f.labels
        names, values = list(lab), list(lab.values())
        g = GaugeMetricFamily("inferlca_power_watts", "Latest power reading of the primary "
                              "channel", labels=names, unit="watts")
        p = f.power_w()
        if p is not None:
            g.add_metric(values, p)
        yield g
        c = CounterMetricFamily("inferlca_energy_joules", "Energy since the tracker started",
                                labels=names, unit="joules")
        e = f.energy_j()
        if e is not None:
            c.add_metric(values, e)
        yield c
        we = CounterMetricFamily("inferlca_window_energy_joules", "Energy per window path",
                                 labels=[*names, "window"], unit="joules")
        wd = CounterMetricFamily("inferlca_window_duration_seconds", "Time per window path",
                                 labels=[*names, "window"], unit="seconds")
        wn = CounterMetricFamily("inferlca_window_occurrences", "Times each window was opened",
                                 labels=[*names, "window"])
        for path, (n, d, j) in f.windows().items():
            if j is not None:
                we.add_metric([*values, path], j)
            wd.add_metric([*values, path], d)
            wn.add_metric([*values, path], n)
        yield we
        yield wd
        yield wn
        counts = f.counts()
        r = CounterMetricFamily("inferlca_requests", "Requests counted", labels=names)
        r.add_metric(values, counts.get("requests", 0.0))
        yield r
        tk = CounterMetricFamily("inferlca_tokens", "Tokens counted",
                                 labels=[*names, "direction"])
        tk.add_metric([*values, "in"], counts.get("tokens_in", 0.0))
        tk.add_metric([*values, "out"], counts.get("tokens_out", 0.0))
        yield tk
        co2 = f.co2e_g()
        gw = CounterMetricFamily("inferlca_co2e_grams", "GWP of the tracked span (once stopped)",
                                 labels=names, unit="grams")
        if co2 is not None:
            gw.add_metric(values, co2)
        yield gw
        est = GaugeMetricFamily("inferlca_estimated", "1 when energy is modelled (ESTIMATED), "
                                "0 when measured", labels=names)
        est.add_metric(values, f.estimated())
        yield est

    def serve(self, port: int, addr: str = "127.0.0.1") -> int:
        """Serve ``/metrics`` on ``addr:port`` (0: a free port); return the port."""
        from prometheus_client import start_http_server

        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise InvalidValueError(f"prometheus_port must be a port number 0-65535, got {port!r}",
                                    param="prometheus_port")
        try:
            started = start_http_server(port, addr=addr, registry=self.registry)
        except OSError as exc:
            raise UsageError(f"prometheus_port {port}: cannot serve metrics on {addr}:{port} "
                             f"({exc.strerror or exc}); pick a free port (0: any)",
                             param="prometheus_port") from None
        self.server = started[0] if isinstance(started, tuple) else started
        self.port = int(self.server.server_address[1]) if self.server is not None else port
        return self.port

    def text(self) -> str:
        """The exposition text a scrape would get."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()

    def finish(self, result: TrackResult) -> None:
        self.figures.finish(result)

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


# ---- OpenTelemetry ----------------------------------------------------------------------------
class OtelExporter:
    """Observable instruments on an OpenTelemetry ``MeterProvider`` (read at each collection)."""

    def __init__(self, figures: LiveFigures, provider: Any = True) -> None:
        require("opentelemetry.metrics", "metrics", "the OpenTelemetry exporter")
        from opentelemetry import metrics
        from opentelemetry.metrics import CallbackOptions, Observation

        self.figures = figures
        prov = metrics.get_meter_provider() if provider is True else provider
        meter = prov.get_meter("inferlca")

        def obs(value: float | None, extra: dict[str, str] | None = None) -> list[Observation]:
            if value is None:
                return []
            return [Observation(value, {**figures.labels, **(extra or {})})]

        def windows(idx: int) -> Any:
            def cb(_: CallbackOptions) -> list[Observation]:
                out = []
                for path, row in figures.windows().items():
                    if row[idx] is not None:
                        out += obs(float(row[idx]), {"window": path})  # type: ignore[arg-type]
                return out
            return cb

        meter.create_observable_gauge("inferlca.power", [lambda _: obs(figures.power_w())],
                                      unit="W", description="latest power of the primary channel")
        meter.create_observable_counter("inferlca.energy", [lambda _: obs(figures.energy_j())],
                                        unit="J", description="energy since the tracker started")
        meter.create_observable_counter("inferlca.window.energy", [windows(2)], unit="J",
                                        description="energy per window path")
        meter.create_observable_counter("inferlca.window.duration", [windows(1)], unit="s",
                                        description="time per window path")
        meter.create_observable_counter("inferlca.window.occurrences", [windows(0)],
                                        unit="{window}", description="times each window opened")
        meter.create_observable_counter(
            "inferlca.requests", [lambda _: obs(figures.counts().get("requests", 0.0))],
            unit="{request}", description="requests counted")
        meter.create_observable_counter(
            "inferlca.tokens",
            [lambda _: obs(figures.counts().get("tokens_in", 0.0), {"direction": "in"})
             + obs(figures.counts().get("tokens_out", 0.0), {"direction": "out"})],
            unit="{token}", description="tokens counted")
        meter.create_observable_counter("inferlca.co2e", [lambda _: obs(figures.co2e_g())],
                                        unit="g", description="GWP of the tracked span, gCO2e")
        meter.create_observable_gauge("inferlca.estimated",
                                      [lambda _: obs(figures.estimated())], unit="1",
                                      description="1 when energy is modelled (ESTIMATED)")

    def finish(self, result: TrackResult) -> None:
        self.figures.finish(result)


def attach_exporters(tracker: Tracker, prometheus_port: int | None, otel: Any) -> list[Any]:
    """Start the exporters a tracker asked for; they share one :class:`LiveFigures`."""
    figures = LiveFigures(tracker)
    out: list[Any] = []
    if prometheus_port is not None:
        prom = PrometheusExporter(figures)
        prom.serve(prometheus_port)
        tracker.prometheus = prom  # type: ignore[attr-defined]
        out.append(prom)
    if otel is not None and otel is not False:
        out.append(OtelExporter(figures, otel))
    return out


def wait_for(predicate: Any, timeout_s: float = 2.0) -> bool:
    """Poll ``predicate()`` until true or ``timeout_s`` (tests and examples)."""
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.005)
    return bool(predicate())
