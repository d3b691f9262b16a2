"""LoadGen test settings for our scenarios.

Short runs are the point of this tool (the study ran 16 to 256 queries), so by default a run does
exactly the queries asked for: ``min_query_count = max_query_count = N`` and ``min_duration = 0``.
LoadGen then reports such runs as INVALID for MLPerf (too few queries for early stopping, or a
duration under its 600 s minimum); we report that plainly. ``mlperf_compliant=True`` keeps LoadGen's
own minimums (the scenario defaults of its ``mlperf.conf``), so a run may last ten minutes or more.

Scenario mapping (MLPerf Inference rules):

* ``single-stream``: one sample per query, the next query when the previous one completes.
* ``multi-stream``: ``samples_per_query`` samples per query, the next query when it completes.
* ``server``: one sample per query, Poisson arrivals at ``target_qps``.
* ``offline``: one query holding every sample (``offline_samples``, default = ``queries``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inferlca.errors import UnknownNameError, require

if TYPE_CHECKING:
    from inferlca.spec import RunSpec

LOADGEN_SCENARIOS = {
    "single-stream": "SingleStream",
    "multi-stream": "MultiStream",
    "server": "Server",
    "offline": "Offline",
}


@dataclass
class ScenarioPlan:
    """What a LoadGen test will do, before it runs (also stored with the run).

    Attributes:
        scenario: our name (``single-stream``...).
        loadgen_scenario: LoadGen's name (``SingleStream``...).
        queries: queries LoadGen issues (Offline: 1).
        samples: samples in total.
        samples_per_query: 1, ``samples_per_query`` (MultiStream) or all (Offline).
        mlperf_compliant: LoadGen's minimums kept.
        settings: the TestSettings fields we set, by name.
    """

    scenario: str
    loadgen_scenario: str
    queries: int
    samples: int
    samples_per_query: int
    mlperf_compliant: bool
    settings: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def plan_scenario(spec: RunSpec, expected_latency_s: float | None = None) -> ScenarioPlan:
    """The settings for ``spec.scenario`` (exact counts unless ``spec.mlperf_compliant``).

    Args:
        spec: the run specification.
        expected_latency_s: a measured latency per query, used for LoadGen's "expected" hints
            (SingleStream/MultiStream expected latency, Offline expected QPS) so that it does not
            generate far more queries than needed when minimums are kept.
    """
    if spec.scenario not in LOADGEN_SCENARIOS:
        raise UnknownNameError("LoadGen scenario", spec.scenario, LOADGEN_SCENARIOS,
                               hint="(interactive runs on our own scheduler)")
    lg_name = LOADGEN_SCENARIOS[spec.scenario]
    settings: dict[str, Any] = {}
    n = spec.queries
    spq = 1
    queries = n
    if spec.scenario == "multi-stream":
        spq = spec.samples_per_query
        settings["multi_stream_samples_per_query"] = spq
    elif spec.scenario == "server":
        settings["server_target_qps"] = float(spec.target_qps)
    elif spec.scenario == "offline":
        n = spec.offline_samples or spec.queries
        spq = n
        queries = 1
    if not spec.mlperf_compliant:
        # for Offline, LoadGen reads min/max_query_count as the number of samples in its query
        exact = n if spec.scenario == "offline" else queries
        settings["min_query_count"] = exact
        settings["max_query_count"] = exact
        settings["min_duration_ms"] = 0
        settings["max_duration_ms"] = 0
    if expected_latency_s and expected_latency_s > 0:
        if spec.scenario in ("single-stream", "multi-stream"):
            key = ("single_stream_expected_latency_ns" if spec.scenario == "single-stream"
                   else "multi_stream_expected_latency_ns")
            settings[key] = max(1, int(expected_latency_s * 1e9))
        elif spec.scenario == "offline" and spec.mlperf_compliant:
            settings["offline_expected_qps"] = max(1e-3, 1.0 / expected_latency_s)
    return ScenarioPlan(spec.scenario, lg_name, queries, n if spec.scenario != "multi-stream"
                        else queries * spq, spq, spec.mlperf_compliant, settings)


def test_settings(plan: ScenarioPlan, mode: str = "performance") -> Any:
    """Build LoadGen's ``TestSettings`` from a plan (``mode``: performance or accuracy)."""
    lg = require("mlperf_loadgen", "core", "running LoadGen")
    ts = lg.TestSettings()
    ts.scenario = getattr(lg.TestScenario, plan.loadgen_scenario)
    ts.mode = lg.TestMode.AccuracyOnly if mode == "accuracy" else lg.TestMode.PerformanceOnly
    for key, value in plan.settings.items():
        setattr(ts, key, value)
    return ts
