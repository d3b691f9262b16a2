"""The CLI's last line of defence: any exception becomes one line and an exit code.

Each class of bad input is validated where it enters (options, files, the store); this module
catches what gets past that, so that a user never sees a Python traceback:

=======================================================  ====  ==========================================
exception                                                exit  meaning
=======================================================  ====  ==========================================
``InferlcaError`` (``UsageError``, ``StoreError``...)   its   the library's own message (``exit_code``)
missing file, permission, folder/file mix-up, read-only    2   a path given is wrong: choose another
``UnicodeError``, JSON / YAML / Parquet decoding errors    2   a file given is not what it should be
``ValueError``, ``OverflowError``, ``ZeroDivisionError``    2   a value given is out of range
``RecursionError``                                          2   an input nested too deeply
damaged SQLite file (``sqlite3.DatabaseError``)             2   `inferlca store repair` it
disk full, I/O error, store locked, other ``OSError``       1   the environment failed: fix it, retry
``MemoryError``                                             1   not enough memory for the input
anything else                                               1   a defect of inferlca: please report it
Ctrl-C / SIGTERM                                      130/143  what was measured is kept (incomplete)
=======================================================  ====  ==========================================

``--debug`` (before the command) or ``INFERLCA_DEBUG=1`` also prints the traceback.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from inferlca.signals import handled

#: Exit code of a run stopped by SIGTERM (128 + 15, the shell's convention).
TERMINATED_EXIT = 143
BAD_INPUT = 2
ENVIRONMENT = 1

_HINT = "(rerun with --debug for the traceback)"


def debug_wanted(args: list[str]) -> bool:
    """``--debug`` before the command, or ``INFERLCA_DEBUG`` set to a true value."""
    if os.environ.get("INFERLCA_DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
        return True
    for a in args:
        if a == "--debug":
            return True
        if not a.startswith("-"):
            return False
    return False


def one_line(text: str) -> str:
    """``text`` on one line, control characters (ANSI escapes, newlines) shown escaped."""
    from inferlca.text import escape_controls

    return escape_controls(" ".join(str(text).split("\n")).strip())


def print_traceback(exc: BaseException) -> None:
    traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)


def _os_path(exc: BaseException) -> OSError | None:
    """The exception, or one it was raised from, that is an ``OSError`` naming a file."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.filename is not None:
            return e
        e = e.__cause__ or e.__context__
    return None


_PATH_ERRNOS = {
    errno.ENOENT: "no such file or folder; check the path",
    errno.EACCES: "permission denied; choose a path you may read and write",
    errno.EPERM: "operation not permitted (an immutable or protected file?); choose another path",
    errno.EISDIR: "is a folder where a file is expected; give a file path",
    errno.ENOTDIR: "a part of the path is a file, not a folder; give a path inside a folder",
    errno.EEXIST: "already exists; remove it or choose another path",
    errno.EROFS: "is on a read-only file system; choose a writable path",
    errno.ENAMETOOLONG: "the path is too long; choose a shorter one",
    errno.ELOOP: "too many symbolic links; check the path",
    errno.ENXIO: "is a device or pipe that cannot be used here; give a regular file",
    errno.EINVAL: "cannot be used here (a special file?); give a regular file",
}
_ENV_ERRNOS = {
    errno.ENOSPC: "no space left on the device; free some space and retry",
    errno.EDQUOT: "disk quota exceeded; free some space and retry",
    errno.EIO: "input/output error (a failing disk or network file system?); retry",
    errno.EMFILE: "too many open files; raise the limit (ulimit -n) and retry",
    errno.ENOMEM: "out of memory; close other programs or use smaller inputs",
}


#: the exit code of a command whose reader closed the pipe (as the shell reports a process killed
#: by SIGPIPE: 128 + 13)
PIPE_CLOSED_EXIT = 141


def reader_gone(exc: BaseException) -> bool:
    """Whether ``exc`` is our standard output's reader having closed the pipe (``| head``): not
    an error to report. Standard output is then pointed at /dev/null so that the interpreter's
    last flush at exit does not fail again."""
    if not isinstance(exc, BrokenPipeError):
        return False
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (an embedding host)
        pass
    return True


