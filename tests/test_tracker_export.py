"""Tracker exporters: a Prometheus scrape (parsed with prometheus_client's parser) and an
OpenTelemetry in-memory reader see the expected names, units and values during a run."""

from __future__ import annotations

import time
import urllib.request

import pytest

from inferlca.meters.base import PowerMeter, Reading
from inferlca.tracker import track

prometheus_client = pytest.importorskip("prometheus_client")
pytest.importorskip("opentelemetry.sdk.metrics")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client.parser import text_string_to_metric_families

from inferlca.tracker.export import wait_for

DEVICE = "AGX Orin"
WATTS = 12.5


class ConstantMeter(PowerMeter):
    name = "constant"

    def __init__(self) -> None:
        super().__init__()
        self.channels = ["dev"]
        self.primary = "dev"

    @classmethod
    def probe(cls, **_):
        return True, "always"

    def read(self):
        return Reading({"dev": WATTS})


def _scrape(port: int) -> dict[str, dict]:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    fams = {}
    for fam in text_string_to_metric_families(text):
        fams[fam.name] = {"type": fam.type,
                          "samples": [(s.name, dict(s.labels), s.value) for s in fam.samples]}
    return fams


def _otel(reader: InMemoryMetricReader) -> dict[str, tuple[str, list]]:
    out = {}
    for rm in reader.get_metrics_data().resource_metrics:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                out[m.name] = (m.unit, [(dict(p.attributes), p.value) for p in m.data.data_points])
    return out


def test_prometheus_and_otel_see_the_run_live():
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    with track("served", device=DEVICE, meter=ConstantMeter(), period_s=0.005,
               prometheus_port=0, otel=provider) as t:
        with t.window("req"):
            time.sleep(0.05)
        t.count(requests=3, tokens_in=30, tokens_out=12)
        assert wait_for(lambda: t._live is not None and t._live._t[-1] > t.windows[0].end_mono)
        with t.window("open-one"):
            fams = _scrape(t.prometheus.port)
            otel = _otel(reader)
        elapsed = time.monotonic() - t._start_mono
    labels = {"tracker": "served", "meter": "constant"}
    # -- Prometheus: base units in the names, counters end in _total --
    assert fams["inferlca_power_watts"] == {
        "type": "gauge", "samples": [("inferlca_power_watts", labels, WATTS)]}
    (name, lab, energy_j), = fams["inferlca_energy_joules"]["samples"]
    assert fams["inferlca_energy_joules"]["type"] == "counter"
    assert name == "inferlca_energy_joules_total" and lab == labels
    assert 0 < energy_j <= WATTS * elapsed * 1.01
    req = t.result.windows["req"]
    win = {s[1]["window"]: s[2] for s in fams["inferlca_window_energy_joules"]["samples"]}
    assert win["req"] == pytest.approx(WATTS * req.duration_s, rel=1e-6)
    assert win["req"] == pytest.approx(req.energy_j, rel=1e-6)
    dur = {s[1]["window"]: s[2] for s in fams["inferlca_window_duration_seconds"]["samples"]}
    assert dur["req"] == pytest.approx(req.duration_s, rel=1e-9)
    assert "open-one" in dur  # an open window is published up to now
    assert fams["inferlca_requests"]["samples"] == [("inferlca_requests_total", labels, 3.0)]
    toks = {s[1]["direction"]: s[2] for s in fams["inferlca_tokens"]["samples"]}
    assert toks == {"in": 30.0, "out": 12.0}
    assert fams["inferlca_estimated"]["samples"][0][2] == 0.0
    assert fams["inferlca_co2e_grams"]["samples"] == []  # GWP only once stopped
    # -- OpenTelemetry: dotted names, UCUM units --
    assert otel["inferlca.power"] == ("W", [(labels, WATTS)])
    unit, points = otel["inferlca.energy"]
    assert unit == "J" and 0 < points[0][1] <= WATTS * elapsed * 1.01
    unit, points = otel["inferlca.window.energy"]
    assert unit == "J"
    assert {p[0]["window"]: p[1] for p in points}["req"] == pytest.approx(req.energy_j, rel=1e-6)
    assert otel["inferlca.window.duration"][0] == "s"
    assert otel["inferlca.requests"] == ("{request}", [(labels, 3.0)])
    unit, points = otel["inferlca.tokens"]
    assert unit == "{token}" and {p[0]["direction"]: p[1] for p in points} == {"in": 30.0,
                                                                              "out": 12.0}
    # after the run: the final figures, GWP included; the HTTP endpoint is closed
    final = _otel(reader)
    assert final["inferlca.co2e"][0] == "g"
    assert final["inferlca.co2e"][1][0][1] == pytest.approx(t.result.gco2e)
    assert final["inferlca.energy"][1][0][1] == pytest.approx(t.result.energy_j)
    assert t.prometheus.server is None


def test_bad_port_is_a_clear_error():
    from inferlca.errors import InvalidValueError, UsageError

    with pytest.raises(InvalidValueError, match="prometheus_port"):
        track("bad", device=DEVICE, meter=ConstantMeter(), prometheus_port=70000)
    import socket

    with socket.socket() as busy:  # a port in use: the error says so, the sampler is stopped
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        t = track("busy", device=DEVICE, meter=ConstantMeter(),
                  prometheus_port=busy.getsockname()[1])
        with pytest.raises(UsageError, match="cannot serve metrics"):
            t.start()
        assert t._sampler._stop.is_set()
