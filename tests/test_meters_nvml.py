"""NVML meter against the shared fake ``pynvml``-shaped object (the vendor boundary), real
exception classes."""

from __future__ import annotations

import math
import time

import numpy as np
import pynvml
import pytest
from fakes.nvml import FakeNvml

from inferlca.errors import InvalidValueError, MeterUnavailableError
from inferlca.meters.nvml import NvmlMeter, parse_gpus
from inferlca.meters.registry import list_meters
from inferlca.meters.sampler import Sampler
from inferlca.traces.energy import energy


def test_counter_first_with_averaged_power():
    # counter: 1e6 mJ at open, then +50 J per call; power 100 W averaged
    fake = FakeNvml(energy_mj=[lambda k: 1_000_000 + 50_000 * k])
    m = NvmlMeter(nvml=fake)
    assert m.channels == ["gpu0"] and m.counter_channels == ["gpu0"] and m.primary == "gpu0"
    assert m.averaging_s == 1.0  # no instant field: nvmlDeviceGetPowerUsage is a ~1 s average
    r1, r2 = m.read(), m.read()
    assert r1.power_w["gpu0"] == 100.0
    assert r1.energy_j["gpu0"] == pytest.approx(50.0)  # (1_050_000 - 1_000_000) mJ
    assert r2.energy_j["gpu0"] == pytest.approx(100.0)
    meta = m.meta()
    assert meta["driver"] == "550.54.15" and meta["power_limit_w"] == [400.0]
    assert meta["mig_mode"] == [None] and meta["devices"][0]["energy_counter"] is True
    m.close()
    assert fake.shutdowns == 1


def test_counter_unsupported_falls_back_to_power_and_instant_field():
    fake = FakeNvml(energy_mj=None, instant=True, power_mw=(250_500,))
    m = NvmlMeter(nvml=fake)
    assert m.counter_channels == [] and m.averaging_s is None
    r = m.read()
    assert r.power_w == {"gpu0": 250.5} and r.energy_j == {}


def test_errors_mid_run_become_gaps_not_zeros():
    fake = FakeNvml(power_mw=(200_000,), fail_power_at={3, 4})
    m = NvmlMeter(nvml=fake)
    s = Sampler(m, period_s=0.002).start()
    while fake.power_calls[0] < 9:
        time.sleep(0.001)
    with pytest.warns(RuntimeWarning, match="gap"):
        tr = s.stop()
    p = tr.channels["gpu0"]
    assert np.isnan(p).sum() == 2 and not (p == 0).any()
    assert len(tr.gaps) == 1 and tr.gaps[0].channel == "gpu0" and "GPU is lost" in tr.gaps[0].reason
    e = energy(tr)
    assert e.energy_j == pytest.approx(200.0 * e.duration_s)  # bridged at 200 W, not zeroed
    assert e.coverage < 1.0


def test_two_gpus_sum_channel_and_selection():
    fake = FakeNvml(
        n=3,
        power_mw=(100_000, 50_000, 70_000),
        energy_mj=[lambda k: 1000 * k, lambda k: 2000 * k, lambda k: 3000 * k],
    )
    m = NvmlMeter(gpus="0,2", nvml=fake)
    assert m.channels == ["gpu0", "gpu2", "gpus"] and m.primary == "gpus"
    r = m.read()
    assert r.power_w["gpus"] == pytest.approx(100.0 + 70.0)
    assert r.energy_j["gpus"] == pytest.approx(1.0 + 3.0)
    with pytest.raises(InvalidValueError, match="does not exist"):
        NvmlMeter(gpus=[5], nvml=FakeNvml(n=2))
    with pytest.raises(InvalidValueError):
        parse_gpus("0,x")
    assert parse_gpus(None) is None and parse_gpus("1, 0") == [1, 0]


def test_one_gpu_failing_makes_the_sum_nan():
    fake = FakeNvml(n=2, power_mw=(100_000, 50_000), fail_power_at={0})
    m = NvmlMeter(nvml=fake)
    r = m.read()
    assert math.isnan(r.power_w["gpu0"]) and math.isnan(r.power_w["gpus"])
    assert "GPU is lost" in r.errors["gpu0"]


def test_unavailable_without_driver():
    fake = FakeNvml(init_error=pynvml.NVMLError_LibraryNotFound())
    ok, reason = NvmlMeter.probe(nvml=fake)
    assert not ok and "install the NVIDIA driver" in reason
    with pytest.raises(MeterUnavailableError, match="NVIDIA driver"):
        NvmlMeter(nvml=fake)


def test_real_pynvml_probe_on_this_machine_says_why():
    infos = {i.name: i for i in list_meters()}
    # the CI machines have no GPU: then the reason must say what is missing
    assert infos["nvml"].available or "NVIDIA driver" in infos["nvml"].reason


def test_counter_failing_mid_run_is_bridged_exactly_by_the_next_read():
    def counter(k):
        if k == 2:
            raise pynvml.NVMLError_Unknown()
        return 10_000 * k  # +10 J per call

    m = NvmlMeter(nvml=FakeNvml(energy_mj=[counter]))
    r1, r2, r3 = m.read(), m.read(), m.read()
    assert r1.energy_j["gpu0"] == pytest.approx(10.0)
    assert math.isnan(r2.energy_j["gpu0"]) and "NVML energy read failed" in r2.errors["gpu0"]
    assert r2.power_w["gpu0"] == 100.0  # the power read still worked
    assert r3.energy_j["gpu0"] == pytest.approx(30.0)  # nothing lost: the counter is cumulative
