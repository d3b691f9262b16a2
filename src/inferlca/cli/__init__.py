"""The `inferlca` command line: thin wrappers over the library.

Each module of this package (not starting with ``_``) adds its commands through a
``register(app)`` function, so features live in their own files. :func:`run` executes a command
line and returns the exit code; bad input (any :class:`~inferlca.errors.InferlcaError`) prints one
line on stderr and exits with the error's code (2 for bad input), never a traceback.

Start-up is kept short: ``--version`` imports neither typer nor any command module,
``hardware list`` imports neither typer nor rich (the same text, laid out by
:mod:`inferlca.cli._plain_table`), and a command imports only its own module (see
:data:`COMMAND_MODULES`); ``--help`` loads every module to list
them, and the modules keep their heavy imports (store, numpy, torch, matplotlib) inside the
commands. ``tests/test_cli_fast.py`` checks this with ``python -X importtime``.

Every other exception that bad input or a bad environment can cause is turned into one line by
:mod:`inferlca.cli._errors` (exit 2 for bad input, 1 for a failing environment); ``--debug`` (or
``INFERLCA_DEBUG=1``) prints the traceback as well. SIGTERM stops a run as Ctrl-C does (what was
measured is kept, marked incomplete) and exits 143.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import TYPE_CHECKING, Any

from inferlca.errors import InferlcaError

if TYPE_CHECKING:
    import typer

# Which module registers which top-level command. Only the module of the command being run is
# imported, so `inferlca hardware list` does not pay for the store, numpy or torch; `--version`
# imports none. A command missing here still works (every module is then loaded, as for
# `--help`); tests/test_cli_fast.py checks that this table matches what the modules register.
COMMAND_MODULES: dict[str, str] = {
    "calibrate": "estimate",
    "campaign": "campaign",
    "compare": "compare",
    "config": "config",
    "embodied": "embodied",
    "estimate": "estimate",
    "export": "export",
    "grid": "grid",
    "hardware": "hardware",
    "impact": "impact",
    "measure": "measure",
    "meters": "meters",
    "project": "project",
    "recommend": "recommend",
    "report": "report",
    "results": "results",
    "run": "run_command",
    "store": "store",
    "trace": "trace",
}

_registered: set[str] = set()
_app: typer.Typer | None = None


def get_app() -> typer.Typer:
    """The root typer application (built on first use, so ``--version`` does not import typer)."""
    global _app
    if _app is None:
        from inferlca.cli._root import build_app

        _app = build_app()
    return _app


def __getattr__(name: str) -> Any:
    if name == "app":
        return get_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _version_line() -> str:
    from inferlca import __version__

    return f"inferlca {__version__}"


def command_modules() -> list[str]:
    """The names of the command modules of this package (those not starting with ``_``)."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def _register(name: str) -> None:
    if name in _registered:
        return
    # importing a command module sets it as an attribute of this package, so no command module
    # may be named like a name of this package (`run`, `main`, `app`: see test_cli_entry.py)
    module = importlib.import_module(f"{__name__}.{name}")
    register = getattr(module, "register", None)
    if register is not None:
        register(get_app())
    _registered.add(name)


def _load_commands(args: list[str] | None = None) -> None:
    """Register the command modules that the command line ``args`` needs (all when None)."""
    needed = _modules_for(args)
    for name in command_modules() if needed is None else needed:
        _register(name)


def _modules_for(args: list[str] | None) -> list[str] | None:
    """The modules needed for ``args``: [] for ``--version``, one for a known command, else all."""
    if args is None:
        return None
    at = next((i for i, a in enumerate(args) if not a.startswith("-")), None)
    if at is None or {"--help", "-h"} & set(args[:at]):
        if at is None and "--version" in args and not {"--help", "-h"} & set(args):
            return []
        return None  # the root's help: every command is listed
    command = args[at]
    module = COMMAND_MODULES.get(command)
    if module is None or module not in command_modules():
        return None  # unknown command: let click list them all and suggest one
    return [module]


def run(argv: list[str] | None = None) -> int:
    """Run one command line; return its exit code (used by tests and by :func:`main`)."""
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        return _run_line(args, fast=argv is None)
    except KeyboardInterrupt:  # a Ctrl-C outside a command's own handling (e.g. while starting)
        print(interrupted_line(args), file=sys.stderr)
        return 130


