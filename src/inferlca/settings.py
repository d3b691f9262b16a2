"""Shared settings and their one precedence rule.

The options several commands share (and the tracker) are read from, in this order, the first that
gives a value winning:

1. an explicit argument (a command-line flag, a keyword of :func:`inferlca.track`);
2. the environment: ``INFERLCA_<KEY>`` (``INFERLCA_REGION=DE``, ``INFERLCA_PERIOD=0.05``);
3. a config file: ``--config PATH`` / ``INFERLCA_CONFIG``, else ``inferlca.toml`` in the working
   directory, else ``inferlca.toml`` in the user's config directory (``$XDG_CONFIG_HOME/inferlca``,
   ``~/.config/inferlca``);
4. the defaults below (``None``: the command's or the library's own default applies).

The file is TOML with the keys at the top level or under an ``[inferlca]`` table::

    region = "DE"
    pue = "1.1..1.4"
    meter = "auto"
    period = 0.01          # seconds

An unknown key is an error naming the closest valid key; a malformed file names its line. Values
are kept as given (text or number): each consumer checks them with its own rules (the region
against the grid table, the PUE against its bounds...), so a bad value fails where it is used,
with that option's message.

This module reads files and the environment only; it imports nothing of inferlca but the errors.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferlca.errors import InputFileError, UnknownNameError

#: key -> (default, help). ``period`` is in seconds.
KEYS: dict[str, tuple[Any, str]] = {
    "store": (None, "results store (SQLite file); default: the store's own default path"),
    "region": (None, "grid region (ISO code or name); default FR"),
    "grid": (None, "custom grid intensity, gCO2e/kWh (number or lo..hi); overrides region"),
    "pue": (None, "PUE (number or lo..hi); default by device category"),
    "lifetime": (None, "device lifetime in years (number or lo..hi); default 7 [3 - 7]"),
    "scope": (None, "manufacturing scope: chip, card or server-share; default chip"),
    "meter": (None, "power meter (auto, nvml, rapl, modelled...); default auto"),
    "period": (None, "sampling period in seconds; default 0.01"),
    "device": (None, "catalog device the results are about; default: this machine's"),
}

ENV_PREFIX = "INFERLCA_"
FILE_NAME = "inferlca.toml"

#: origins, from strongest to weakest
ORIGINS = ("argument", "environment", "file", "default")


@dataclass(frozen=True)
class Setting:
    """One effective value and where it came from (``argument``, ``environment``, ``file``,
    ``default``); ``where`` names the variable or file."""

    key: str
    value: Any
    origin: str
    where: str = ""


def user_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME")
    if base:
        return Path(base) / "inferlca"
    if sys.platform == "win32" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "inferlca"
    return Path.home() / ".config" / "inferlca"


def find_config_file(explicit: str | os.PathLike[str] | None = None,
                     environ: Mapping[str, str] | None = None) -> Path | None:
    """The config file in force: ``explicit`` (must exist), ``$INFERLCA_CONFIG``, ``./inferlca.toml``,
    then the user's config dir; ``None`` when there is none."""
    env = os.environ if environ is None else environ
    given = explicit if explicit is not None else env.get(f"{ENV_PREFIX}CONFIG")
    if given:
        path = Path(given)
        if not path.is_file():
            raise InputFileError(path, "config file not found")
        return path
    for candidate in (Path.cwd() / FILE_NAME, user_config_dir() / FILE_NAME):
        if candidate.is_file():
            return candidate
    return None


_LINE = re.compile(r"line (\d+)")


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The settings of a TOML file, checked: a syntax error names the line, an unknown key names
    the closest valid one."""
    import tomllib

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(p, f"cannot read the config file: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = _LINE.search(str(exc))
        line = int(m.group(1)) if m else None
        raise InputFileError(p, f"not valid TOML: {exc}", line=line) from None
    if "inferlca" in data and isinstance(data["inferlca"], dict):
        table = data.pop("inferlca")
        data = {**data, **table}
    for key, value in data.items():
        if key not in KEYS:
            close = difflib.get_close_matches(key, list(KEYS), n=1, cutoff=0.5)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise UnknownNameError(
                "config key", key, (),
                hint=f"in {p} ({hint}accepted: {', '.join(KEYS)})")
        if isinstance(value, (dict, list)):
            raise InputFileError(p, f"{key} must be a number or a text, got a "
                                    f"{'table' if isinstance(value, dict) else 'list'}",
                                 line=_line_of(text, key))
    return data


def _line_of(text: str, key: str) -> int | None:
    for i, line in enumerate(text.splitlines(), 1):
        if re.match(rf"\s*{re.escape(key)}\s*=", line):
            return i
    return None


def resolve(arguments: Mapping[str, Any] | None = None, *,
            config: str | os.PathLike[str] | None = None,
            environ: Mapping[str, str] | None = None) -> dict[str, Setting]:
    """Every shared setting with its effective value and origin.

    Args:
        arguments: values given explicitly (``None`` values count as not given).
        config: an explicit config file (else ``$INFERLCA_CONFIG`` or the usual places).
        environ: the environment (default ``os.environ``).

    Raises:
        UnknownNameError: an argument or a config-file key that is not a shared setting.
        InputFileError: a config file that cannot be read or parsed (with its line).
    """
    env = os.environ if environ is None else environ
    args = {k: v for k, v in (arguments or {}).items() if v is not None}
    for k in args:
        if k not in KEYS:
            raise UnknownNameError("setting", k, list(KEYS))
    path = find_config_file(config, env)
    file_values = read_config_file(path) if path is not None else {}
    out: dict[str, Setting] = {}
    for key, (default, _help) in KEYS.items():
        var = f"{ENV_PREFIX}{key.upper()}"
        if key in args:
            out[key] = Setting(key, args[key], "argument")
        elif env.get(var, "") != "":
            out[key] = Setting(key, _number_or_text(env[var]), "environment", var)
        elif key in file_values:
            out[key] = Setting(key, file_values[key], "file", str(path))
        else:
            out[key] = Setting(key, default, "default")
    return out


def values(arguments: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """``{key: value}`` of :func:`resolve`."""
    return {k: s.value for k, s in resolve(arguments, **kwargs).items()}


def _number_or_text(text: str) -> Any:
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


def format_settings(settings: Mapping[str, Setting]) -> str:
    """The table of ``inferlca config show``."""
    rows = [(s.key, "-" if s.value is None else str(s.value),
             s.origin + (f" ({s.where})" if s.where else "")) for s in settings.values()]
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    lines = [f"{'key'.ljust(w0)}  {'value'.ljust(w1)}  origin"]
    lines += [f"{a.ljust(w0)}  {b.ljust(w1)}  {c}" for a, b, c in rows]
    return "\n".join(lines)


__all__ = ["ENV_PREFIX", "KEYS", "Setting", "find_config_file", "format_settings",
           "read_config_file", "resolve", "user_config_dir", "values"]
