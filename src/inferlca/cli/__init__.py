"""The `inferlca` command line: thin wrappers over the library.

Each module of this package (not starting with ``_``) adds its commands through a
``register(app)`` function, so features live in their own files. :func:`run` executes a command
line and returns the exit code; bad input (any :class:`~inferlca.errors.InferlcaError`) prints one
line on stderr and exits with the error's code (2 for bad input), never a traceback.

Every other exception that bad input or a bad environment can cause is turned into one line by
:mod:`inferlca.cli._errors` (exit 2 for bad input, 1 for a failing environment); ``--debug`` (or
``INFERLCA_DEBUG=1``) prints the traceback as well. SIGTERM stops a run as Ctrl-C does (what was
measured is kept, marked incomplete) and exits 143.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Any

import typer

try:  # typer >= 0.23 vendors click
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover - older typer
    from click.exceptions import ClickException  # type: ignore[assignment]
    from click.exceptions import NoArgsIsHelp as NoArgsIsHelpError  # type: ignore[attr-defined,no-redef]

from inferlca.errors import InferlcaError

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
    # importing a command module sets it as an attribute of this package, so no command module
    # may be named like a name of this package (`run`, `main`, `app`: see test_cli_entry.py)
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)
    _loaded = True


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="On an error, also print the traceback "
                               "(for bug reports); same as INFERLCA_DEBUG=1."),
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
    from inferlca.cli import _errors

    args = sys.argv[1:] if argv is None else list(argv)
    debug = _errors.debug_wanted(args)
    with _errors.sigterm_as_interrupt() as terminated:
        try:
            code = _run(args)
        except BaseException as exc:
            if isinstance(exc, SystemExit):
                raise
            code = _errors.report(exc, args, debug=debug)
    return _errors.TERMINATED_EXIT if terminated() and code in (0, 130) else code


def _run(args: list[str]) -> int:
    _load_commands()
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="inferlca", standalone_mode=False)
    except InferlcaError as exc:
        # the library names parameters (lifetime_years); say them as this command's flags
        from inferlca.cli._common import flag_names

        message = exc.render(flag_names(invoked_command(args), args)) if exc.params else str(exc)
        from inferlca.cli._errors import one_line

        print(f"error: {one_line(message)}", file=sys.stderr)
        if exc.exit_code != 130:
            from inferlca.cli._errors import debug_wanted, print_traceback

            if debug_wanted(args):
                print_traceback(exc)
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


def invoked_command(args: list[str]) -> Any:
    """The (sub)command a command line runs, e.g. ``campaign plan``; a group that runs as a
    command itself (``estimate --model ...``, whose options are the group's) is returned as such;
    None if there is none."""
    _load_commands()
    top: Any = typer.main.get_command(app)
    cmd = top
    for a in args:
        if not hasattr(cmd, "commands"):  # a command, not a group
            break
        if a.startswith("-"):
            continue
        sub = cmd.commands.get(a)
        if sub is None:  # an argument of the group's own callback, or an unknown name
            break
        cmd = sub
    return None if cmd is top else cmd


def main() -> None:
    sys.exit(run())
