"""The root `inferlca` typer application (imported only when a command line is parsed)."""

from __future__ import annotations

import typer


def version_line() -> str:
    from inferlca import __version__

    return f"inferlca {__version__}"


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="inferlca",
        help="Energy, latency and life-cycle CO2e of AI inference: measured on your hardware, "
        "estimated for devices you do not own.",
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
        add_completion=False,
    )

    @app.callback(invoke_without_command=True)
    def _root(
        ctx: typer.Context,
        version: bool = typer.Option(False, "--version", help="Print the version and exit."),
    ) -> None:
        if version:
            typer.echo(version_line())
            raise typer.Exit(0)
        if ctx.invoked_subcommand is None:
            typer.echo(ctx.get_help())
            raise typer.Exit(0)

    return app