def classify(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an exception that reached the CLI."""
    name = type(exc).__name__
    text = str(exc) or name
    if isinstance(exc, RecursionError):
        return BAD_INPUT, ("an input is nested too deeply to read (a file with thousands of "
                           "nested levels?); simplify it")
    if isinstance(exc, MemoryError):
        return ENVIRONMENT, ("out of memory: an input is too large for this machine; use a "
                             "smaller one or more memory")
    if isinstance(exc, OSError) and exc.errno is None:
        # not the system's: a library's "EnvironmentError" about a file it could not parse
        return BAD_INPUT, f"{text}; check the file"
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename is not None else ""
        if exc.filename2 is not None:
            where = f"{exc.filename} -> {exc.filename2}: "
        if exc.errno in _PATH_ERRNOS:
            return BAD_INPUT, f"{where}{_PATH_ERRNOS[exc.errno]}"
        if exc.errno in _ENV_ERRNOS:
            return ENVIRONMENT, f"{where}{_ENV_ERRNOS[exc.errno]}"
        return ENVIRONMENT, f"{where}{exc.strerror or text}; check the file system and retry"
    sqlite3 = sys.modules.get("sqlite3")  # not imported: the error cannot be one of its own
    if sqlite3 is not None and isinstance(exc, sqlite3.Error):
        low = text.lower()
        if "locked" in low or "busy" in low:
            return ENVIRONMENT, (f"the results store is locked by another process ({text}); "
                                 "wait for it to finish and retry")
        if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError) \
                or "malformed" in low or "not a database" in low or "no such" in low:
            return BAD_INPUT, (f"the results store is damaged or not an inferlca store ({text}); "
                               "check it with `inferlca store info --check` and recover what can "
                               "be read with `inferlca store repair`")
        return ENVIRONMENT, f"the results store failed ({text}); retry, or check the disk"
    if isinstance(exc, UnicodeError):
        where = ""
        path = _os_path(exc)
        if path is not None:
            where = f"{path.filename}: "
        return BAD_INPUT, (f"{where}not valid UTF-8 text ({getattr(exc, 'reason', text)}); give a "
                           "text file in UTF-8")
    if isinstance(exc, json.JSONDecodeError):
        return BAD_INPUT, (f"malformed JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
                           "fix the file or give another one")
    yaml = sys.modules.get("yaml")
    if yaml is not None and isinstance(exc, yaml.YAMLError):
        return BAD_INPUT, f"malformed YAML ({text.splitlines()[0] if text else name}); fix the file"
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(exc, getattr(pa, "ArrowException", ())):
        return BAD_INPUT, f"unreadable Parquet/Arrow data ({text}); give a file written by inferlca"
    if isinstance(exc, (ValueError, ArithmeticError)):
        return BAD_INPUT, (f"a value given is out of range or malformed ({name}: {text}); check "
                           "the numbers and files given")
    return ENVIRONMENT, (f"internal error ({name}: {text}); this is a defect of inferlca: please "
                         "report it with the output of --debug")


def from_interrupt(exc: BaseException) -> bool:
    """Whether ``exc`` is Python's wrapping of a Ctrl-C: a ``KeyboardInterrupt`` raised inside
    class creation during an import comes out as ``RuntimeError("Error calling __set_name__
    ...")`` with the interrupt as its cause (seen with a Ctrl-C early in ``measure``)."""
    seen = 0
    cause = exc.__cause__
    while cause is not None and seen < 20:
        if isinstance(cause, KeyboardInterrupt):
            return True
        cause, seen = cause.__cause__, seen + 1
    return False


def report(exc: BaseException, args: list[str], *, debug: bool) -> int:
    """Print the one-line message (and the traceback with ``debug``); return the exit code."""
    if isinstance(exc, KeyboardInterrupt):
        print("interrupted", file=sys.stderr)
        return 130
    code, message = classify(exc)
    print(f"error: {one_line(message)}" + ("" if debug else f" {_HINT}"), file=sys.stderr)
    if debug:
        print_traceback(exc)
    return code


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[Callable[[], bool]]:
    """While the block runs, SIGTERM does what Ctrl-C does (a run keeps the repetition in
    progress, marked incomplete); yields a function telling whether SIGTERM arrived."""
    got: list[bool] = []

    def handler(signum: int, frame: Any) -> None:
        got.append(True)
        current = signal.getsignal(signal.SIGINT)
        if callable(current) and current is not handler:
            current(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    with handled(signal.SIGTERM, handler):
        yield lambda: bool(got)
