"""``inferlca run``: benchmark a model through MLPerf LoadGen with power, energy, latency and GWP.

(The module is not named ``run.py``: that would shadow the function ``inferlca.cli.run``.)

Thin: builds a :class:`~inferlca.spec.RunSpec` from the options, opens the store, calls
:func:`inferlca.loadgen.runner.run_benchmark` with a rich progress bar, prints the results.
"""

from __future__ import annotations

import math
from types import TracebackType
from typing import Any

import typer
from rich.markup import escape

from inferlca.cli import _lca_options as lca
from inferlca.cli._common import old_spelling
from inferlca.spec import RunSpec
from inferlca.workloads.registry import WORKLOADS

HELP = ("Run an inference workload under an MLPerf LoadGen scenario on this device, measure its "
        "power, and report energy, latency and GWP per query (stored in the results store).")


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    ax = abs(x)
    if ax >= 10 ** digits and ax < 1e7:
        return f"{x:,.0f}"  # 1,090 rather than 1.09e+03
    return f"{x:.{digits}g}"


def _metric_cells(summary: dict[str, Any], key: str, scale: float = 1.0,
                  digits: int = 3) -> list[str]:
    """[mean, std, 95% CI] of a metric across repetitions, scaled for display."""
    d = (summary.get("metrics") or {}).get(key)
    if not d or d.get("mean") is None:
        return ["-", "", ""]
    n = d.get("n") or 1
    std = _fmt(d["std"] * scale, 2) if n > 1 and d.get("std") is not None else ""
    ci = ""
    if n > 1 and d.get("ci95_low") is not None and d.get("ci95_high") is not None:
        # every metric of the table is >= 0 (energies, durations, latencies, counts): a Student-t
        # interval of few wide-spread repetitions can reach below 0; shown clipped at 0
        # (the JSON keeps the raw bounds)
        low = max(d["ci95_low"], 0.0)
        ci = f"{_fmt(low * scale, digits)} - {_fmt(d['ci95_high'] * scale, digits)}"
    return [_fmt(d["mean"] * scale, digits), std, ci]


def _interval_cells(v: Any, scale: float = 1.0) -> list[str]:
    """[nominal, "", low - high] of an uncertain value (mean over repetitions)."""
    if not isinstance(v, dict) or v.get("value") is None:
        return ["-", "", ""]
    val: float = v["value"]
    lo, hi = v.get("low"), v.get("high")
    rng = f"{_fmt(lo * scale)} - {_fmt(hi * scale)}" if lo is not None and hi is not None else ""
    return [_fmt(val * scale), "", rng]


def _per_query(v: Any, queries: float | None) -> Any:
    if not isinstance(v, dict) or not queries:
        return None
    return {k: (v[k] / queries if isinstance(v.get(k), (int, float)) else None)
            for k in ("value", "low", "high")}


