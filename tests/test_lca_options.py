"""The life-cycle options (cli/_lca_options.py) are one definition: the same flag, default and,
where the commands say the same thing, the same help in every command that takes them."""

from __future__ import annotations

import typer

from inferlca.cli import _lca_options as lca
from inferlca.cli import invoked_command


def options(*command: str) -> dict[str, object]:
    cmd = invoked_command([*command])
    assert cmd is not None
    return {p.opts[0]: p for p in cmd.params if getattr(p, "param_type_name", "") == "option"}


def test_shared_options_are_the_same_in_every_command():
    impact, run, estimate = options("impact"), options("run"), options("estimate")
    for cmd in (impact, run, estimate):
        assert cmd["--scope"].help == lca.SCOPE_HELP and cmd["--scope"].default == "chip"
        for flag in ("--region", "--grid", "--pue", "--lifetime-years", "--memory-method"):
            assert flag in cmd
        assert cmd["--memory-method"].default == "per-gb"
        assert cmd["--grid"].default is None and cmd["--pue"].default is None
    for cmd in (impact, run):
        assert cmd["--grid-unit"].help == lca.GRID_UNIT_HELP
        assert cmd["--grid-tz"].help == lca.GRID_TZ_HELP
        assert cmd["--grid-signal"].default == "average"
    assert impact["--region"].default is None and estimate["--region"].default == "FR"
    # embodied says what its scope covers in its own words, with the same flag and default
    embodied = options("embodied")
    assert embodied["--scope"].default == "chip" and embodied["--scope"].help != lca.SCOPE_HELP


def test_each_call_is_a_fresh_option():
    a, b = lca.scope_option(), lca.scope_option()
    assert a is not b and isinstance(a, type(typer.Option(None)))