def _run_line(args: list[str], fast: bool) -> int:
    if args == ["--version"]:  # the common case answers without building the command line
        print(_version_line())
        return 0
    from inferlca.cli import _errors

    debug = _errors.debug_wanted(args)
    with _errors.sigterm_as_interrupt() as terminated:
        try:
            text = _fast_path(args) if fast else None
            if text is not None:
                sys.stdout.write(text)
                sys.stdout.flush()
                code = 0
            else:
                code = _run(args)
        except BaseException as exc:
            if isinstance(exc, SystemExit):
                raise
            if _errors.reader_gone(exc):  # `inferlca ... | head`: the reader has what it wanted
                return _errors.PIPE_CLOSED_EXIT
            if isinstance(exc, KeyboardInterrupt) or _errors.from_interrupt(exc):
                print(interrupted_line(args), file=sys.stderr)
                code = 130
            else:
                code = _errors.report(exc, args, debug=debug)
    return _errors.TERMINATED_EXIT if terminated() and code in (0, 130) else code


#: commands whose Ctrl-C keeps what was measured themselves: a Ctrl-C that reaches the top
#: came before their measurement started
MEASURING = frozenset({"measure", "run"})


def interrupted_line(args: list[str]) -> str:
    """What Ctrl-C that reached the top says: ``interrupted``, and for a measuring command that
    nothing was measured (a Ctrl-C during its measurement is answered by the command)."""
    command = next((a for a in args if not a.startswith("-")), None)
    return ("interrupted before anything was measured" if command in MEASURING
            else "interrupted")


def _fast_path(args: list[str]) -> str | None:
    """The output of a command line answered without typer (``hardware list``, see
    :mod:`inferlca.cli._hardware_list`), or None. Only for the process's own command line
    (:func:`main`): a caller of :func:`run` in-process may have redirected rich's console."""
    if args[:2] != ["hardware", "list"]:
        return None
    from inferlca.cli._hardware_list import fast_list

    return fast_list(args)


def _run(args: list[str]) -> int:
    import typer

    try:  # typer >= 0.23 vendors click
        from typer._click.exceptions import ClickException, NoArgsIsHelpError
    except ImportError:  # pragma: no cover - older typer
        from click.exceptions import ClickException  # type: ignore[assignment]
        from click.exceptions import (  # type: ignore[attr-defined,no-redef]
            NoArgsIsHelp as NoArgsIsHelpError,
        )

    _load_commands(args)
    command = typer.main.get_command(get_app())
    try:
        result = _invoke(command, args)
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
    except (typer.Abort, KeyboardInterrupt):
        print(interrupted_line(args), file=sys.stderr)
        return 130
    return result if isinstance(result, int) else 0


def _invoke(command: Any, args: list[str]) -> Any:
    """``command.main(args, standalone_mode=False)`` less one thing: typer turns a Ctrl-C
    (``KeyboardInterrupt``) into a bare exit code 130, so a Ctrl-C during a command's lazy
    imports or set-up went unsaid; here it reaches :func:`_run`, which says so."""
    import typer

    command._main_shell_completion({}, "inferlca")  # a completion request answers and exits
    try:
        with command.make_context("inferlca", list(args)) as ctx:
            return command.invoke(ctx)
    except EOFError as exc:  # as click: end of input at a prompt
        raise typer.Abort() from exc


def invoked_command(args: list[str]) -> Any:
    """The (sub)command a command line runs, e.g. ``campaign plan``; a group that runs as a
    command itself (``estimate --model ...``, whose options are the group's) is returned as such;
    None if there is none."""
    import typer

    _load_commands(args)
    top: Any = typer.main.get_command(get_app())
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
    code = run()
    if code == 130:  # Ctrl-C, answered: exit 130 as documented
        # CPython re-raises SIGINT at exit when the KeyboardInterrupt came inside an exec'd
        # string (a dataclass or namedtuple being built during an import), even though it was
        # handled; finish by hand instead: exit handlers, streams, then the exit code itself
        import atexit
        import contextlib
        import os

        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(130)
    sys.exit(code)
