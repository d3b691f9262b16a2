"""The in-process entry point survives command discovery (a command module may be named `run`)."""

from __future__ import annotations

import importlib


def test_run_stays_callable_after_commands_load(cli):
    assert cli("--version").code == 0  # loads every command module
    import inferlca.cli

    assert callable(inferlca.cli.run)
    assert cli("--version").code == 0  # a second in-process call still works
    # with the `inferlca run` command present (cli/run.py), its module stays importable
    if importlib.util.find_spec("inferlca.cli.run") is not None:
        assert importlib.import_module("inferlca.cli.run").__name__ == "inferlca.cli.run"
