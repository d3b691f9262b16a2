"""Reading LoadGen's logs: the detail log (``:::MLLOG {json}`` lines) and the trace.

The trace (``mlperf_log_trace.json``) is Chrome-trace shaped but not strict JSON (it may end with a
trailing comma or be cut short by a crash), so it is read line by line: each event is one line,
and a line that does not parse is skipped. Per-sample latencies come from the ``Sample`` begin
events, whose ``args.complete_ns`` is the time from the query's issue to the sample's completion.

Percentiles follow LoadGen's own rule (``results.cc``): the value at index ``floor(n * p)`` of the
sorted latencies, capped at ``n - 1``, so our p50/p90/p99 match its summary.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inferlca.errors import InputFileError
from inferlca.stats import loadgen_percentile  # LoadGen's rule; also imported from here

DETAIL = "mlperf_log_detail.txt"
SUMMARY = "mlperf_log_summary.txt"
TRACE = "mlperf_log_trace.json"
ACCURACY = "mlperf_log_accuracy.json"


def read_detail(path: str | Path) -> dict[str, Any]:
    """``key -> value`` of the ``:::MLLOG`` lines of a detail log (last value wins)."""
    out: dict[str, Any] = {}
    p = Path(path)
    if not p.exists():
        return out
    with p.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.startswith(":::MLLOG"):
                continue
            try:
                rec = json.loads(line[len(":::MLLOG"):])
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "key" in rec:
                out[str(rec["key"])] = rec.get("value")
    return out


@dataclass
class TraceLatencies:
    """Latencies from a LoadGen trace.

    Attributes:
        sample_latency_s: per sample, from its query's issue to its completion (s).
        query_latency_s: per query, the slowest of its samples (s).
        sample_index: QSL index of each sample, same order as ``sample_latency_s``.
        events: number of trace events parsed; ``skipped``: lines that did not parse.
    """

    sample_latency_s: np.ndarray
    query_latency_s: np.ndarray
    sample_index: np.ndarray
    events: int = 0
    skipped: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def read_trace_latencies(path: str | Path) -> TraceLatencies:
    """Parse the trace line by line (it is not strict JSON); see the module docstring.

    Raises:
        InputFileError: the file does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise InputFileError(p, "LoadGen trace file not found (was enable_trace set?)")
    samples: list[tuple[int, int, int]] = []  # (query_seq, sample_idx, complete_ns)
    events = skipped = 0
    with p.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            s = line.strip().rstrip(",")
            if not s.startswith("{") or s.startswith('{"traceEvents"'):
                continue
            try:
                ev = json.loads(s)
            except json.JSONDecodeError:
                skipped += 1
                continue
            events += 1
            if ev.get("name") == "Sample" and ev.get("ph") == "b":
                args = ev.get("args") or {}
                if "complete_ns" in args:
                    samples.append((int(args.get("query_seq", len(samples))),
                                    int(args.get("sample_idx", -1)), int(args["complete_ns"])))
    samples.sort()
    lat = np.array([c for _, _, c in samples], dtype=np.float64) / 1e9
    by_query: dict[int, int] = defaultdict(int)
    for q, _, c in samples:
        by_query[q] = max(by_query[q], c)
    qlat = np.array([by_query[q] for q in sorted(by_query)], dtype=np.float64) / 1e9
    idx = np.array([i for _, i, _ in samples], dtype=np.int64)
    return TraceLatencies(lat, qlat, idx, events, skipped)


def latency_stats(latencies_s: np.ndarray) -> dict[str, float]:
    """``latency_{min,p50,p90,p99,max,mean}_s`` (metric keys of the store contract)."""
    v = np.asarray(latencies_s, dtype=np.float64)
    if v.size == 0:
        return {}
    return {"latency_min_s": float(v.min()), "latency_p50_s": loadgen_percentile(v, 0.5),
            "latency_p90_s": loadgen_percentile(v, 0.9),
            "latency_p99_s": loadgen_percentile(v, 0.99), "latency_max_s": float(v.max()),
            "latency_mean_s": float(v.mean())}


@dataclass
class Validity:
    """LoadGen's verdict on a run, in plain words.

    Attributes:
        valid: LoadGen's ``result_validity == "VALID"``.
        text: one sentence ("VALID" or why not).
        fields: the raw ``result_*`` / ``early_stopping_*`` values.
    """

    valid: bool
    text: str
    fields: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "text": self.text, **self.fields}


def validity(detail: dict[str, Any]) -> Validity:
    """Summarize LoadGen's validity keys into a sentence that says plainly why a run is invalid."""
    keys = ("result_validity", "result_min_duration_met", "result_min_queries_met",
            "early_stopping_met", "result_invalid_reason", "early_stopping_result",
            "early_stopping_ttft_result", "early_stopping_tpot_result", "result_query_count", "effective_min_duration_ms", "effective_min_query_count",
            "effective_scenario", "effective_target_qps", "result_scheduled_samples_per_sec",
            "result_completed_samples_per_sec", "result_samples_per_second",
            "result_qps_with_loadgen_overhead")
    fields = {k: detail[k] for k in keys if k in detail}
    state = str(detail.get("result_validity", "UNKNOWN"))
    if state == "VALID":
        return Validity(True, "LoadGen: VALID", fields)
    reasons = []
    if detail.get("result_min_duration_met") is False:
        reasons.append("minimum duration not met")
    if detail.get("result_min_queries_met") is False:
        reasons.append("minimum query count not met")
    if detail.get("early_stopping_met") is False:
        # token runs (llm-generate) log their reason under the TTFT / TPOT keys instead
        es = next((" ".join(str(detail[k]).replace("*", "").split())
                   for k in ("early_stopping_result", "early_stopping_tpot_result",
                             "early_stopping_ttft_result") if str(detail.get(k) or "").strip()), "")
        reasons.append("early stopping not met" + (f" ({es})" if es else ""))
    why = str(detail.get("result_invalid_reason") or "").strip()
    if why:
        reasons.append(why)
    if state == "UNKNOWN":
        return Validity(False, "LoadGen gave no verdict (no result_validity in its log)", fields)
    text = f"LoadGen: {state} as an MLPerf result" + (f": {'; '.join(reasons)}" if reasons else "")
    return Validity(False, text, fields)
