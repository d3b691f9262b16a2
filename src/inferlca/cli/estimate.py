"""`inferlca estimate`: time, energy and GWP of a model on devices you do not own (roofline)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from inferlca.cli._common import console, parse_uncertain, positive_float, print_json


def register(app: typer.Typer) -> None:
    app.command("estimate", help=(
        "Estimate time, energy and GWP of one query of a model on catalog devices with the "
        "roofline model (FLOPs and bytes by the 'thesis' and 'faithful' counts), calibrated "
        "against measured runs when --store holds some."))(estimate_cmd)
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
    with Store.open(store_path, readonly=True) as store:
        cal = calibrate(store, catalog, method=method, overrides=overrides)
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


def estimate_cmd(
    model: str = typer.Option(..., "--model", "-m", help="Preset (bert-base, bert-large, gpt2, "
                              "starcoder, llama-3-8b, mistral-7b, minilm-l6, tiny-gpt2, llm-tiny) "
                              "or a Hugging Face config.json (or its folder)."),
    device: list[str] = typer.Option(..., "--device", "-d", help="Catalog device (repeat for "
                                     "several)."),
    method: str = typer.Option("faithful", "--method", help="FLOP count: thesis (the study's "
                               "lower bound) or faithful (every matrix product, KV cache)."),
    precision: str = typer.Option("fp32", "--precision", help="fp32, fp16, bf16 or int8."),
    tokens_in: int | None = typer.Option(None, "--tokens-in", help="Decoder prompt tokens "
                                         "(default 128)."),
    tokens_out: int | None = typer.Option(None, "--tokens-out", help="Decoder generated tokens "
                                          "(default 128)."),
    seq_len: int | None = typer.Option(None, "--seq-len", help="Encoder sequence length "
                                       "(default 384); thesis: the l of l^2 d."),
    queries: int = typer.Option(1, "--queries", help="Queries in the workload (per-workload "
                                "totals)."),
    region: str = typer.Option("FR", "--region", help="Grid region (ISO code) for the use "
                               "phase."),
    grid: str | None = typer.Option(None, "--grid", help="Grid intensity gCO2e/kWh, number or "
                                    "interval low..high (overrides --region)."),
    pue: str | None = typer.Option(None, "--pue", help="PUE, number or interval (default by "
                                   "device class)."),
    lifetime: str | None = typer.Option(None, "--lifetime-years", "--lifetime",
                                        help="Device lifetime in years, number or interval "
                                        "(default 7), as in `inferlca impact`."),
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
    memory_method: str = typer.Option("per-gb", "--memory-method", help="Embodied memory "
                                      "method: per-gb (default) or area."),
    save: bool = typer.Option(False, "--save", help="Store each device's estimate as a run of "
                              "kind 'estimated'."),
    workload: str | None = typer.Option(None, "--workload", help="Workload name for stored "
                                        "estimates (default: the measured workload of the "
                                        "model, e.g. bert-large-squad)."),
    label: str | None = typer.Option(None, "--label", help="Label of stored estimates."),
    plot: Path | None = typer.Option(None, "--plot", help="Folder for the roofline figure "
                                     "(PNG and SVG)."),
    as_json: bool = typer.Option(False, "--json", help="JSON for scripts."),
) -> None:
    from inferlca.errors import InvalidValueError
    from inferlca.estimate.api import estimate, save_estimates
    from inferlca.hardware.catalog import get_catalog

    for name, v in (("--tokens-in", tokens_in), ("--tokens-out", tokens_out),
                    ("--seq-len", seq_len), ("--queries", queries)):
        if v is not None and v < 1:
            raise InvalidValueError(f"{name} must be an integer >= 1, got {v}")
    positive_float("--peak-flops", peak_flops)
    positive_float("--bandwidth-gbs", bandwidth_gbs)
    positive_float("--tdp", tdp_w)
    catalog = get_catalog()
    devices = [catalog.get(d) for d in dict.fromkeys(device)]
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
        store = Store.open(store_path, readonly=not save)
    try:
        result = estimate(
            model, devices, method=method, precision=precision, seq_len=seq_len,
            tokens_in=tokens_in, tokens_out=tokens_out, queries=queries, efficiency=eff,
            power_model=power_model, idle_fraction=idle, peak_flops=peak_flops,
            bandwidth_gbs=bandwidth_gbs, tdp_w=tdp_w, region=region,
            grid=parse_uncertain("--grid", grid, "gCO2e/kWh"),
            pue=parse_uncertain("--pue", pue, minimum=1.0, allow_equal=True),
            lifetime_years=parse_uncertain("--lifetime-years", lifetime, "y"),
            memory_method=memory_method, store=store, catalog=catalog)
        run_ids = save_estimates(store, result, workload=workload, region=region,
                                 label=label) if save and store is not None else []
    finally:
        if store is not None:
            store.close()
    figures: list[Path] = []
    if plot is not None:
        from inferlca.report.roofline_plot import plot_roofline

        pairs = result.calibration.pairs if result.calibration else []
        figures = plot_roofline(result.devices, plot, stem=f"roofline-{result.model.name}",
                                measured=[p for p in pairs if p.model == result.model.name])
    if as_json:
        out = result.to_dict()
        out["saved_run_ids"] = run_ids
        out["figures"] = [str(p) for p in figures]
        print_json(out)
        return
    _print_tables(result, run_ids, figures)


def _num(x: float, unit: str = "", digits: int = 3) -> str:
    from inferlca.uncertainty import UValue

    return UValue.exact(x).format(unit, digits=digits)


def _print_tables(result: Any, run_ids: list[str], figures: list[Path]) -> None:
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

    t = Table(title=f"Estimates ({result.method} count, {cost.precision}, "
                    f"{result.devices[0].power_model} power model, "
                    f"{result.devices[0].queries} quer{'y' if result.devices[0].queries == 1 else 'ies'})",
              title_justify="left")
    t.add_column("")
    for est in result.devices:
        t.add_column(est.roof.device_name, justify="right")

    def row(label: str, values: list[str]) -> None:
        t.add_row(label, *values)

    ds = result.devices
    row("peak / bandwidth", [f"{_num(e.roof.peak_flops, 'FLOP/s')} / "
                             f"{_num(e.roof.bandwidth_bps / 1e9, 'GB/s', 4)}" for e in ds])
    row("ridge", [_num(e.roof.ridge_intensity, "FLOP/B") for e in ds])
    row("bound", [e.bound for e in ds])
    row("efficiency", [e.efficiency.format() for e in ds])
    row("time / query", [e.time_per_query_s.format("s") for e in ds])
    if any(e.ttft_s is not None for e in ds):
        row("TTFT", [e.ttft_s.format("s") if e.ttft_s else "-" for e in ds])
        row("TPOT", [e.tpot_s.format("s") if e.tpot_s else "-" for e in ds])
    row("power (TDP)", [e.power_w["tdp"].format("W") for e in ds])
    row("power (utilisation)", [e.power_w["utilisation"].format("W") for e in ds])
    row("energy / query (TDP)", [e.energy_per_query_j["tdp"].format("J") for e in ds])
    row("energy / query (util.)", [e.energy_per_query_j["utilisation"].format("J") for e in ds])
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
    notes = sorted({n for e in ds for n in e.notes} | {f"{e.roof.device_name}: efficiency "
                                                       f"{e.efficiency_source}" for e in ds})
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
            ct.add_row(p.run_id[:8], p.device_name, p.workload, f"{p.time_ratio:.3g}",
                       "-" if er is None else f"{er:.3g}", f"{p.efficiency:.3g}")
        console.print(ct)
