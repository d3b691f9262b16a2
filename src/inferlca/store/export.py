"""Export the results store as tables: CSV, JSON or Parquet.

Five tables, the same in every format (units in the column names), and a sixth for mixed traffic:

* ``runs``: one row per run with its figures: identity, device, status, then for every metric
  ``<key>_mean``, ``<key>_std``, ``<key>_ci95_low``, ``<key>_ci95_high``, ``<key>_n`` and for every
  impact figure ``<key>``, ``<key>_low``, ``<key>_high`` (the run interval rule,
  :func:`inferlca.stats.combine_intervals`).
* ``repetitions``: one row per repetition: its metrics and impact figures.
* ``traces``: long format, one row per sample and channel:
  ``run_id, repetition, channel, t_s, power_w, phase`` (``phase``: the mark in force).
* ``latencies``: ``run_id, repetition, query, latency_s``.
* ``series``: ``run_id, repetition, name, query, value`` (extra per-query series).
* ``classes`` (written by default when a run exported has request classes, or when asked):
  one row per repetition, request class and figure: ``run_id, repetition, class, kind, metric,
  value`` (the repetition's ``loadgen["traffic"]["classes"]``: requests, tokens, latency
  percentiles, attributed energy).

Missing values are empty (CSV) or null (JSON, Parquet), never 0: the embodied columns of a
device without a manufacturing footprint are empty, with the reason in ``embodied_na_reason``; a
channel's gap (``NaN``) stays ``nan`` in CSV and Parquet, ``null`` in JSON (strict JSON has no NaN). Floats are written with full precision
(``repr``), so numbers read back equal the stored ones.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inferlca.errors import UnknownNameError, UsageError, named
from inferlca.store.records import RunRecord

FORMATS = ("csv", "json", "parquet")
TABLES = ("runs", "repetitions", "traces", "latencies", "series")
#: every table :func:`build_tables` makes: ``classes`` only for mixed-traffic runs
KNOWN_TABLES = (*TABLES, "classes")

#: metric keys of the contract, in the order exports show them; others follow alphabetically
METRIC_ORDER = (
    "duration_s", "load_duration_s", "compute_duration_s", "energy_total_j", "energy_load_j",
    "energy_compute_j", "energy_per_query_j", "queries", "samples", "throughput_qps",
    "mean_power_w", "peak_power_w", "coverage", "latency_min_s", "latency_p50_s", "latency_p90_s",
    "latency_p99_s", "latency_max_s", "latency_mean_s", "tokens_in", "tokens_out", "ttft_p50_s",
    "ttft_p99_s", "tpot_p50_s", "tpot_p99_s", "tokens_per_s", "energy_per_token_j",
    "energy_prefill_j", "energy_decode_j",
)
_STATS = ("mean", "std", "ci95_low", "ci95_high", "n")
_INT_COLUMNS = {"queries", "queries_planned", "repetition", "query", "repetitions_planned", "repetitions_stored"}

_RUN_FIELDS = ("run_id", "created_at", "finished_at", "status", "kind", "estimated", "measured",
               "workload", "scenario", "backend", "queries", "repetitions_planned",
               "repetitions_stored", "device_id", "device_name", "meter", "label", "error", "notes")


@dataclass
class Table:
    """A table: column names and rows (tuples in column order).

    The long tables (traces, latencies, series) give ``rows`` as a generator that loads one
    repetition at a time, with fixed column ``types`` (``string``, ``int64``, ``float64``), so an
    export of a large store streams instead of holding every sample in memory. Such rows can be
    iterated once.
    """

    name: str
    columns: list[str]
    rows: Iterable[tuple[Any, ...]]
    types: dict[str, str] | None = None


def _metric_keys(keys: Iterable[str]) -> list[str]:
    present = set(keys)
    ordered = [k for k in METRIC_ORDER if k in present]
    return ordered + sorted(present - set(ordered))


#: impact keys that have no value when the device has no manufacturing footprint
EMBODIED_KEYS = ("embodied_gco2e", "device_embodied_kgco2e")
NO_FOOTPRINT = ("no manufacturing footprint: device not in the hardware catalog or not given "
                "(pass --device with a catalog id)")


def embodied_missing(impact: Mapping[str, Any] | None) -> str | None:
    """Why the embodied figures of ``impact`` are not available, or ``None`` when they are.

    The lca layer stores a zero footprint (value, low and high all 0) for a device it has no
    manufacturing data for; that is a missing value, not a zero, and every view shows it as n/a.
    """
    if not impact:
        return None
    if impact.get("embodied_available") is False:
        return NO_FOOTPRINT
    fp = impact.get("device_embodied_kgco2e")
    if isinstance(fp, Mapping) and all(fp.get(k) == 0 for k in ("value", "low", "high")):
        return NO_FOOTPRINT
    if isinstance(fp, (int, float)) and not isinstance(fp, bool) and fp == 0:
        return NO_FOOTPRINT
    return None


def flatten_impact(impact: Mapping[str, Any] | None, prefix: str = "") -> dict[str, Any]:
    """``{"use_gco2e": {"value", "low", "high"}, "impact_compute": {...}}`` -> flat columns:
    ``use_gco2e``, ``use_gco2e_low``, ``use_gco2e_high``, ``impact_compute_use_gco2e``...;
    lists (sources) are joined with ``"; "``.

    A device without a manufacturing footprint gives empty (null) embodied columns and the reason
    in ``<prefix>embodied_na_reason`` (see :func:`embodied_missing`), never 0."""
    out: dict[str, Any] = {}
    missing = embodied_missing(impact)
    for k, v in (impact or {}).items():
        name = f"{prefix}{k}"
        if missing and k in EMBODIED_KEYS:
            out[name] = out[f"{name}_low"] = out[f"{name}_high"] = None
            continue
        if isinstance(v, Mapping) and {"value", "low", "high"} <= set(v):
            out[name] = v["value"]
            out[f"{name}_low"] = v["low"]
            out[f"{name}_high"] = v["high"]
        elif isinstance(v, Mapping):
            out.update(flatten_impact(v, prefix=f"{name}_"))
        elif isinstance(v, (list, tuple)):
            out[name] = "; ".join(str(x) for x in v)
        else:
            out[name] = v
    if impact and "device_embodied_kgco2e" in impact:
        out[f"{prefix}embodied_na_reason"] = missing
    return out


def _union(dicts: Iterable[Mapping[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for d in dicts:
        keys.update(dict.fromkeys(d))
    return list(keys)


def _mlperf_valid(summary: Mapping[str, Any], run: RunRecord) -> bool | None:
    """True when LoadGen called every repetition valid, False when any was not, else None."""
    flags = [v.get("valid") for v in summary.get("validity") or [] if isinstance(v, Mapping)]
    if not flags:
        flags = [loadgen_valid(r.loadgen) for r in run.repetitions]
    flags = [f for f in flags if isinstance(f, bool)]
    return all(flags) if flags else None


def loadgen_valid(loadgen: Mapping[str, Any] | None) -> bool | None:
    """Whether a repetition is MLPerf-valid: the runner writes ``loadgen["validity"]["valid"]``
    (older stores: ``loadgen["valid"]``); None when the repetition did not go through LoadGen."""
    if not loadgen:
        return None
    validity = loadgen.get("validity")
    flag = validity.get("valid") if isinstance(validity, Mapping) else loadgen.get("valid")
    return flag if isinstance(flag, bool) else None


def _accuracy(summary: Mapping[str, Any]) -> dict[str, Any]:
    acc = summary.get("accuracy")
    if not isinstance(acc, Mapping):
        return {}
    return {f"accuracy_{k}": v for k, v in acc.items()
            if isinstance(v, (int, float, str)) or v is None}


def runs_table(runs: Sequence[RunRecord]) -> Table:
    """One row per run with its summary figures (plus ``mlperf_valid`` and ``accuracy_*``)."""
    summaries = [r.summary or {} for r in runs]
    metric_keys = _metric_keys(_union(s.get("metrics") or {} for s in summaries))
    from inferlca.stats import combine_impacts

    # the run interval rule on the stored repetitions (older summaries averaged the ends)
    impacts = [flatten_impact(combine_impacts([rep.impact for rep in r.repetitions])
                              or s.get("impact")) for r, s in zip(runs, summaries)]
    impact_cols = _union(impacts)
    accuracies = [_accuracy(s) for s in summaries]
    accuracy_cols = _union(accuracies)
    columns = (list(_RUN_FIELDS) + ["mlperf_valid"] + accuracy_cols
               + [f"{k}_{s}" for k in metric_keys for s in _STATS] + impact_cols)
    rows = []
    for run, summary, impact, acc in zip(runs, summaries, impacts, accuracies):
        base = run.to_dict(repetitions=False)
        row: list[Any] = [base[f] if f != "notes" else "; ".join(run.notes) for f in _RUN_FIELDS]
        row.append(_mlperf_valid(summary, run))
        row += [acc.get(c) for c in accuracy_cols]
        metrics = summary.get("metrics") or {}
        for k in metric_keys:
            stats = metrics.get(k) or {}
            row += [stats.get(s) for s in _STATS]
        row += [impact.get(c) for c in impact_cols]
        rows.append(tuple(row))
    return Table("runs", columns, rows)


def repetitions_table(runs: Sequence[RunRecord]) -> Table:
    """One row per repetition: metrics and impact figures."""
    reps = [(run, rep) for run in runs for rep in run.repetitions]
    metric_keys = _metric_keys(_union(rep.metrics for _, rep in reps))
    impacts = [flatten_impact(rep.impact) for _, rep in reps]
    impact_cols = _union(impacts)
    # the run's planned query count is `queries_planned`: `queries` is the metric (queries answered
    # in this repetition), and Parquet readers refuse two columns of one name
    columns = (["run_id", "repetition", "status", "created_at", "device_id", "device_name",
                "workload", "scenario", "queries_planned", "loadgen"] + metric_keys + impact_cols)
    assert len(set(columns)) == len(columns), "duplicate export column"
    rows = []
    for (run, rep), impact in zip(reps, impacts):
        rows.append((run.run_id, rep.index, rep.status, rep.created_at, run.device_id,
                     run.device_name, run.workload, run.scenario, run.queries,
                     None if rep.loadgen is None else json.dumps(rep.loadgen, sort_keys=True, default=str),
                     *[rep.metrics.get(k) for k in metric_keys], *[impact.get(c) for c in impact_cols]))
    return Table("repetitions", columns, rows)


def _phases(t_s: np.ndarray, marks: Sequence[tuple[float, str]]) -> list[str | None]:
    if not marks:
        return [None] * len(t_s)
    times = np.array([m[0] for m in marks], dtype=np.float64)
    names = [m[1] for m in marks]
    pos = np.searchsorted(times, t_s, side="right") - 1
    return [names[p] if p >= 0 else None for p in pos.tolist()]


def traces_table(store: Any, runs: Sequence[RunRecord]) -> Table:
    """Long format: one row per sample and power channel (energy counters as ``counter:<name>``)."""

    def rows() -> Iterator[tuple[Any, ...]]:
        for run in runs:
            for rep in run.repetitions:
                if not rep.has_trace:
                    continue
                trace = store.load_trace(run.run_id, rep.index)
                t_list = trace.t_s.tolist()
                phases = _phases(trace.t_s, trace.marks)
                n = len(t_list)
                groups = list(trace.channels.items())
                groups += [(f"counter:{name}", v) for name, v in trace.counters.items()]
                for name, values in groups:
                    yield from zip([run.run_id] * n, [rep.index] * n, [name] * n, t_list,
                                   values.tolist(), phases)

    return Table("traces", ["run_id", "repetition", "channel", "t_s", "power_w", "phase"], rows(),
                 {"run_id": "string", "repetition": "int64", "channel": "string",
                  "t_s": "float64", "power_w": "float64", "phase": "string"})


def latencies_table(store: Any, runs: Sequence[RunRecord]) -> Table:
    def rows() -> Iterator[tuple[Any, ...]]:
        for run in runs:
            for rep in run.repetitions:
                if rep.n_latencies:
                    lat = store.load_latencies(run.run_id, rep.index).tolist()
                    yield from ((run.run_id, rep.index, q, v) for q, v in enumerate(lat))

    return Table("latencies", ["run_id", "repetition", "query", "latency_s"], rows(),
                 {"run_id": "string", "repetition": "int64", "query": "int64", "latency_s": "float64"})


def series_table(store: Any, runs: Sequence[RunRecord]) -> Table:
    def rows() -> Iterator[tuple[Any, ...]]:
        for run in runs:
            for rep in run.repetitions:
                if rep.series:
                    for name, values in store.load_series(run.run_id, rep.index).items():
                        yield from ((run.run_id, rep.index, name, q, v)
                                    for q, v in enumerate(values.tolist()))

    return Table("series", ["run_id", "repetition", "name", "query", "value"], rows(),
                 {"run_id": "string", "repetition": "int64", "name": "string", "query": "int64",
                  "value": "float64"})


def classes_table(runs: Sequence[RunRecord]) -> Table:
    """Long format: one row per repetition, request class and figure (mixed traffic)."""

    def rows() -> Iterator[tuple[Any, ...]]:
        for run in runs:
            for rep in run.repetitions:
                traffic = (rep.loadgen or {}).get("traffic") or {}
                for name, c in (traffic.get("classes") or {}).items():
                    for key, value in (c.get("metrics") or {}).items():
                        yield (run.run_id, rep.index, name, c.get("kind"), key, value)

    return Table("classes", ["run_id", "repetition", "class", "kind", "metric", "value"], rows(),
                 {"run_id": "string", "repetition": "int64", "class": "string",
                  "kind": "string", "metric": "string", "value": "float64"})


def has_classes(runs: Sequence[RunRecord]) -> bool:
    """True when a repetition of ``runs`` holds request classes (mixed traffic)."""
    return any(((rep.loadgen or {}).get("traffic") or {}).get("classes")
               for run in runs for rep in run.repetitions)


def default_tables(runs: Sequence[RunRecord]) -> tuple[str, ...]:
    """The tables an export writes when none are named: :data:`TABLES`, plus ``classes`` when
    a run has request classes."""
    return (*TABLES, "classes") if has_classes(runs) else TABLES


def build_tables(store: Any, runs: Sequence[RunRecord],
                 tables: Sequence[str] = TABLES) -> dict[str, Table]:
    """The export tables for ``runs`` (records from ``store``), in the order asked."""
    unknown = [t for t in tables if t not in KNOWN_TABLES]
    if unknown:
        raise UnknownNameError("export table", unknown[0], KNOWN_TABLES,
                               hint=f"(accepted: {', '.join(KNOWN_TABLES)})")
    makers = {
        "runs": lambda: runs_table(runs),
        "repetitions": lambda: repetitions_table(runs),
        "traces": lambda: traces_table(store, runs),
        "latencies": lambda: latencies_table(store, runs),
        "series": lambda: series_table(store, runs),
        "classes": lambda: classes_table(runs),
    }
    return {name: makers[name]() for name in tables}


# --- writers ------------------------------------------------------------------------------------

def _csv_cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)  # shortest exact form: reads back to the same float; nan stays nan
    return v


def _json_cell(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


_BATCH_ROWS = 200_000


def _write_parquet(table: Table, path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if table.types is None:
        pq.write_table(_arrow_table(table), path, compression="zstd")
        return
    kinds = {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64()}
    schema = pa.schema([(c, kinds[table.types[c]]) for c in table.columns])
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        batch: list[tuple[Any, ...]] = []

        def flush() -> None:
            cols: list[Sequence[Any]] = list(zip(*batch)) if batch else [[] for _ in table.columns]
            writer.write_table(pa.Table.from_arrays(
                [pa.array(list(v), type=schema.field(i).type) for i, v in enumerate(cols)],
                schema=schema))
            batch.clear()

        for row in table.rows:
            batch.append(row)
            if len(batch) >= _BATCH_ROWS:
                flush()
        flush()


def _arrow_table(table: Table) -> Any:
    import pyarrow as pa

    rows = list(table.rows)
    arrays = []
    for i, col in enumerate(table.columns):
        values = [row[i] for row in rows]
        present = [v for v in values if v is not None]
        if present and all(isinstance(v, bool) for v in present):
            typ = pa.bool_()
        elif present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            if col in _INT_COLUMNS and all(float(v).is_integer() for v in present):
                typ, values = pa.int64(), [None if v is None else int(v) for v in values]
            else:
                typ, values = pa.float64(), [None if v is None else float(v) for v in values]
        elif not present:
            typ = pa.string()
        else:
            typ, values = pa.string(), [None if v is None else str(v) for v in values]
        arrays.append(pa.array(values, type=typ, from_pandas=False))
    return pa.Table.from_arrays(arrays, names=table.columns)


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"cannot write the export into {out}: it is a file; for csv and parquet "
                         f"{named('out')} names a folder (one file per table)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create the export folder {out} ({exc.strerror or exc}); "
                         f"choose a writable {named('out')} PATH") from None
    if not os.access(out, os.W_OK):
        raise UsageError(f"cannot write into the export folder {out}: permission denied")


def default_out(fmt: str) -> Path:
    return Path("inferlca-export.json") if fmt == "json" else Path("inferlca-export")


def write_tables(tables: Mapping[str, Table], fmt: str, out: str | os.PathLike[str] | None = None,
                 *, source: str | None = None) -> list[Path]:
    """Write the tables; returns the files written (empty when JSON went to stdout).

    Args:
        tables: from :func:`build_tables`.
        fmt: ``csv`` or ``parquet`` (one file per table in the folder ``out``, default
            ``./inferlca-export/``), or ``json`` (one file ``out``, default
            ``./inferlca-export.json``; ``-`` writes to stdout).
        source: the store path, recorded in the JSON document.
    """
    if fmt not in FORMATS:
        raise UnknownNameError("export format", fmt, FORMATS, hint=f"(accepted: {', '.join(FORMATS)})")
    target = Path(out) if out is not None else default_out(fmt)
    if fmt == "json":
        doc = {
            "format": "inferlca-export",
            "version": 1,
            "store": source,
            "tables": list(tables),
            **{name: [{c: _json_cell(v) for c, v in zip(t.columns, row)} for row in t.rows]
               for name, t in tables.items()},
        }
        text = json.dumps(doc, indent=1, allow_nan=False, default=str)
        if str(out) == "-":
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
            return []
        if target.is_dir() or str(out).endswith(("/", os.sep)):  # a folder, maybe still to make
            target = target / "inferlca-export.json"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text + "\n")
        except OSError as exc:
            raise UsageError(f"cannot write the export to {target} ({exc.strerror or exc}); "
                             f"choose a writable {named('out')} PATH") from None
        return [target]

    _check_out_dir(target)
    written = []
    for name, table in tables.items():
        path = target / f"{name}.{fmt}"
        try:
            if fmt == "csv":
                with path.open("w", newline="") as f:
                    w = csv.writer(f)
                    w.writerow(table.columns)
                    w.writerows([_csv_cell(v) for v in row] for row in table.rows)
            else:
                _write_parquet(table, path)
        except OSError as exc:
            raise UsageError(f"cannot write {path} ({exc.strerror or exc}); choose a writable "
                             f"{named('out')} PATH") from None
        written.append(path)
    return written


def export_store(store: Any, fmt: str, out: str | os.PathLike[str] | None = None, *,
                 runs: Sequence[RunRecord] | None = None,
                 tables: Sequence[str] | None = None) -> list[Path]:
    """Export ``runs`` (default: every run) of ``store``; see :func:`write_tables`. ``tables``
    default: :func:`default_tables`."""
    if fmt not in FORMATS:
        raise UnknownNameError("export format", fmt, FORMATS, hint=f"(accepted: {', '.join(FORMATS)})")
    selected = store.list_runs() if runs is None else list(runs)
    if not selected:
        raise UsageError(f"nothing to export: no runs in {store.path} match (run `inferlca results` "
                         f"to list what it holds)")
    if tables is None:
        tables = default_tables(selected)
    return write_tables(build_tables(store, selected, tables), fmt, out,
                        source=str(store.path) if store.path else None)


def iter_csv(path: str | os.PathLike[str]) -> Iterator[dict[str, str]]:
    """Rows of an exported CSV file as dicts (helper for scripts and tests)."""
    with open(path, newline="") as f:
        yield from csv.DictReader(f)
