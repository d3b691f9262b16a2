"""Builders of report-layer RunViews for unit tests of the pure views (no store needed)."""

from __future__ import annotations

import hashlib
import sys

import pytest

from inferlca.report.data import Repetition, RunView


def _u(value, low=None, high=None):
    return {"value": value, "low": value if low is None else low,
            "high": value if high is None else high}


def build_run(device="jetson-agx-orin-64gb", queries=16, *, run_id=None, category="edge",
              workload="bert-large-squad", scenario="single-stream", estimated=False,
              created="2026-01-01T00:00:00", p99_s=(0.02,), max_s=None, energy_j=(10.0,),
              use_g=(1.0,), embodied_g=(0.5,), grid=79.1, pue=1.0, lifetime=7.0,
              footprint_kg=(100.0, 50.0, 200.0), impact_spread=(0.8, 1.3), label=None,
              throughput_qps=None, extra_metrics=None):
    """A RunView whose repetitions carry the given per-repetition metrics and impacts.

    The summary impact is the mean over repetitions of nominal values, with low/high the nominal
    times ``impact_spread`` (as the interval of the inputs would give).
    """
    n = len(energy_j)
    reps = []
    for i in range(n):
        m = {"energy_total_j": energy_j[i], "energy_per_query_j": energy_j[i] / queries,
             "queries": float(queries), "duration_s": 10.0}
        if p99_s:
            m["latency_p99_s"] = p99_s[i % len(p99_s)]
            m["latency_max_s"] = (max_s or p99_s)[i % len(max_s or p99_s)] * (1.0 if max_s else 1.2)
        if throughput_qps:
            m["throughput_qps"] = throughput_qps
        if extra_metrics:
            m.update(extra_metrics)
        u, e = use_g[i % len(use_g)], embodied_g[i % len(embodied_g)]
        lo, hi = impact_spread
        imp = {"use_gco2e": _u(u, u * lo, u * hi), "embodied_gco2e": _u(e, e * lo, e * hi),
               "total_gco2e": _u(u + e, (u + e) * lo, (u + e) * hi),
               "per_query_gco2e": _u((u + e) / queries, (u + e) * lo / queries,
                                     (u + e) * hi / queries),
               "energy_kwh": _u(energy_j[i] / 3.6e6), "grid_gco2e_per_kwh": _u(grid),
               "pue": _u(pue), "lifetime_years": _u(lifetime),
               "device_embodied_kgco2e": _u(*footprint_kg), "allocation": "time-based",
               "sources": ["grid FR: seed study (ADEME Base Empreinte)"]}
        reps.append(Repetition(i, m, imp))

    def mean_u(key):
        vals = [r.impact[key] for r in reps]
        return {k: sum(v[k] for v in vals) / n for k in ("value", "low", "high")}

    keys = ("use_gco2e", "embodied_gco2e", "total_gco2e", "per_query_gco2e", "energy_kwh",
            "grid_gco2e_per_kwh", "pue", "lifetime_years", "device_embodied_kgco2e")
    summary = {"impact": {k: mean_u(k) for k in keys}, "measured": not estimated, "notes": []}
    summary["impact"]["sources"] = ["grid FR: seed study (ADEME Base Empreinte)"]
    return RunView(run_id=run_id or hashlib.sha1(f"{device}-{queries}-{created}-{scenario}-{workload}".encode()).hexdigest(), device_id=device,
                   device_name=device, category=category, workload=workload, scenario=scenario,
                   backend="torch", queries=queries, estimated=estimated,
                   kind="estimated" if estimated else "measured", status="complete", label=label,
                   created=created, spec={"workload": workload, "scenario": scenario,
                                          "queries": queries, "region": "FR"},
                   summary=summary, repetitions=tuple(reps))


@pytest.fixture
def make_run():
    return build_run


def _load_builder():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "fixtures" / "report" / "build_sample_store.py"
    spec = importlib.util.spec_from_file_location("report_sample_store_builder", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def sample_store(tmp_path_factory):
    """The replayed sample store (several devices, query counts, repetitions, estimates)."""
    builder = _load_builder()
    path = tmp_path_factory.mktemp("report-store") / "sample.db"
    ids = builder.build(path)
    return path, ids


@pytest.fixture(scope="session")
def sample_report(sample_store, tmp_path_factory):
    """The full HTML report of the sample store, built once: (out folder, ReportResult, runs)."""
    from inferlca.report.data import load_runs
    from inferlca.report.html import build_report
    from inferlca.store.sqlite import Store

    path, _ = sample_store
    out = tmp_path_factory.mktemp("report-out")
    with Store.open_readonly(path) as st:
        runs = load_runs(st)
        result = build_report(st, runs, out, store_path=str(path))
    return out, result, runs
