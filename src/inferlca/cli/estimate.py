"""`inferlca estimate`: time, energy and GWP of a model on devices you do not own (roofline)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from inferlca.cli import _lca_options as lca
from inferlca.cli._common import (
    console,
    old_spelling,
    parse_uncertain,
    positive_float,
    print_json,
    use_old_spelling,
)


def register(app: typer.Typer) -> None:
    est = typer.Typer(invoke_without_command=True, no_args_is_help=False, help=(
        "Estimate time, energy and GWP of one query of a model on catalog devices with the "
        "roofline model (FLOPs and bytes by the 'thesis' and 'faithful' counts), at the "
        "device's serving precision, calibrated against measured runs when --store holds some. "
        "`estimate validate` sets published measurements beside the estimates."))
    est.callback(invoke_without_command=True)(estimate_cmd)
    est.command("validate", help=(
        "For every published result (MLPerf Inference, ML.ENERGY; or --published FILE): the "
        "estimate, the published value and their ratio, uncalibrated (efficiency 1) and "
        "calibrated leave-one-out, and the median absolute log error."))(validate_cmd)
    app.add_typer(est, name="estimate")
    app.command("calibrate", help=(
        "How far roofline estimates were from the measured runs of a results store: measured / "
        "estimated time and energy per run, and the efficiency fitted per device class."))(
        calibrate_cmd)


def calibrate_cmd(
    store_path: str | None = typer.Option(None, "--store", help="Results store (default: "
                                          "$INFERLCA_STORE, else ./inferlca.db)."),
    method: str = typer.Option("faithful", "--method", help="FLOP count: thesis or faithful."),
    device: str | None = typer.Option(None, "--device", "-d", help="Catalog device whose roof "
                                      "--peak-flops, --bandwidth-gbs and --tdp fill or replace "
                                      "(e.g. a CPU the catalog has no peak FLOP/s for)."),
    peak_flops: float | None = typer.Option(None, "--peak-flops", help="Peak FLOP/s of "
                                            "--device at the runs' precision."),
    bandwidth_gbs: float | None = typer.Option(None, "--bandwidth-gbs", help="Memory bandwidth "
                                               "GB/s of --device."),
    tdp_w: float | None = typer.Option(None, "--tdp", help="TDP in W of --device."),
    as_json: bool = typer.Option(False, "--json", help="JSON for scripts."),
) -> None:
    from inferlca.errors import InvalidValueError, UnknownNameError
    from inferlca.estimate.calibration import calibrate
    from inferlca.estimate.flops import METHODS
    from inferlca.hardware.catalog import get_catalog
    from inferlca.store.sqlite import Store

    if method not in METHODS:
        raise UnknownNameError("estimate method", method, METHODS,
                               f"(accepted: {', '.join(METHODS)})")
    positive_float("--peak-flops", peak_flops)
    positive_float("--bandwidth-gbs", bandwidth_gbs)
    positive_float("--tdp", tdp_w)
    catalog = get_catalog()
    overrides: dict[str, dict[str, float | None]] = {}
    given = {"peak_flops": peak_flops, "bandwidth_gbs": bandwidth_gbs, "tdp_w": tdp_w}
    if device is not None:
        overrides[catalog.get(device).id] = given
    elif any(v is not None for v in given.values()):
        raise InvalidValueError("--peak-flops, --bandwidth-gbs and --tdp need --device D: the "
                                "catalog device whose runs they apply to")
    with Store.open_readonly(store_path) as store:
        cal = calibrate(store, catalog, method=method, overrides=overrides)
    # a skipped run's reason is a library error's text: name the roof values by this command's
    # flags (give peak_flops -> give --peak-flops)
    from inferlca.cli import invoked_command
    from inferlca.cli._common import flag_names
    from inferlca.errors import InferlcaError

    flags = flag_names(invoked_command(["calibrate"]))
    cal.skipped[:] = [InferlcaError(reason, param=("peak_flops", "bandwidth_gbs", "tdp_w"))
                      .render(flags) for reason in cal.skipped]
    if as_json:
        print_json(cal.to_dict())
        return
    _print_calibration(cal)
    if not cal.pairs:
        console.print("no measured run could be set beside an estimate")
    for fit in cal.by_class().values():
        console.print(f"{fit.group}: efficiency {fit.efficiency.format()} ({fit.n} run(s); "
                      f"{fit.note})")
    for reason in cal.skipped:
        console.print(f"[dim]skipped: {reason}[/dim]")


def validate_cmd(
    published: Path | None = typer.Option(None, "--published", help="CSV of published results "
                                          "(columns as the shipped data file; every row needs a "
                                          "source and a unit). Default: the shipped file."),
    traffic: str = typer.Option("fused", "--traffic", help="Byte count: fused (default) or "
                                "unfused kernels."),
    as_json: bool = typer.Option(False, "--json", help="JSON for scripts."),
) -> None:
    from rich.table import Table

    from inferlca.estimate.published import load_published, validate
    from inferlca.hardware.catalog import get_catalog

    points = load_published(published)
    rep = validate(points, get_catalog(), traffic=traffic)
    if as_json:
        print_json(rep.to_dict())
        return
    t = Table(title="Published results beside the estimates (ratio = estimate / published; "
                    "calibrated: fitted on the other results only)", title_justify="left")
    for c in ("result", "device", "prec.", "stat.", "published", "bound (e=1)", "ratio",
              "calibrated", "ratio", "calibrated on"):
        t.add_column(c, justify="left" if c in ("result", "device", "calibrated on") else
                     "right")
    for r in rep.rows:
        p = r.point
        scale = 1e3 if p.kind in ("latency", "throughput") else 1.0
        unit = {"latency": "ms", "energy_per_query": "J/query",
                "throughput": "ms/sample"}.get(p.kind, "J/tok")
        flag = "" if r.bound_holds is not False else " [red]model error: beat the bound[/red]"
        cal = (f"{r.calibrated.value * scale:.4g} [{r.calibrated.low * scale:.3g}-"
               f"{r.calibrated.high * scale:.3g}]" if r.calibrated else "-")
        rc = r.ratio_calibrated
        t.add_row(escape(p.id), escape(r.device_name), p.precision, p.statistic,
                  f"{p.value_si * scale:.4g} {unit}", f"{r.bound_si * scale:.4g}",
                  f"{r.ratio_uncalibrated:.3g}{flag}", cal, "-" if rc is None else f"{rc:.3g}",
                  escape(r.calibration_note))
    console.print(t)
    err_u, err_c = rep.mean_abs_log(False), rep.mean_abs_log(True)
    if err_u is not None:
        console.print(f"median |ln(estimate / published)|: uncalibrated {err_u:.3f} "
                      f"(x{math.exp(err_u):.2f})" + ("" if err_c is None else
                                                    f", calibrated {err_c:.3f} "
                                                    f"(x{math.exp(err_c):.2f})"))
    for s_ in rep.skipped:
        console.print(f"[dim]skipped: {escape(s_)}[/dim]")


def _int_list(name: str, text: str | None) -> list[int] | None:
    from inferlca.errors import InvalidValueError

    if text is None:
        return None
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise InvalidValueError(f"{name} takes integers >= 1 separated by commas (e.g. "
                                    f"1,8,32,64), got {text!r}")
        out.append(int(part))
    return out


def estimate_cmd(
    ctx: typer.Context,
    model: str | None = typer.Option(None, "--model", "-m", help="Preset (bert-base, "
                                     "bert-large, gpt2, starcoder, llama-3-8b, mistral-7b, "
                                     "minilm-l6, tiny-gpt2, llm-tiny) or a Hugging Face "
                                     "config.json (or its folder)."),
    device: list[str] | None = typer.Option(None, "--device", "-d", help="Catalog device "
                                            "(repeat for several)."),
    method: str = typer.Option("faithful", "--method", help="FLOP count: thesis (the study's "
                               "lower bound) or faithful (every matrix product, KV cache)."),
    precision: str | None = typer.Option(None, "--precision", help="fp32, tf32, fp16, bf16, "
                                         "fp8, int8 or int4 (weights, activations and KV cache "
                                         "alike). Default: the device's usual serving "
                                         "precision (fp16 on GPUs and Jetson modules, fp32 on "
                                         "CPUs), printed."),
    traffic: str = typer.Option("fused", "--traffic", help="Bytes moved: fused kernels "
                                "(weights once, layer inputs/outputs, attention on chip; "
                                "default) or unfused (every kernel reads and writes memory)."),
    sparse: bool = typer.Option(False, "--sparse", help="Use the 2:4 structured-sparsity rate "
                                "(needs a pruned model; never the default)."),
    batch: int | None = typer.Option(None, "--batch", help="Encoders: sequences per pass "
                                     "(weights read once for all)."),
    concurrency: str | None = typer.Option(None, "--concurrency", help="Decoders: concurrent "
                                           "sequences under continuous batching, one or a sweep "
                                           "(e.g. 1,8,32,64): energy per output token at each."),
    whole_run: bool = typer.Option(False, "--whole-run", help="Add the load phase (weights "
                                   "read from storage at idle power) and --idle-s to the "
                                   "compute phase, as a measured run has."),
    load_gbs: str | None = typer.Option(None, "--load-gbs", help="Weight loading bandwidth "
                                        "GB/s, number or interval (default by device class)."),
    idle_s: float = typer.Option(0.0, "--idle-s", help="Seconds of idle in the run (with "
                                 "--whole-run)."),
    calibrate_on: str | None = typer.Option(None, "--calibrate-on", help="'published': fit the "
                                            "efficiency on the published results (MLPerf "
                                            "latencies for encoders, ML.ENERGY energy per token "
                                            "for decoders; --published FILE to use yours) "
                                            "instead of --store runs."),
    published: str | None = typer.Option(None, "--published", help="Published-results CSV "
                                         "for --calibrate-on published."),
    tokens_in: int | None = typer.Option(None, "--tokens-in", help="Decoder prompt tokens "
                                         "(default 128)."),
    tokens_out: int | None = typer.Option(None, "--tokens-out", help="Decoder generated tokens "
                                          "(default 128)."),
    seq_len: int | None = typer.Option(None, "--seq-len", help="Encoder sequence length "
                                       "(default 384); thesis: the l of l^2 d."),
    queries: int = typer.Option(1, "--queries", help="Queries in the workload (per-workload "
                                "totals)."),
    region: str = lca.region_option("FR", "Grid region (ISO code) for the use phase."),
    grid: str | None = lca.grid_option("Grid intensity gCO2e/kWh, number or interval low..high "
                                   "(overrides --region)."),
    pue: str | None = lca.pue_option("PUE, number or interval (default by device class)."),
    lifetime_years: str | None = lca.lifetime_option("Device lifetime in years, number or interval "
                                                 "(default 7), as in `inferlca impact`."),
    lifetime_old: str | None = old_spelling("--lifetime"),
    efficiency: str | None = typer.Option(None, "--efficiency", help="Fraction of the roof "
                                          "reached, in (0, 1], number or interval; default: "
                                          "calibrated from --store, else 1."),
    power_model: str = typer.Option("tdp", "--power-model", help="tdp (the study: time x TDP) "
                                    "or utilisation (idle + dynamic share)."),
    idle_fraction: str | None = typer.Option(None, "--idle-fraction", help="Idle power / TDP "
                                             "for the utilisation model (default 0.10..0.322)."),
    peak_flops: float | None = typer.Option(None, "--peak-flops", help="Peak FLOP/s at the "
                                            "precision, for devices the catalog lacks it for."),
    bandwidth_gbs: float | None = typer.Option(None, "--bandwidth-gbs", help="Memory bandwidth "
                                               "GB/s, for devices the catalog lacks it for."),
    tdp_w: float | None = typer.Option(None, "--tdp", help="TDP in W, for devices the catalog "
                                       "lacks it for."),
    store_path: str | None = typer.Option(None, "--store", help="Results store: calibrate on its "
                                          "measured runs; with --save, write the estimates. "
                                          "--save alone uses $INFERLCA_STORE, else "
                                          "./inferlca.db."),
    memory_method: str = lca.memory_method_option("Embodied memory method: per-gb (default) or "
                                              "area."),
    scope: str = lca.scope_option(),
    save: bool = typer.Option(False, "--save", help="Store each device's estimate as a run of "
                              "kind 'estimated'."),
    workload: str | None = typer.Option(None, "--workload", help="Workload name for stored "
                                        "estimates (default: the measured workload of the "
                                        "model, e.g. bert-large-squad)."),
    label: str | None = typer.Option(None, "--label", help="Label of stored estimates."),
    plot: Path | None = typer.Option(None, "--plot", help="Folder for the roofline figure "
                                     "(PNG and SVG)."),
    criteria: str | None = typer.Option(
        None, "--criteria", help="Also give these criteria per device: gwp,water,pe,adpe."),
    as_json: bool = typer.Option(False, "--json", help="JSON for scripts."),
) -> None:
    from inferlca.errors import InvalidValueError
    from inferlca.estimate.api import estimate, save_estimates
    from inferlca.hardware.catalog import get_catalog
    from inferlca.lca.criteria import parse_criteria
    from inferlca.lca.defaults import LIFETIME_BOUNDS, PUE_BOUNDS
    from inferlca.lca.grid import custom_grid
    from inferlca.uncertainty import parse_bounded

    if ctx.invoked_subcommand is not None:
        return
    if model is None or not device:
        raise InvalidValueError("give --model M and at least one --device D "
                                "(or a subcommand: `inferlca estimate validate`)")
    wanted = parse_criteria(criteria) if criteria is not None else None
    lifetime_years = use_old_spelling("lifetime_years", lifetime_years, lifetime_old)
    _check_numbers(tokens_in, tokens_out, seq_len, queries, batch, peak_flops, bandwidth_gbs,
                   tdp_w, idle_s)
    conc = _int_list("--concurrency", concurrency)
    catalog = get_catalog()
    devices = [catalog.get(d) for d in dict.fromkeys(device)]
    load_bw = parse_uncertain("--load-gbs", load_gbs, "GB/s")
    pub_cal = None
    if calibrate_on is not None:
        pub_cal = _published_calibration(calibrate_on, efficiency, store_path, model, published,
                                         traffic)
    eff = parse_uncertain("--efficiency", efficiency)
    if eff is not None and eff.high > 1:
        raise InvalidValueError(f"--efficiency must lie in (0, 1], got {efficiency!r}")
    idle = parse_uncertain("--idle-fraction", idle_fraction, minimum=0.0, allow_equal=True)
    if idle is not None and idle.high > 1:
        raise InvalidValueError(f"--idle-fraction must lie in [0, 1], got {idle_fraction!r}")

    store = None
    if store_path or save:
        from inferlca.store.sqlite import Store

        # None: $INFERLCA_STORE, else ./inferlca.db. Only --save writes: without it a mistyped
        # path must not become a new empty store that silently calibrates nothing
        store = Store.open(store_path) if save else Store.open_readonly(store_path)
    try:
        result = estimate(
            model, devices, method=method, precision=precision, seq_len=seq_len,
            tokens_in=tokens_in, tokens_out=tokens_out, queries=queries, efficiency=eff,
            power_model=power_model, idle_fraction=idle, peak_flops=peak_flops,
            bandwidth_gbs=bandwidth_gbs, tdp_w=tdp_w, region=region,
            grid=None if grid is None else custom_grid(grid),
            pue=None if pue is None else parse_bounded("pue", pue, PUE_BOUNDS),
            lifetime_years=None if lifetime_years is None
            else parse_bounded("lifetime_years", lifetime_years, LIFETIME_BOUNDS),
            memory_method=memory_method, store=store, catalog=catalog, scope=scope, traffic=traffic,
            batch=batch, sparse=sparse, whole_run=whole_run, load_gbs=load_bw, idle_s=idle_s,
            calibration=pub_cal)
        run_ids = save_estimates(store, result, workload=workload, region=region,
                                 label=label) if save and store is not None else []
    finally:
        if store is not None:
            store.close()
    serving: dict[str, list[Any]] = {}
    if conc is not None:
        serving = _serving(result, conc, power_model, idle, peak_flops, bandwidth_gbs, tdp_w)
    figures = _plots(result, serving, plot) if plot is not None else []
    crit = _criteria(result, wanted, region, grid) if wanted else None
    if as_json:
        _print_json(result, crit, run_ids, figures, serving)
        return
    _print_tables(result, run_ids, figures)
    if serving:
        _print_serving(serving)
    if crit is not None:
        _print_criteria(result, crit)


def _check_numbers(tokens_in: int | None, tokens_out: int | None, seq_len: int | None,
                   queries: int, batch: int | None, peak_flops: float | None,
                   bandwidth_gbs: float | None, tdp_w: float | None, idle_s: float) -> None:
    """Refuse counts below 1 and negative (or, but for --idle-s, zero) device figures."""
    from inferlca.errors import InvalidValueError

    for name, v in (("--tokens-in", tokens_in), ("--tokens-out", tokens_out),
                    ("--seq-len", seq_len), ("--queries", queries), ("--batch", batch)):
        if v is not None and v < 1:
            raise InvalidValueError(f"{name} must be an integer >= 1, got {v}")
    positive_float("--peak-flops", peak_flops)
    positive_float("--bandwidth-gbs", bandwidth_gbs)
    positive_float("--tdp", tdp_w)
    positive_float("--idle-s", idle_s, allow_zero=True)


def _published_calibration(calibrate_on: str, efficiency: str | None, store_path: str | None,
                           model: str, published: str | None, traffic: str) -> Any:
    """The calibration of ``--calibrate-on published`` (refused beside --efficiency/--store)."""
    from inferlca.errors import InvalidValueError

    if calibrate_on != "published":
        raise InvalidValueError(f"--calibrate-on takes 'published', got {calibrate_on!r}")
    if efficiency is not None or store_path:
        raise InvalidValueError("--calibrate-on published replaces --efficiency and --store "
                                "calibration: give one of them")
    from inferlca.estimate.models import load_model
    from inferlca.estimate.published import published_calibration

    return published_calibration(load_model(model).arch, published, traffic)


def _plots(result: Any, serving: dict[str, list[Any]], plot: Path) -> list[Path]:
    """The figures of ``--plot``: the serving curves (with --concurrency) and the roofline."""
    from inferlca.inputs import output_dir

    output_dir(plot, "plot")
    figures: list[Path] = []
    if serving:
        from inferlca.estimate.serving import plot_serving

        figures += plot_serving(serving, plot, stem=f"serving-{result.model.name}")
    from inferlca.report.roofline_plot import plot_roofline

    pairs = result.calibration.pairs if result.calibration else []
    fitting = [d for d in result.devices if d.fits or d.cost.method == "thesis"]
    if fitting:
        figures += plot_roofline(fitting, plot, stem=f"roofline-{result.model.name}",
                                 measured=[p for p in pairs
                                           if p.model == result.model.name])
    return figures


def _print_json(result: Any, crit: list[dict[str, Any] | None] | None, run_ids: list[str],
                figures: list[Path], serving: dict[str, list[Any]]) -> None:
    out = result.to_dict()
    if crit is not None:
        for d, c in zip(out["devices"], crit):
            d["criteria"] = c
    out["saved_run_ids"] = run_ids
    out["figures"] = [str(p) for p in figures]
    if serving:
        out["serving"] = {k: [p.to_dict() for p in v] for k, v in serving.items()}
    print_json(out)


def _print_criteria(result: Any, crit: list[dict[str, Any] | None]) -> None:
    """One line of criteria per device (devices without an impact are left out)."""
    for e, c in zip(result.devices, crit):
        if c is None:
            continue
        cells = [f"{k} " + ("no data" if v["value"] is None else
                            f"{v['value']:.3g} [{v['low']:.3g} - {v['high']:.3g}] {v['unit']}")
                 for k, v in c.items()]
        console.print(f"{getattr(e.device, 'name', e.device)}: " + "; ".join(cells),
                      highlight=False)


def _serving(result: Any, conc: list[int], power_model: str, idle: Any,
             peak_flops: float | None, bandwidth_gbs: float | None,
             tdp_w: float | None) -> dict[str, list[Any]]:
    from inferlca.errors import InvalidValueError
    from inferlca.estimate.serving import serving_curve

    m = result.model
    if m.arch != "decoder":
        raise InvalidValueError(f"{m.name} is an encoder: --concurrency applies to decoders; "
                                "give encoders --batch")
    out: dict[str, list[Any]] = {}
    single = len(result.devices) == 1
    for d in result.devices:
        c = d.cost
        kw = {"peak_flops": peak_flops, "bandwidth_gbs": bandwidth_gbs, "tdp_w": tdp_w} if single \
            else {}
        pts = serving_curve(m, d.device, c.precision, conc, tokens_in=c.tokens_in or 128,
                            tokens_out=max(2, c.tokens_out or 128), efficiency=d.efficiency,
                            power_model=power_model, traffic=c.traffic, idle_fraction=idle,
                            **{k: v for k, v in kw.items() if v is not None})
        bad = [p for p in pts if not p.fits]
        if bad and len(conc) == 1:
            b = bad[0]
            raise InvalidValueError(
                f"--concurrency {b.concurrency} does not fit {d.roof.device_name} at "
                f"{c.precision}: {b.memory.summary()}; at most {b.memory.max_batch} "
                "concurrent sequence(s) fit")
        out[d.roof.device_name] = pts
    return out


def _print_serving(serving: dict[str, list[Any]]) -> None:
    from rich.table import Table

    for name, pts in serving.items():
        p0 = pts[0]
        kv_kb = p0.memory.kv_bytes_per_token / 1e3
        t = Table(title=f"{name}: continuous batching, {p0.precision}, prompt {p0.tokens_in} / "
                        f"output {p0.tokens_out} tokens (steady state); KV cache {kv_kb:.4g} "
                        f"kB/token, at most {p0.memory.max_batch} sequences fit",
                  title_justify="left")
        for c in ("concurrency", "decode step", "bound", "TPOT", "tokens/s (device)",
                  "energy / output token", "memory"):
            t.add_column(c, justify="right")
        for p in pts:
            if not p.fits:
                t.add_row(str(p.concurrency), "-", "-", "-", "-", "does not fit",
                          f"{p.memory.need_bytes / 1e9:.4g} GB > "
                          f"{(p.memory.capacity_bytes or 0) / 1e9:.4g} GB "
                          f"(max {p.memory.max_batch})")
                continue
            t.add_row(str(p.concurrency), p.step_s.format("s"), p.step_bound,
                      p.tpot_s.format("s"), p.tokens_per_s.format("token/s"),
                      p.energy_per_token_j.format("J"),
                      f"{p.memory.need_bytes / 1e9:.4g} GB")
        console.print(t)


def _criteria(result: Any, wanted: tuple[str, ...], region: str | None,
              grid: str | None) -> list[dict[str, Any] | None]:
    """Each device's criteria from its estimated impact (estimated, like the energy)."""
    from types import SimpleNamespace

    from inferlca.lca.criteria import compute_criteria

    out: list[dict[str, Any] | None] = []
    for e in result.devices:
        if e.impact is None:
            out.append(None)
            continue
        ctx = SimpleNamespace(device=e.device, region="custom" if grid is not None
                              else (region or "FR"))
        out.append({k: c.to_dict() for k, c in compute_criteria(e.impact, ctx, wanted).items()})
    return out


