"""`inferlca compare A B`: ratios of CO2e, energy and p99 latency per query, with intervals."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from inferlca.cli._common import console, print_json
from inferlca.cli._store_options import STORE_HELP


def register(app: typer.Typer) -> None:
    @app.command("compare")
    def compare_cmd(
        a: Annotated[str, typer.Argument(help="Run id (prefix) or device name (its latest run).")],
        b: Annotated[str, typer.Argument(help="Run id (prefix) or device name (its latest run).")],
        store: Annotated[str | None, typer.Option("--store", help=STORE_HELP)] = None,
        workload: Annotated[str | None, typer.Option("--workload", help="With device names: this workload.")] = None,
        scenario: Annotated[str | None, typer.Option("--scenario", help="With device names: this scenario.")] = None,
        queries: Annotated[int | None, typer.Option("--queries", help="With device names: this query count.")] = None,
        allow_mixed_scope: Annotated[bool, typer.Option(
            "--allow-mixed-scope", help="Compare runs whose manufacturing scopes (chip, card, "
            "server-share) or measurement scopes (accelerator, host, node) differ (refused by "
            "default: the ratio would mix what is counted).")] = False,
        samples: Annotated[int | None, typer.Option(
            "--samples", help="Monte Carlo draws (e.g. 10000): medians, percentiles and "
            "P(A < B) of CO2e per query.")] = None,
        seed: Annotated[int, typer.Option("--seed", help="Seed of the Monte Carlo draws (>= 0).")] = 0,
        criteria: Annotated[str | None, typer.Option(
            "--criteria", help="Also compare these criteria per query: gwp,water,pe,adpe.")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="JSON output.")] = False,
    ) -> None:
        """How many times A's CO2e, energy and p99 latency per query are B's (with intervals)."""
        from rich.markup import escape
        from rich.table import Table

        from inferlca.report.compare import compare, run_scope
        from inferlca.report.data import load_runs, open_store_for_reading

        with open_store_for_reading(store) as st:
            runs = load_runs(st)
        mc = None
        wanted = None
        if criteria is not None:
            from inferlca.lca.criteria import parse_criteria

            wanted = parse_criteria(criteria)
        if samples is not None:
            from inferlca.lca.montecarlo import check_samples_seed

            check_samples_seed(samples, seed)  # bad numbers fail before the store is read
        c = compare(runs, a, b, workload=workload, scenario=scenario, queries=queries,
                    allow_mixed_scope=allow_mixed_scope)
        if samples is not None:
            mc = _monte_carlo(c.a, c.b, samples, seed)
        crit = _criteria(c.a, c.b, wanted) if wanted else None
        if as_json:
            out = c.to_dict()
            if crit is not None:
                out["criteria"] = crit
            if mc is not None:
                out["monte_carlo"] = mc
            print_json(out)
            return
        table = Table(title=f"A = {escape(c.a.device_name)} ({c.a.short_id}), "
                            f"B = {escape(c.b.device_name)} ({c.b.short_id}): "
                            f"{escape(c.a.workload)}, {escape(c.a.scenario)}, manufacturing "
                            f"scope A {run_scope(c.a)} / B {run_scope(c.b)}")
        for col in ("per query", "A", "B", "A / B"):
            table.add_column(col, justify="left" if col == "per query" else "right")
        units = {"gwp_per_query": (1e3, "mgCO2e"), "energy_per_query": (1.0, "J"),
                 "latency_p99": (1e3, "ms"), "gwp_per_1k_tokens": (1e3, "mgCO2e"),
                 "energy_per_token": (1e3, "mJ"), "ttft_p99": (1e3, "ms"), "tpot_p99": (1e3, "ms")}
        for r in c.ratios:
            k, u = units[r.key]
            table.add_row(r.label, (r.a * k).format(u) if r.a else "n/a",
                          (r.b * k).format(u) if r.b else "n/a",
                          r.ratio.format("x") if r.ratio else "n/a")
        console.print(table)
        if c.classes is not None:  # two mixed-traffic runs: one table per shared class
            _class_tables(c.classes)
        if crit is not None:
            ct = Table(title="Criteria per query (use + manufacturing where sourced)")
            for col in ("criterion", "A", "B", "A / B"):
                ct.add_column(col, justify="left" if col == "criterion" else "right")
            for name, row in crit.items():
                def cell(d: dict[str, Any]) -> str:
                    return "no data" if d["value"] is None else \
                        f"{d['value']:.3g} [{d['low']:.3g} - {d['high']:.3g}] {d['unit']}"
                r_ = row["ratio"]
                ct.add_row(name, cell(row["a"]), cell(row["b"]),
                           "n/a" if r_ is None else
                           f"{r_['value']:.3g} [{r_['low']:.3g} - {r_['high']:.3g}]")
            console.print(ct)
        for s in c.sentences():
            console.print(escape(s))
        if mc is not None:
            ma, mb = mc["a"], mc["b"]
            console.print(
                f"Monte Carlo ({samples:,} draws, seed {seed}): CO2e per query A median "
                f"{ma['median'] * 1e3:.3g} mgCO2e (p2.5 {ma['p2_5'] * 1e3:.3g} - p97.5 "
                f"{ma['p97_5'] * 1e3:.3g}), B median {mb['median'] * 1e3:.3g} mgCO2e "
                f"({mb['p2_5'] * 1e3:.3g} - {mb['p97_5'] * 1e3:.3g}); "
                f"P(A emits less than B) = {mc['p_a_less_than_b']:.3f}", highlight=False,
                soft_wrap=True)
        for n in c.notes:
            console.print(f"[yellow]note:[/] {escape(n)}")


def _class_tables(classes: Any) -> None:
    """One table per request class both runs have: A, B and A / B per figure."""
    from rich.markup import escape
    from rich.table import Table

    units = {"energy_per_token": (1e3, "mJ"), "ttft_p99": (1e3, "ms"),
             "tokens_per_j": (1.0, "tokens/J"), "gwp_per_1k_tokens": (1e3, "mgCO2e")}
    for name, ratios in classes.ratios.items():
        t = Table(title=f"class {escape(name)} ({escape(classes.kinds.get(name) or '-')}): "
                        "means over repetitions, 95 % intervals", title_justify="left")
        for col in ("per class", "A", "B", "A / B"):
            t.add_column(col, justify="left" if col == "per class" else "right")
        for r in ratios:
            k, u = units[r.key]
            t.add_row(r.label, (r.a * k).format(u) if r.a else "n/a",
                      (r.b * k).format(u) if r.b else "n/a",
                      r.ratio.format("x") if r.ratio else "n/a")
        console.print(t)


def _monte_carlo(a: Any, b: Any, samples: int, seed: int) -> dict[str, Any]:
    """Paired draws of both runs' CO2e per query (shared inputs drawn once)."""
    from inferlca.errors import InvalidValueError
    from inferlca.lca.montecarlo import Draws, inputs_from_run, prob_less, simulate, summarize

    ia, ib = inputs_from_run(a), inputs_from_run(b)
    missing = [v.short_id for v, i in ((a, ia), (b, ib)) if i is None]
    if missing:
        raise InvalidValueError(f"run {', '.join(missing)} has no per-repetition energy, "
                                "duration and impact context: no Monte Carlo for it")
    assert ia is not None and ib is not None
    draws = Draws(samples, seed)
    x = simulate([ia, ib], draws)
    return {"samples": samples, "seed": seed, "unit": "gCO2e per query",
            "a": summarize(x[0]), "b": summarize(x[1]),
            "p_a_less_than_b": prob_less(x[0], x[1]),
            "distributions": "triangular on grid, PUE, lifetime and footprint intervals; "
                             "energy and duration: mean + s/sqrt(n) x Student t(n-1), within "
                             "the run interval; shared inputs drawn once"}


def _criteria(a: Any, b: Any, wanted: tuple[str, ...]) -> dict[str, Any]:
    """Each criterion per query for both runs (the run interval rule) and their ratio."""
    from inferlca.lca.criteria import run_criteria

    ca, cb = run_criteria(a, wanted), run_criteria(b, wanted)
    out: dict[str, Any] = {}
    for name in wanted:
        x, y = ca[name], cb[name]
        ratio = None
        if x["value"] is not None and y["value"] is not None and y["low"] and y["low"] > 0:
            ratio = {"value": x["value"] / y["value"], "low": x["low"] / y["high"],
                     "high": x["high"] / y["low"]}
        out[name] = {"a": x, "b": y, "ratio": ratio}
    return out
