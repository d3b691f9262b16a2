"""The Level Zero Sysman meter (``--meter pyzes``) against a fake ``pyzes``-shaped module: the same
function names, ctypes handle types and two-call enumeration as the real bindings, with energy
counters the test advances. Checked: card domains only (tiles are not counted twice), power from
the counter rate, the sum over cards, gaps for failed reads, and the refusals."""

from __future__ import annotations

import ctypes
import math

import pytest

from inferlca.errors import InvalidValueError, MeterUnavailableError
from inferlca.meters.intelgpu import ZesMeter
from inferlca.meters.registry import open_meter

OK, ERR = 0, 0x78000001


class _Counter(ctypes.Structure):
    _fields_ = [("energy", ctypes.c_uint64), ("timestamp", ctypes.c_uint64)]


class _Props(ctypes.Structure):
    _fields_ = [("onSubdevice", ctypes.c_uint8), ("subdeviceId", ctypes.c_uint32)]


class FakeZes:
    """Two GPUs; GPU 0 has a card domain and a tile domain, GPU 1 a card domain only.

    ``energy_uj[domain]`` / ``time_us`` are what the next zesPowerGetEnergyCounter returns.
    """

    ZE_RESULT_SUCCESS = OK
    zes_driver_handle_t = ctypes.c_void_p
    zes_device_handle_t = ctypes.c_void_p
    zes_pwr_handle_t = ctypes.c_void_p
    zes_power_energy_counter_t = _Counter
    zes_power_properties_t = _Props

    def __init__(self, devices=((11, 12), (21,)), init_rc=OK):
        self.devices = devices  # per device, its power domain handles (first = card)
        self.tiles = {12}
        self.energy_uj = {11: 1_000_000, 12: 400_000, 21: 5_000_000}
        self.time_us = 1_000_000
        self.init_rc = init_rc
        self.fail = set()

    @staticmethod
    def _fill(count_ref, arr, values):
        count = count_ref._obj
        if arr is None:
            count.value = len(values)
            return OK
        for i, v in enumerate(values[:count.value]):
            arr[i] = v
        return OK

    def zesInit(self, flags):
        return self.init_rc

    def zesDriverGet(self, count_ref, arr):
        return self._fill(count_ref, arr, [1])

    def zesDeviceGet(self, driver, count_ref, arr):
        return self._fill(count_ref, arr, [100 + i for i in range(len(self.devices))])

    def zesDeviceEnumPowerDomains(self, device, count_ref, arr):
        return self._fill(count_ref, arr, list(self.devices[device - 100]))

    def zesPowerGetProperties(self, dom, props_ref):
        props_ref._obj.onSubdevice = 1 if dom in self.tiles else 0
        return OK

    def zesPowerGetEnergyCounter(self, dom, counter_ref):
        if dom in self.fail:
            return ERR
        counter_ref._obj.energy = self.energy_uj[dom]
        counter_ref._obj.timestamp = self.time_us
        return OK


def test_card_domains_power_from_the_counter_rate_and_the_sum():
    z = FakeZes()
    m = ZesMeter(pyzes=z)
    assert m.channels == ["intelgpu0", "intelgpu1", "intelgpus"] and m.primary == "intelgpus"
    assert m.channel_scopes()["intelgpu0"] == "accelerator"
    z.time_us += 500_000                       # 0.5 s later
    z.energy_uj[11] += 50_000_000              # +50 J on GPU 0's card -> 100 W
    z.energy_uj[12] += 20_000_000              # its tile: inside the card, never added
    z.energy_uj[21] += 10_000_000              # +10 J on GPU 1 -> 20 W
    r = m.read()
    assert r.power_w["intelgpu0"] == pytest.approx(100.0)
    assert r.power_w["intelgpu1"] == pytest.approx(20.0)
    assert r.power_w["intelgpus"] == pytest.approx(120.0)
    assert r.energy_j["intelgpus"] == pytest.approx(60.0)


def test_a_failed_read_is_a_gap_not_a_zero():
    z = FakeZes(devices=((11,),))
    m = ZesMeter(pyzes=z)
    assert m.primary == "intelgpu0"
    z.fail.add(11)
    z.time_us += 100_000
    r = m.read()
    assert math.isnan(r.power_w["intelgpu0"]) and "intelgpu0" in r.errors


def test_no_driver_or_no_card_is_unavailable():
    with pytest.raises(MeterUnavailableError, match="zesInit failed"):
        ZesMeter(pyzes=FakeZes(init_rc=ERR))
    z = FakeZes(devices=((12,),))  # a tile domain only
    with pytest.raises(MeterUnavailableError, match="no Intel GPU"):
        ZesMeter(pyzes=z)


def test_registry_opens_it_and_refuses_it_beside_the_hwmon_intel_meter():
    m = open_meter("pyzes", pyzes=FakeZes())
    assert m.name == "pyzes" and m.open_spec is not None
    with pytest.raises(InvalidValueError, match="counts a rail twice"):
        open_meter("pyzes+intel-gpu", pyzes=FakeZes())


def test_without_the_package_the_probe_says_what_to_install():
    ok, why = ZesMeter.probe()
    assert not ok and "pyzes" in why