def print_outcome(outcome: Any) -> None:
    """The final results table, notes and where the results are."""
    from rich.table import Table

    from inferlca.cli._common import console

    s = outcome.summary
    measured = "measured" if outcome.measured else "ESTIMATED"
    spec = outcome.spec
    title = (f"{spec.workload} · {spec.scenario} · {outcome.device_name} · "
             f"{outcome.meter} meter ({measured}) · {s.get('repetitions', 0)} repetition(s) · "
             f"manufacturing scope {getattr(spec, 'scope', 'chip')}")
    t = Table(title=title, title_justify="left")
    t.add_column("metric")
    for col in ("mean", "std", "95% interval"):
        t.add_column(col, justify="right")
    rows: list[tuple[str, list[str]]] = [
        ("queries per repetition", _metric_cells(s, "queries")),
        (f"energy / query (J, {measured})", _metric_cells(s, "energy_per_query_j")),
        ("energy: load phase (J)", _metric_cells(s, "energy_load_j")),
        ("energy: compute phase (J)", _metric_cells(s, "energy_compute_j")),
        ("energy: total (J)", _metric_cells(s, "energy_total_j")),
        ("duration: load phase (s)", _metric_cells(s, "load_duration_s")),
        ("duration: compute phase (s)", _metric_cells(s, "compute_duration_s")),
        ("mean power, compute (W)", _metric_cells(s, "mean_power_w")),
    ]
    for label, key in (("min", "latency_min_s"), ("p50", "latency_p50_s"),
                       ("p90", "latency_p90_s"), ("p99", "latency_p99_s"),
                       ("max", "latency_max_s")):
        rows.append((f"latency {label} (ms)", _metric_cells(s, key, 1e3)))
    rows.append(("throughput (samples/s)", _metric_cells(s, "throughput_qps")))
    from inferlca.cli._tokens import token_rows

    known_device = outcome.device_id is not None
    rows += token_rows(s, _metric_cells, _interval_cells,  # decoder LLM runs (llm-generate)
                       device_known=known_device, unknown_cells=["n/a", "", "needs --device"])
    from inferlca.cli._requests import failure_line, request_rows

    rows += request_rows(s, _metric_cells)  # model servers (openai-endpoint)
    if "utilisation" in (s.get("metrics") or {}):
        rows.append(("device busy share", _metric_cells(s, "utilisation")))
    imp = s.get("impact") or {}
    q = ((s.get("metrics") or {}).get("queries") or {}).get("mean")
    if imp:
        rows += _impact_rows(imp, q, known_device)
    acc = s.get("accuracy")
    if acc:
        rows.append(("SQuAD exact match (%)", [_fmt(acc.get("exact_match"), 4), "", ""]))
        rows.append(("SQuAD F1 (%)", [_fmt(acc.get("f1"), 4), "", ""]))
    for label, cells in rows:
        t.add_row(label, *cells)
    console.print(t)
    if failed := failure_line(s):
        console.print(f"[red]failed requests:[/red] {escape(failed)}", highlight=False)
    if s.get("classes"):  # mixed traffic: one row per request class
        from inferlca.report.classes import class_table

        console.print(class_table(s["classes"]))
    _print_after_table(outcome, imp)


def _impact_rows(imp: dict[str, Any], q: float | None,
                 known_device: bool) -> list[tuple[str, list[str]]]:
    """The GWP rows (per query from the per-repetition totals over ``q`` queries), the grid
    intensity and the PUE."""
    rows: list[tuple[str, list[str]]] = []
    # a device the catalog lacks has no embodied footprint: not zero, unknown (see the notes)
    embodied = (_interval_cells(_per_query(imp.get("embodied_gco2e"), q), 1e3)
                if known_device else ["n/a", "", "needs --device"])
    # without a footprint the total is the use phase: one row "use only", not two rows
    # with one number
    rows += [
        (f"GWP / query: {'use' if known_device else 'use only'} (mgCO2e)",
         _interval_cells(_per_query(imp.get("use_gco2e"), q), 1e3)),
        ("GWP / query: embodied (mgCO2e)", embodied),
    ]
    if known_device:  # without a footprint the total is the use row above: not twice
        rows.append(("GWP / query: total (mgCO2e)",
                     _interval_cells(imp.get("per_query_gco2e"), 1e3)))
    rows.append((f"GWP / repetition: {'total' if known_device else 'use only'} (gCO2e)",
                 _interval_cells(imp.get("total_gco2e"))))
    rows += [("grid intensity (gCO2e/kWh)", _interval_cells(imp.get("grid_gco2e_per_kwh"))),
             ("PUE", _interval_cells(imp.get("pue")))]
    return rows


def _print_after_table(outcome: Any, imp: dict[str, Any]) -> None:
    """The context lines, outlier repetitions, notes and where the results are."""
    from inferlca.cli._common import console
    from inferlca.report.summary import context_rows, outlier_repetitions

    spec = outcome.spec
    if imp:
        from inferlca.report.data import device_category

        spec_d = spec.to_dict() if hasattr(spec, "to_dict") else {}
        category = device_category(outcome.device_id, outcome.device_name)
        for label, text in context_rows(spec_d, imp, category):
            console.print(f"  {label + ':':<10} {escape(text)}", highlight=False)

    for note in outlier_repetitions([(r.index, r.metrics.get("duration_s"))
                                     for r in outcome.repetitions if r.status == "complete"]):
        console.print(f"[yellow]outlier:[/yellow] {escape(note)}", highlight=False)
    for note in outcome.notes:
        console.print(f"[dim]note:[/dim] {escape(note)}", highlight=False)
    if outcome.run_id:
        console.print(f"results stored in {outcome.store_path} as run {outcome.run_id} "
                      f"(inferlca results show {outcome.run_id[:8]})", highlight=False)
    console.print(f"LoadGen logs and traces: {outcome.logs_dir}", highlight=False)


