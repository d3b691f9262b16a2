"""One LoadGen test of a loaded workload: the system under test chosen from what the workload
declares, LoadGen started with our settings, its logs read back.

The SUT follows the workload's declaration (:mod:`inferlca.workloads.base`): a workload that
``streams_tokens`` (its own batching engine, e.g. ``llm-generate``) gets the token SUT
(:class:`~inferlca.loadgen.token_sut.GenerationSUT`: LoadGen hears each request's first token and
token count); every other workload gets :class:`~inferlca.loadgen.sut.WorkloadSUT`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from inferlca.errors import require
from inferlca.loadgen import logs
from inferlca.loadgen.scenarios import ScenarioPlan, test_settings
from inferlca.loadgen.sut import WorkloadQSL, WorkloadSUT
from inferlca.loadgen.token_sut import GenerationSUT
from inferlca.workloads.base import TokenEngine, Workload


class SystemUnderTest(Protocol):
    """What the harness needs from a SUT (:class:`WorkloadSUT` and :class:`GenerationSUT`)."""

    handle: Any
    samples_done: int
    samples_skipped: int
    outputs: dict[int, Any]
    tokens_out: list[float]
    errors: list[BaseException]

    def close(self, timeout_s: float = 5.0) -> None: ...


def make_sut(workload: Workload, scenario: str, *, batch_size: int = 1, keep_outputs: bool = False,
             stop: threading.Event | None = None,
             on_done: Callable[[int], None] | None = None) -> SystemUnderTest:
    """The SUT for ``workload``, chosen from what it declares (see the module docstring).

    For a token engine, requests it finished before the test (the runner's latency probe with
    ``--mlperf-compliant``) are dropped first, so the repetition counts the test's only.
    """
    if workload.streams_tokens:
        if not isinstance(workload, TokenEngine):
            raise TypeError(f"workload {workload.name!r} declares streams_tokens but lacks the "
                            "TokenEngine calls (request, submit, skip_waiting, take_results, clock)")
        workload.take_results()
        return GenerationSUT(workload, keep_outputs=keep_outputs, stop=stop, on_done=on_done)
    return WorkloadSUT(workload, scenario, batch_size=batch_size, keep_outputs=keep_outputs,
                       stop=stop, on_done=on_done)


@dataclass
class LoadgenRun:
    """One LoadGen test: its plan, logs, latencies and the SUT's counts."""

    plan: ScenarioPlan
    log_dir: Path
    detail: dict[str, Any]
    validity: logs.Validity
    trace: logs.TraceLatencies
    latencies_s: np.ndarray
    samples_done: int
    samples_skipped: int
    outputs: dict[int, Any]
    tokens_out: list[float]
    errors: list[BaseException]

    def to_dict(self) -> dict[str, Any]:
        return {"plan": self.plan.to_dict(), "validity": self.validity.to_dict(),
                "log_dir": str(self.log_dir), "samples_done": self.samples_done,
                "samples_skipped": self.samples_skipped, "trace_events": self.trace.events,
                "trace_lines_skipped": self.trace.skipped,
                "loadgen_version": self.detail.get("loadgen_version")}


def run_loadgen_test(workload: Workload, plan: ScenarioPlan, log_dir: Path, *,
                     mode: str = "performance", batch_size: int = 1,
                     stop: threading.Event | None = None,
                     on_done: Callable[[int], None] | None = None,
                     extra_settings: dict[str, Any] | None = None) -> LoadgenRun:
    """Run one LoadGen test of ``workload`` under ``plan``; logs go to ``log_dir``."""
    lg = require("mlperf_loadgen", "core", "running LoadGen")
    log_dir.mkdir(parents=True, exist_ok=True)
    settings = test_settings(plan, mode)
    for k, v in (extra_settings or {}).items():
        setattr(settings, k, v)
    log_settings = lg.LogSettings()
    log_settings.enable_trace = True
    log_settings.log_output.outdir = str(log_dir)
    log_settings.log_output.copy_summary_to_stdout = False
    sut = make_sut(workload, plan.scenario, batch_size=batch_size,
                   keep_outputs=(mode == "accuracy"), stop=stop, on_done=on_done)
    qsl = WorkloadQSL(workload, workload.performance_sample_count)
    try:
        lg.StartTestWithLogSettings(sut.handle, qsl.handle, settings, log_settings)
    finally:
        sut.close()
        qsl.close()
    detail = logs.read_detail(log_dir / logs.DETAIL)
    trace = logs.read_trace_latencies(log_dir / logs.TRACE)
    lat = trace.sample_latency_s if plan.scenario == "offline" else trace.query_latency_s
    if sut.samples_skipped:
        # only the samples that really ran before Ctrl-C (issued in order in these scenarios)
        done_q = sut.samples_done // max(1, plan.samples_per_query)
        lat = (trace.sample_latency_s[: sut.samples_done] if plan.scenario == "offline"
               else trace.query_latency_s[:done_q])
    return LoadgenRun(plan, log_dir, detail, logs.validity(detail), trace, np.asarray(lat),
                      sut.samples_done, sut.samples_skipped, sut.outputs, sut.tokens_out,
                      sut.errors)
