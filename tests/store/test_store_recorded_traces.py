"""Recorded power logs, imported by the meters layer, go through the store unchanged: the energy
computed from the stored trace equals the energy computed from the imported one, exactly."""

from __future__ import annotations

import numpy as np
import pytest
from helpers_store import FIXTURES

from inferlca.meters.replay import import_trace
from inferlca.store import Store
from inferlca.traces.energy import energy_j, phase_energies_j, with_marks


@pytest.mark.parametrize("log", ["nvidia_smi_a100_1.csv", "tegrastats_orin_agx64_r36_1.log"])
def test_recorded_log_round_trip(tmp_path, log):
    trace = import_trace(FIXTURES / log)
    t0, t1 = float(trace.t_s[0]), float(trace.t_s[-1])
    trace = with_marks(trace, [(t0, "load"), (t0 + (t1 - t0) / 3, "compute"), (t1, "end")])
    with Store.open(tmp_path / "inferlca.db") as s:
        rid = s.create_run({"workload": "replay", "queries": 1})
        s.add_repetition(rid, 0, metrics={"energy_total_j": energy_j(trace)}, trace=trace)
        back = s.load_trace(rid, 0)
        stored_bytes = s.info()["array_bytes"]
    for name, values in trace.channels.items():
        assert back.channels[name].tobytes() == np.asarray(values, dtype=np.float64).tobytes(), name
    assert back.t_s.tobytes() == trace.t_s.tobytes()
    assert back.marks == list(trace.marks) and back.gaps == list(trace.gaps)
    assert back.meta == trace.meta
    assert energy_j(back) == energy_j(trace)
    assert phase_energies_j(back) == phase_energies_j(trace)
    raw_bytes = 8 * trace.t_s.size * (1 + len(trace.channels))
    assert stored_bytes < raw_bytes  # smaller than raw float64, and lossless
