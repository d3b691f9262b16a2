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
    └── RunInterrupted                 Ctrl-C during a run; what was measured is kept; exit 130

Vendor errors (NVML, file system, LoadGen) are translated into these at the edge, once.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class InferlcaError(Exception):
    """Base of all inferlca errors."""

    exit_code: int = 1


class UsageError(InferlcaError):
    """The user gave something we cannot accept; the message says what and what is accepted."""

    exit_code = 2


class UnknownNameError(UsageError):
    """A name (device, region, meter, workload, model...) that is not known."""

    def __init__(self, kind: str, name: str, known: Iterable[str] = (), hint: str = "") -> None:
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
        super().__init__(msg)
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
