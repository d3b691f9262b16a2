"""Helpers shared by the CLI modules: output, JSON, parsing of uncertain options."""

from __future__ import annotations

import math
from typing import Any

from rich.console import Console

from inferlca.cli._json import _default, dumps, print_json  # noqa: F401 - re-exported
from inferlca.errors import InvalidValueError
from inferlca.uncertainty import Bounds, UValue, parse_bounded


class _SafeConsole(Console):
    """A console that shows control characters (an ANSI escape in a stored label) escaped
    instead of sending them to the terminal: a shared store cannot rewrite a reader's screen."""

    def render_str(self, text: str, *args: Any, **kwargs: Any) -> Any:
        from inferlca.text import escape_controls

        return super().render_str(escape_controls(text, keep_lines=True), *args, **kwargs)


console = _SafeConsole()
err_console = _SafeConsole(stderr=True)


def positive_float(name: str, value: float | None, allow_zero: bool = False,
                   maximum: float | None = None) -> float | None:
    """Check a numeric option: finite and > 0 (or >= 0), and at most ``maximum`` when given."""
    if value is None:
        return None
    if math.isnan(value) or math.isinf(value) or value < 0 or (value == 0 and not allow_zero):
        accepted = ">= 0" if allow_zero else "> 0"
        raise InvalidValueError(f"{name} must be a finite number {accepted}, got {value}")
    if maximum is not None and value > maximum:
        raise InvalidValueError(f"{name} must be at most {maximum:,g}, got {value:g}")
    return value


def parse_uncertain(name: str, text: str | None, unit: str = "", minimum: float = 0.0,
                    allow_equal: bool = False) -> UValue | None:
    """Parse ``1.5`` or ``1.1..1.6`` from a command-line option into a :class:`UValue`.

    The one parser, :func:`inferlca.uncertainty.parse_bounded`, with the bound ``> minimum``
    (``>= minimum`` with ``allow_equal``); ``None`` stays ``None``.
    """
    if text is None:
        return None
    return parse_bounded(name, text, Bounds(minimum=minimum, min_inclusive=allow_equal), unit)


#: Old flag spellings kept as hidden aliases so that scripts do not break: old flag -> the
#: parameter it sets (one spelling per parameter across commands: ``--lifetime-years``).
OLD_SPELLINGS: dict[str, str] = {"--lifetime": "lifetime_years"}


def old_spelling(flag: str) -> Any:
    """A hidden option for an old spelling of a flag (see :data:`OLD_SPELLINGS`)."""
    import typer

    param = OLD_SPELLINGS[flag]
    return typer.Option(None, flag, hidden=True,
                        help=f"Old spelling of --{param.replace('_', '-')}.")


def use_old_spelling(param: str, value: Any, old_value: Any) -> Any:
    """The value of ``param`` given under its flag or under its old spelling (not both)."""
    if old_value is None:
        return value
    if value is not None and value != old_value:
        old = next(f for f, p in OLD_SPELLINGS.items() if p == param)
        raise InvalidValueError(f"--{param.replace('_', '-')} and its old spelling {old} give "
                                f"two values ({value!r} and {old_value!r}): give one")
    return old_value


def flag_names(command: Any, argv: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """Parameter name -> the flag that spells it in ``command`` (a click command).

    Built from the command's own parameter list, so it cannot drift from the options. A long
    flag the user typed in ``argv`` wins (``--lifetime`` when the old spelling was used); a short
    one (``-n``) is shown as its long form. Positional arguments keep their names.
    """
    typed = set()
    for a in argv:
        typed.add(a.split("=", 1)[0] if a.startswith("--") else a)
    names: dict[str, str] = {}
    for p in getattr(command, "params", []):
        if getattr(p, "param_type_name", "") != "option" or p.name is None:
            continue
        longs = [o for o in (*p.opts, *p.secondary_opts) if o.startswith("--")]
        if not longs:
            continue
        param = OLD_SPELLINGS.get(longs[0], p.name) if p.hidden else p.name
        used = next((o for o in longs if o in typed), None)
        if used is not None:
            names[param] = used
        elif not p.hidden:
            names.setdefault(param, longs[0])
    # one quantity, two parameter names (a run specification's field and a library argument)
    for a, b in (("grid_gco2e_per_kwh", "grid"), ("devices", "device"), ("store_path", "store"),
                 ("grid_year", "year")):
        if a in names and b not in names:
            names[b] = names[a]
        elif b in names and a not in names:
            names[a] = names[b]
    return names


def remote_meter_name(meter: str, meter_url: str) -> str:
    """The meter name of ``--meter-url URL`` (``remote:URL``); refused beside another ``--meter``
    (the run measures one machine's meter: the agent's)."""
    from inferlca.errors import UsageError

    if meter not in ("auto", "remote") and not meter.startswith("remote:"):
        raise UsageError(f"give either --meter {meter} (this machine) or --meter-url (the agent's "
                         "machine), not both; combine meters on the agent: inferlca meters serve "
                         "--meter nvml+rapl")
    if not meter_url.strip() or "+" in meter_url:
        raise UsageError(f"--meter-url must be http://HOST:PORT, got {meter_url!r}")
    return f"remote:{meter_url.strip()}"
