"""A library error as a command prints it: its parameters named by that command's flags."""

from __future__ import annotations

from inferlca.errors import InferlcaError


def as_cli(exc: InferlcaError, *command: str) -> str:
    """``exc``'s message as ``inferlca <command...>`` renders it (e.g. ``as_cli(e, "impact")``)."""
    from inferlca.cli import invoked_command
    from inferlca.cli._common import flag_names

    return exc.render(flag_names(invoked_command(list(command))))
