"""One LoadGen test of a loaded token engine (``llm-generate``) without meter or store, with
its requests, engine steps and LoadGen's own token figures. Used by tests and benchmarks."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferlca.errors import InferlcaError, InvalidValueError
from inferlca.loadgen.harness import run_loadgen_test
from inferlca.loadgen.scenarios import plan_scenario
from inferlca.spec import RunSpec
from inferlca.workloads.llm.request import GenResult, Step
from inferlca.workloads.llm.workload import LLMGenerate


@dataclass
class GenerationTestResult:
    """What one LoadGen test of a generation workload produced.

    Attributes:
        results: every finished request, with token timestamps (engine clock, s).
        steps: the engine's prefill/decode steps in the test (engine clock, s).
        start_s, end_s: the test's window on the engine clock.
        batch_sizes: size of every batch the engine ran.
        loadgen: LoadGen's token figures (``ttft_p50_s``... from its detail log), its validity
            and plan (``to_dict`` of the runner's ``LoadgenRun``).
        latencies_s: LoadGen's query latencies from its trace (s).
    """

    results: list[GenResult]
    steps: list[Step]
    start_s: float
    end_s: float
    batch_sizes: list[int]
    loadgen: dict[str, Any] = field(default_factory=dict)
    latencies_s: Any = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


_DETAIL_TOKEN_KEYS = {
    "result_first_token_50.00_percentile_latency_ns": "ttft_p50_s",
    "result_first_token_99.00_percentile_latency_ns": "ttft_p99_s",
    "result_first_token_mean_latency_ns": "ttft_mean_s",
    "result_time_per_output_token_50.00_percentile_ns": "tpot_p50_s",
    "result_time_per_output_token_99.00_percentile_ns": "tpot_p99_s",
}


def token_latency_summary(detail: dict[str, Any]) -> dict[str, float]:
    """LoadGen's own token figures from its detail log (see :func:`~inferlca.loadgen.logs.read_detail`).

    Returns ``ttft_p50_s``, ``ttft_p99_s``, ``ttft_mean_s``, ``tpot_p50_s``, ``tpot_p99_s`` (s) and
    ``tokens_per_s`` where LoadGen logged them (Offline logs no first-token latencies).
    """
    out: dict[str, float] = {}
    for key, name in _DETAIL_TOKEN_KEYS.items():
        v = detail.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[name] = float(v) * 1e-9
    for key in ("result_completed_tokens_per_second", "result_token_throughput"):
        v = detail.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out["tokens_per_s"] = float(v)
            break
    return out


def run_token_test(workload: LLMGenerate, spec: RunSpec, *,
                   log_dir: str | Path | None = None) -> GenerationTestResult:
    """One real LoadGen test of a loaded generation workload, without meter or store.

    The runner's own :func:`~inferlca.loadgen.harness.run_loadgen_test` does the test (with the
    SUT LoadGen's layer chooses and the workload's LoadGen settings); this adds the requests,
    steps and LoadGen's token figures. Used by tests and benchmarks.

    Args:
        workload: a loaded :class:`~inferlca.workloads.llm.workload.LLMGenerate`.
        spec: the :class:`~inferlca.spec.RunSpec` (scenario, queries, samples per query, QPS...).
        log_dir: where LoadGen writes its logs (a temporary folder when None).
    """
    if workload.engine is None or workload.scheduler is None or not workload.samples:
        raise InvalidValueError("llm-generate: load the workload before running a test")
    plan = plan_scenario(spec)
    workload.take_results()  # start clean
    batches_before = len(workload.scheduler.batch_sizes)
    with tempfile.TemporaryDirectory(prefix="inferlca-lg-") as tmp:
        out_dir = Path(log_dir) if log_dir is not None else Path(tmp)
        start_s = workload.clock()
        lg_run = run_loadgen_test(workload, plan, out_dir, extra_settings=workload.loadgen_settings(plan.scenario))
        end_s = workload.clock()
    if lg_run.errors:
        err = lg_run.errors[0]
        if isinstance(err, InferlcaError):
            raise err
        raise InferlcaError(f"llm-generate: a batch failed during the LoadGen test: {err}") from err
    summary: dict[str, Any] = dict(token_latency_summary(lg_run.detail))
    summary.update(lg_run.to_dict())
    if log_dir is None:
        summary.pop("log_dir", None)
    results, steps = workload.take_results()
    return GenerationTestResult(results, steps, start_s, end_s,
                                list(workload.scheduler.batch_sizes[batches_before:]), summary,
                                lg_run.latencies_s)
