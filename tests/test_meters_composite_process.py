"""A meter combination (``amdgpu+rapl``) in the out-of-process sampler (issue 17 part 2): the
composite carries an ``open_spec`` naming its members, the sampler process reopens the same
combination, and the trace it records has both scopes with the right sums. Two real meters read
fake sysfs trees (an amdgpu hwmon folder and a RAPL zone side by side under one root)."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest

from inferlca.errors import InvalidValueError
from inferlca.meters.composite import CompositeMeter
from inferlca.meters.registry import COMPOSITE, open_meter, reopen
from inferlca.meters.sampler_process import open_sampler


def _tree(root):
    gpu = root / "hwmon0"
    gpu.mkdir(parents=True)
    (gpu / "name").write_text("amdgpu\n")
    (gpu / "power1_input").write_text("50000000\n")  # 50 W in microwatts
    cpu = root / "intel-rapl:0"
    cpu.mkdir()
    (cpu / "name").write_text("package-0\n")
    (cpu / "energy_uj").write_text("1000000\n")
    (cpu / "max_energy_range_uj").write_text("262143328850\n")
    return gpu, cpu


def test_combination_has_an_open_spec_that_reopens_the_same_channels(tmp_path):
    _tree(tmp_path)
    m = open_meter("amdgpu+rapl", root=str(tmp_path))
    assert isinstance(m, CompositeMeter) and m.open_spec is not None
    name, options = m.open_spec
    assert name == COMPOSITE
    assert [member[0] for member in options["members"]] == ["amdgpu", "rapl"]
    pickle.dumps(m.open_spec)  # what the sampler sends to its process
    again = reopen(name, options)
    try:
        assert again.name == "amdgpu+rapl"
        assert again.channels == m.channels and again.counter_channels == m.counter_channels
        assert again.primary == m.primary == "total"
    finally:
        again.close()
        m.close()


def test_process_sampler_samples_the_combination_in_its_own_process(tmp_path):
    _gpu, cpu = _tree(tmp_path)
    m = open_meter("amdgpu+rapl", root=str(tmp_path))
    with open_sampler(m, period_s=0.01, priority="normal") as s:
        import time

        for k in range(1, 31):  # the RAPL counter grows 1 J per step (atomic writes: no torn reads)
            tmp = cpu / "energy_uj.tmp"
            tmp.write_text(f"{1_000_000 + k * 1_000_000}\n")
            os.replace(tmp, cpu / "energy_uj")
            time.sleep(0.02)
    assert s.kind == "process", s.fallback_reason
    tr = s.trace
    assert {"accelerator", "host", "total"} <= set(tr.channels)
    acc = tr.channels["accelerator"]
    assert not np.isnan(acc).any() and np.all(acc == pytest.approx(50.0))
    # the host counter rose by 30 J in all: the trace's host counter says the same
    host_j = tr.counters["host"]
    assert host_j[-1] - host_j[0] == pytest.approx(30.0, abs=1.0)
    m.close()


def test_a_broken_composite_open_spec_is_refused():
    with pytest.raises(InvalidValueError, match="at least two members"):
        reopen(COMPOSITE, {"members": [["rapl", {}]]})
