"""Paths given by the user, checked where they enter, before any work starts.

An input file must be a regular file of a sane size (a pipe or ``/dev/zero`` would hang or
exhaust memory); an output file or folder must be writable *before* a measurement starts, so
that nothing measured is lost to an unwritable output. Each check raises an
:class:`~inferlca.errors.InvalidValueError` naming the parameter and the path.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from inferlca.errors import InvalidValueError, named

#: The largest input file read whole (a dataset, a prompts file, a power log, a config).
MAX_INPUT_BYTES = 2 * 1024**3
_KERNEL = ("/proc/", "/sys/", "/dev/")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def input_file(path: str | os.PathLike[str], param: str, max_bytes: int = MAX_INPUT_BYTES) -> Path:
    """``path`` if it is a readable regular file of at most ``max_bytes``."""
    p = Path(path).expanduser()
    if not str(path).strip():
        raise InvalidValueError(f"{named(param)} is empty: give a file path")
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InvalidValueError(f"{named(param)}: the file {p} does not exist; check the path") from None
    except OSError as exc:
        raise InvalidValueError(f"{named(param)}: cannot read {p} ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise InvalidValueError(f"{named(param)}: {p} is {_kind(st.st_mode)}; give a file")
    if (str(p.resolve()) + "/").startswith(_KERNEL):
        raise InvalidValueError(f"{named(param)}: {p} is a kernel file; give a file of yours")
    if st.st_size > max_bytes:
        raise InvalidValueError(f"{named(param)}: {p} is {st.st_size:,} bytes, over the "
                                f"{max_bytes:,} read at most; is it the right file?")
    if not os.access(p, os.R_OK):
        raise InvalidValueError(f"{named(param)}: {p} cannot be read (permission denied)")
    return p


def input_dir(path: str | os.PathLike[str], param: str) -> Path:
    """``path`` if it is an existing, readable folder."""
    p = Path(path).expanduser()
    if not str(path).strip():
        raise InvalidValueError(f"{named(param)} is empty: give a folder")
    if not p.exists():
        raise InvalidValueError(f"{named(param)}: the folder {p} does not exist; check the path")
    if not p.is_dir():
        raise InvalidValueError(f"{named(param)}: {p} is a file, not a folder; give the folder")
    if not os.access(p, os.R_OK | os.X_OK):
        raise InvalidValueError(f"{named(param)}: the folder {p} cannot be read (permission denied)")
    return p


def _writable_dir(d: Path, param: str, what: str) -> None:
    """``d`` exists as a writable folder, or can be created."""
    probe = d
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise InvalidValueError(f"{named(param)}: cannot write {what}: {probe} is a file, not a "
                                f"folder; choose another path")
    if (str(d.resolve()) + "/").startswith(_KERNEL):
        raise InvalidValueError(f"{named(param)}: cannot write {what}: {d} is a kernel folder; "
                                f"choose a folder of yours")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise InvalidValueError(f"{named(param)}: cannot write {what}: the folder {probe} is not "
                                f"writable; choose another path")


def output_file(path: str | os.PathLike[str], param: str) -> Path:
    """``path`` if a file can be written there (its folder exists or can be created)."""
    p = Path(path).expanduser()
    if not str(path).strip():
        raise InvalidValueError(f"{named(param)} is empty: give a file path")
    if p.exists():
        if p.is_dir():
            raise InvalidValueError(f"{named(param)}: {p} is a folder; give a file path")
        if not p.is_file():
            raise InvalidValueError(f"{named(param)}: {p} is not a regular file; give a file path")
        if not os.access(p, os.W_OK):
            raise InvalidValueError(f"{named(param)}: {p} is read-only; choose another path")
    _writable_dir(p.parent, param, str(p))
    return p


def output_dir(path: str | os.PathLike[str], param: str) -> Path:
    """``path`` if it is (or can be made) a writable folder."""
    p = Path(path).expanduser()
    if not str(path).strip():
        raise InvalidValueError(f"{named(param)} is empty: give a folder")
    if p.exists() and not p.is_dir():
        raise InvalidValueError(f"{named(param)}: {p} is a file, not a folder; give a folder")
    _writable_dir(p, param, f"into {p}")
    return p
