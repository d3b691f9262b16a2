"""The root `inferlca` typer application (imported only when a command line is parsed)."""

from __future__ import annotations

import typer


def version_line() -> str:
    from inferlca import __version__

    return f"inferlca {__version__}"


def _flags_take_no_value() -> None:
    """typer 0.2x shows a flag's type in --help (``--help <bool>``) as if the flag took a
    value; a flag (``--json``, ``--help``, ``--version``) shows none."""
    try:
        from typer.core import TyperOption
    except ImportError:  # pragma: no cover - older typer shows no type for flags
        return
    if getattr(TyperOption, "_inferlca_flags", False):
        return
    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: object) -> str | None:
        if getattr(self, "is_flag", False) and self.metavar is None:
            return None
        return shown(self, ctx)  # type: ignore[arg-type]

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
    TyperOption._inferlca_flags = True  # type: ignore[attr-defined]


def build_app() -> typer.Typer:
    _flags_take_no_value()
    app = typer.Typer(
        name="inferlca",
        help="Energy, latency and life-cycle CO2e of AI inference: measured on your hardware, "
        "estimated for devices you do not own.",
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
        add_completion=True,
    )

    @app.callback(invoke_without_command=True)
    def _root(
        ctx: typer.Context,
        version: bool = typer.Option(False, "--version", help="Print the version and exit."),
        config: str | None = typer.Option(None, "--config", help="Config file (TOML) of the shared "
                                          "settings; default $INFERLCA_CONFIG, ./inferlca.toml, "
                                          "then the user config dir. See `inferlca config show`."),
        verbose: int = typer.Option(0, "--verbose", "-v", count=True,
                                    help="More log output (-v info, -vv debug)."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Only errors on stderr."),
        debug: bool = typer.Option(False, "--debug", help="On an error, also print the traceback "
                                   "(for bug reports); same as INFERLCA_DEBUG=1."),
    ) -> None:
        from inferlca.cli._settings import apply_root_options

        apply_root_options(ctx, config, verbose, quiet)
        if version:
            typer.echo(version_line())
            raise typer.Exit(0)
        if ctx.invoked_subcommand is None:
            typer.echo(ctx.get_help())
            raise typer.Exit(0)

    return app