def _num(x: float, unit: str = "", digits: int = 3) -> str:
    from inferlca.uncertainty import UValue

    return UValue.exact(x).format(unit, digits=digits)


def _print_tables(result: Any, run_ids: list[str], figures: list[Path]) -> None:
    _print_model_table(result)
    _print_device_table(result)
    _print_footer(result, run_ids, figures)


def _print_model_table(result: Any) -> None:
    """The model's per-query cost under each FLOP count (passes of the one used)."""
    from rich.table import Table

    m = result.model
    head = Table(title=f"{m.name}: {m.arch}, {m.layers} layers, d={m.hidden}, f={m.ffn}, "
                       f"{m.heads} heads ({m.attention_kind}), "
                       f"{m.parameter_count() / 1e6:,.1f} M parameters", title_justify="left")
    head.add_column("per query")
    for name in result.costs:
        head.add_column(name + (" (used)" if name == result.method else ""), justify="right")
    head.add_row("FLOPs", *(_num(c.flops, "FLOP") for c in result.costs.values()))
    head.add_row("bytes moved", *(_num(c.bytes, "B") for c in result.costs.values()))
    head.add_row("intensity", *(_num(c.intensity, "FLOP/B") for c in result.costs.values()))
    cost = result.cost
    for name, p in cost.passes.items():
        if len(cost.passes) > 1:
            head.add_row(f"  {name} FLOPs / bytes",
                         *(f"{_num(p.flops)} / {_num(p.bytes)}" if c is cost else "-"
                           for c in result.costs.values()))
    console.print(head)


