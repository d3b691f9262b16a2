"""The `inferlca` command line: thin wrappers over the library.

Each module of this package (not starting with ``_``) adds its commands through a
``register(app)`` function, so features live in their own files. :func:`run` executes a command
line and returns the exit code; bad input (any :class:`~inferlca.errors.InferlcaError`) prints one
line on stderr and exits with the error's code (2 for bad input), never a traceback.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

try:  # typer >= 0.23 vendors click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover - older typer
    from click.exceptions import ClickException  # type: ignore[assignment]
    from click.exceptions import NoArgsIsHelp as NoArgsIsHelpError  # type: ignore[attr-defined,no-redef]

from inferlca.errors import InferlcaError


def _flags_take_no_value() -> None:
    """typer 0.2x shows a flag's type in --help (``--help <bool>``) as if the flag took a
    value; a flag (``--json``, ``--help``, ``--version``) shows none."""
    try:
        from typer.core import TyperOption
    except ImportError:  # pragma: no cover - older typer shows no type for flags
        return
    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: object) -> str | None:
        if getattr(self, "is_flag", False) and self.metavar is None:
            return None
        return shown(self, ctx)  # type: ignore[arg-type]

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_take_no_value()

app = typer.Typer(
    name="inferlca",
    help="Energy, latency and life-cycle CO2e of AI inference: measured on your hardware, "
    "estimated for devices you do not own.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)

_loaded = False


def _load_commands() -> None:
    global _loaded
    if _loaded:
        return
    # importing a command module sets it as an attribute of this package: the module of
    # `inferlca run` (cli/run.py) would then hide the function `run` below; keep the function
    entry = globals()["run"]
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)
    globals()["run"] = entry
    _loaded = True


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        from inferlca import __version__

        typer.echo(f"inferlca {__version__}")
        raise typer.Exit(0)
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())
        raise typer.Exit(0)


def run(argv: list[str] | None = None) -> int:
    """Run one command line; return its exit code (used by tests and by :func:`main`)."""
    _load_commands()
    command = typer.main.get_command(app)
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        result = command.main(args=args, prog_name="inferlca", standalone_mode=False)
    except InferlcaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except NoArgsIsHelpError as exc:
        exc.show(file=sys.stdout)
        return 0
    except ClickException as exc:
        exc.show(file=sys.stderr)
        return exc.exit_code
    except typer.Abort:
        print("interrupted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())
