"""The shared settings (:mod:`inferlca.settings`) as the defaults of every command's options.

The root callback resolves the settings (environment, config file, defaults) and hands them to
click as the ``default_map`` of the command tree: a flag on the command line still wins (the
argument), and an option left out takes the environment's or the file's value. Which option of
which command a setting feeds is read from the commands' own parameter lists (by flag), so new
commands get the settings without being listed here.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from inferlca import settings

#: setting -> the flags that take it (``period`` is in seconds; ``--period-ms`` gets ms)
FLAGS: dict[str, tuple[str, ...]] = {
    "store": ("--store",),
    "region": ("--region",),
    "grid": ("--grid",),
    "pue": ("--pue",),
    "lifetime": ("--lifetime-years",),
    "scope": ("--scope",),
    "meter": ("--meter",),
    "period": ("--period-ms",),
    "device": ("--device",),
}
#: ``--device`` means "the device the results are about" only in these commands (elsewhere it
#: filters stored runs: a configured device must not hide the others)
DEVICE_COMMANDS = frozenset({"run", "measure", "impact", "trace import", "campaign run",
                             "campaign worker"})
#: ``--store`` of these commands changes what they do (estimate calibrates on a given store)
NO_STORE_DEFAULT = frozenset({"estimate", "estimate calibrate", "calibrate"})


def _value_for(key: str, flag: str, value: Any) -> Any:
    if key == "period" and flag == "--period-ms":
        return float(value) * 1000.0
    return value


def default_map(root: Any, resolved: dict[str, settings.Setting]) -> dict[str, Any]:
    """The click ``default_map`` of the command tree for the settings that are not defaults."""
    given = {k: s for k, s in resolved.items() if s.origin != "default" and s.value is not None}
    if not given:
        return {}

    def walk(cmd: Any, path: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        name = " ".join(path)
        for p in getattr(cmd, "params", []):
            if getattr(p, "multiple", False):
                continue
            for key, s in given.items():
                flag = next((f for f in FLAGS[key] if f in getattr(p, "opts", ())), None)
                if flag is None:
                    continue
                if key == "device" and name not in DEVICE_COMMANDS:
                    continue
                if key == "store" and name in NO_STORE_DEFAULT:
                    continue
                out[p.name] = _value_for(key, flag, s.value)
        for sub_name, sub in (getattr(cmd, "commands", None) or {}).items():
            sub_map = walk(sub, [*path, sub_name])
            if sub_map:
                out[sub_name] = sub_map
        return out

    return walk(root, [])


def apply_root_options(ctx: Any, config: str | None, verbose: int, quiet: bool) -> None:
    """What the root callback does with ``--config``, ``-v/--verbose``, ``-q/--quiet``: set up
    logging, remember the config file, and give the invoked command the settings as defaults."""
    setup_logging(verbose, quiet)
    ctx.meta["inferlca_config"] = config
    if ctx.invoked_subcommand is not None:  # env and config file become the options' defaults
        ctx.default_map = default_map(ctx.command, settings.resolve(config=config))


def setup_logging(verbose: int, quiet: bool) -> None:
    """``inferlca`` log records to stderr: warnings by default, info with ``-v``, debug with
    ``-vv``, errors only with ``--quiet``."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[
        min(verbose, 2)]
    log = logging.getLogger("inferlca")
    log.setLevel(level)
    if not any(getattr(h, "_inferlca", False) for h in log.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(name)s: %(message)s"))
        handler._inferlca = True  # type: ignore[attr-defined]
        log.addHandler(handler)
    import warnings

    if quiet:
        warnings.simplefilter("ignore")
    if not getattr(warnings.formatwarning, "_inferlca", False):
        warnings.formatwarning = _one_line_warning(warnings.formatwarning)
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error" if quiet else "warning")


def _one_line_warning(default: Any) -> Any:
    """``warnings.formatwarning`` for the command line: a warning of inferlca's own code is one
    line, ``warning: MESSAGE`` (not its source file, line number and code line); others as
    Python shows them."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def fmt(message: Any, category: Any, filename: str, lineno: int, line: str | None = None) -> str:
        if os.path.abspath(filename).startswith(package + os.sep):
            return f"warning: {message}\n"
        return str(default(message, category, filename, lineno, line))

    fmt._inferlca = True  # type: ignore[attr-defined]
    return fmt
