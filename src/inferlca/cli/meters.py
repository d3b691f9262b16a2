"""`inferlca meters`: every power meter, whether it works here, and why not;
`inferlca meters serve`: the meter agent that streams this machine's readings to a runner."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from inferlca.cli._common import console, err_console, positive_float, print_json
from inferlca.errors import UsageError

meters_app = typer.Typer(
    help="List the power meters (`inferlca meters`); serve one to another machine "
    "(`inferlca meters serve`).",
    invoke_without_command=True,
    no_args_is_help=False,
)


@meters_app.callback()
def meters_cmd(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """List the power meters (auto picks the first available one, top to bottom)."""
    if ctx.invoked_subcommand is not None:
        return
    from inferlca.meters.registry import AUTO_ORDER, list_meters

    infos = list_meters()
    auto = next((i.name for i in infos if i.available and i.name in AUTO_ORDER), None)
    if as_json:
        print_json({"auto": auto, "meters": [i.to_dict() for i in infos]})
        return
    t = Table(title="power meters (auto = first available in this order)")
    for col in ("meter", "available", "kind", "why / what it reads"):
        t.add_column(col, overflow="fold")
    for i in infos:
        mark = "[green]yes[/]" if i.available else "[red]no[/]"
        if i.name == auto:
            mark += " (auto)"
        t.add_row(i.name, mark, "estimated" if i.estimated else "measured", i.reason)
    console.print(t)


@meters_app.command("serve")
def serve_cmd(
    port: int = typer.Option(9642, "--port", help="TCP port (0: any free one; printed)."),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to listen on (default this machine only; 0.0.0.0 "
                                  "for every interface: then set a token)."),
    meter: str = typer.Option("auto", "--meter",
                              help="The meter to serve: a name, auto, or several joined by + "
                                   "(nvml+rapl); see `inferlca meters`."),
    interval_ms: float = typer.Option(10.0, "--interval-ms",
                                      help="Sampling period in ms (>= 1; default 10)."),
    token_env: str | None = typer.Option(
        None, "--token-env", help="Environment variable holding the token every request must "
        "carry (default: INFERLCA_METER_TOKEN when set, else no token)."),
    gpus: str | None = typer.Option(None, "--gpus", help="NVML GPU indices, e.g. 0,1."),
    replay: Path | None = typer.Option(
        None, "--replay", help="With --meter replay: a recorded log played back as the meter."),
) -> None:
    """Serve this machine's power readings (HTTP, one JSON line per reading, and /metrics for
    Prometheus) to an `inferlca run`/`measure --meter-url` on another machine; Ctrl-C stops."""
    import time

    from inferlca.meters.agent import TOKEN_ENV, MeterAgent
    from inferlca.meters.registry import open_meter

    positive_float("--interval-ms", interval_ms, maximum=60_000)
    if interval_ms < 1:
        raise UsageError(f"--interval-ms must be >= 1, got {interval_ms:g}")
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be 0 to 65535, got {port}")
    if (replay is None) != (meter != "replay"):
        raise UsageError("--replay FILE goes with --meter replay (and --meter replay needs "
                         "--replay FILE)")
    token = _token(token_env, TOKEN_ENV)
    options: dict[str, Any] = {"path": replay} if replay is not None else {}
    pm = open_meter(meter, gpus=gpus, period_s=interval_ms / 1000.0, **options)
    try:
        agent = MeterAgent(pm, host=host, port=port, interval_s=interval_ms / 1000.0,
                           token=token)
    except BaseException:
        pm.close()
        raise
    agent.start()
    guard = f"token from ${token_env or TOKEN_ENV} required" if token else "no token"
    print(f"meter agent: {pm.name} ({', '.join(pm.channels)}) every {interval_ms:g} ms on "
          f"{agent.url} ({guard}); Ctrl-C stops", flush=True)
    if token is None and host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(f"warning: listening on {host} without a token: anyone who reaches "
                          "this port reads the meter; set a token (--token-env)", highlight=False)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        agent.close()
    print("meter agent stopped", flush=True)


def _token(token_env: str | None, default_env: str) -> str | None:
    if token_env is None:
        return os.environ.get(default_env) or None
    value = os.environ.get(token_env)
    if not value:
        raise UsageError(f"--token-env {token_env}: the variable {token_env} is not set (or "
                         "empty); export it with the token first")
    return value


def register(app: typer.Typer) -> None:
    app.add_typer(meters_app, name="meters")