def _print_device_table(result: Any) -> None:
    """The estimate of each device side by side (roof, memory, time, power, energy, GWP)."""
    from rich.table import Table

    cost = result.cost
    ds = result.devices
    t = Table(title=f"Estimates ({result.method} count, {cost.precision}, {cost.traffic} traffic, "
                    f"{ds[0].power_model} power model, manufacturing scope "
                    f"{getattr(ds[0].impact, 'scope', 'chip')}, {ds[0].queries} "
                    f"quer{'y' if ds[0].queries == 1 else 'ies'}"
                    + (f", batch {cost.batch}" if cost.batch > 1 else "") + ")",
              title_justify="left")
    t.add_column("")
    for est in ds:
        t.add_column(est.roof.device_name, justify="right")

    def row(label: str, values: list[str]) -> None:
        t.add_row(label, *values)

    def ok(e: Any) -> bool:
        return bool(e.fits or e.cost.method == "thesis")

    def v(e: Any, text: str) -> str:
        return text if ok(e) else "[red]does not fit[/red]"

    row("precision", [e.cost.precision + (" (sparse)" if e.roof.sparse else "") for e in ds])
    row("peak / bandwidth", [f"{_num(e.roof.peak_flops, 'FLOP/s')} / "
                             f"{_num(e.roof.bandwidth_bps / 1e9, 'GB/s', 4)}" for e in ds])
    row("ridge", [_num(e.roof.ridge_intensity, "FLOP/B") for e in ds])
    row("memory", [("?" if e.memory is None or e.memory.capacity_bytes is None else
                    f"{e.memory.need_bytes / 1e9:.3g} of {e.memory.capacity_bytes / 1e9:.3g} GB"
                    + ("" if e.fits else " [red]NO FIT[/red]")) for e in ds])
    row("bound", [e.bound for e in ds])
    row("efficiency", [e.efficiency.format() for e in ds])
    row("time / query is", [e.kind for e in ds])
    row("time / query", [v(e, e.time_per_query_s.format("s")) for e in ds])
    if any(e.ttft_s is not None for e in ds):
        row("TTFT", [v(e, e.ttft_s.format("s")) if e.ttft_s else "-" for e in ds])
        row("TPOT", [v(e, e.tpot_s.format("s")) if e.tpot_s else "-" for e in ds])
    row("power (TDP)", [e.power_w["tdp"].format("W") for e in ds])
    row("power (utilisation)", [e.power_w["utilisation"].format("W") for e in ds])
    row("energy / query (TDP)", [v(e, e.energy_per_query_j["tdp"].format("J")) for e in ds])
    row("energy / query (util.)", [v(e, e.energy_per_query_j["utilisation"].format("J"))
                                   for e in ds])
    if any("load" in e.phases for e in ds):
        for ph in ("load", "compute", "idle"):
            if any(ph in e.phases for e in ds):
                row(f"{ph}: time", [v(e, e.phases[ph]["duration_s"].format("s"))
                                    if ph in e.phases else "-" for e in ds])
                row(f"{ph}: energy", [v(e, e.phases[ph]["energy_j"].format("J"))
                                      if ph in e.phases else "-" for e in ds])
    if all(e.impact is not None for e in ds):
        from inferlca.store.export import EMBODIED_KEYS, embodied_missing
        from inferlca.uncertainty import UValue

        def g(e: Any, key: str, scale: float = 1.0, unit: str = "gCO2e") -> str:
            d = e.impact.to_dict()
            if key in EMBODIED_KEYS and embodied_missing(d):
                return "n/a (no footprint)"
            v = d[key]
            return (UValue.from_dict(v) * scale).format(unit) if isinstance(v, dict) else str(v)

        # the units of `inferlca run`: gCO2e per workload, mgCO2e per query
        row("GWP use (workload)", [g(e, "use_gco2e") for e in ds])
        row("GWP embodied (workload)", [g(e, "embodied_gco2e") for e in ds])
        row("GWP total (workload)", [g(e, "total_gco2e") for e in ds])
        row("GWP per query", [g(e, "per_query_gco2e", 1e3, "mgCO2e") for e in ds])
    console.print(t)