class _ProgressBar:
    """Maps runner events onto a rich progress bar on stderr (transient)."""

    def __init__(self, enabled: bool) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        from inferlca.cli._common import err_console

        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                                 transient=True, disable=not enabled)
        self.task: Any = None
        self.rep = ""

    def __enter__(self) -> _ProgressBar:  # noqa: PYI034 - final class
        self.progress.__enter__()
        self.task = self.progress.add_task("preparing (samples, weights, backend)", total=None)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.progress.__exit__(exc_type, exc, tb)

    def __call__(self, event: str, info: dict[str, Any]) -> None:
        p = self.progress
        if event == "repetition":
            self.rep = f"repetition {info['index'] + 1}/{info['total']}"
            p.reset(self.task, total=None, description=f"{self.rep}: load")
        elif event == "phase":
            p.update(self.task, description=f"{self.rep}: {info['name']}".lstrip(": "))
        elif event == "samples":
            p.update(self.task, total=info["total"], advance=info["n"])
        elif event == "cooldown":
            p.update(self.task, description=f"cool-down {info['seconds']:g} s")


def _check_weights(folder: Any) -> None:
    """The files of a weights folder that are cheap to check: ``config.json`` is a JSON object,
    a ``.safetensors`` file has a whole header."""
    import json
    import struct

    from inferlca.errors import InputFileError
    from inferlca.inputs import input_file

    cfg = folder / "config.json"
    if cfg.exists():
        input_file(cfg, "weights", max_bytes=16 * 1024**2)
        try:
            doc = json.loads(cfg.read_text(encoding="utf-8"))
        except (ValueError, RecursionError) as exc:
            raise InputFileError(cfg, f"not valid JSON ({str(exc)[:80]}); the --weights folder "
                                      f"needs the model's config.json") from None
        if not isinstance(doc, dict):
            raise InputFileError(cfg, f"a model config must be a JSON object, not a "
                                      f"{type(doc).__name__}")
    for st in sorted(folder.glob("*.safetensors")):
        size = st.stat().st_size
        with open(st, "rb") as f:
            head = f.read(8)
            n = struct.unpack("<Q", head)[0] if len(head) == 8 else -1
            ok = 0 < n <= min(size - 8, 100 * 1024**2)
            if ok:
                try:
                    ok = isinstance(json.loads(f.read(n)), dict)
                except (ValueError, RecursionError):
                    ok = False
        if not ok:
            raise InputFileError(st, "truncated or not a safetensors file (its header cannot be "
                                     "read); download the weights again")


def _check_paths(spec: RunSpec, logs_dir: str | None) -> None:
    """The files and folders of a run, checked before it starts."""
    from inferlca.inputs import input_dir, input_file, output_dir

    if spec.prompts is not None:
        input_file(spec.prompts, "prompts", max_bytes=256 * 1024**2)
    if spec.dataset is not None:
        input_file(spec.dataset, "dataset", max_bytes=1024**3)
    if spec.weights is not None:
        _check_weights(input_dir(spec.weights, "weights"))
    if logs_dir is not None:
        output_dir(logs_dir, "logs_dir")


