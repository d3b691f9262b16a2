"""``inferlca config show|path``: the shared settings in force and where each came from."""

from __future__ import annotations

import typer

from inferlca.cli._common import print_json


def register(app: typer.Typer) -> None:
    config_app = typer.Typer(help="The shared settings (store, region, grid, PUE, lifetime, "
                             "scope, meter, period, device): their values and origin.",
                             no_args_is_help=True)

    @config_app.command("show")
    def show(ctx: typer.Context,
             as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        """Print each setting's effective value and where it came from (argument > environment
        INFERLCA_* > config file > default)."""
        from inferlca import settings

        resolved = settings.resolve(config=ctx.find_root().meta.get("inferlca_config"))
        if as_json:
            print_json({k: {"value": s.value, "origin": s.origin, "where": s.where or None}
                        for k, s in resolved.items()})
            return
        typer.echo(settings.format_settings(resolved))

    @config_app.command("path")
    def path(ctx: typer.Context) -> None:
        """Print the config file in force (nothing when there is none)."""
        from inferlca import settings

        found = settings.find_config_file(ctx.find_root().meta.get("inferlca_config"))
        if found is not None:
            typer.echo(str(found))

    app.add_typer(config_app, name="config")