def _print_footer(result: Any, run_ids: list[str], figures: list[Path]) -> None:
    """Notes, the calibration, the stored run ids and the figures."""
    ds = result.devices
    notes = sorted({n for e in ds for n in e.notes} | {f"{e.roof.device_name}: efficiency "
                                                       f"{e.efficiency_source}" for e in ds}
                   | set(result.notes))
    for n in notes:
        console.print(f"[dim]note: {escape(n)}[/dim]")
    cal = result.calibration
    if cal is not None and cal.pairs:
        _print_calibration(cal)
    for rid in run_ids:
        console.print(f"stored estimated run {rid[:8]}")
    for f in figures:
        console.print(f"figure: {f}")


def _print_calibration(cal: Any) -> None:
    from rich.table import Table

    if cal.pairs:
        ct = Table(title=f"Calibration: measured / estimated ({cal.method}, efficiency 1)",
                   title_justify="left")
        for c in ("run", "device", "workload", "time ratio", "energy ratio", "efficiency"):
            ct.add_column(c, justify="right" if "ratio" in c or c == "efficiency" else "left")
        for p in cal.pairs:
            er = p.energy_ratio
            flag = " [red](beat the bound: model error)[/red]" if p.beats_bound else ""
            ct.add_row(p.run_id[:8], p.device_name, p.workload, f"{p.time_ratio:.3g}{flag}",
                       "-" if er is None else f"{er:.3g}", f"{p.efficiency:.3g}")
        console.print(ct)
