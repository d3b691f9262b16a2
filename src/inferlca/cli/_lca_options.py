"""The life-cycle options several commands take (grid, PUE, lifetime, memory method, scope), in
one place: each flag is spelled, typed and defaulted here, and the commands that say the same
thing share its help. A command whose help says more of its own case passes it.

Each function returns a fresh ``typer.Option`` (a default value of the command's parameter)::

    def impact_cmd(scope: str = scope_option(), grid_tz: str | None = grid_tz_option(), ...)

Flag names, defaults and help are pinned by the commands' ``--help`` and
``tests/test_lca_options.py``.
"""

from __future__ import annotations

from typing import Any

import typer

#: the help every command gives ``--scope`` of the use-phase impact
SCOPE_HELP = ("Manufacturing scope: chip (default: dies + memory, the study's method), card or "
              "server-share.")
GRID_UNIT_HELP = "Unit of the grid file when it does not say it."
GRID_TZ_HELP = "Time zone of the grid file's naive timestamps."
GRID_YEAR_HELP = ("Grid intensity of this year (the region's rows of that year; see `inferlca "
                  "grid show REGION`).")


def region_option(default: str | None, help: str) -> Any:
    return typer.Option(default, "--region", help=help)


def grid_option(help: str) -> Any:
    """``--grid``: a custom grid intensity in gCO2e/kWh, a number or an interval."""
    return typer.Option(None, "--grid", help=help)


def grid_file_option(help: str) -> Any:
    return typer.Option(None, "--grid-file", help=help)


def grid_unit_option() -> Any:
    return typer.Option(None, "--grid-unit", help=GRID_UNIT_HELP)


def grid_tz_option() -> Any:
    return typer.Option(None, "--grid-tz", help=GRID_TZ_HELP)


def grid_year_option(help: str = GRID_YEAR_HELP) -> Any:
    """``--grid-year``: the region's intensity of one year rather than its default."""
    return typer.Option(None, "--grid-year", help=help)


def grid_signal_option(help: str) -> Any:
    """``--grid-signal``: which column of the grid file (average, the default, or marginal)."""
    return typer.Option("average", "--grid-signal", help=help)


def pue_option(help: str) -> Any:
    return typer.Option(None, "--pue", help=help)


def lifetime_option(help: str) -> Any:
    """``--lifetime-years`` (its old spelling ``--lifetime``: :func:`~inferlca.cli._common.
    old_spelling`)."""
    return typer.Option(None, "--lifetime-years", help=help)


def memory_method_option(help: str, default: str = "per-gb") -> Any:
    return typer.Option(default, "--memory-method", help=help)


def scope_option(default: str = "chip", help: str = SCOPE_HELP) -> Any:
    return typer.Option(default, "--scope", help=help)


def impact_settings(grid: str | None = None, grid_year: str | None = None,
                    pue: str | None = None, lifetime_years: str | None = None,
                    scope: str | None = None) -> dict[str, Any]:
    """The impact settings given on a command line, as ``ImpactContext.resolve`` takes them
    (those left out are not passed: the defaults apply)."""
    out: dict[str, Any] = {"grid": grid, "pue": pue, "lifetime_years": lifetime_years,
                           "scope": scope}
    if grid_year is not None:
        from inferlca.lca.grid import parse_year

        out["grid_year"] = parse_year(grid_year)
    return {k: v for k, v in out.items() if v is not None}
