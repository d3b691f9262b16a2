"""The one exception tree of inferlca.

Everything the library raises on purpose derives from :class:`InferlcaError`; the CLI turns any of
them into a one-line message and the error's ``exit_code`` (2 for bad input, 1 for a failure while
working), never a traceback::

    InferlcaError                      base; exit_code 1
    ├── UsageError                     bad input from the user; exit_code 2
    │   ├── UnknownNameError           a device, region, meter, workload... that is not known
    │   ├── InvalidValueError          a number out of range, NaN, an inverted interval
    │   └── InputFileError             a malformed or truncated file (trace, log, dataset, config)
    ├── MeterError                     a power meter problem
    │   ├── MeterUnavailableError      the meter cannot run here (says why and how to fix); exit 2
    │   └── MeterReadError             one read failed (becomes a gap in the trace, not a zero)
    ├── DependencyMissingError         an optional extra is not installed; exit 2
    ├── StoreError                     the results store cannot be opened or written; exit 2
    ├── UnitError                      uncertain values of different units added or compared
    ├── RequestsFailedError            every request of a repetition failed; the run is stored
    │                                  as failed with what was measured; exit_code 1
    └── RunInterrupted                 Ctrl-C during a run; what was measured is kept; exit 130

Vendor errors (NVML, file system, LoadGen) are translated into these at the edge, once.

An error about a parameter says so with ``param=`` and writes the parameter's name (as the
Python API spells it, e.g. ``lifetime_years``) in its message, never a command-line flag: the
library does not know which command, if any, is running. The CLI renders the message with
:meth:`InferlcaError.render`, which puts the flag of the command that ran in place of each
parameter name (``run --lifetime 7..4`` -> ``--lifetime: inverted interval ...``).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence

#: Marks a parameter's name in a message (see :func:`named`); never shown.
_MARK = "\x1f"
_MARKED = re.compile(f"{_MARK}([^{_MARK}]*){_MARK}")


def named(param: str) -> str:
    """A parameter's name for a message, marked so that :meth:`InferlcaError.render` can put a
    flag in its place: ``InvalidValueError(f"{named('pue')} must be >= 1")``. Printed as is
    (``pue must be >= 1``) everywhere else; the error's ``params`` include it.
    """
    return f"{_MARK}{param}{_MARK}"


class InferlcaError(Exception):
    """Base of all inferlca errors.

    Args:
        *args: the message (one string), as for any exception.
        param: the parameter (or parameters) the error is about, by their Python names, when
            the message writes them as plain words rather than with :func:`named`.
    """

    exit_code: int = 1
    params: tuple[str, ...] = ()

    def __init__(self, *args: object, param: str | Sequence[str] | None = None) -> None:
        super().__init__(*args)
        given = () if param is None else (param,) if isinstance(param, str) else tuple(param)
        marked = tuple(_MARKED.findall(args[0])) if args and isinstance(args[0], str) else ()
        if given or marked:
            self.params = tuple(dict.fromkeys((*given, *marked)))

    def __str__(self) -> str:
        return super().__str__().replace(_MARK, "")

    def render(self, names: Mapping[str, str]) -> str:
        """The message with each parameter named as ``names`` spells it (e.g. a CLI flag).

        A parameter ``names`` lacks keeps its own name (e.g. a campaign file's key). Names
        marked with :func:`named` are replaced exactly; the plain words of ``param=`` outside
        backticks (code such as `inferlca grid list` stays as it is).
        """
        raw = super().__str__()
        marked = set(_MARKED.findall(raw))
        raw = _MARKED.sub(lambda m: names.get(m.group(1), m.group(1)), raw)
        parts = raw.split("`")
        for i in range(0, len(parts), 2):
            for p in self.params:
                if p not in marked and p in names and names[p] != p:
                    flag = names[p]
                    parts[i] = re.sub(rf"(?<![\w\-'\"]){re.escape(p)}(?![\w\-'\"])",
                                      lambda _m: flag, parts[i])  # noqa: B023 - used at once
        return "`".join(parts)


class UsageError(InferlcaError):
    """The user gave something we cannot accept; the message says what and what is accepted."""

    exit_code = 2


class UnknownNameError(UsageError):
    """A name (device, region, meter, workload, model...) that is not known."""

    def __init__(self, kind: str, name: str, known: Iterable[str] = (), hint: str = "",
                 param: str | Sequence[str] | None = None) -> None:
        known = list(known)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5) if known else []
        if not close and known:
            lowered = {k.lower(): k for k in known}
            close = [lowered[k] for k in difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.5)]
        msg = f"unknown {kind} {name!r}"
        if close:
            msg += f"; did you mean {', '.join(repr(c) for c in close)}?"
        if hint:
            msg += f" {hint}"
        super().__init__(msg, param=param)
        self.kind = kind
        self.name = name
        self.suggestions = close


class InvalidValueError(UsageError):
    """A value out of its accepted range."""


class InputFileError(UsageError):
    """A file that cannot be parsed; the message names the file and the line."""

    def __init__(self, path: object, message: str, line: int | None = None) -> None:
        where = f"{path}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line


class MeterError(InferlcaError):
    """A power meter problem."""


class MeterUnavailableError(MeterError):
    """The requested meter cannot run on this machine; the message says why and what to do."""

    exit_code = 2


class MeterReadError(MeterError):
    """A single read failed. Samplers record it as a gap with this reason."""


class DependencyMissingError(InferlcaError):
    """An optional dependency is missing; the message names the extra to install."""

    exit_code = 2

    def __init__(self, module: str, extra: str, purpose: str = "") -> None:
        why = f" (needed for {purpose})" if purpose else ""
        super().__init__(
            f"the optional package {module!r} is not installed{why}; "
            f"install it with: pip install 'inferlca[{extra}]'"
        )
        self.module = module
        self.extra = extra


class StoreError(InferlcaError):
    """The results store cannot be opened, migrated or written."""

    exit_code = 2


class UnitError(InferlcaError):
    """Two uncertain values whose units differ were added or subtracted (``1 gCO2e + 1 kgCO2e``):
    a defect of the computation, not of the input; convert one with ``UValue.scaled`` first."""


class RequestsFailedError(InferlcaError):
    """Every request a repetition sent to a model server failed (refused, timed out, HTTP
    errors...): nothing was answered, so no figure describes the server. The repetition and the
    run are stored as ``failed`` with what was measured (the failure counts, the energy)."""


class RunInterrupted(InferlcaError):
    """The user pressed Ctrl-C; measured data was kept and marked incomplete."""

    exit_code = 130


def require(module: str, extra: str, purpose: str = ""):  # type: ignore[no-untyped-def]
    """Import an optional dependency lazily, or raise a helpful :class:`DependencyMissingError`."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DependencyMissingError(module, extra, purpose) from exc
