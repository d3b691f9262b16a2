"""Builders of realistic runs for the store tests (real traces parsed from recorded logs)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from inferlca.traces.trace import Gap, Mark, PowerTrace

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "store"

SPEC = {"workload": "bert-base-squad", "scenario": "single-stream", "backend": "torch",
        "queries": 16, "repetitions": 3, "label": "lab bench"}


def orin_trace() -> PowerTrace:
    """The VDD_GPU_SOC / VDD_CPU_CV / VIN_SYS_5V0 rails of a recorded Jetson AGX Orin tegrastats log
    (``tegrastats_orin_agx64_r36_1.log``), at the 0.5 s interval the log was written with."""
    rails: dict[str, list[float]] = {"VDD_GPU_SOC": [], "VDD_CPU_CV": [], "VIN_SYS_5V0": []}
    for line in (FIXTURES / "tegrastats_orin_agx64_r36_1.log").read_text().splitlines():
        for name, values in rails.items():
            m = re.search(rf"{name} (\d+)mW/", line)
            values.append(float(m.group(1)) / 1000.0 if m else float("nan"))
    n = len(rails["VDD_GPU_SOC"])
    t_s = np.arange(n) * 0.5
    channels = {k: np.array(v) for k, v in rails.items()}
    channels["VDD_GPU_SOC"][7] = np.nan  # a failed read: a gap, never a zero
    module = channels["VDD_GPU_SOC"] + channels["VDD_CPU_CV"] + channels["VIN_SYS_5V0"]
    channels = {"module": module, **channels}
    counters = {"module": np.concatenate([[0.0], np.cumsum(np.nan_to_num(module[1:]) * 0.5)])}
    return PowerTrace(
        t_s=t_s, channels=channels, primary="module", meter="tegrastats", estimated=False,
        counters=counters,
        marks=[Mark(0.0, "load"), Mark(5.0, "compute"), Mark(float(t_s[-1]), "end")],
        gaps=[Gap(3.25, 3.75, "tegrastats line without VDD_GPU_SOC", "VDD_GPU_SOC")],
        period_requested_s=0.5, meta={"device": "Jetson AGX Orin 64GB", "rails": list(rails)},
    )


def metrics(i: int) -> dict[str, float]:
    return {"duration_s": 24.5, "energy_total_j": 100.0 + 10 * i, "energy_compute_j": 60.0 + 10 * i,
            "queries": 16.0, "latency_p99_s": 0.02 + 0.001 * i, "energy_per_query_j": (60.0 + 10 * i) / 16}


def impact(i: int) -> dict:
    return {"use_gco2e": {"value": 1.0 + i, "low": 0.5 + i, "high": 2.0 + i},
            "per_query_gco2e": {"value": 0.1, "low": 0.05, "high": 0.2 + 0.1 * i},
            "allocation": "time-based", "pue": {"value": 1.0, "low": 1.0, "high": 1.0},
            "sources": ["ADEME Base Empreinte"] if i == 0 else ["ADEME Base Empreinte", "Pirson 2022"],
            "impact_compute": {"use_gco2e": {"value": 0.6 + i, "low": 0.3, "high": 1.2 + i}}}


def add_complete_run(store, reps: int = 3, device_id: str = "jetson-agx-orin-64gb",
                     device_name: str = "Jetson AGX Orin 64GB", spec: dict | None = None,
                     kind: str = "measured") -> str:
    rid = store.create_run(dict(spec or SPEC), kind=kind, device_id=device_id,
                           device_name=device_name, meter="tegrastats",
                           estimated=kind == "estimated", environment={"host": "bench"})
    trace = orin_trace()
    for i in range(reps):
        store.add_repetition(rid, i, metrics=metrics(i), impact=impact(i), trace=trace,
                             latencies_s=np.linspace(0.01, 0.02 + 0.001 * i, 16),
                             loadgen={"valid": False, "reason": "short run"},
                             extra_series={"ttft_s": np.full(16, 0.005)})
    store.finish_run(rid, "complete", None)
    return rid
