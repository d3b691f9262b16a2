"""RAPL meter on fake powercap sysfs trees under tmp_path: zones, wrap-around, permissions, gaps."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inferlca.errors import MeterUnavailableError
from inferlca.meters.rapl import RaplMeter, find_zones
from inferlca.meters.registry import open_meter


def zone(root, name, label, energy_uj, max_uj=262_143_328_850):
    d = root / name
    d.mkdir(parents=True)
    (d / "name").write_text(label + "\n")
    (d / "energy_uj").write_text(f"{energy_uj}\n")
    (d / "max_energy_range_uj").write_text(f"{max_uj}\n")
    return d


def set_uj(d, value):
    (d / "energy_uj").write_text(f"{value}\n")


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "powercap"
    p0 = zone(root, "intel-rapl:0", "package-0", 1_000_000)
    dram = zone(p0, "intel-rapl:0:0", "dram", 500_000)
    p1 = zone(root, "intel-rapl:1", "package-1", 2_000_000)
    return root, p0, dram, p1


def test_zones_and_channels(tree):
    root, *_ = tree
    assert [c for c, _ in find_zones(root)] == ["package-0", "package-0:dram", "package-1"]
    m = RaplMeter(root=root)
    assert m.channels == ["package-0", "package-0:dram", "package-1", "cpu"]
    assert m.primary == "cpu" and "cpu" in m.counter_channels


def test_energy_sums_packages_not_dram(tree):
    root, p0, dram, p1 = tree
    m = RaplMeter(root=root)
    set_uj(p0, 1_000_000 + 3_000_000)  # +3 J
    set_uj(dram, 500_000 + 1_000_000)  # +1 J (not in cpu)
    set_uj(p1, 2_000_000 + 2_000_000)  # +2 J
    r = m.read()
    assert r.energy_j["package-0"] == pytest.approx(3.0)
    assert r.energy_j["package-0:dram"] == pytest.approx(1.0)
    assert r.energy_j["cpu"] == pytest.approx(5.0)
    assert r.power_w["cpu"] > 0 and not r.errors


def test_wrap_around_uses_max_energy_range(tmp_path):
    root = tmp_path / "pc"
    p0 = zone(root, "intel-rapl:0", "package-0", 9_000_000, max_uj=10_000_000)
    m = RaplMeter(root=root)
    set_uj(p0, 1_500_000)  # wrapped: (10_000_000 - 9_000_000) + 1_500_000 = 2.5 J
    r = m.read()
    assert r.energy_j["package-0"] == pytest.approx(2.5)
    assert r.power_w["package-0"] > 0
    assert m.meta()["wraps"]["package-0"] == 1


def test_permission_error_says_the_fix(tree):
    if os.geteuid() == 0:
        pytest.skip("root reads any file: permission bits cannot be tested")
    root, p0, *_ = tree
    (p0 / "energy_uj").chmod(0)
    ok, reason = RaplMeter.probe(root=root)
    assert not ok and "chmod a+r" in reason


def test_permission_error_via_unreadable_directory_entry(tmp_path):
    # energy_uj as a directory: reading it fails like an unreadable file would, even as root
    root = tmp_path / "pc"
    d = zone(root, "intel-rapl:0", "package-0", 1)
    (d / "energy_uj").unlink()
    (d / "energy_uj").mkdir()
    with pytest.raises(MeterUnavailableError, match="cannot read"):
        open_meter("rapl", root=root)


def test_missing_powercap_says_why(tmp_path):
    with pytest.raises(MeterUnavailableError, match="no RAPL zones"):
        open_meter("rapl", root=tmp_path / "none")


def test_read_failure_is_a_gap_then_counter_recovers(tree):
    root, _, _, p1 = tree
    m = RaplMeter(root=root)
    (p1 / "energy_uj").unlink()
    r = m.read()
    assert np.isnan(r.power_w["package-1"]) and np.isnan(r.power_w["cpu"])
    assert "RAPL read failed" in r.errors["package-1"]
    set_uj(p1, 2_000_000 + 4_000_000)
    r2 = m.read()
    assert r2.energy_j["package-1"] == pytest.approx(4.0)  # nothing lost across the gap


def test_permission_denied_reported_with_fix_even_as_root(tree, monkeypatch):
    # we run as root in CI, so simulate the kernel's EACCES at the one file-reading function
    from inferlca.meters import rapl

    root, p0, *_ = tree
    real = rapl._read_int

    def denied(path):
        if path == p0 / "energy_uj":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(rapl, "_read_int", denied)
    with pytest.raises(MeterUnavailableError, match=r"root only since Linux 5.10.*chmod a\+r"):
        open_meter("rapl", root=root)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.integers(0, 999_999), steps=st.lists(st.integers(0, 999_999), min_size=1, max_size=30)
)
def test_wrap_around_property_counter_is_the_sum_of_increments(tmp_path_factory, start, steps):
    # counter range 1e6 uJ; each step < range, so at most one wrap per read: the total energy
    # must be exactly the sum of the increments, whatever the wraps
    root = tmp_path_factory.mktemp("pc")
    p0 = zone(root, "intel-rapl:0", "package-0", start, max_uj=1_000_000)
    m = RaplMeter(root=root)
    raw = start
    for inc in steps:
        raw = (raw + inc) % 1_000_000
        set_uj(p0, raw)
        r = m.read()
    assert r.energy_j["package-0"] == pytest.approx(sum(steps) / 1e6, abs=1e-12)
    expected_wraps = 0
    raw = start
    for inc in steps:
        expected_wraps += (raw + inc) >= 1_000_000
        raw = (raw + inc) % 1_000_000
    assert m.meta()["wraps"]["package-0"] == expected_wraps