def register(app: typer.Typer) -> None:
    d = RunSpec()

    @app.command("run", help=HELP)
    def run_cmd(
        workload: str = typer.Option(d.workload, "--workload", "-w",
                                     help=", ".join(WORKLOADS) + "."),
        backend: str = typer.Option(d.backend, help="torch, onnxruntime or auto (calibrates)."),
        recalibrate: bool = typer.Option(
            False, "--recalibrate",
            help="auto backend: time both backends again now instead of reusing the cached "
                 "decision (cached decisions expire after 7 days)."),
        scenario: str = typer.Option(d.scenario, "--scenario", "-s",
                                     help="single-stream, multi-stream, server, offline (LoadGen); "
                                          "interactive (our scheduler); mixed (set by --traffic)."),
        queries: int = typer.Option(d.queries, "--queries", "-n",
                                    help="Exact LoadGen queries per repetition."),
        repetitions: int = typer.Option(d.repetitions, "--repetitions", "-r",
                                        help="Repetitions (the study used 10): mean, std and "
                                             "95 % interval across them."),
        device: str | None = typer.Option(None, help="Catalog device; default: auto-detect."),
        meter: str = typer.Option(d.meter, help="auto, nvml, tegrastats, rapl, modelled..., or "
                                  "several joined by + (nvml+rapl)."),
        meter_url: str | None = typer.Option(
            None, "--meter-url", help="Read the meter agent of the machine that serves "
            "(`inferlca meters serve` there), e.g. http://HOST:9642."),
        gpus: str | None = typer.Option(None, "--gpus",
                                        help="NVML GPU indices the run uses, e.g. 0,2 (default: "
                                             "those CUDA_VISIBLE_DEVICES names, else all)."),
        period_ms: float = typer.Option(d.period_ms, help="Power sampling period (ms)."),
        sampler: str = typer.Option(d.sampler, "--sampler",
                                    help="process (a separate nice-19 process; falls back "
                                         "to a thread, flagged), process:fifo (real-time "
                                         "priority where allowed: on time under load), "
                                         "process:normal, process:idle or thread."),
        idle_baseline_s: float = typer.Option(d.idle_baseline_s,
                                              help="Idle phase measured before loading (s)."),
        cooldown_s: float = typer.Option(d.cooldown_s, help="Pause between repetitions (s)."),
        region: str = lca.region_option(d.region, "Grid region (country code)."),
        grid_gco2e_per_kwh: str | None = lca.grid_option(
            "Grid intensity gCO2e/kWh (>= 0), e.g. 56 or 50..80."),
        grid_file: str | None = lca.grid_file_option(
            "Time-varying grid intensity (timestamped CSV, hourly or finer; see docs/lca.md): "
            "each repetition is scored at the hours it ran."),
        grid_unit: str | None = lca.grid_unit_option(),
        grid_tz: str | None = lca.grid_tz_option(),
        grid_signal: str = lca.grid_signal_option("Column of the grid file: average or marginal."),
        grid_year: str | None = lca.grid_year_option(),
        pue: str | None = lca.pue_option("PUE (>= 1), e.g. 1.5 or 1.1..1.6."),
        lifetime_years: str | None = lca.lifetime_option("Device lifetime in years (> 0), e.g. 5..7."),
        lifetime_old: str | None = old_spelling("--lifetime"),
        memory_method: str = lca.memory_method_option("per-gb or area.", d.memory_method),
        scope: str = lca.scope_option(d.scope),
        weights: str | None = typer.Option(None, help="Hugging Face model folder."),
        dataset: str | None = typer.Option(None, help="SQuAD v1.1 JSON file."),
        accuracy: bool = typer.Option(False, "--accuracy",
                                      help="Also run LoadGen AccuracyOnly (EM/F1)."),
        precision: str = typer.Option(d.precision, help="fp32, fp16, bf16."),
        threads: int | None = typer.Option(None, help="Intra-op threads (default: all CPUs)."),
        seed: int = typer.Option(d.seed),
        samples_per_query: int = typer.Option(d.samples_per_query,
                                              help="MultiStream samples per query; also the "
                                                   "Offline batch size."),
        target_qps: float = typer.Option(d.target_qps, help="Server target QPS."),
        offline_samples: int | None = typer.Option(None, help="Offline samples (default: queries)."),
        mlperf_compliant: bool = typer.Option(False, "--mlperf-compliant",
                                              help="Keep LoadGen's minimum duration and counts."),
        users: int = typer.Option(d.users, help="Interactive: simulated users."),
        think_time_s: float = typer.Option(d.think_time_s,
                                           help="Interactive: mean think time (s), exponential."),
        duration_s: float = typer.Option(d.duration_s, help="Interactive: duration (s)."),
        max_new_tokens: int = typer.Option(d.max_new_tokens, help="LLM: tokens to generate."),
        prompts: str | None = typer.Option(None, help="LLM: prompts file."),
        preset: str | None = typer.Option(None, help="Model size preset (e.g. tiny)."),
        sampling: str | None = typer.Option(None, help="LLM: greedy (default) or sample."),
        temperature: float | None = typer.Option(None, help="LLM: sampling temperature (> 0)."),
        top_k: int | None = typer.Option(None, help="LLM: sample from the k likeliest (0 = all)."),
        prompt_len: str | None = typer.Option(
            None, help="LLM: synthetic prompt length in tokens, N or LOW..HIGH (default 32)."),
        prompt_overflow: str | None = typer.Option(
            None, help="LLM: prompt longer than the context: refuse (default) or truncate."),
        max_batch: int | None = typer.Option(
            None, help="LLM: most requests batched together (default 8)."),
        batching: str | None = typer.Option(
            None, help="LLM: static (default) or continuous batching of concurrent requests."),
        url: str | None = typer.Option(
            None, help="openai-endpoint: API base, e.g. http://127.0.0.1:8000/v1."),
        model: str | None = typer.Option(None, help="openai-endpoint: model name the server serves."),
        api: str | None = typer.Option(None, help="openai-endpoint: chat (default) or completions."),
        api_key_env: str | None = typer.Option(
            None, help="openai-endpoint: environment variable holding the API key."),
        max_concurrency: int | None = typer.Option(
            None, help="openai-endpoint: requests in flight at most (default 64)."),
        launch: str | None = typer.Option(
            None, help="openai-endpoint: command that starts the server (its start-up is the "
            "load phase; stopped at the end)."),
        health_path: str | None = typer.Option(
            None, help="openai-endpoint: readiness path of the launched server (default /v1/models)."),
        launch_timeout_s: float | None = typer.Option(
            None, help="openai-endpoint: seconds the launched server may take to answer (120)."),
        request_timeout_s: float | None = typer.Option(
            None, help="openai-endpoint: longest whole request in seconds (default: no limit)."),
        tokenizer: str | None = typer.Option(
            None, help="openai-endpoint: Hugging Face tokenizer to count tokens without usage."),
        traffic: str | None = typer.Option(
            None, "--traffic", help="Mixed traffic: a YAML file of request classes run at once "
            "(interactive users, Poisson, offline batches; see docs/serving.md); sets the "
            "scenario to mixed."),
        label: str | None = typer.Option(None, help="Free-text label stored with the run."),
        store: str | None = typer.Option(None, "--store",
                                         help="Results store (SQLite file). Default: $INFERLCA_STORE, else ./inferlca.db."),
        logs_dir: str | None = typer.Option(None, help="Where LoadGen logs go."),
        criteria: str | None = typer.Option(
            None, "--criteria", help="Also give these criteria per query: gwp,water,pe,adpe."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
    ) -> None:
        from inferlca.cli._common import err_console, print_json, use_old_spelling
        from inferlca.lca.criteria import parse_criteria

        wanted = parse_criteria(criteria) if criteria is not None else None
        from inferlca.cli._tokens import llm_options
        from inferlca.loadgen.runner import run_benchmark
        from inferlca.store.sqlite import Store

        lifetime_years = use_old_spelling("lifetime_years", lifetime_years, lifetime_old)
        if meter_url is not None:
            from inferlca.cli._common import remote_meter_name

            meter = remote_meter_name(meter, meter_url)
        llm = llm_options(sampling, temperature, top_k, prompt_len, prompt_overflow, max_batch,
                          batching)
        extra: dict[str, Any] = {"recalibrate": True} if recalibrate else {}
        endpoint = {k: v for k, v in (
            ("url", url), ("model", model), ("api", api), ("api_key_env", api_key_env),
            ("max_concurrency", max_concurrency), ("launch", launch), ("health_path", health_path),
            ("launch_timeout_s", launch_timeout_s), ("request_timeout_s", request_timeout_s),
            ("tokenizer", tokenizer)) if v is not None}
        if endpoint:
            extra["endpoint"] = endpoint
        if traffic is not None:  # scenario mixed; the file's errors name its line (exit 2)
            from inferlca.loadgen.traffic_file import load_traffic_file

            if scenario not in (RunSpec.scenario, "mixed"):
                from inferlca.errors import InvalidValueError

                raise InvalidValueError(f"a traffic file runs the scenario mixed, not {scenario}: "
                                        "leave the scenario out", param="scenario")
            extra["traffic"] = load_traffic_file(traffic).to_dict()
            scenario = "mixed"
        from inferlca.lca.grid import parse_year

        # every field rule is RunSpec.validate's (the same checks as a campaign file's cells)
        spec = RunSpec(
            workload=workload, backend=backend, scenario=scenario, queries=queries,
            repetitions=repetitions, device=device, meter=meter, gpus=gpus, period_ms=period_ms,
            sampler=sampler,
            idle_baseline_s=idle_baseline_s, cooldown_s=cooldown_s, region=region,
            grid_gco2e_per_kwh=grid_gco2e_per_kwh, grid_file=grid_file, grid_unit=grid_unit,
            grid_tz=grid_tz, grid_signal=grid_signal, pue=pue, lifetime_years=lifetime_years,
            grid_year=None if grid_year is None else parse_year(grid_year),
            memory_method=memory_method, scope=scope, weights=weights, dataset=dataset, accuracy=accuracy,
            precision=precision, threads=threads, seed=seed, samples_per_query=samples_per_query,
            target_qps=target_qps, offline_samples=offline_samples,
            mlperf_compliant=mlperf_compliant, users=users, think_time_s=think_time_s,
            duration_s=duration_s, max_new_tokens=max_new_tokens, prompts=prompts, preset=preset,
            label=label, extra=extra, llm=llm).validate().check_applicable()
        from inferlca.workloads.registry import workload_class

        workload_class(spec.workload)  # unknown workload: exit 2 before opening anything
        if endpoint and spec.workload != "openai-endpoint":  # not silently ignored
            from inferlca.errors import UsageError

            flags = [f"--{k.replace('_', '-')}" for k in endpoint]
            raise UsageError(f"{', '.join(flags)} {'is an option' if len(flags) == 1 else 'are options'}"
                             f" of the openai-endpoint workload, not of {spec.workload}: leave "
                             f"{'it' if len(flags) == 1 else 'them'} out or run -w openai-endpoint")
        _check_paths(spec, logs_dir)  # before measuring: nothing measured lost to a bad path
        from inferlca.errors import RequestsFailedError, RunInterrupted

        with Store.open(store) as st:
            try:
                with _ProgressBar(enabled=err_console.is_terminal) as bar:
                    outcome = run_benchmark(spec, st, progress=bar, logs_dir=logs_dir)
            except (RunInterrupted, RequestsFailedError) as exc:  # what was measured; exit 130/1
                partial = getattr(exc, "outcome", None)
                if partial is not None and partial.repetitions:
                    if as_json:
                        print_json(partial.to_dict())
                    else:
                        print_outcome(partial)
                raise
        crit = _outcome_criteria(outcome, wanted) if wanted else None
        if as_json:
            out = outcome.to_dict()
            if crit is not None:
                out["criteria"] = crit
            print_json(out)
        else:
            print_outcome(outcome)
            from inferlca.cli._common import console

            for name, c in (crit or {}).items():
                console.print(f"{name} per {c.get('per', 'query')}: " + (
                    "no data" if c["value"] is None else
                    f"{c['value']:.3g} [{c['low']:.3g} - {c['high']:.3g}] {c['unit']}")
                    + (f" ({c['scope']})" if c["scope"] else "")
                    + "".join(f"; {n}" for n in c["notes"]), highlight=False)


def _outcome_criteria(outcome: Any, wanted: tuple[str, ...]) -> dict[str, Any]:
    """The run's criteria per query (``lca.criteria.run_criteria`` on its repetitions)."""
    from types import SimpleNamespace

    from inferlca.lca.criteria import run_criteria

    spec = outcome.spec
    reps = [SimpleNamespace(impact=r.impact) for r in outcome.repetitions]
    queries = None  # the repetitions' own query count: total / per query of their impact
    for r in outcome.repetitions:
        imp = r.impact or {}
        tot, per = imp.get("total_gco2e") or {}, imp.get("per_query_gco2e") or {}
        if per.get("value"):
            queries = max(1, round(tot["value"] / per["value"]))
            break
    view = SimpleNamespace(device_id=outcome.device_id, repetitions=reps, queries=queries,
                           spec={"region": spec.region, "grid_year": spec.grid_year,
                                 "grid_gco2e_per_kwh": spec.grid_gco2e_per_kwh})
    return run_criteria(view, wanted)
