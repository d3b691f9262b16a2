"""The sampler thread: grid timing, marks, Ctrl-C and exceptions keep the data, meter bugs become gaps."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from inferlca.errors import InvalidValueError
from inferlca.meters.base import PowerMeter, Reading
from inferlca.meters.sampler import Sampler
from inferlca.traces.energy import energy, phase_energies_j


class ScriptedMeter(PowerMeter):
    """A protocol-conforming meter: 10 W, or raises on chosen reads (a meter bug, not a vendor error)."""

    name = "scripted"

    def __init__(self, raise_at=(), watts=10.0):
        super().__init__()
        self.channels = ["dev"]
        self.primary = "dev"
        self.raise_at = set(raise_at)
        self.watts = watts
        self.calls = 0
        self.closed = False

    @classmethod
    def probe(cls, **_):
        return True, "always"

    def read(self):
        k = self.calls
        self.calls += 1
        if k in self.raise_at:
            raise RuntimeError("driver hiccup")
        return Reading({"dev": self.watts})

    def close(self):
        self.closed = True


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf, 0.0005, "10"])
def test_period_validation(bad):
    with pytest.raises(InvalidValueError):
        Sampler(ScriptedMeter(), period_s=bad)


def test_keyboard_interrupt_keeps_what_was_measured():
    m = ScriptedMeter()
    s = Sampler(m, period_s=0.002, close_meter=True)
    with pytest.raises(KeyboardInterrupt), s:
        s.mark("compute")
        while m.calls < 5:
            time.sleep(0.001)
        raise KeyboardInterrupt
    tr = s.trace
    assert tr.meta["incomplete"] is True and tr.t_s.size >= 5 and m.closed
    assert [mk.name for mk in tr.marks] == ["compute"]
    e = energy(tr)
    assert e.energy_j == pytest.approx(10.0 * e.duration_s)


def test_exception_in_block_marks_incomplete_and_stops_the_thread():
    s = Sampler(ScriptedMeter(), period_s=0.002)
    with pytest.raises(ValueError), s:
        time.sleep(0.01)
        raise ValueError("workload failed")
    assert s.trace.meta["incomplete"] is True
    assert not any(t.name == "inferlca-sampler" and t.is_alive() for t in threading.enumerate())


def test_meter_exception_is_a_gap_never_a_zero():
    m = ScriptedMeter(raise_at={2, 3})
    s = Sampler(m, period_s=0.002).start()
    while m.calls < 8:
        time.sleep(0.001)
    with pytest.warns(RuntimeWarning, match="2 of .* reads failed"):
        tr = s.stop()
    p = tr.channels["dev"]
    assert np.isnan(p[2]) and np.isnan(p[3]) and not (p == 0).any()
    assert (
        len(tr.gaps) == 1
        and tr.gaps[0].channel is None
        and "RuntimeError: driver hiccup" in tr.gaps[0].reason
    )
    assert energy(tr).coverage < 1.0


def test_grid_timing_and_marks_at_given_times():
    s = Sampler(ScriptedMeter(), period_s=0.005)
    with s:
        t0 = time.monotonic()
        s.mark("load")
        time.sleep(0.05)
        s.mark("compute", at_monotonic_s=t0 + 0.05)
        time.sleep(0.05)
    tr = s.trace
    assert tr.t_s[0] == pytest.approx(0.0, abs=0.01)
    assert (np.diff(tr.t_s) > 0).all()
    assert tr.marks[1].t_s - tr.marks[0].t_s == pytest.approx(0.05, abs=0.005)
    pe = phase_energies_j(tr)
    assert pe["load"] == pytest.approx(10.0 * 0.05, rel=0.2) and set(pe) == {"load", "compute"}
    assert tr.period_requested_s == 0.005 and tr.meta["period_median_s"] > 0
    assert s.stop() is tr  # idempotent
    running = Sampler(ScriptedMeter(), period_s=0.005).start()
    with pytest.raises(RuntimeError, match="still running"):
        running.trace  # noqa: B018 - the property itself is under test
    running.stop()
    with pytest.raises(InvalidValueError):
        s.mark("")


def test_sampler_records_the_wall_clock_origin():
    """meta["t0_unix_s"] places t_s = 0 on the wall clock (grid intensity in time)."""
    before = time.time()
    with Sampler(ScriptedMeter(), period_s=0.005) as s:
        time.sleep(0.02)
    t0 = s.trace.meta["t0_unix_s"]
    assert before <= t0 <= time.time()
