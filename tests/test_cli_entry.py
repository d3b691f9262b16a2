"""The in-process entry point survives command discovery: no command module shadows a name of
the `inferlca.cli` package (importing `cli/<name>.py` sets the attribute `<name>` of the package)."""

from __future__ import annotations

import pkgutil


def test_run_stays_callable_after_commands_load(cli):
    assert cli("--version").code == 0  # loads every command module
    import inferlca.cli

    assert callable(inferlca.cli.run)
    assert cli("--version").code == 0  # a second in-process call still works
    # a command module named like a name of the package would replace it when discovered
    modules = {m.name for m in pkgutil.iter_modules(inferlca.cli.__path__)}
    assert not modules & {"run", "main", "app"}, "rename the command module (e.g. run_command.py)"
